#pragma once
// One fully resolved sweep point: every axis and fixed value, typed. The sweep expansion
// (framework/sweep) produces these from a SweepConfig; the runner turns one into a workload, plans and
// backend calls. Adding an axis = a field here + its entry in the parameter table (config/params.cpp)
// + the code that reads it.
#include <cstdint>
#include <string>

#include "framework/config/model_task.h"
#include "framework/core/types.h"
#include "framework/sparse/page_selector_kind.h"
#include "framework/workload/head_selection.h"
#include "framework/workload/knobs.h"

namespace unisparse {

struct TimingConfig {
  int warmup = 3;
  int min_iters = 10;
  int max_iters = 200;
  double max_noise = 0.02;  // stop once the relative spread of the median estimate is below this
  bool l2_flush = true;
};

struct WorkloadSpec {
  std::string name;        // "needle", or the trace file's stem
  std::string trace_path;  // non-empty: read Q/K/V from this safetensors trace (absolute)
  int trace_layer = 0;     // the `layer` parameter
  // Sweep defaults a trace replaced with its own values, "key: sweep -> trace" joined by "; "
  // (config/trace_sweep.h); empty when none.
  std::string trace_overrides;
  GeneratorKnobs knobs;    // synthetic workloads
};

// Default share of a row's dense attention mass on a trace's needle tokens that makes the row a
// needle-seeking row (metrics/accuracy.h).
inline constexpr double kDefaultNeedleMassThreshold = 0.1;

struct PointConfig {
  std::string sweep;
  std::string model = "llama3-8b";
  ModelShape shape{32, 8, 128};
  WorkloadSpec workload;
  Phase phase = Phase::decode;
  SparsityMode mode = SparsityMode::static_dynamic;
  std::string backend = "cpu";

  int context_len = 4096;  // prefill tokens T (decode: the cache holds T tokens before step 0)
  int batch = 1;
  DType dtype = DType::fp16;     // Q (and K/V when kv_dtype is a 16-bit type)
  DType kv_dtype = DType::fp16;  // KV cache storage
  int decode_steps = 16;

  // Dynamic sparsity (decode).
  int page_size = 64;          // physical page, tokens
  int logical_page_size = 16;  // statistics granularity, divides page_size
  int token_budget = 4096;     // multiple of page_size
  int reuse_interval = 4;
  GqaSelection gqa_selection = GqaSelection::per_query_head;
  PageSelectorKind selector = PageSelectorKind::quest;  // Quest bounds or the oracle's true masses
  // How the cuda backend fills its KV cache before decode step 0 (the CPU backend reads the
  // workload's K/V directly); prefill needs the prompt's queries in the workload.
  CacheFill cache_fill = CacheFill::upload;

  // Static sparsity.
  double streaming_fraction = 0.5;  // share of KV heads that are streaming heads
  int sink_tokens = 128;
  int local_tokens = 256;
  // Which KV heads are streaming heads (workload/head_selection.h); head_calibration names the
  // costs of the calibrated rules: configs/heads/<name>.yaml or a DuoAttention .tsv path.
  HeadSelection head_selection = HeadSelection::interleaved;
  std::string head_calibration;

  // Prefill.
  int block_size = 64;  // query/KV tile, tokens

  uint64_t seed = 0;
  // Accuracy is measured against the dense fp64 reference on the first reference_batches sequences
  // (the rest are timed only) and, for prefill, on reference_rows sampled query rows per head
  // (0 = every row).
  int reference_batches = 1;
  int reference_rows = 0;
  // needle_hit on traces: rows whose dense attention puts at least this share of its mass on the
  // needle tokens are the needle-seeking rows.
  double needle_mass_threshold = kDefaultNeedleMassThreshold;

  // Model-level points (task != none): the real model decodes with this point's plan in every
  // layer (framework/sweep/model_points.h). passkey: a passkey prompt of context_len tokens with
  // the key at passkey_depth (key from passkey_seed), eval_tokens greedy answer tokens; perplexity:
  // the first context_len tokens of the prose text, its last eval_tokens teacher-forced.
  ModelTask task = ModelTask::none;
  double passkey_depth = 0.5;  // share of the filler before the key
  int passkey_seed = 0;
  int eval_tokens = 16;

  TimingConfig timing;
};

// Whether a point's workload carries the prefill queries [num_q_heads, T, head_dim]: prefill points,
// and decode points whose cache is filled by running the prefill over the prompt.
inline bool needs_prefill_queries(const PointConfig& point) {
  return point.phase == Phase::prefill || point.cache_fill == CacheFill::prefill;
}

}  // namespace unisparse
