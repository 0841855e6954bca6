// `unisparse calibrate-heads`: scores what making each (layer, KV head) a streaming head costs on
// captured traces and writes the calibration (configs/heads/README.md) that head_selection
// calibrated reads.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "framework/cli/args.h"
#include "framework/cli/commands.h"
#include "framework/config/head_calibration_file.h"
#include "framework/config/model_config.h"
#include "framework/core/error.h"
#include "framework/metrics/streaming_cost.h"
#include "framework/workload/trace.h"

namespace unisparse::cli {

namespace {

namespace fs = std::filesystem;

std::string utc_date() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
  return text;
}

void check_output_folder(const std::string& option, const std::string& path) {
  const fs::path folder = fs::absolute(path).parent_path();
  if (!fs::is_directory(folder))
    throw InputError("<command line>: " + option + ": folder " + folder.string() +
                     " does not exist");
}

// A trace path as recorded: relative to the repository when it lies inside it.
std::string recorded_path(const std::string& path, const std::string& source_dir) {
  const fs::path absolute = fs::absolute(path).lexically_normal();
  const fs::path relative = absolute.lexically_relative(fs::absolute(source_dir).lexically_normal());
  return !relative.empty() && *relative.begin() != ".." ? relative.string() : absolute.string();
}

// The decode point a calibration trace layer is read with: every decode step, fp32 (the trace's
// values as stored), all heads dense (the cost is scored per head).
PointConfig calibration_point(const ModelConfig& model) {
  PointConfig point;
  point.model = model.name;
  point.shape = model.shape;
  point.phase = Phase::decode;
  point.mode = SparsityMode::dense;
  point.dtype = DType::fp32;
  point.decode_steps = std::numeric_limits<int>::max();
  point.streaming_fraction = 0.0;
  return point;
}

}  // namespace

int calibrate_heads_command(const std::vector<std::string>& args) {
  std::vector<std::string> traces;
  std::string model_name, sink_text, local_text, out, duo_tsv, configs_dir,
      metric = kOutRelL2Score;
  ArgParser parser(
      "unisparse calibrate-heads --trace FILE [--trace FILE ...] --model NAME --sink-tokens S "
      "--local-tokens L --out configs/heads/NAME.yaml [--duo-tsv OUT.tsv] [--metric M]",
      "Scores every (layer, KV head) of the traces by what making it a streaming head (S sink +\n"
      "L local tokens) costs at the decode steps, against dense attention: the output relative L2\n"
      "error (max over the head's query heads, mean over steps, then over traces) and the\n"
      "attention mass outside sink + local. Writes the scores, the metric that ranks them, the\n"
      "traces and the window as YAML (head_calibration: NAME in a sweep), and optionally as\n"
      "DuoAttention gate values (full_attention_heads.tsv format). Every trace must hold the same\n"
      "layers. Calibrate on the prompt kind you evaluate (passkey or prose).");
  parser.repeated("--trace", &traces, "FILE", "a calibration trace");
  parser.option("--model", &model_name, "NAME", "configs/models/NAME.yaml: the traces' shape", true);
  parser.option("--sink-tokens", &sink_text, "S", "sink tokens of the streaming window", true);
  parser.option("--local-tokens", &local_text, "L", "local tokens of the streaming window", true);
  parser.option("--out", &out, "FILE.yaml", "the calibration to write (its stem is its name)", true);
  parser.option("--duo-tsv", &duo_tsv, "OUT.tsv", "also write DuoAttention gate values");
  parser.option("--metric", &metric, "M",
                "the score that ranks heads: out_rel_l2 (default) or outside_mass");
  parser.option("--configs", &configs_dir, "DIR", "configs directory (default: <repo>/configs)");
  if (!parser.parse(args)) return 0;

  if (traces.empty()) throw InputError("<command line>: --trace: at least one trace is needed");
  const int sink_tokens = parse_int_option("--sink-tokens", sink_text);
  const int local_tokens = parse_int_option("--local-tokens", local_text);
  if (sink_tokens < 0 || local_tokens < 1)
    throw InputError("<command line>: --sink-tokens must be >= 0 and --local-tokens >= 1");
  if (metric != kOutRelL2Score && metric != kOutsideMassScore)
    throw InputError("<command line>: --metric '" + metric +
                     "': expected out_rel_l2 or outside_mass");
  if (fs::path(out).extension() != ".yaml")
    throw InputError("<command line>: --out '" + out + "': expected a .yaml file");
  if (!duo_tsv.empty() && fs::path(duo_tsv).extension() != ".tsv")
    throw InputError("<command line>: --duo-tsv '" + duo_tsv + "': expected a .tsv file");
  check_output_folder("--out", out);
  if (!duo_tsv.empty()) check_output_folder("--duo-tsv", duo_tsv);

  const std::string source_dir = find_source_dir(".");
  if (configs_dir.empty()) configs_dir = source_dir + "/configs";
  const ModelConfig model =
      load_model(LocatedNode{YAML::Node(model_name), YamlSource::command_line("--model " + model_name),
                             "--model", YAML::Node()},
                 configs_dir);
  const PointConfig point = calibration_point(model);

  // Every trace is checked (header only) before any is scored.
  std::vector<TraceHeader> headers;
  for (const std::string& path : traces) {
    headers.push_back(read_trace_header(path));
    if (headers.back().layers != headers.front().layers)
      throw InputError(path + ": holds other layers than " + traces.front() +
                       " (every calibration trace needs the same layers)");
    for (int layer : headers.back().layers)
      if (inspect_trace_layer(path, layer, point).decode_steps < 1)
        throw InputError(path + ": tensor 'layers." + std::to_string(layer) +
                         ".q_decode': no decode steps to score");
  }

  if (!duo_tsv.empty())
    for (size_t i = 0; i < headers.front().layers.size(); ++i)
      if (headers.front().layers[i] != static_cast<int>(i))
        throw InputError("<command line>: --duo-tsv: a DuoAttention pattern lists every layer from "
                         "0, and " + traces.front() + " lacks layer " + std::to_string(i));

  HeadCalibration calibration;
  calibration.name = fs::path(out).stem().string();
  calibration.model = model.name;
  calibration.metric = metric;
  calibration.date = utc_date();
  calibration.sink_tokens = sink_tokens;
  calibration.local_tokens = local_tokens;
  calibration.layers = headers.front().layers;
  auto& errors = calibration.scores[kOutRelL2Score];
  auto& outside = calibration.scores[kOutsideMassScore];
  errors.assign(calibration.layers.size(), std::vector<double>(model.shape.num_kv_heads, 0.0));
  outside = errors;
  const double per_trace = 1.0 / static_cast<double>(traces.size());
  for (size_t t = 0; t < traces.size(); ++t) {
    const TraceHeader& header = headers[t];
    CalibrationTrace& recorded = calibration.traces.emplace_back();
    recorded.path = recorded_path(traces[t], source_dir);
    const auto kind = header.metadata.find("prompt_kind");
    recorded.prompt_kind = kind == header.metadata.end() ? "" : kind->second;
    for (size_t i = 0; i < calibration.layers.size(); ++i) {
      const Workload workload = read_trace(traces[t], calibration.layers[i], point);
      recorded.tokens = workload.context_len;
      recorded.decode_steps = workload.decode_steps;
      const StreamingCost cost = streaming_cost(workload, sink_tokens, local_tokens);
      for (int h = 0; h < model.shape.num_kv_heads; ++h) {
        errors[i][h] += per_trace * cost.out_rel_l2[h];
        outside[i][h] += per_trace * cost.outside_mass[h];
      }
      std::fprintf(stderr, "calibrate-heads: %s layer %d scored\n", traces[t].c_str(),
                   calibration.layers[i]);
    }
  }

  write_head_calibration_file(out, calibration);
  if (!duo_tsv.empty()) write_duo_attention_tsv(duo_tsv, calibration);
  std::printf("wrote %s: %zu layers x %d KV heads from %zu traces (ranked by %s)\n", out.c_str(),
              calibration.layers.size(), model.shape.num_kv_heads, traces.size(), metric.c_str());
  return 0;
}

}  // namespace unisparse::cli
