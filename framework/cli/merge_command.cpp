// unisparse merge: the shards of a sharded run joined into one run directory.
#include <cstdio>
#include <filesystem>

#include "framework/cli/args.h"
#include "framework/cli/commands.h"
#include "framework/sweep/shard_merge.h"

namespace unisparse::cli {

int merge_command(const std::vector<std::string>& args, const std::vector<std::string>& argv) {
  std::string run_dir, configs_dir;
  bool partial = false;
  ArgParser parser(
      "unisparse merge RUN_DIR [--partial] [--configs DIR]",
      "Joins the shards of a sharded run (RUN_DIR/shards/<I>-of-<N>/, written by run --shard I/N)\n"
      "into RUN_DIR/{config.yaml, meta.json, points.jsonl, points.csv}, the run as one process\n"
      "would have written it. Every point must be there exactly once and every shard must have\n"
      "run the run's resolved config; otherwise it exits with 2, naming the rows and shards, and\n"
      "writes nothing. meta.json records which shard ran where.");
  parser.positional("RUN_DIR", &run_dir, "the sharded run");
  parser.flag("--partial", &partial, "write the rows that are there and name the missing ones");
  parser.option("--configs", &configs_dir, "DIR", "configs directory (default: <repo>/configs)");
  if (!parser.parse(args)) return 0;
  if (configs_dir.empty()) configs_dir = find_source_dir(run_dir) + "/configs";

  const MergeOutcome outcome = merge_sharded_run(run_dir, configs_dir, partial, argv);
  std::printf("merged %zu rows of %d shards\n", outcome.rows, outcome.shard_count);
  if (!outcome.missing.empty()) {
    std::string keys;
    for (const std::string& key : outcome.missing) keys += (keys.empty() ? "" : ", ") + key;
    std::printf("partial: %zu rows missing: %s\n", outcome.missing.size(), keys.c_str());
  }
  std::printf("run_dir: %s\n", run_dir.c_str());
  return 0;
}

}  // namespace unisparse::cli
