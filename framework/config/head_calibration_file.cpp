#include "framework/config/head_calibration_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "framework/config/strict_yaml.h"
#include "framework/config/suggest.h"
#include "framework/config/value_text.h"
#include "framework/core/text.h"

namespace unisparse {
namespace {

const std::vector<std::string> kTopKeys{"name",         "description", "model", "metric",
                                        "sink_tokens",  "local_tokens", "date", "traces",
                                        "scores"};
const std::vector<std::string> kTraceKeys{"path", "prompt_kind", "tokens", "decode_steps"};
const std::vector<std::string> kScoreNames{kOutRelL2Score, kOutsideMassScore, kGateScore};

int64_t integer_at(const LocatedNode& value, int64_t min_value) {
  const std::string text = scalar_text(value, "an integer");
  try {
    const int64_t number = parse_int64(text);
    if (number < min_value || number > INT32_MAX)
      throw ParamValueError("must be >= " + std::to_string(min_value) + ", got " + text);
    return number;
  } catch (const ParamValueError& e) {
    throw value.error(e.what());
  }
}

// A list of finite scores >= 0 (<= 1 for gate values).
std::vector<double> scores_at(const LocatedNode& value, const std::string& score) {
  if (!value.node.IsSequence() || value.node.size() == 0)
    throw value.error("expected a non-empty list of per-KV-head scores, got " +
                      describe_node(value.node));
  std::vector<double> scores;
  for (size_t i = 0; i < value.node.size(); ++i) {
    const LocatedNode item{value.node[i], value.source, value.key + "[" + std::to_string(i) + "]",
                           YAML::Node()};
    const std::string text = scalar_text(item, "a number");
    double number = 0.0;
    try {
      number = parse_number(text);
    } catch (const ParamValueError& e) {
      throw item.error(e.what());
    }
    const double max_value = score == kGateScore ? 1.0 : INFINITY;
    if (!(number >= 0.0 && number <= max_value))
      throw item.error(std::string("a score must be ") +
                       (score == kGateScore ? "in [0, 1]" : ">= 0") + ", got " + text);
    scores.push_back(number);
  }
  return scores;
}

CalibrationTrace read_trace_entry(const LocatedNode& value) {
  CalibrationTrace trace;
  bool has_path = false;
  for (const MapEntry& entry : strict_map(value.node, value.source, value.key, kTraceKeys)) {
    const LocatedNode item = located(entry, value.source, value.key);
    if (entry.key == "path") {
      trace.path = scalar_text(item, "a path");
      has_path = true;
    } else if (entry.key == "prompt_kind") {
      trace.prompt_kind = scalar_text(item, "a prompt kind");
    } else if (entry.key == "tokens") {
      trace.tokens = static_cast<int>(integer_at(item, 1));
    } else {
      trace.decode_steps = static_cast<int>(integer_at(item, 0));
    }
  }
  if (!has_path) throw value.error("a trace entry needs a 'path'");
  return trace;
}

// One `scores:` entry into the calibration (its layer and every score it lists).
void read_score_entry(const LocatedNode& value, HeadCalibration& calibration,
                      std::map<std::string, std::map<int, std::vector<double>>>& by_layer) {
  std::vector<std::string> known = kScoreNames;
  known.insert(known.begin(), "layer");
  const std::vector<MapEntry> entries = strict_map(value.node, value.source, value.key, known);
  const auto layer_entry = std::find_if(entries.begin(), entries.end(),
                                        [](const MapEntry& e) { return e.key == "layer"; });
  if (layer_entry == entries.end()) throw value.error("a scores entry needs a 'layer'");
  const LocatedNode layer_value = located(*layer_entry, value.source, value.key);
  const int layer = static_cast<int>(integer_at(layer_value, 0));
  if (calibration.layer_index(layer) >= 0)
    throw layer_value.error("layer " + std::to_string(layer) + " is listed twice");
  calibration.layers.push_back(layer);
  for (const MapEntry& entry : entries) {
    if (entry.key == "layer") continue;
    const LocatedNode item = located(entry, value.source, value.key);
    std::vector<double> scores = scores_at(item, entry.key);
    for (const auto& [name, layers] : by_layer)
      for (const auto& [other, values] : layers)
        if (values.size() != scores.size())
          throw item.error(std::to_string(scores.size()) + " KV heads, but layer " +
                           std::to_string(other) + " " + name + " lists " +
                           std::to_string(values.size()));
    by_layer[entry.key][layer] = std::move(scores);
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream stream(path);
  if (!stream) throw input_error(path, 0, "", "cannot open file");
  std::stringstream text;
  text << stream.rdbuf();
  return text.str();
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw input_error(path, 0, "", "cannot write file");
}

}  // namespace

HeadCalibration load_head_calibration_file(const std::string& path) {
  const YamlSource source{path, ""};
  const YAML::Node root = load_yaml_file(path);
  HeadCalibration calibration;
  std::map<std::string, std::map<int, std::vector<double>>> by_layer;  // score -> layer -> values
  std::optional<LocatedNode> metric_value, scores_value;
  for (const MapEntry& entry : strict_map(root, source, "", kTopKeys)) {
    const LocatedNode value = located(entry, source, "");
    if (entry.key == "name") {
      calibration.name = scalar_text(value, "a name");
      const std::string stem = std::filesystem::path(path).stem().string();
      if (calibration.name != stem)
        throw value.error("name '" + calibration.name + "' does not match the file name '" + stem +
                          "'");
    } else if (entry.key == "description") {
      scalar_text(value, "a text");
    } else if (entry.key == "model") {
      calibration.model = scalar_text(value, "a model name");
    } else if (entry.key == "metric") {
      calibration.metric = scalar_text(value, "a score name");
      metric_value = value;
    } else if (entry.key == "sink_tokens") {
      calibration.sink_tokens = static_cast<int>(integer_at(value, 0));
    } else if (entry.key == "local_tokens") {
      calibration.local_tokens = static_cast<int>(integer_at(value, 1));
    } else if (entry.key == "date") {
      calibration.date = scalar_text(value, "a date (YYYY-MM-DD)");
    } else if (entry.key == "traces") {
      if (!value.node.IsSequence()) throw value.error("expected a list of traces");
      for (size_t i = 0; i < value.node.size(); ++i)
        calibration.traces.push_back(read_trace_entry(
            {value.node[i], source, "traces[" + std::to_string(i) + "]", YAML::Node()}));
    } else {
      if (!value.node.IsSequence() || value.node.size() == 0)
        throw value.error("expected a non-empty list of per-layer scores");
      for (size_t i = 0; i < value.node.size(); ++i)
        read_score_entry({value.node[i], source, "scores[" + std::to_string(i) + "]", YAML::Node()},
                         calibration, by_layer);
      scores_value = value;
    }
  }
  if (calibration.name.empty()) throw source.error(root, "name", "missing key");
  if (!metric_value) throw source.error(root, "metric", "missing key");
  if (!scores_value) throw source.error(root, "scores", "missing key");
  if (!by_layer.count(calibration.metric))
    throw metric_value->error("metric '" + calibration.metric + "' is not a score of the file" +
                              did_you_mean(calibration.metric, kScoreNames));
  std::sort(calibration.layers.begin(), calibration.layers.end());
  for (const auto& [name, layers] : by_layer) {
    if (layers.size() != calibration.layers.size())
      throw scores_value->error("score '" + name + "' is missing for some layers");
    std::vector<std::vector<double>>& table = calibration.scores[name];
    for (int layer : calibration.layers) table.push_back(layers.at(layer));
  }
  return calibration;
}

HeadCalibration read_duo_attention_tsv(const std::string& path) {
  HeadCalibration calibration;
  calibration.name = std::filesystem::path(path).stem().string();
  calibration.metric = kGateScore;
  std::vector<std::vector<double>>& gates = calibration.scores[kGateScore];
  std::istringstream lines(read_text_file(path));
  std::string line;
  int line_number = 0, blank_after = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (trim(line).empty()) {
      blank_after = blank_after ? blank_after : line_number;
      continue;
    }
    if (blank_after)
      throw input_error(path, blank_after, "", "blank line between layers (one line per layer)");
    const int layer = static_cast<int>(gates.size());
    const std::string key = "layer " + std::to_string(layer);
    std::vector<double>& row = gates.emplace_back();
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, '\t')) {
      const std::string_view text = trim(field);
      if (text.empty()) continue;  // a trailing tab
      double gate = 0.0;
      try {
        gate = parse_number(text);
      } catch (const ParamValueError& e) {
        throw input_error(path, line_number, key, e.what());
      }
      if (!(gate >= 0.0 && gate <= 1.0))
        throw input_error(path, line_number, key,
                          "a gate value must be in [0, 1], got " + std::string(text));
      row.push_back(gate);
    }
    if (row.size() != gates.front().size())
      throw input_error(path, line_number, key,
                        std::to_string(row.size()) + " gate values, line 1 has " +
                            std::to_string(gates.front().size()));
    calibration.layers.push_back(layer);
  }
  if (gates.empty()) throw input_error(path, 0, "", "no layers (one line of gate values per layer)");
  return calibration;
}

std::string head_calibration_path(const std::string& reference, const std::string& configs_dir,
                                  const std::vector<std::string>& search_dirs) {
  namespace fs = std::filesystem;
  if (reference.ends_with(".tsv")) {
    fs::path path = reference;
    if (path.is_relative())
      for (const std::string& dir : search_dirs)
        if (fs::is_regular_file(fs::path(dir) / reference)) {
          path = fs::path(dir) / reference;
          break;
        }
    if (!fs::is_regular_file(path)) {
      std::string tried;
      for (const std::string& dir : search_dirs) tried += " " + dir;
      throw ParamValueError("DuoAttention file not found: " + reference +
                            (path.is_relative() ? " (looked in" + tried + ")" : ""));
    }
    return fs::absolute(path).lexically_normal().string();
  }
  const std::string heads_dir = (fs::path(configs_dir) / "heads").string();
  const std::vector<std::string> available = yaml_names_in(heads_dir);
  if (std::find(available.begin(), available.end(), reference) == available.end()) {
    std::string listed;
    for (const std::string& name : available) listed += " " + name;
    throw ParamValueError("unknown head calibration '" + reference + "'" +
                          did_you_mean(reference, available) + "; calibrations in " + heads_dir +
                          ":" + (listed.empty() ? " none" : listed) +
                          " (or a DuoAttention .tsv path)");
  }
  return (fs::path(heads_dir) / (reference + ".yaml")).string();
}

HeadCalibration load_head_calibration(const std::string& path) {
  return path.ends_with(".tsv") ? read_duo_attention_tsv(path) : load_head_calibration_file(path);
}

void write_head_calibration_file(const std::string& path, const HeadCalibration& calibration) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << calibration.name;
  if (!calibration.model.empty()) out << YAML::Key << "model" << YAML::Value << calibration.model;
  out << YAML::Key << "metric" << YAML::Value << calibration.metric;
  out << YAML::Key << "sink_tokens" << YAML::Value << calibration.sink_tokens;
  out << YAML::Key << "local_tokens" << YAML::Value << calibration.local_tokens;
  if (!calibration.date.empty()) out << YAML::Key << "date" << YAML::Value << calibration.date;
  out << YAML::Key << "traces" << YAML::Value << YAML::BeginSeq;
  for (const CalibrationTrace& trace : calibration.traces) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << trace.path;
    if (!trace.prompt_kind.empty())
      out << YAML::Key << "prompt_kind" << YAML::Value << trace.prompt_kind;
    out << YAML::Key << "tokens" << YAML::Value << trace.tokens << YAML::Key << "decode_steps"
        << YAML::Value << trace.decode_steps << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "scores" << YAML::Value << YAML::BeginSeq;
  for (size_t i = 0; i < calibration.layers.size(); ++i) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "layer" << YAML::Value
        << calibration.layers[i];
    for (const auto& [name, table] : calibration.scores) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (double value : table[i]) out << format_number(value);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  write_text_file(path, std::string(out.c_str()) + "\n");
}

void write_duo_attention_tsv(const std::string& path, const HeadCalibration& calibration) {
  for (size_t i = 0; i < calibration.layers.size(); ++i)
    if (calibration.layers[i] != static_cast<int>(i))
      throw InputError(path + ": a DuoAttention pattern lists every layer from 0; the calibration "
                              "has layers up to " + std::to_string(calibration.layers.back()) +
                       " with gaps");
  const std::vector<std::vector<double>>& cost = calibration.ranking();
  double max_cost = 0.0;
  for (const auto& row : cost) for (double value : row) max_cost = std::max(max_cost, value);
  std::string text;
  for (const auto& row : cost) {
    for (size_t h = 0; h < row.size(); ++h)
      text += (h ? "\t" : "") + format_number(max_cost > 0.0 ? row[h] / max_cost : 0.0);
    text += "\n";
  }
  write_text_file(path, text);
}

}  // namespace unisparse
