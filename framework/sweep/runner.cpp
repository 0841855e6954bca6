#include "framework/sweep/runner.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "framework/backend/backend.h"
#include "framework/config/params.h"
#include "framework/config/strict_yaml.h"
#include "framework/core/error.h"
#include "framework/core/kv_quant.h"
#include "framework/metrics/accuracy.h"
#include "framework/metrics/agreement.h"
#include "framework/metrics/roofline.h"
#include "framework/results/plan_export.h"
#include "framework/results/provenance.h"
#include "framework/results/run_writer.h"
#include "framework/sweep/expand.h"
#include "framework/sweep/progress.h"
#include "framework/workload/generator.h"
#include "framework/workload/trace.h"

namespace unisparse {

namespace {

using Row = nlohmann::ordered_json;

nlohmann::json number_or_null(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

// Parameter values come from the parameter table as text; numbers go into the row as numbers.
nlohmann::json typed_value(const std::string& text) {
  int64_t as_int = 0;
  auto [end_i, err_i] = std::from_chars(text.data(), text.data() + text.size(), as_int);
  if (err_i == std::errc() && end_i == text.data() + text.size()) return as_int;
  double as_double = 0;
  auto [end_d, err_d] = std::from_chars(text.data(), text.data() + text.size(), as_double);
  if (err_d == std::errc() && end_d == text.data() + text.size()) return as_double;
  return text;
}

// Everything the workload depends on; points with equal keys share one generated workload.
std::string workload_key(const PointConfig& point) {
  std::string key;
  for (const auto& [name, value] : describe(point)) {
    static const char* kPlanOnly[] = {"backend",        "page_size",         "logical_page_size",
                                      "token_budget",   "reuse_interval",    "gqa_selection",
                                      "mode",           "block_size",        "reference_batches",
                                      "reference_rows", "kv_dtype"};
    if (std::find(std::begin(kPlanOnly), std::end(kPlanOnly), name) != std::end(kPlanOnly)) continue;
    if (name.rfind("timing.", 0) == 0) continue;
    key += name + "=" + value + ";";
  }
  return key + "trace=" + point.workload.trace_path + ";phase=" + std::string(to_string(point.phase));
}

Workload build_workload(const PointConfig& point) {
  if (!point.workload.trace_path.empty())
    return read_trace(point.workload.trace_path, point.workload.trace_layer, point);
  return generate_workload(point);
}

DecodePlan decode_plan_for(const PointConfig& point, const Workload& workload) {
  DecodePlan plan;
  plan.mode = point.mode;
  plan.heads = workload.heads;
  plan.geometry = {point.page_size, point.logical_page_size};
  plan.policy = {point.token_budget, point.reuse_interval, point.gqa_selection};
  plan.kv_storage = point.kv_dtype;
  plan.cache_fill = point.cache_fill;
  plan.prefill_block_size = point.block_size;
  return plan;
}

// configs/devices/<name>.yaml of the longest <name> that the device description contains
// ("NVIDIA H200, 132 SMs, ..." -> h200.yaml, "cpu (2 threads)" -> cpu.yaml); "" when none does.
std::string ceilings_file(const std::string& source_dir, const std::string& device) {
  std::string lower = device;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const std::string dir = source_dir + "/configs/devices";
  std::string best;
  for (const std::string& name : yaml_names_in(dir))
    if (lower.find(name) != std::string::npos && name.size() > best.size()) best = name;
  return best.empty() ? "" : dir + "/" + best + ".yaml";
}

// The identity and every parameter of a point: the first columns of its row.
Row point_columns(const std::string& sweep, const ExpandedPoint& point) {
  const PointConfig& c = point.config;
  Row row;
  row["sweep"] = sweep;
  row["point_id"] = point.point_id;
  row["point_key"] = std::to_string(point.point_id) + "|" + c.backend;
  row["status"] = "ok";
  row["reason"] = nullptr;
  row["phase"] = std::string(to_string(c.phase));
  row["backend"] = c.backend;
  row["mode"] = std::string(to_string(c.mode));
  row["model"] = c.model;
  row["workload"] = c.workload.name;
  for (const auto& [key, value] : describe(c))
    if (!row.contains(key)) row[key] = typed_value(value);
  for (const auto& [key, value] : point.axis_values) row["axis." + key] = typed_value(value);
  return row;
}

void add_accuracy(Row& row, const Accuracy& accuracy) {
  row["out_rel_l2_mean"] = number_or_null(accuracy.out_rel_l2_mean);
  row["out_rel_l2_p99"] = number_or_null(accuracy.out_rel_l2_p99);
  row["out_rel_l2_max"] = number_or_null(accuracy.out_rel_l2_max);
  row["attn_recall"] = number_or_null(accuracy.attn_recall);
  row["page_recall"] = number_or_null(accuracy.page_recall);
  row["needle_hit"] = number_or_null(accuracy.needle_hit);
  row["accuracy_rows"] = accuracy.rows;
}

void add_times(Row& row, const PhaseTimes& t) {
  row["time_us"] = number_or_null(t.total_us);
  row["time_us_min"] = number_or_null(t.total_min_us);
  row["time_us_max"] = number_or_null(t.total_max_us);
  row["time_stats_us"] = number_or_null(t.stats_us);
  row["time_selector_us"] = number_or_null(t.selector_us);
  row["time_topk_us"] = number_or_null(t.topk_us);
  row["time_attention_us"] = number_or_null(t.attention_us);
  row["time_merge_us"] = number_or_null(t.merge_us);
  row["time_prefill_us"] = number_or_null(t.prefill_us);
  row["timing_iterations"] = t.iterations;
  row["timer"] = t.timer.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.timer);
}

void add_roofline(Row& row, const RooflineModel& model, double time_us,
                  const DeviceCeilings& ceilings) {
  row["bytes_model"] = model.bytes;
  row["flops_model"] = model.flops;
  const AchievedRates rates = achieved_rates(model, time_us, ceilings);
  row["achieved_gbps"] = number_or_null(rates.gbps);
  row["achieved_tflops"] = number_or_null(rates.tflops);
  row["hbm_utilization"] = number_or_null(rates.bandwidth_utilisation);
  row["tensor_utilization"] = number_or_null(rates.compute_utilisation);
}

// The outputs of one backend on one point, kept so that a second backend on the same point can be
// compared with the CPU backend (kernel correctness, separate from the sparsity's accuracy).
struct BackendOutputs {
  std::optional<DecodeRun> decode;
  std::optional<PrefillRun> prefill;
};

class SweepRunner {
 public:
  SweepRunner(const SweepConfig& sweep, const RunnerOptions& options)
      : sweep_(sweep), options_(options) {}

  std::string run() {
    std::vector<ExpandedPoint> points = expand(sweep_);
    // A trace is read before anything is written, so a mis-shaped one is bad input (exit 2, no run
    // directory), not a sweep full of failed points.
    for (const ExpandedPoint& point : points)
      if (point.skip_reason.empty() && !point.config.workload.trace_path.empty()) {
        workload_for(point.config);
        break;
      }
    RunWriter writer = open_writer();
    run_dir_ = writer.dir();
    if (options_.dump_plans) {
      plans_dir_ = run_dir_ + "/plans";
      std::filesystem::create_directories(plans_dir_);
    }
    // Backends are the outermost expansion axis; run every backend of one base point together so
    // the CPU outputs are at hand when a GPU backend of the same point is scored.
    const int num_backends = std::max<int>(1, sweep_.backends.size());
    const int base_points = static_cast<int>(points.size()) / num_backends;
    std::vector<int> order;
    for (int base = 0; base < base_points; ++base) {
      for (int b = 0; b < num_backends; ++b)
        if (sweep_.backends[b] == "cpu") order.push_back(b * base_points + base);
      for (int b = 0; b < num_backends; ++b)
        if (sweep_.backends[b] != "cpu") order.push_back(b * base_points + base);
    }
    Progress progress(static_cast<int>(order.size()), options_.quiet);
    std::optional<DecodeRun> cpu_decode;
    std::optional<PrefillRun> cpu_prefill;
    int current_base = -1;
    for (int index : order) {
      const ExpandedPoint& point = points[index];
      const int base = index % base_points;
      if (base != current_base) {
        cpu_decode.reset();
        cpu_prefill.reset();
        current_base = base;
      }
      const std::string key = std::to_string(point.point_id) + "|" + point.config.backend;
      if (writer.has_point(key)) {
        progress.step("point " + std::to_string(point.point_id) + " " + point.config.backend +
                      " (done earlier)");
        continue;
      }
      Row row = point_columns(sweep_.name, point);
      BackendOutputs outputs;
      run_point(point, row, outputs, cpu_decode, cpu_prefill);
      if (point.config.backend == "cpu") {
        cpu_decode = std::move(outputs.decode);
        cpu_prefill = std::move(outputs.prefill);
      }
      writer.append(row);
      progress.step("point " + std::to_string(point.point_id) + " " + point.config.backend + " " +
                    row["status"].get<std::string>());
    }
    progress.finish();
    writer.finish();
    return writer.dir();
  }

 private:
  RunWriter open_writer() {
    if (!options_.resume_dir.empty()) return RunWriter::resume(options_.resume_dir);
    nlohmann::json meta;
    meta["argv"] = options_.argv;
    meta["sweep_file"] = sweep_.source_path;
    meta["git"] = git_provenance(options_.source_dir);
    nlohmann::json devices = nlohmann::json::object();
    for (const std::string& name : sweep_.backends) {
      try {
        devices[name] = backend(name).device_name();
      } catch (const std::exception& error) {
        devices[name] = std::string("unavailable: ") + error.what();
      }
    }
    meta["device"] = devices;
    return RunWriter::create(options_.results_root, sweep_.name, options_.run_id,
                             sweep_.resolved_yaml, meta);
  }

  Backend& backend(const std::string& name) {
    auto found = backends_.find(name);
    if (found == backends_.end()) found = backends_.emplace(name, make_backend(name)).first;
    return *found->second;
  }

  const Workload& workload_for(const PointConfig& point) {
    const std::string key = workload_key(point);
    if (key != workload_key_) {
      decode_reference_.reset();
      workload_.reset();  // free the previous one before generating the next
      workload_ = std::make_unique<Workload>(build_workload(point));
      workload_key_ = key;
    }
    return *workload_;
  }

  void run_point(const ExpandedPoint& point, Row& row, BackendOutputs& outputs,
                 const std::optional<DecodeRun>& cpu_decode,
                 const std::optional<PrefillRun>& cpu_prefill) {
    if (!point.skip_reason.empty()) {
      row["status"] = "skipped";
      row["reason"] = point.skip_reason;
      return;
    }
    const PointConfig& config = point.config;
    try {
      // A float KV cache holds the workload's values in dtype; the quantized formats (int8, int4,
      // fp8) apply to decode, since prefill attends K/V before the cache write. A backend that lacks
      // a format says so itself (Unsupported).
      const std::string kv_dtype(to_string(config.kv_dtype));
      if (config.kv_dtype != config.dtype && !is_quantized(config.kv_dtype))
        throw Unsupported("kv_dtype " + kv_dtype + " is not implemented (a float KV cache is stored "
                          "in dtype " + std::string(to_string(config.dtype)) + ")");
      if (is_quantized(config.kv_dtype) && config.phase != Phase::decode)
        throw Unsupported("kv_dtype " + kv_dtype + " applies to decode only (prefill attends K/V "
                          "before they are quantized)");
      Backend& engine = backend(config.backend);
      row["device"] = engine.device_name();
      const std::string plan_file = plans_dir_.empty() ? std::string()
                                    : plans_dir_ + "/" + std::to_string(point.point_id) + "_" +
                                          config.backend + "_" + std::string(to_string(config.phase)) +
                                          "_plan.safetensors";
      const Workload& workload = workload_for(config);
      RunOptions run_options;
      run_options.timing = config.timing;
      run_options.profile = options_.profile;
      run_options.label = sweep_.name + "." + std::to_string(point.point_id);
      const DeviceCeilings& ceilings = device_ceilings(row["device"].get<std::string>());
      if (config.phase == Phase::decode) {
        const DecodePlan plan = decode_plan_for(config, workload);
        DecodeRun run = engine.decode(workload, plan, run_options);
        if (!plan_file.empty()) {
          export_decode_plan(plan_file, workload, plan, run);
          row["plan_file"] = std::filesystem::relative(plan_file, run_dir_).string();
        }
        add_accuracy(row, evaluate_decode(workload, plan, run, config.reference_batches,
                                          &decode_reference_for(workload, config.reference_batches)));
        add_times(row, run.times);
        add_roofline(row, decode_roofline(workload, plan, run, config.kv_dtype), run.times.total_us,
                     ceilings);
        if (cpu_decode && config.backend != "cpu") {
          const Agreement agreement = compare_decode(run, *cpu_decode);
          row["kernel_vs_cpu_page_agreement"] = number_or_null(agreement.page_set_agreement);
          row["kernel_vs_cpu_out_rel_l2_max"] = number_or_null(agreement.out_rel_l2_max);
        }
        outputs.decode = std::move(run);
      } else {
        const PrefillPlan plan = make_prefill_plan(workload.shape, workload.heads, config.block_size,
                                                   uses_streaming_heads(config.mode));
        if (!plan_file.empty()) {
          export_prefill_plan(plan_file, workload, plan);
          row["plan_file"] = std::filesystem::relative(plan_file, run_dir_).string();
        }
        PrefillRun run = engine.prefill(workload, plan, run_options);
        add_accuracy(row, evaluate_prefill(workload, plan, run, config.reference_rows, config.seed,
                                               config.reference_batches));
        add_times(row, run.times);
        add_roofline(row, prefill_roofline(workload, plan, config.dtype), run.times.total_us,
                     ceilings);
        if (cpu_prefill && config.backend != "cpu") {
          const Agreement agreement = compare_prefill(run, *cpu_prefill);
          row["kernel_vs_cpu_out_rel_l2_max"] = number_or_null(agreement.out_rel_l2_max);
        }
        outputs.prefill = std::move(run);
      }
    } catch (const Unsupported& error) {
      row["status"] = "skipped";
      row["reason"] = error.what();
    } catch (const InputError& error) {
      throw;  // a bad trace or config found late is still bad input, not a failed point
    } catch (const std::bad_alloc&) {
      row["status"] = "failed";
      row["reason"] = "out of host memory";
    } catch (const std::exception& error) {
      row["status"] = "failed";
      row["reason"] = error.what();
    }
  }

  // The dense reference rows of the current workload, shared by every point that uses it.
  const DecodeReference& decode_reference_for(const Workload& workload, int reference_batches) {
    const int batches = std::clamp(reference_batches, 0, workload.batch_size());
    if (!decode_reference_ || decode_reference_->batches() < batches)
      decode_reference_ = std::make_unique<DecodeReference>(workload, batches);
    return *decode_reference_;
  }

  // Read once per device description, not per point.
  const DeviceCeilings& device_ceilings(const std::string& device) {
    auto found = ceilings_.find(device);
    if (found == ceilings_.end()) {
      const std::string file = ceilings_file(options_.source_dir, device);
      const DeviceCeilings ceilings = file.empty() ? DeviceCeilings{} : load_device_ceilings(file);
      found = ceilings_.emplace(device, ceilings).first;
    }
    return found->second;
  }

  const SweepConfig& sweep_;
  const RunnerOptions& options_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  std::unique_ptr<Workload> workload_;
  std::string workload_key_;
  std::unique_ptr<DecodeReference> decode_reference_;
  std::map<std::string, DeviceCeilings> ceilings_;
  std::string run_dir_;
  std::string plans_dir_;  // empty unless plans are dumped
};

}  // namespace

std::string run_sweep(const SweepConfig& sweep, const RunnerOptions& options) {
  return SweepRunner(sweep, options).run();
}

}  // namespace unisparse
