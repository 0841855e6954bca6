// `unisparse attention-stats`: per (layer, query head) statistics of the dense decode attention of a
// captured trace or of a generated workload (metrics/attention_stats.h), as a summary table or JSON.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "framework/cli/args.h"
#include "framework/cli/commands.h"
#include "framework/config/model_config.h"
#include "framework/config/params.h"
#include "framework/config/strict_yaml.h"
#include "framework/config/suggest.h"
#include "framework/config/workload_config.h"
#include "framework/core/error.h"
#include "framework/core/text.h"
#include "framework/metrics/attention_stats.h"
#include "framework/workload/generator.h"
#include "framework/workload/trace.h"

namespace unisparse::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

// Parameters a generated workload's statistics cannot take: they belong to sweeps and traces.
const std::vector<std::string> kNotForGenerated{"phase", "layer", "head_selection",
                                                "head_calibration", "cache_fill"};

InputError option_error(const std::string& option, const std::string& message) {
  return input_error("<command line>", 0, option, message);
}

// "4,64" -> values, each parsed by `parse`.
template <class Parse>
auto parse_list(const std::string& option, const std::string& text, Parse parse) {
  std::vector<decltype(parse(std::string_view()))> values;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view item = trim(std::string_view(text).substr(begin, end - begin));
    try {
      values.push_back(parse(item));
    } catch (const ParamValueError& error) {
      throw option_error(option, "'" + text + "': " + error.what());
    }
    begin = end + 1;
  }
  return values;
}

std::vector<int> parse_int_list(const std::string& option, const std::string& text) {
  return parse_list(option, text, [&](std::string_view item) {
    const int64_t value = parse_int64(item);
    if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max())
      throw ParamValueError("value out of range: " + std::string(item));
    return static_cast<int>(value);
  });
}

std::vector<double> parse_fraction_list(const std::string& option, const std::string& text) {
  return parse_list(option, text, [](std::string_view item) { return parse_number(item); });
}

// The decode point a trace layer is read with: every decode step, the values as stored, shapes
// from the trace.
PointConfig trace_point() {
  PointConfig point;
  point.model.clear();
  point.shape = {};
  point.phase = Phase::decode;
  point.mode = SparsityMode::dense;
  point.dtype = DType::fp32;
  point.decode_steps = std::numeric_limits<int>::max();
  point.streaming_fraction = 0.0;
  return point;
}

// The decode point of a generated workload: PointConfig defaults, the model, the workload's knobs,
// then the --set values in order (as a sweep's fixed values).
PointConfig generator_point(const std::string& model_name, const std::string& workload_name,
                            const std::vector<std::string>& sets, const std::string& configs_dir) {
  PointConfig point;
  point.phase = Phase::decode;
  const ModelConfig model = load_model(
      LocatedNode{YAML::Node(model_name), YamlSource::command_line("--model " + model_name),
                  "--model", YAML::Node()},
      configs_dir);
  point.model = model.name;
  point.shape = model.shape;
  const std::vector<std::string> search_dirs{fs::current_path().string()};
  point.workload = load_workload(
      LocatedNode{YAML::Node(workload_name), YamlSource::command_line("--workload " + workload_name),
                  "--workload", YAML::Node()},
      configs_dir, search_dirs);
  for (const std::string& text : sets) {
    const YamlSource source = YamlSource::command_line("--set " + text);
    const size_t equals = text.find('=');
    const std::string key(trim(std::string_view(text).substr(0, std::min(equals, text.size()))));
    if (equals == std::string::npos || key.empty())
      throw source.error(YAML::Node(), key, "expected key=value");
    const Param* param = find_param(key);
    if (param == nullptr)
      throw source.error(YAML::Node(), key, "unknown key" + did_you_mean(key, param_keys()));
    if (!changes_workload(key) ||
        std::find(kNotForGenerated.begin(), kNotForGenerated.end(), key) != kNotForGenerated.end())
      throw source.error(YAML::Node(), key,
                         "does not change a generated decode workload (attention-stats takes "
                         "workload parameters; page sizes and budget are its own options)");
    const YAML::Node value = parse_override_value(text.substr(equals + 1), source, key);
    apply_param(point, *param, LocatedNode{value, source, key, YAML::Node()});
  }
  return point;
}

ordered_json number_or_null(double value) {
  return std::isnan(value) ? ordered_json() : ordered_json(value);
}

// One head's statistics as flat columns: "sink_mass_64", "top_mass_0.01", "oracle_overlap_4".
ordered_json head_columns(const HeadAttentionStats& head, const AttentionStatsSettings& settings) {
  ordered_json row;
  row["q_head"] = head.q_head;
  row["kv_head"] = head.kv_head;
  for (size_t i = 0; i < settings.sink_tokens.size(); ++i) {
    const std::string sink = std::to_string(settings.sink_tokens[i]);
    row["sink_mass_" + sink] = head.sink_mass[i];
    row["sink_local_mass_" + sink] = head.sink_local_mass[i];
  }
  row["local_mass"] = head.local_mass;
  for (size_t i = 0; i < settings.top_fractions.size(); ++i)
    row["top_mass_" + format_number(settings.top_fractions[i])] = head.top_mass[i];
  row["budget_mass"] = head.budget_mass;
  for (size_t i = 0; i < settings.page_sizes.size(); ++i)
    row["page_efficiency_" + std::to_string(settings.page_sizes[i])] = head.page_efficiency[i];
  for (size_t i = 0; i < settings.overlap_lags.size(); ++i) {
    const std::string lag = std::to_string(settings.overlap_lags[i]);
    row["oracle_overlap_" + lag] = number_or_null(head.oracle_overlap[i]);
    row["reuse_retention_" + lag] = number_or_null(head.reuse_retention[i]);
  }
  row["needle_mass"] = number_or_null(head.needle_mass);
  row["needle_mass_peak"] = number_or_null(head.needle_mass_peak);
  return row;
}

ordered_json settings_json(const AttentionStatsSettings& settings) {
  return {{"sink_tokens", settings.sink_tokens},
          {"local_tokens", settings.local_tokens},
          {"top_fractions", settings.top_fractions},
          {"page_sizes", settings.page_sizes},
          {"token_budget", settings.token_budget},
          {"overlap_page_size", settings.overlap_page_size},
          {"overlap_lags", settings.overlap_lags}};
}

// Every statistic column: mean and the 10th / 50th / 90th percentiles (nearest rank) over heads.
void print_summary(const ordered_json& heads) {
  std::printf("%-24s %8s %8s %8s %8s  (over %zu heads)\n", "statistic", "mean", "p10", "p50", "p90",
              heads.size());
  if (heads.empty()) return;
  for (const auto& [column, first] : heads.front().items()) {
    if (column == "layer" || column == "q_head" || column == "kv_head" || column == "context_len" ||
        column == "decode_steps")
      continue;
    std::vector<double> values;
    for (const auto& head : heads)
      if (head[column].is_number()) values.push_back(head[column].get<double>());
    if (values.empty()) continue;
    std::sort(values.begin(), values.end());
    auto rank = [&](double quantile) {
      const auto index = static_cast<size_t>(std::ceil(quantile * values.size()));
      return values[std::clamp<size_t>(index, 1, values.size()) - 1];
    };
    double mean = 0;
    for (double value : values) mean += value / values.size();
    std::printf("%-24s %8.4f %8.4f %8.4f %8.4f\n", column.c_str(), mean, rank(0.1), rank(0.5),
                rank(0.9));
  }
}

}  // namespace

int attention_stats_command(const std::vector<std::string>& args) {
  std::string trace, layer = "all", model_name, workload_name, configs_dir;
  std::vector<std::string> sets;
  std::string sinks = "4,64", local = "256", fractions = "0.01,0.05,0.1", page_sizes = "16,64",
              budget = "512", overlap_page = "64", lags = "1,4";
  bool as_json = false;
  ArgParser parser(
      "unisparse attention-stats (--trace FILE [--layer N|all] | --model M [--workload W] "
      "[--set key=value ...]) [statistics options] [--json]",
      "Measures, per (layer, query head), the dense softmax of every decode query of a captured\n"
      "trace or of a generated workload, averaged over the decode steps: mass on the first S\n"
      "tokens, on the last L tokens and on both, the share of mass in the top 1 / 5 / 10 % of\n"
      "tokens, page efficiency (mass of the best budget / P pages of P tokens over the mass of the\n"
      "best budget tokens), step-to-step overlap of the oracle pages and the mass a selection\n"
      "reused for a few steps keeps, and the mass on needle tokens. Prints a summary over heads,\n"
      "or with --json every head's statistics.");
  parser.option("--trace", &trace, "FILE", "a safetensors trace with decode steps");
  parser.option("--layer", &layer, "N|all", "trace layer (default: all)");
  parser.option("--model", &model_name, "M", "generated workload: configs/models/M.yaml");
  parser.option("--workload", &workload_name, "W",
                "generated workload: configs/workloads/W.yaml (default: " +
                    std::string(kDefaultWorkload) + ")");
  parser.repeated("--set", &sets, "key=value",
                  "generated workload: a workload parameter (context_len, decode_steps, seed,\n"
                  "                                  streaming_fraction, workload.<knob>, ...)");
  parser.option("--sink-tokens", &sinks, "S,...", "sink sizes, tokens (default 4,64)");
  parser.option("--local-tokens", &local, "L", "local window, tokens (default 256)");
  parser.option("--top-fractions", &fractions, "F,...",
                "shares of the visible tokens for the top-k mass (default 0.01,0.05,0.1)");
  parser.option("--page-sizes", &page_sizes, "P,...", "page sizes of page efficiency (default 16,64)");
  parser.option("--token-budget", &budget, "B",
                "tokens of page efficiency and the oracle pages (default 512)");
  parser.option("--overlap-page-size", &overlap_page, "P",
                "page size of oracle overlap and reuse retention (default 64)");
  parser.option("--overlap-lags", &lags, "R,...", "decode steps between compared selections (default 1,4)");
  parser.option("--configs", &configs_dir, "DIR", "configs directory (default: <repo>/configs)");
  parser.flag("--json", &as_json, "print every head's statistics as one JSON object");
  if (!parser.parse(args)) return 0;

  AttentionStatsSettings settings;
  settings.sink_tokens = parse_int_list("--sink-tokens", sinks);
  settings.local_tokens = parse_int_option("--local-tokens", local);
  settings.top_fractions = parse_fraction_list("--top-fractions", fractions);
  settings.page_sizes = parse_int_list("--page-sizes", page_sizes);
  settings.token_budget = parse_int_option("--token-budget", budget);
  settings.overlap_page_size = parse_int_option("--overlap-page-size", overlap_page);
  settings.overlap_lags = parse_int_list("--overlap-lags", lags);
  check_attention_stats_settings(settings);

  const bool from_trace = parser.given("--trace");
  if (from_trace == parser.given("--model"))
    throw option_error("--trace", "give either --trace FILE or --model M (a generated workload)");
  if (from_trace && (parser.given("--workload") || !sets.empty()))
    throw option_error(parser.given("--workload") ? "--workload" : "--set",
                       "applies to a generated workload (--model), not to --trace");
  if (!from_trace && parser.given("--layer"))
    throw option_error("--layer", "applies to --trace, not to a generated workload");

  ordered_json source;
  std::vector<std::pair<int, Workload>> workloads;  // (layer or -1, workload)
  if (from_trace) {
    const TraceHeader header = read_trace_header(trace);
    std::vector<int> layers = header.layers;
    if (layer != "all") {
      const int chosen = parse_int_option("--layer", layer);
      if (std::find(layers.begin(), layers.end(), chosen) == layers.end())
        throw input_error(trace, 0, "layers." + std::to_string(chosen) + ".k",
                          "the trace holds no layer " + std::to_string(chosen));
      layers = {chosen};
    }
    const PointConfig point = trace_point();
    for (int index : layers)  // every layer is checked before any is read
      if (inspect_trace_layer(trace, index, point).decode_steps < 1)
        throw input_error(trace, 0, "layers." + std::to_string(index) + ".q_decode",
                          "no decode steps to measure");
    source = {{"trace", trace}, {"layers", layers}};
    for (const char* key : {"model", "prompt_kind"})
      if (const auto found = header.metadata.find(key); found != header.metadata.end())
        source[key] = found->second;
    for (int index : layers) workloads.emplace_back(index, read_trace(trace, index, point));
    source["needle_tokens"] = workloads.front().second.batch[0].needle_tokens;
  } else {
    if (configs_dir.empty()) configs_dir = find_source_dir(".") + "/configs";
    const PointConfig point = generator_point(
        model_name, workload_name.empty() ? std::string(kDefaultWorkload) : workload_name, sets,
        configs_dir);
    source = {{"model", point.model}, {"workload", point.workload.name}};
    ordered_json params;
    for (const Param& param : unisparse::params())
      if (param.role == ParamRole::workload && !param.get(point).empty())
        params[param.key] = param.get(point);
    source["params"] = params;
    workloads.emplace_back(-1, generate_workload(point));
  }

  ordered_json heads = ordered_json::array();
  for (const auto& [index, workload] : workloads) {
    for (const HeadAttentionStats& head : attention_stats(workload, settings)) {
      ordered_json row;
      row["layer"] = index < 0 ? ordered_json() : ordered_json(index);
      row["context_len"] = workload.context_len;
      row["decode_steps"] = workload.decode_steps;
      row.update(head_columns(head, settings));
      heads.push_back(std::move(row));
    }
    if (from_trace) std::fprintf(stderr, "attention-stats: %s layer %d measured\n", trace.c_str(), index);
  }
  if (as_json) {
    std::cout << ordered_json{{"source", source}, {"settings", settings_json(settings)}, {"heads", heads}}
                     .dump()
              << "\n";
  } else {
    print_summary(heads);
  }
  return 0;
}

}  // namespace unisparse::cli
