#include "framework/config/workload_config.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "framework/config/suggest.h"

namespace unisparse {
namespace {

constexpr std::string_view kKnobPrefix = "workload.";

WorkloadSpec load_trace_reference(const LocatedNode& reference, const std::string& base_dir) {
  static const std::vector<std::string> known{"trace", "layer"};
  WorkloadSpec spec;
  bool has_trace = false;
  for (const MapEntry& entry : strict_map(reference.node, reference.source, reference.key, known)) {
    const LocatedNode value = located(entry, reference.source, reference.key);
    if (entry.key == "trace") {
      std::filesystem::path path = scalar_text(value, "a path to a .safetensors file");
      if (path.is_relative()) path = std::filesystem::path(base_dir) / path;
      if (!std::filesystem::is_regular_file(path))
        throw value.error("trace file not found: " + path.lexically_normal().string());
      spec.trace_path = std::filesystem::absolute(path).lexically_normal().string();
      spec.name = path.stem().string();
      has_trace = true;
    } else {
      const std::string text = scalar_text(value, "a layer index");
      try {
        const int64_t layer = parse_int64(text);
        if (layer < 0 || layer > INT32_MAX) throw ParamValueError("must be >= 0, got " + text);
        spec.trace_layer = static_cast<int>(layer);
      } catch (const ParamValueError& e) {
        throw value.error(e.what());
      }
    }
  }
  if (!has_trace) throw reference.error("a trace reference needs a 'trace' path");
  return spec;
}

}  // namespace

const std::vector<std::string>& knob_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> knobs;
    for (const std::string& key : param_keys())
      if (key.starts_with(kKnobPrefix)) knobs.push_back(key.substr(kKnobPrefix.size()));
    return knobs;
  }();
  return keys;
}

WorkloadSpec load_workload_file(const std::string& path) {
  static const std::vector<std::string> known{"name", "description", "knobs"};
  const YamlSource source{path, ""};
  const YAML::Node root = load_yaml_file(path);
  PointConfig scratch;  // knobs go through the parameter table's range checks
  bool has_name = false;
  for (const MapEntry& entry : strict_map(root, source, "", known)) {
    const LocatedNode value = located(entry, source, "");
    if (entry.key == "name") {
      scratch.workload.name = scalar_text(value, "a name");
      const std::string stem = std::filesystem::path(path).stem().string();
      if (scratch.workload.name != stem)
        throw value.error("name '" + scratch.workload.name + "' does not match the file name '" +
                          stem + "'");
      has_name = true;
    } else if (entry.key == "description") {
      scalar_text(value, "a text");
    } else {
      for (const MapEntry& knob : strict_map(entry.value, source, "knobs", knob_keys()))
        apply_param(scratch, *find_param(std::string(kKnobPrefix) + knob.key),
                    located(knob, source, "knobs"));
    }
  }
  if (!has_name) throw source.error(root, "name", "missing key");
  return scratch.workload;
}

WorkloadSpec load_workload(const LocatedNode& reference, const std::string& configs_dir,
                           const std::string& base_dir) {
  if (reference.node.IsMap()) return load_trace_reference(reference, base_dir);
  const std::string name = scalar_text(reference, "a workload name or {trace: path, layer: i}");
  const std::string workloads_dir = (std::filesystem::path(configs_dir) / "workloads").string();
  const std::vector<std::string> available = yaml_names_in(workloads_dir);
  if (std::find(available.begin(), available.end(), name) == available.end()) {
    std::string listed;
    for (const std::string& known : available) listed += " " + known;
    throw reference.error("unknown workload '" + name + "'" + did_you_mean(name, available) +
                          "; workloads in " + workloads_dir + ":" + listed);
  }
  return load_workload_file((std::filesystem::path(workloads_dir) / (name + ".yaml")).string());
}

}  // namespace unisparse
