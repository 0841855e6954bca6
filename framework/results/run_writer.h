#pragma once
// A run directory, results_root/<sweep>/<run_id>/:
//   config.yaml    the resolved sweep config, as given
//   meta.json      provenance (see provenance.h), plus resume and finish times
//   points.jsonl   one row per point, appended and flushed as each point finishes
//   points.csv     the same rows as a table (csv.h), rewritten from points.jsonl on finish() and
//   resume()
// Nothing touches the disk before create(): the caller validates its input first, so a bad config
// leaves no empty run directory behind.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "framework/results/provenance.h"  // the meta block create() takes
#include "framework/results/row.h"

namespace unisparse {

class RunWriter {
 public:
  static constexpr const char* kConfigFile = "config.yaml";
  static constexpr const char* kMetaFile = "meta.json";
  static constexpr const char* kPointsJsonlFile = "points.jsonl";
  static constexpr const char* kPointsCsvFile = "points.csv";

  // Creates results_root/<sweep>/<run_id>/ (and the folders above it). An empty run_id means the
  // UTC start time, "YYYYmmdd-HHMMSS", with "-2", "-3", ... added if a run of that second exists; a
  // given run_id that exists is an error (resume it instead). meta is written with "sweep" and
  // "run_id" added, and with the versions, start time and host where meta lacks them. Throws
  // std::invalid_argument for a sweep or run id that is not a plain folder name and
  // std::runtime_error for I/O failures.
  static RunWriter create(const std::string& results_root, const std::string& sweep,
                          const std::string& run_id, const std::string& resolved_yaml,
                          const nlohmann::json& meta);

  // Reopens an existing run directory and keeps its rows. A partial last line left by a killed run
  // is cut off (that point runs again); the resume is recorded in meta.json.
  static RunWriter resume(const std::string& run_dir);

  RunWriter(RunWriter&&) = default;
  RunWriter& operator=(RunWriter&&) = default;

  // Whether a row with this point_key was written, whatever its status (ok, skipped, failed).
  bool has_point(const std::string& point_key) const;
  size_t num_points() const { return point_keys_.size(); }

  // Writes the row as one JSON line and flushes it. The row must carry a string "point_key" not
  // written before (std::invalid_argument otherwise). NaN and infinite numbers are written as null.
  void append(const Row& row);

  // Rewrites points.csv from points.jsonl and records the end time in meta.json.
  void finish();

  std::string dir() const { return run_dir_.string(); }

 private:
  explicit RunWriter(std::filesystem::path run_dir);
  void open_points_for_append();
  void rewrite_csv() const;
  nlohmann::json read_meta() const;
  void write_meta(const nlohmann::json& meta) const;

  std::filesystem::path run_dir_;
  std::unordered_set<std::string> point_keys_;
  std::ofstream points_jsonl_;
};

}  // namespace unisparse
