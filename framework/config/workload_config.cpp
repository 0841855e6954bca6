#include "framework/config/workload_config.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "framework/config/suggest.h"

namespace unisparse {
namespace {

constexpr std::string_view kKnobPrefix = "workload.";

WorkloadSpec load_trace_reference(const LocatedNode& reference,
                                  const std::vector<std::string>& search_dirs,
                                  std::optional<LocatedNode>* layer) {
  static const std::vector<std::string> known{"trace", "layer"};
  WorkloadSpec spec;
  bool has_trace = false;
  for (const MapEntry& entry : strict_map(reference.node, reference.source, reference.key, known)) {
    const LocatedNode value = located(entry, reference.source, reference.key);
    if (entry.key == "trace") {
      const std::filesystem::path written = scalar_text(value, "a path to a .safetensors file");
      std::filesystem::path path = written;
      std::string tried;
      if (written.is_relative())
        for (const std::string& dir : search_dirs) {
          path = std::filesystem::path(dir) / written;
          tried += " " + path.lexically_normal().string();
          if (std::filesystem::is_regular_file(path)) break;
        }
      if (!std::filesystem::is_regular_file(path))
        throw value.error("trace file not found: " +
                          (written.is_relative() ? written.string() + " (tried" + tried + ")"
                                                 : written.string()));
      spec.trace_path = std::filesystem::absolute(path).lexically_normal().string();
      spec.name = path.stem().string();
      has_trace = true;
    } else if (layer != nullptr) {
      *layer = value;
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
                           const std::vector<std::string>& search_dirs,
                           std::optional<LocatedNode>* layer) {
  if (reference.node.IsMap()) return load_trace_reference(reference, search_dirs, layer);
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
