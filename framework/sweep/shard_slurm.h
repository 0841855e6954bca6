#pragma once
// A sharded run (shard.h) as Slurm jobs: one job array with a task per shard (the task's
// SLURM_ARRAY_TASK_ID is its shard index) and a merge job that runs after the whole array, the
// convention of submitit and Hydra's submitit launcher. The scripts live in <run_dir>/slurm/ with
// the tasks' logs (slurm/logs/%A_%a.log: array job id, task id).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"

namespace unisparse {

inline constexpr const char* kSlurmFolder = "slurm";

// What each array task asks of the cluster; empty or 0 leaves a setting to the cluster's default.
struct SlurmJobOptions {
  int shards = 0;         // N, one array task each
  int gpus_per_task = 0;  // 1 for sweeps with a cuda backend: one GPU per timed process
  int cpus_per_task = 0;
  int max_parallel = 0;  // at most this many tasks at once (--array=...%K)
  std::string partition, time, account;

  bool operator==(const SlurmJobOptions&) const = default;
};

// slurm/options.json, so a resubmission asks for what the first submission asked for.
nlohmann::json to_json(const SlurmJobOptions& options);
// InputError naming path and key for a missing or mistyped key.
SlurmJobOptions slurm_options_from_json(const nlohmann::json& json, const std::string& path);

// Where the jobs find everything; all absolute.
struct SlurmJobPaths {
  std::string run_dir;
  std::string binary;       // the unisparse executable the tasks run
  std::string source_dir;   // the repository (the tasks' working directory)
  std::string configs_dir;  // models/ and workloads/
};

// A value that goes into an #SBATCH line must be one word: an InputError naming option otherwise.
void check_sbatch_value(const std::string& option, const std::string& value);

// "0-3" for all N shards, "1,3" for some; "%K" added when max_parallel limits them.
std::string array_indices(const std::vector<int>& shards, int shard_count, int max_parallel);

// The sbatch script of the array job for these shards, and that of the merge job.
std::string array_job_script(const SlurmJobPaths& paths, const SlurmJobOptions& options,
                             const std::string& job_name, const std::vector<int>& shards);
std::string merge_job_script(const SlurmJobPaths& paths, const SlurmJobOptions& options,
                             const std::string& job_name);

// The shards that do not yet hold every row they owe (a shard that never started included), by
// index.
std::vector<int> unfinished_shards(const std::string& run_dir, const SweepConfig& sweep,
                                   int shard_count);

}  // namespace unisparse
