#include "framework/config/sweep_config.h"

#include <algorithm>
#include <optional>
#include <cctype>
#include <filesystem>
#include <map>

#include "framework/config/head_calibration_file.h"
#include "framework/config/model_config.h"
#include "framework/config/params.h"
#include "framework/config/strict_yaml.h"
#include "framework/config/suggest.h"
#include "framework/core/text.h"
#include "framework/config/trace_sweep.h"
#include "framework/config/workload_config.h"
#include "framework/workload/trace.h"

namespace unisparse {
namespace {

const std::vector<std::string> kTopKeys{"name",     "description", "model", "workload", "phase",
                                        "backends", "fixed",       "axes",  "timing"};
// Top-level keys that hold one value (the rest are the fixed, axes and timing sections).
const std::vector<std::string> kTopValueKeys{"name",     "description", "model",
                                             "workload", "phase",       "backends"};
const std::vector<std::string> kRequiredKeys{"name", "model", "phase", "backends"};
constexpr std::string_view kTimingPrefix = "timing.";

// A parameter value as written, before it is applied.
struct ParamEntry {
  std::string param_key;  // key in the parameter table
  LocatedNode value;      // value.key is the dotted key for messages ("fixed.page_size")
};

// The sweep as written plus overrides, not yet interpreted.
struct SweepDraft {
  YamlSource file_source;
  YAML::Node root;
  std::map<std::string, LocatedNode> top;  // kTopValueKeys present
  std::vector<ParamEntry> fixed;           // fixed: then timing:, in file order
  std::vector<ParamEntry> axes;
};

const std::vector<std::string>& timing_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> timing;
    for (const std::string& key : param_keys())
      if (key.starts_with(kTimingPrefix)) timing.push_back(key.substr(kTimingPrefix.size()));
    return timing;
  }();
  return keys;
}

SweepDraft read_sweep_file(const std::string& path) {
  SweepDraft draft{YamlSource{path, ""}, load_yaml_file(path), {}, {}, {}};
  const YamlSource& source = draft.file_source;
  for (const MapEntry& entry : strict_map(draft.root, source, "", kTopKeys)) {
    const bool is_section = entry.key == "fixed" || entry.key == "timing" || entry.key == "axes";
    if (is_section && entry.value.IsNull()) continue;  // "axes:" with nothing under it
    if (entry.key == "fixed") {
      for (const MapEntry& item : strict_map(entry.value, source, "fixed", param_keys()))
        draft.fixed.push_back({item.key, located(item, source, "fixed")});
    } else if (entry.key == "timing") {
      for (const MapEntry& item : strict_map(entry.value, source, "timing", timing_keys()))
        draft.fixed.push_back(
            {std::string(kTimingPrefix) + item.key, located(item, source, "timing")});
    } else if (entry.key == "axes") {
      for (const MapEntry& item : strict_map(entry.value, source, "axes", param_keys()))
        draft.axes.push_back({item.key, located(item, source, "axes")});
    } else {
      draft.top.emplace(entry.key, located(entry, source, ""));
    }
  }
  return draft;
}

// Replaces (or, with nullopt, removes) the entries for `key`, keeping the order of the others.
// The list is rebuilt by copy construction on purpose: assigning a YAML::Node writes through to the
// node it refers to, so erase/assign on a vector of nodes would corrupt the parsed document.
void replace_entries(std::vector<ParamEntry>& entries, const std::string& key,
                     const std::optional<LocatedNode>& replacement) {
  std::vector<ParamEntry> rebuilt;
  for (const ParamEntry& entry : entries) {
    if (entry.param_key != key)
      rebuilt.push_back(entry);
    else if (replacement)
      rebuilt.push_back({key, *replacement});
  }
  entries.swap(rebuilt);
}

void apply_override(SweepDraft& draft, const Override& change) {
  const std::string flag = change.kind == Override::axis ? "-a " : "--set ";
  const YamlSource source = YamlSource::command_line(flag + change.text);
  const size_t equals = change.text.find('=');
  std::string key(trim(std::string_view(change.text).substr(0, equals)));
  if (equals == std::string::npos || key.empty())
    throw source.error(YAML::Node(), key, "expected key=value");
  const std::string section = change.kind == Override::axis ? "axes." : "fixed.";
  if (key.starts_with(section)) key = key.substr(section.size());
  const YAML::Node value = parse_override_value(change.text.substr(equals + 1), source, key);
  const LocatedNode located_value{value, source, key, YAML::Node()};

  auto same_key = [&](const ParamEntry& entry) { return entry.param_key == key; };
  if (change.kind == Override::axis) {
    if (find_param(key) == nullptr)
      throw source.error(value, key, "unknown axis key" + did_you_mean(key, param_keys()));
    const bool existing = std::any_of(draft.axes.begin(), draft.axes.end(), same_key);
    replace_entries(draft.axes, key, located_value);
    if (!existing) draft.axes.push_back({key, located_value});
    return;
  }
  if (std::find(kTopValueKeys.begin(), kTopValueKeys.end(), key) != kTopValueKeys.end()) {
    draft.top.erase(key);
    draft.top.emplace(key, located_value);
    return;
  }
  if (find_param(key) == nullptr) {
    std::vector<std::string> candidates = param_keys();
    candidates.insert(candidates.end(), kTopValueKeys.begin(), kTopValueKeys.end());
    throw source.error(value, key, "unknown key" + did_you_mean(key, candidates));
  }
  replace_entries(draft.fixed, key, std::nullopt);
  draft.fixed.push_back({key, located_value});
  replace_entries(draft.axes, key, std::nullopt);
}

std::string check_sweep_name(const LocatedNode& value) {
  const std::string name = scalar_text(value, "a name");
  const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
  if (!valid || name.front() == '.')
    throw value.error("a sweep name is a directory name: letters, digits, '.', '_' and '-', got '" +
                      name + "'");
  return name;
}

std::vector<std::string> read_backends(const LocatedNode& value) {
  if (!value.node.IsSequence() || value.node.size() == 0)
    throw value.error("expected a non-empty list of backends like [cpu], got " +
                      describe_node(value.node));
  std::vector<std::string> backends;
  for (size_t i = 0; i < value.node.size(); ++i) {
    const LocatedNode item{value.node[i], value.source, value.key + "[" + std::to_string(i) + "]",
                           YAML::Node()};
    const std::string name = scalar_text(item, "a backend name");
    if (std::find(known_backends().begin(), known_backends().end(), name) == known_backends().end())
      throw item.error("unknown backend '" + name + "'" + did_you_mean(name, known_backends()) +
                       "; known: cpu, cuda");
    if (std::find(backends.begin(), backends.end(), name) != backends.end())
      throw item.error("backend '" + name + "' is listed twice");
    backends.push_back(name);
  }
  return backends;
}

// Checks every value of an axis against the base point and returns them as parameter text.
Axis read_axis(const ParamEntry& entry, const PointConfig& base) {
  const Param& param = *find_param(entry.param_key);
  const LocatedNode& value = entry.value;
  if (!value.node.IsSequence() || value.node.size() == 0)
    throw value.error("expected a non-empty list of values like [16, 64], got " +
                      describe_node(value.node));
  Axis axis{entry.param_key, {}};
  for (size_t i = 0; i < value.node.size(); ++i) {
    const LocatedNode item{value.node[i], value.source, value.key + "[" + std::to_string(i) + "]",
                           YAML::Node()};
    PointConfig point = base;
    apply_param(point, param, item);
    const std::string text = param.get(point);
    if (std::find(axis.values.begin(), axis.values.end(), text) != axis.values.end())
      throw item.error("value " + text + " is listed twice");
    axis.values.push_back(text);
  }
  return axis;
}

// A parameter's text as a YAML node: a number list becomes a flow sequence.
void emit_value(YAML::Emitter& out, const Param& param, const std::string& text) {
  if (param.kind != ValueKind::number_list) {
    out << text;
    return;
  }
  out << YAML::Flow << YAML::BeginSeq;
  for (double value : parse_number_list(text)) out << format_number(value);
  out << YAML::EndSeq;
}

std::string emit_resolved(const SweepConfig& sweep) {
  const PointConfig& base = sweep.base;
  auto is_axis = [&](const std::string& key) {
    return std::any_of(sweep.axes.begin(), sweep.axes.end(),
                       [&](const Axis& axis) { return axis.key == key; });
  };
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << sweep.name;
  if (!sweep.description.empty())
    out << YAML::Key << "description" << YAML::Value << sweep.description;
  out << YAML::Key << "model" << YAML::Value << base.model;
  out << YAML::Key << "workload" << YAML::Value;
  if (base.workload.trace_path.empty()) {
    out << base.workload.name;
  } else {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "trace" << YAML::Value
        << base.workload.trace_path << YAML::EndMap;
  }
  out << YAML::Key << "phase" << YAML::Value << std::string(to_string(base.phase));
  out << YAML::Key << "backends" << YAML::Value << YAML::Flow << sweep.backends;

  out << YAML::Key << "fixed" << YAML::Value << YAML::BeginMap;
  for (const Param& param : params()) {
    if (param.key == "phase" || param.key.starts_with(kTimingPrefix) || is_axis(param.key))
      continue;
    const std::string text = param.get(base);
    if (text.empty()) continue;  // not set: a synthetic workload's layer, no head calibration
    out << YAML::Key << param.key << YAML::Value;
    emit_value(out, param, text);
  }
  out << YAML::EndMap;

  if (!sweep.axes.empty()) {
    out << YAML::Key << "axes" << YAML::Value << YAML::BeginMap;
    for (const Axis& axis : sweep.axes) {
      const Param& param = *find_param(axis.key);
      out << YAML::Key << axis.key << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const std::string& value : axis.values) emit_value(out, param, value);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }

  out << YAML::Key << "timing" << YAML::Value << YAML::BeginMap;
  for (const Param& param : params()) {
    if (!param.key.starts_with(kTimingPrefix) || is_axis(param.key)) continue;
    out << YAML::Key << param.key.substr(kTimingPrefix.size()) << YAML::Value;
    emit_value(out, param, param.get(base));
  }
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

bool is_all(const LocatedNode& value) { return value.node.IsScalar() && value.node.Scalar() == "all"; }

// The entries with a value for `key`.
std::vector<const ParamEntry*> entries_for(const std::vector<ParamEntry>& entries,
                                           const std::string& key) {
  std::vector<const ParamEntry*> found;
  for (const ParamEntry& entry : entries)
    if (entry.param_key == key) found.push_back(&entry);
  return found;
}

// Where each key was set last (fixed entries) or as an axis.
SettingSites sites_of(const std::vector<ParamEntry>& entries) {
  SettingSites sites;
  for (const ParamEntry& entry : entries) sites.insert_or_assign(entry.param_key, entry.value);
  return sites;
}

// `first`, then `entries`, each copy-constructed: inserting into the vector would shift entries by
// assignment, and assigning a YAML::Node writes through to the node it refers to (the next entry's
// values would overwrite the previous entry's in the parsed file).
std::vector<ParamEntry> with_first(const ParamEntry& first, const std::vector<ParamEntry>& entries) {
  std::vector<ParamEntry> out;
  out.reserve(entries.size() + 1);
  out.push_back(first);
  for (const ParamEntry& entry : entries) out.push_back(entry);
  return out;
}

// The `layer` settings of a sweep: the workload mapping's layer counts as a fixed entry written
// first, and `all` (fixed or as the axis) becomes the first axis, every layer the trace holds.
void expand_layers(std::vector<ParamEntry>& fixed, std::vector<ParamEntry>& axes,
                   const std::optional<LocatedNode>& workload_layer,
                   const std::optional<TraceHeader>& header) {
  if (workload_layer) {
    std::vector<const ParamEntry*> others = entries_for(fixed, "layer");
    for (const ParamEntry* entry : entries_for(axes, "layer")) others.push_back(entry);
    const bool in_file = std::any_of(others.begin(), others.end(), [](const ParamEntry* entry) {
      return !entry->value.source.from_command_line();
    });
    if (in_file)
      throw workload_layer->error("the layer is also set in fixed: or axes: (set it in one place)");
    if (others.empty()) fixed = with_first({"layer", *workload_layer}, fixed);  // else overridden
  }
  std::optional<LocatedNode> all_site;
  std::vector<ParamEntry> kept_fixed, kept_axes;
  for (const ParamEntry& entry : fixed) {
    if (entry.param_key == "layer" && is_all(entry.value))
      all_site = entry.value;
    else
      kept_fixed.push_back(entry);
  }
  for (const ParamEntry& entry : axes) {
    if (entry.param_key == "layer" && is_all(entry.value))
      all_site = entry.value;
    else
      kept_axes.push_back(entry);
  }
  for (const auto* entries : {&kept_fixed, &kept_axes})
    for (const ParamEntry* entry : entries_for(*entries, "layer"))
      if (!header)
        throw entry->value.error("layer applies to trace workloads ({trace: file}), not to a "
                                 "synthetic workload");
  if (all_site) {
    if (!header)
      throw all_site->error("layer: all applies to trace workloads ({trace: file}), not to a "
                            "synthetic workload");
    if (!entries_for(kept_axes, "layer").empty())
      throw all_site->error("layer: all and a layer axis: set the layers in one place");
    // A fixed layer given before `all` is replaced by it, as a fixed value replaces an axis.
    std::vector<ParamEntry> without_layer;
    for (const ParamEntry& entry : kept_fixed)
      if (entry.param_key != "layer") without_layer.push_back(entry);
    kept_fixed.swap(without_layer);
    YAML::Node every_layer(YAML::NodeType::Sequence);
    for (int layer : header->layers) every_layer.push_back(layer);
    // Outermost, so that the points of one layer (one workload) run one after another.
    kept_axes = with_first({"layer", LocatedNode{every_layer, all_site->source, all_site->key,
                                                 all_site->key_node}},
                           kept_axes);
  }
  fixed.swap(kept_fixed);
  axes.swap(kept_axes);
}

// A synthetic workload lays its heads out as the generator plants them (interleaved).
void check_synthetic_heads(const PointConfig& base, const std::vector<Axis>& axes,
                           const SettingSites& fixed_sites, const SettingSites& axis_sites,
                           const LocatedNode& workload) {
  const std::string why = " applies to trace workloads: the generator plants its streaming-type "
                          "heads in the interleaved layout";
  for (const Axis& axis : axes)
    if (axis.key == "head_selection")
      for (const std::string& value : axis.values)
        if (value != "interleaved")
          throw axis_sites.at(axis.key).error("head_selection " + value + why);
  if (base.head_selection != HeadSelection::interleaved) {
    const std::string message = "head_selection " + std::string(to_string(base.head_selection)) + why;
    const auto site = fixed_sites.find("head_selection");
    throw site != fixed_sites.end() ? site->second.error(message) : workload.error(message);
  }
}

// Model-level points (task passkey | perplexity) lay their heads out by head_selection over the
// model's layers: the synthetic workload's interleaved heads do not apply to them.
bool every_point_runs_the_model(const PointConfig& base, const std::vector<Axis>& axes) {
  for (const Axis& axis : axes)
    if (axis.key == "task")
      return std::none_of(axis.values.begin(), axis.values.end(),
                          [](const std::string& value) { return value == "none"; });
  return is_model_level(base.task);
}

// Loads every head calibration the sweep names and checks that a calibrated head selection always
// has one.
void load_calibrations(SweepConfig& sweep, const SettingSites& fixed_sites,
                       const SettingSites& axis_sites, const std::string& configs_dir,
                       const std::vector<std::string>& search_dirs) {
  PointConfig& base = sweep.base;
  auto load = [&](std::string& reference, const LocatedNode& site) {
    if (reference.empty()) return;
    std::string path;
    try {
      path = head_calibration_path(reference, configs_dir, search_dirs);
    } catch (const ParamValueError& e) {
      throw site.error(e.what());
    }
    // A DuoAttention file is recorded by its resolved path, so the resolved sweep reloads anywhere.
    if (reference.ends_with(".tsv")) reference = path;
    if (!sweep.head_calibrations.count(reference))
      sweep.head_calibrations.emplace(reference, load_head_calibration(path));
  };
  const Axis* calibration_axis = nullptr;
  for (Axis& axis : sweep.axes)
    if (axis.key == "head_calibration") {
      for (std::string& value : axis.values) load(value, axis_sites.at(axis.key));
      calibration_axis = &axis;
    }
  if (const auto site = fixed_sites.find("head_calibration"); site != fixed_sites.end())
    load(base.head_calibration, site->second);

  const bool always_named =
      calibration_axis != nullptr
          ? std::none_of(calibration_axis->values.begin(), calibration_axis->values.end(),
                         [](const std::string& value) { return value.empty(); })
          : !base.head_calibration.empty();
  if (always_named) return;
  const std::string message =
      " needs a head_calibration (configs/heads/<name>.yaml or a DuoAttention .tsv)";
  for (const Axis& axis : sweep.axes)
    if (axis.key == "head_selection")
      for (const std::string& value : axis.values) {
        HeadSelection selection{};
        parse(value, selection);
        if (uses_calibration(selection))
          throw axis_sites.at(axis.key).error("head_selection " + value + message);
      }
  if (uses_calibration(base.head_selection) &&
      std::none_of(sweep.axes.begin(), sweep.axes.end(),
                   [](const Axis& axis) { return axis.key == "head_selection"; }))
    throw fixed_sites.at("head_selection")
        .error("head_selection " + std::string(to_string(base.head_selection)) + message);
}

SweepConfig resolve(const SweepDraft& draft, const std::string& configs_dir) {
  for (const std::string& key : kRequiredKeys)
    if (!draft.top.contains(key)) throw draft.file_source.error(draft.root, key, "missing key");

  SweepConfig sweep;
  sweep.source_path = draft.file_source.file;
  PointConfig& base = sweep.base;
  sweep.name = check_sweep_name(draft.top.at("name"));
  base.sweep = sweep.name;
  if (draft.top.contains("description"))
    sweep.description = scalar_text(draft.top.at("description"), "a text");

  const ModelConfig model = load_model(draft.top.at("model"), configs_dir);
  base.model = model.name;
  base.shape = model.shape;

  // A relative trace or .tsv path is looked up next to the file that names it (the working
  // directory for one from the command line), then in the repository.
  const auto named = draft.top.find("workload");
  const LocatedNode workload =
      named != draft.top.end()
          ? named->second
          : LocatedNode{YAML::Node(std::string(kDefaultWorkload)), draft.file_source, "workload",
                        YAML::Node()};
  const std::vector<std::string> search_dirs{
      workload.source.from_command_line()
          ? std::filesystem::current_path().string()
          : std::filesystem::absolute(draft.file_source.file).parent_path().string(),
      std::filesystem::absolute(configs_dir).lexically_normal().parent_path().string()};
  std::optional<LocatedNode> workload_layer;
  base.workload = load_workload(workload, configs_dir, search_dirs, &workload_layer);
  std::optional<TraceHeader> header;
  if (!base.workload.trace_path.empty()) header = read_trace_header(base.workload.trace_path);

  std::vector<ParamEntry> fixed = draft.fixed, axis_entries = draft.axes;
  expand_layers(fixed, axis_entries, workload_layer, header);

  apply_param(base, *find_param("phase"), draft.top.at("phase"));
  sweep.backends = read_backends(draft.top.at("backends"));
  for (const ParamEntry& entry : fixed)
    apply_param(base, *find_param(entry.param_key), entry.value);

  if (base.timing.max_iters < base.timing.min_iters) {
    auto sets_iters = [](const ParamEntry& entry) {
      return entry.param_key == "timing.max_iters" || entry.param_key == "timing.min_iters";
    };
    const auto last = std::find_if(fixed.rbegin(), fixed.rend(), sets_iters);
    const std::string message = "timing.max_iters " + std::to_string(base.timing.max_iters) +
                                " < timing.min_iters " + std::to_string(base.timing.min_iters);
    if (last == fixed.rend()) throw draft.file_source.error(draft.root, "timing", message);
    throw last->value.error(message);
  }

  for (const ParamEntry& entry : axis_entries) sweep.axes.push_back(read_axis(entry, base));
  const SettingSites fixed_sites = sites_of(fixed), axis_sites = sites_of(axis_entries);
  if (header)
    apply_trace_facts(*header, base, sweep.axes, fixed_sites, axis_sites, workload);
  else if (!every_point_runs_the_model(base, sweep.axes))
    check_synthetic_heads(base, sweep.axes, fixed_sites, axis_sites, workload);
  load_calibrations(sweep, fixed_sites, axis_sites, configs_dir, search_dirs);
  sweep.resolved_yaml = emit_resolved(sweep);
  return sweep;
}

}  // namespace

const std::vector<std::string>& known_backends() {
  static const std::vector<std::string> names{"cpu", "cuda"};
  return names;
}

const HeadCalibration* SweepConfig::head_calibration(const std::string& reference) const {
  if (reference.empty()) return nullptr;
  const auto found = head_calibrations.find(reference);
  return found == head_calibrations.end() ? nullptr : &found->second;
}

SweepConfig load_sweep(const std::string& path, const std::vector<Override>& overrides,
                       const std::string& configs_dir) {
  SweepDraft draft = read_sweep_file(path);
  for (const Override& change : overrides) apply_override(draft, change);
  return resolve(draft, configs_dir);
}

}  // namespace unisparse
