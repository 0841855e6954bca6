#include "framework/sweep/runner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "framework/backend/backend.h"
#include "framework/config/params.h"
#include "framework/config/strict_yaml.h"
#include "framework/core/error.h"
#include "framework/core/kv_quant.h"
#include "framework/metrics/accuracy.h"
#include "framework/metrics/agreement.h"
#include "framework/metrics/roofline.h"
#include "framework/results/plan_export.h"
#include "framework/results/params_table.h"
#include "framework/results/point_row.h"
#include "framework/results/provenance.h"
#include "framework/results/run_writer.h"
#include "framework/sweep/expand.h"
#include "framework/sweep/model_points.h"
#include "framework/sweep/progress.h"
#include "framework/sweep/shard.h"
#include "framework/sweep/shard_writer.h"
#include "framework/workload/generator.h"
#include "framework/workload/trace.h"

namespace unisparse {

namespace {

// Everything the workload depends on: the workload-role parameters of the table (the rest only
// change the plan, the scoring or the timing of the same tensors), the trace and the phase.
std::string workload_key(const PointConfig& point) {
  std::string key;
  for (const auto& [name, value] : describe(point))
    if (changes_workload(name) || name == "model" || name.rfind("workload", 0) == 0)
      key += name + "=" + value + ";";
  return key;
}

Workload build_workload(const PointConfig& point, const HeadCalibration* calibration) {
  if (!point.workload.trace_path.empty())
    return read_trace(point.workload.trace_path, point.workload.trace_layer, point, calibration);
  return generate_workload(point);
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
    check_workloads(points);
    // Model-level points: their layouts are checked and the model worker started before anything
    // is written (a missing Python environment is bad input).
    model_points_ = std::make_unique<ModelPoints>(sweep_, points, options_.source_dir);
    RunWriter writer = open_writer();
    run_dir_ = writer.dir();
    if (options_.dump_plans) {
      plans_dir_ = run_dir_ + "/plans";
      std::filesystem::create_directories(plans_dir_);
    }
    // Every backend of one base point runs together (cpu first), so the CPU outputs are at hand
    // when a GPU backend of the same point is scored; a shard runs its base points only.
    const int base_points = base_point_count(points, sweep_.backends);
    const std::vector<int> order = execution_order(points, sweep_.backends, options_.shard);
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
      Row row = point_columns(sweep_.name, point.point_id, point.config, point.axis_values);
      if (options_.shard) row["shard"] = shard_label(*options_.shard);
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
    nlohmann::json resume_meta = launch_environment();
    resume_meta["argv"] = options_.argv;
    resume_meta["host"] = host_provenance();
    resume_meta["git"] = git_provenance(options_.source_dir);
    if (options_.shard) {
      const std::string run_dir = options_.resume_dir.empty()
                                      ? sharded_run_dir(options_.results_root, sweep_.name,
                                                        options_.run_id)
                                      : options_.resume_dir;
      return open_shard_writer(run_dir, *options_.shard, !options_.resume_dir.empty(), sweep_.name,
                               sweep_.resolved_yaml, new_run_meta(), resume_meta);
    }
    if (!options_.resume_dir.empty())
      return RunWriter::resume(options_.resume_dir, sweep_.resolved_yaml, resume_meta);
    return RunWriter::create(options_.results_root, sweep_.name, options_.run_id,
                             sweep_.resolved_yaml, new_run_meta());
  }

  nlohmann::json new_run_meta() {
    nlohmann::json meta = launch_environment();
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
    meta["params"] = params_table_json();
    if (model_points_ && model_points_->active()) meta["model_worker"] = model_points_->description();
    return meta;
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
      workload_ = std::make_unique<Workload>(
          build_workload(point, sweep_.head_calibration(point.head_calibration)));
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
    if (is_model_level(config.task)) {
      model_points_->run(point, row);
      return;
    }
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
      const DeviceCeilings& ceilings = ceilings_.for_device(row["device"].get<std::string>());
      const HeadLayout heads_run = heads_that_run(workload.heads, config.mode);
      row["head_layout"] = head_layout_text(heads_run);
      row["num_streaming_heads"] = heads_run.num_streaming();
      if (config.phase == Phase::decode) {
        const DecodePlan plan = make_decode_plan(config, workload.heads);
        DecodeRun run = engine.decode(workload, plan, run_options);
        if (!plan_file.empty()) {
          export_decode_plan(plan_file, workload, plan, run);
          row["plan_file"] = std::filesystem::relative(plan_file, run_dir_).string();
        }
        add_accuracy(row, evaluate_decode(workload, plan, run, config.reference_batches,
                                          &decode_reference_for(workload, config.reference_batches),
                                          config.needle_mass_threshold));
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

  const SweepConfig& sweep_;
  const RunnerOptions& options_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  // Every workload is checked before anything is written, so a bad one is bad input (exit 2, no
  // run directory), not failed points: a trace layer by its header (the tensors the point's phase
  // and cache fill read, shapes, head layout, needles), a synthetic workload by the generator's
  // checks. Once per workload: what the checks read are workload-role parameters (cache fill and
  // head layout included), which workload_key holds.
  void check_workloads(const std::vector<ExpandedPoint>& points) const {
    std::set<std::string> checked;
    for (const ExpandedPoint& point : points) {
      const PointConfig& config = point.config;
      if (!point.skip_reason.empty() || is_model_level(config.task) ||
          !checked.insert(workload_key(config)).second)
        continue;
      if (!config.workload.trace_path.empty())
        inspect_trace_layer(config.workload.trace_path, config.workload.trace_layer, config,
                            sweep_.head_calibration(config.head_calibration));
      else
        check_generator_inputs(config);
    }
  }

  std::unique_ptr<Workload> workload_;
  std::string workload_key_;
  std::unique_ptr<DecodeReference> decode_reference_;
  std::unique_ptr<ModelPoints> model_points_;
  DeviceCeilingsByName ceilings_{options_.source_dir + "/configs/devices"};
  std::string run_dir_;
  std::string plans_dir_;  // empty unless plans are dumped
};

}  // namespace

std::string run_sweep(const SweepConfig& sweep, const RunnerOptions& options) {
  return SweepRunner(sweep, options).run();
}

}  // namespace unisparse
