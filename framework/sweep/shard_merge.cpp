#include "framework/sweep/shard_merge.h"

#include "framework/config/sweep_config.h"
#include "framework/core/error.h"
#include "framework/results/file_io.h"
#include "framework/results/merge.h"
#include "framework/results/run_lock.h"
#include "framework/sweep/shard.h"

namespace unisparse {

MergeOutcome merge_sharded_run(const std::string& run_dir, const std::string& configs_dir,
                               bool partial, const std::vector<std::string>& argv) {
  const std::string pinned = pinned_config_path(run_dir).string();
  if (!std::filesystem::is_regular_file(pinned))
    throw InputError(run_dir + " is not a sharded run (no " + pinned + ")");
  RunLock lock = RunLock::acquire(run_dir);
  const auto dirs = find_shard_dirs(run_dir);
  if (dirs.empty()) throw InputError(run_dir + ": cannot merge: no shard has started");
  const int shard_count = dirs.front().first.count;
  for (const auto& [shard, path] : dirs)
    if (const auto holder = RunLock::holder(path.string()))
      throw InputError(run_dir + ": cannot merge: shard " + shard_label(shard) +
                       " is being written by " + *holder + "; merge after it ends");

  const SweepConfig sweep = load_sweep(pinned, {}, configs_dir);
  std::vector<ExpectedRow> expected;
  for (const PlannedPoint& point : planned_points(sweep, shard_count))
    expected.push_back({point.point_key, shard_label({point.shard, shard_count})});
  std::vector<std::string> labels;
  for (int index = 0; index < shard_count; ++index)
    labels.push_back(shard_label({index, shard_count}));
  std::vector<ShardRun> shards;
  for (const auto& [shard, path] : dirs) shards.push_back(read_shard_run(shard_label(shard), path));

  const MergedRun merged =
      merge_shard_runs(run_dir, read_text_file(pinned), labels, expected, shards, partial, argv);
  write_merged_run(run_dir, merged);
  return {shard_count, merged.rows.size(), merged.missing};
}

}  // namespace unisparse
