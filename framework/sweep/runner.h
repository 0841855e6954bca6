#pragma once
// Runs a sweep: expands its points, builds each point's workload (reused across points that differ
// only in sparsity knobs), runs every backend, scores it against the dense fp64 reference and the CPU
// backend, and appends one results row per (point, backend) to an append-only run directory.
#include <optional>
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"
#include "framework/sweep/shard.h"

namespace unisparse {

struct RunnerOptions {
  std::string results_root = "results";  // run dirs go to <results_root>/<sweep>/<run_id>/
  std::string run_id;                    // empty: a UTC timestamp
  std::string resume_dir;                // non-empty: append to this run dir, skipping finished points
  std::optional<Shard> shard;            // run this shard's points only, into <run_dir>/shards/ (shard.h);
                                         // needs run_id or resume_dir (the run dir, not the shard's)
  std::string source_dir = ".";          // the repository (configs/, git provenance)
  std::vector<std::string> argv;         // recorded in meta.json
  bool profile = false;                  // one measured iteration per point, CUPTI off, NVTX on
  bool dump_plans = false;               // write each point's plans to <run_dir>/plans/*.safetensors
  bool quiet = false;
};

// Returns the run directory. Throws InputError for bad input before anything is written.
std::string run_sweep(const SweepConfig& sweep, const RunnerOptions& options);

}  // namespace unisparse
