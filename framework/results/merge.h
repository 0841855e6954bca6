#pragma once
// Merging the shards of a sharded run into one run directory, as if one process had run every
// point: config.yaml, meta.json, points.jsonl and points.csv next to shards/. The caller says which
// rows the run must hold and which shard owes each (framework/sweep/shard.h); this checks the
// shards against that and writes the result.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/results/row.h"

namespace unisparse {

// One shard directory as read back.
struct ShardRun {
  std::string label;        // "2/4", as its rows' shard column says
  std::string dir;          // its run directory
  std::string config_yaml;  // its config.yaml
  nlohmann::json meta;      // its meta.json
  std::vector<Row> rows;    // its points.jsonl (a partial last line dropped)
};

// Reads a shard's run directory. Unreadable or malformed files are InputErrors naming the file.
ShardRun read_shard_run(const std::string& label, const std::string& dir);

// A row the merged run must hold and the shard that owes it.
struct ExpectedRow {
  std::string point_key;
  std::string shard;  // label, "2/4"
};

// A file a row names (its plan_file, from run --dump-plans): where it is in its shard and the path,
// relative to the run directory, the row names it by.
struct RowFile {
  std::string source;
  std::string relative;
};

struct MergedRun {
  std::string config_yaml;
  nlohmann::json meta;
  std::vector<Row> rows;             // in the order of the expected rows
  std::vector<std::string> missing;  // point keys no shard has (only with partial)
  std::vector<RowFile> files;        // placed next to the merged rows, as in the shards
};

// Checks the shards against the expected rows and builds the merged run. Every problem is listed
// in one InputError: a shard whose config differs from run_config (the differing keys), a row
// in two shards or twice in one, a row of a shard that does not owe it or that is no point of the
// sweep, a plan file a row names that is not in its shard, and, unless partial, every missing row (by shard; shard_labels names all N shards so that
// a shard that never started is named too). meta is the first shard's with per-shard provenance in
// "shards" (host, device, git, start and end, argv, Slurm job, resumes), the earliest start, the
// latest end and a "merge" record (time, argv, partial, missing).
MergedRun merge_shard_runs(const std::string& run_dir, const std::string& run_config,
                           const std::vector<std::string>& shard_labels,
                           const std::vector<ExpectedRow>& expected,
                           const std::vector<ShardRun>& shards, bool partial,
                           const std::vector<std::string>& argv);

// Writes the merged run's files into run_dir (each one atomically, meta.json last); the rows' own
// files are hard-linked (copied across file systems) to the same relative paths.
void write_merged_run(const std::string& run_dir, const MergedRun& merged);

}  // namespace unisparse
