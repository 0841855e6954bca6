#include "framework/results/run_writer.h"

#include <stdexcept>

#include "framework/results/csv.h"
#include "framework/results/file_io.h"
#include "framework/results/points_file.h"
#include "framework/results/provenance.h"
#include "framework/results/version.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

// Sweep names and run ids become folder names: one path component, nothing that walks elsewhere.
void require_folder_name(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    throw std::invalid_argument(what + " '" + name + "' is not a plain folder name");
  }
}

std::string json_line(const Row& row) {
  return row.dump(-1, ' ', false, Row::error_handler_t::replace) + "\n";
}

// Creates the folder and returns true, or returns false when it already exists.
bool create_fresh_directory(const fs::path& path) {
  std::error_code error;
  const bool created = fs::create_directory(path, error);
  if (error) throw std::runtime_error("cannot create " + path.string() + ": " + error.message());
  return created;
}

}  // namespace

RunWriter::RunWriter(fs::path run_dir) : run_dir_(std::move(run_dir)) {}

RunWriter RunWriter::create(const std::string& results_root, const std::string& sweep,
                            const std::string& run_id, const std::string& resolved_yaml,
                            const nlohmann::json& meta) {
  require_folder_name(sweep, "sweep name");
  if (!run_id.empty()) require_folder_name(run_id, "run id");

  const fs::path sweep_dir = fs::path(results_root) / sweep;
  std::error_code error;
  fs::create_directories(sweep_dir, error);
  if (error)
    throw std::runtime_error("cannot create " + sweep_dir.string() + ": " + error.message());

  std::string chosen_id = run_id;
  if (run_id.empty()) {
    const std::string base = utc_now_run_id();
    chosen_id = base;
    for (int suffix = 2; !create_fresh_directory(sweep_dir / chosen_id); ++suffix) {
      chosen_id = base + "-" + std::to_string(suffix);
    }
  } else if (!create_fresh_directory(sweep_dir / chosen_id)) {
    throw std::runtime_error("run directory " + (sweep_dir / chosen_id).string() +
                             " already exists; resume it or choose another run id");
  }

  RunWriter writer(sweep_dir / chosen_id);
  write_text_file_atomically((writer.run_dir_ / kConfigFile).string(), resolved_yaml);
  nlohmann::json full_meta = meta.is_object() ? meta : nlohmann::json::object();
  full_meta["sweep"] = sweep;
  full_meta["run_id"] = chosen_id;
  if (!full_meta.contains("schema_version")) full_meta["schema_version"] = kResultsSchemaVersion;
  if (!full_meta.contains("unisparse_version"))
    full_meta["unisparse_version"] = unisparse_version();
  if (!full_meta.contains("start_time_utc")) full_meta["start_time_utc"] = utc_now_iso8601();
  if (!full_meta.contains("host")) full_meta["host"] = host_provenance();
  writer.write_meta(full_meta);
  write_text_file_atomically((writer.run_dir_ / kPointsJsonlFile).string(), "");
  writer.rewrite_csv();
  writer.open_points_for_append();
  return writer;
}

RunWriter RunWriter::resume(const std::string& run_dir) {
  RunWriter writer{fs::path(run_dir)};
  const fs::path jsonl_path = writer.run_dir_ / kPointsJsonlFile;
  if (!fs::is_regular_file(jsonl_path) || !fs::is_regular_file(writer.run_dir_ / kMetaFile)) {
    throw std::runtime_error(run_dir + " is not a run directory (no " + kPointsJsonlFile + " or " +
                             kMetaFile + ")");
  }
  const PointsFile points = read_points_jsonl(jsonl_path.string());
  if (points.had_truncated_tail) fs::resize_file(jsonl_path, points.valid_bytes);
  for (const Row& row : points.rows) {
    const auto key = row.find(kPointKeyColumn);
    if (key != row.end() && key->is_string()) writer.point_keys_.insert(key->get<std::string>());
  }

  nlohmann::json meta = writer.read_meta();
  meta["resumes"].push_back({{"time_utc", utc_now_iso8601()},
                             {"points_kept", points.rows.size()},
                             {"dropped_partial_line", points.had_truncated_tail}});
  writer.write_meta(meta);
  writer.rewrite_csv();
  writer.open_points_for_append();
  return writer;
}

bool RunWriter::has_point(const std::string& point_key) const {
  return point_keys_.contains(point_key);
}

void RunWriter::append(const Row& row) {
  if (!row.is_object()) throw std::invalid_argument("a results row must be a JSON object");
  const auto key = row.find(kPointKeyColumn);
  if (key == row.end() || !key->is_string() || key->get<std::string>().empty()) {
    throw std::invalid_argument(std::string("a results row needs a non-empty string '") +
                                kPointKeyColumn + "'");
  }
  const std::string point_key = key->get<std::string>();
  if (has_point(point_key)) {
    throw std::invalid_argument("point '" + point_key + "' is already in " + dir());
  }
  points_jsonl_ << json_line(finite_or_null(row));
  points_jsonl_.flush();
  if (!points_jsonl_) {
    throw std::runtime_error("cannot append to " + (run_dir_ / kPointsJsonlFile).string());
  }
  point_keys_.insert(point_key);
}

void RunWriter::finish() {
  points_jsonl_.flush();
  rewrite_csv();
  nlohmann::json meta = read_meta();
  meta["end_time_utc"] = utc_now_iso8601();
  meta["num_points"] = point_keys_.size();
  write_meta(meta);
}

void RunWriter::open_points_for_append() {
  const fs::path path = run_dir_ / kPointsJsonlFile;
  points_jsonl_.open(path, std::ios::binary | std::ios::app);
  if (!points_jsonl_) throw std::runtime_error("cannot open " + path.string() + " for appending");
}

void RunWriter::rewrite_csv() const {
  const PointsFile points = read_points_jsonl((run_dir_ / kPointsJsonlFile).string());
  write_text_file_atomically((run_dir_ / kPointsCsvFile).string(), format_csv(points.rows));
}

nlohmann::json RunWriter::read_meta() const {
  const fs::path path = run_dir_ / kMetaFile;
  nlohmann::json meta = nlohmann::json::parse(read_text_file(path.string()), nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) {
    throw std::runtime_error(path.string() + " is not a JSON object");
  }
  return meta;
}

void RunWriter::write_meta(const nlohmann::json& meta) const {
  write_text_file_atomically(
      (run_dir_ / kMetaFile).string(),
      meta.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace unisparse
