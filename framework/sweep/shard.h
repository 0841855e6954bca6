#pragma once
// Shards: a sweep's points split into N deterministic shares that run as separate processes (one
// per GPU, or one Slurm array task each) and are merged into one run afterwards.
//
// A base point (one combination of the axes) goes to one shard with all its backends, so a GPU row
// is still compared with the CPU row of its own point. Base points are dealt round-robin (base b to
// shard b % N), so every shard gets its share of every axis value and shards cost about the same
// even where cost grows along an axis.
//
// A sharded run's directory, results/<sweep>/<run-id>/:
//   shards/config.yaml        the resolved config, written by whichever shard (or `unisparse
//   slurm`)
//                             comes first; every shard must resolve to the same
//   shards/<I>-of-<N>/        one shard, a run directory of its own (run_writer.h)
//   config.yaml, meta.json, points.jsonl, points.csv   written by `unisparse merge`
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"
#include "framework/sweep/expand.h"

namespace unisparse {

struct Shard {
  int index = 0;  // 0 <= index < count
  int count = 1;
  bool operator==(const Shard&) const = default;
};

// "I/N" as given to --shard: two integers, N >= 1, 0 <= I < N. InputError naming the text
// otherwise.
Shard parse_shard(const std::string& text);

std::string shard_label(const Shard& shard);     // "2/4", the rows' shard column
std::string shard_dir_name(const Shard& shard);  // "2-of-4"
// The shard a folder name stands for, or nothing when it is not "<I>-of-<N>" with 0 <= I < N.
std::optional<Shard> parse_shard_dir_name(const std::string& name);

inline constexpr const char* kShardsFolder = "shards";
// results_root/<sweep>/<run_id>: every shard must be given the same run id (InputError when empty
// or not a plain folder name).
std::string sharded_run_dir(const std::string& results_root, const std::string& sweep,
                            const std::string& run_id);
std::filesystem::path shards_dir(const std::string& run_dir);
std::filesystem::path shard_dir(const std::string& run_dir, const Shard& shard);
// shards/config.yaml: the resolved config every shard of the run must have.
std::filesystem::path pinned_config_path(const std::string& run_dir);

// The shard folders present under run_dir/shards, by index. A folder that is not "<I>-of-<N>", or
// shards of different N, is an InputError listing them.
std::vector<std::pair<Shard, std::filesystem::path>> find_shard_dirs(const std::string& run_dir);

// The number of base points: expand()'s points are backends outermost, so point p is base point
// p % base_points run on backend p / base_points.
int base_point_count(const std::vector<ExpandedPoint>& points,
                     const std::vector<std::string>& backends);

// Round-robin: base point b runs in shard b % shard_count.
int shard_of_base_point(int base_point, int shard_count);
int shard_of_point(int point_id, int base_points, int shard_count);

// The order a run visits points (indices into points): base point by base point, its cpu row first
// (a GPU row is compared with it), then its other backends; only the shard's base points when one
// is given.
std::vector<int> execution_order(const std::vector<ExpandedPoint>& points,
                                 const std::vector<std::string>& backends,
                                 const std::optional<Shard>& shard = std::nullopt);

// Every point of the sweep in execution order with the shard that runs it.
struct PlannedPoint {
  std::string point_key;  // make_point_key(point_id, backend), as the row carries it
  int shard = 0;
};
std::vector<PlannedPoint> planned_points(const SweepConfig& sweep, int shard_count);

}  // namespace unisparse
