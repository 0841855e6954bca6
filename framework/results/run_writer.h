#pragma once
// A run directory, results_root/<sweep>/<run_id>/:
//   config.yaml    the resolved sweep config, as given
//   meta.json      provenance (see provenance.h), plus resume and finish times
//   points.jsonl   one row per point, appended and flushed as each point finishes
//   points.csv     the same rows as a table (csv.h), rewritten from points.jsonl on finish() and
//   resume()
//   .lock          while a writer has the directory (run_lock.h)
// Nothing touches the disk before create(): the caller validates its input first, so a bad config
// leaves no empty run directory behind. A writer holds the directory's lock from create() or
// resume() until it is destroyed, so two processes never append to one points.jsonl.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

#include "framework/results/provenance.h"  // the meta block create() takes
#include "framework/results/row.h"
#include "framework/results/run_lock.h"

namespace unisparse {

// Sweep names and run ids become folder names: an InputError unless name is one plain path
// component (not empty, no '/', not "." or "..").
void require_folder_name(const std::string& name, const std::string& what);

// One key in which two resolved sweep configs differ: its dotted path ("fixed.context_len",
// "axes.page_size", "backends") and its value in each, as YAML text ("" when absent).
struct ConfigDifference {
  std::string key;
  std::string first;
  std::string second;
};

// Compares two resolved configs (config.yaml texts) key by key; lists are compared whole. Throws
// InputError naming first_name or second_name when one is not YAML.
std::vector<ConfigDifference> config_differences(const std::string& first_yaml,
                                                 const std::string& second_yaml,
                                                 const std::string& first_name = "the run",
                                                 const std::string& second_name = "now");

// "fixed.context_len: 4096 in the run, 8192 now; backends: [cpu] in the run, [cpu, cuda] now",
// where first_place and second_place say where each value is from.
std::string describe_differences(const std::vector<ConfigDifference>& differences,
                                 const std::string& first_place = "in the run",
                                 const std::string& second_place = "now");

class RunWriter {
 public:
  static constexpr const char* kConfigFile = "config.yaml";
  static constexpr const char* kMetaFile = "meta.json";
  static constexpr const char* kPointsJsonlFile = "points.jsonl";
  static constexpr const char* kPointsCsvFile = "points.csv";

  // Creates results_root/<sweep>/<run_id>/ (and the folders above it). An empty run_id means the
  // UTC start time, "YYYYmmdd-HHMMSS", with "-2", "-3", ... added if a run of that second exists; a
  // given run_id that exists is an InputError (resume it instead). meta is written with "sweep" and
  // "run_id" added, and with the versions, start time and host where meta lacks them. Throws
  // InputError for a sweep or run id that is not a plain folder name and std::runtime_error for I/O
  // failures.
  static RunWriter create(const std::string& results_root, const std::string& sweep,
                          const std::string& run_id, const std::string& resolved_yaml,
                          const nlohmann::json& meta);

  // Like create(), into the folder run_dir itself (a shard of a run: <run>/shards/<I>-of-<N>),
  // which must not exist yet; the folders above it are created.
  static RunWriter create_at(const std::string& run_dir, const std::string& sweep,
                             const std::string& run_id, const std::string& resolved_yaml,
                             const nlohmann::json& meta);

  // Reopens an existing run directory and keeps its rows. It is locked first (an InputError naming
  // the holder when another writer has it), then its config.yaml must equal resolved_yaml (an
  // InputError naming every differing key otherwise): nothing is changed before both checks pass.
  // A partial last line left by a killed run is cut off (that point runs again); the resume is
  // recorded in meta.json with resume_meta's keys (argv, host, ...) added.
  static RunWriter resume(const std::string& run_dir, const std::string& resolved_yaml,
                          const nlohmann::json& resume_meta = nlohmann::json::object());

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
  RunWriter(std::filesystem::path run_dir, RunLock lock);
  static RunWriter initialize(const std::filesystem::path& run_dir, const std::string& sweep,
                              const std::string& run_id, const std::string& resolved_yaml,
                              const nlohmann::json& meta);
  void open_points_for_append();
  void rewrite_csv() const;
  nlohmann::json read_meta() const;
  void write_meta(const nlohmann::json& meta) const;

  std::filesystem::path run_dir_;
  RunLock lock_;
  std::unordered_set<std::string> point_keys_;
  std::ofstream points_jsonl_;
};

}  // namespace unisparse
