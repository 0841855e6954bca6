#pragma once
// `unisparse merge RUN_DIR`: the shards of a sharded run (shard.h) merged into one run directory
// that reads like the run of one process (results/merge.h does the checks and the writing).
#include <string>
#include <vector>

namespace unisparse {

struct MergeOutcome {
  int shard_count = 0;
  size_t rows = 0;
  std::vector<std::string> missing;  // point keys left out (partial merges only)
};

// Expands the run's pinned config (shards/config.yaml; its model and workload files come from
// configs_dir) to know every row and its shard, and merges. Holds the run directory's lock while it
// writes. InputError, nothing written: not a sharded run, no shard started, shards of different
// counts, a shard still being written, and every check of merge_shard_runs.
MergeOutcome merge_sharded_run(const std::string& run_dir, const std::string& configs_dir,
                               bool partial, const std::vector<std::string>& argv);

}  // namespace unisparse
