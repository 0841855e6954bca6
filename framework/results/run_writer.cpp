#include "framework/results/run_writer.h"

#include <yaml-cpp/yaml.h>

#include <stdexcept>
#include <utility>

#include "framework/core/error.h"
#include "framework/results/csv.h"
#include "framework/results/file_io.h"
#include "framework/results/points_file.h"
#include "framework/results/provenance.h"
#include "framework/results/version.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

// Creates the folder and returns true, or returns false when it already exists.
bool create_fresh_directory(const fs::path& path) {
  std::error_code error;
  const bool created = fs::create_directory(path, error);
  if (error) throw std::runtime_error("cannot create " + path.string() + ": " + error.message());
  return created;
}

void create_parent_directories(const fs::path& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (error) throw std::runtime_error("cannot create " + path.string() + ": " + error.message());
}

// One text per value whatever its style: block and flow lists alike read "[7, 63]".
std::string yaml_text(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (!node.IsSequence() && !node.IsMap()) return node.Scalar();
  std::string text(1, node.IsMap() ? '{' : '[');
  bool first = true;
  for (const auto& item : node) {
    if (!first) text += ", ";
    first = false;
    if (node.IsMap()) {
      text += item.first.as<std::string>();
      text += ": ";
      text += yaml_text(item.second);
    } else {
      text += yaml_text(item);
    }
  }
  text += node.IsMap() ? '}' : ']';
  return text;
}

// Every leaf of a config as (dotted key, YAML text), in document order; a list is one leaf.
void flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& leaves) {
  if (!node.IsMap()) {
    leaves.emplace_back(prefix, yaml_text(node));
    return;
  }
  for (const auto& entry : node)
    flatten(entry.second, (prefix.empty() ? "" : prefix + ".") + entry.first.as<std::string>(),
            leaves);
}

std::vector<std::pair<std::string, std::string>> config_leaves(const std::string& yaml,
                                                               const std::string& name) {
  std::vector<std::pair<std::string, std::string>> leaves;
  try {
    flatten(YAML::Load(yaml), "", leaves);
  } catch (const YAML::Exception& error) {
    throw InputError(name + ": not a YAML config: " + error.what());
  }
  return leaves;
}

}  // namespace

void require_folder_name(const std::string& name, const std::string& what) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos) {
    throw InputError(what + " '" + name + "' is not a plain folder name");
  }
}

std::vector<ConfigDifference> config_differences(const std::string& first_yaml,
                                                 const std::string& second_yaml,
                                                 const std::string& first_name,
                                                 const std::string& second_name) {
  const auto first = config_leaves(first_yaml, first_name);
  const auto second = config_leaves(second_yaml, second_name);
  auto value_in = [](const auto& leaves, const std::string& key) -> const std::string* {
    for (const auto& [leaf_key, value] : leaves)
      if (leaf_key == key) return &value;
    return nullptr;
  };
  std::vector<ConfigDifference> differences;
  for (const auto& [key, value] : first) {
    const std::string* other = value_in(second, key);
    if (!other || *other != value) differences.push_back({key, value, other ? *other : ""});
  }
  for (const auto& [key, value] : second)
    if (!value_in(first, key)) differences.push_back({key, "", value});
  return differences;
}

std::string describe_differences(const std::vector<ConfigDifference>& differences,
                                 const std::string& first_place, const std::string& second_place) {
  auto side = [](const std::string& value, const std::string& name) {
    return (value.empty() ? "absent" : value) + " " + name;
  };
  std::string text;
  for (const ConfigDifference& difference : differences)
    text += (text.empty() ? "" : "; ") + difference.key + ": " +
            side(difference.first, first_place) + ", " + side(difference.second, second_place);
  return text;
}

RunWriter::RunWriter(fs::path run_dir, RunLock lock)
    : run_dir_(std::move(run_dir)), lock_(std::move(lock)) {}

RunWriter RunWriter::create(const std::string& results_root, const std::string& sweep,
                            const std::string& run_id, const std::string& resolved_yaml,
                            const nlohmann::json& meta) {
  require_folder_name(sweep, "sweep name");
  if (!run_id.empty()) require_folder_name(run_id, "run id");

  const fs::path sweep_dir = fs::path(results_root) / sweep;
  create_parent_directories(sweep_dir);

  std::string chosen_id = run_id;
  if (run_id.empty()) {
    const std::string base = utc_now_run_id();
    chosen_id = base;
    for (int suffix = 2; !create_fresh_directory(sweep_dir / chosen_id); ++suffix) {
      chosen_id = base + "-" + std::to_string(suffix);
    }
  } else if (!create_fresh_directory(sweep_dir / chosen_id)) {
    throw InputError("run directory " + (sweep_dir / chosen_id).string() +
                     " already exists; resume it or choose another run id");
  }
  return initialize(sweep_dir / chosen_id, sweep, chosen_id, resolved_yaml, meta);
}

RunWriter RunWriter::create_at(const std::string& run_dir, const std::string& sweep,
                               const std::string& run_id, const std::string& resolved_yaml,
                               const nlohmann::json& meta) {
  const fs::path dir(run_dir);
  create_parent_directories(dir.parent_path());
  if (!create_fresh_directory(dir))
    throw InputError("run directory " + run_dir + " already exists; resume it instead");
  return initialize(dir, sweep, run_id, resolved_yaml, meta);
}

RunWriter RunWriter::initialize(const fs::path& run_dir, const std::string& sweep,
                                const std::string& run_id, const std::string& resolved_yaml,
                                const nlohmann::json& meta) {
  RunWriter writer(run_dir, RunLock::acquire(run_dir.string()));
  write_text_file_atomically((writer.run_dir_ / kConfigFile).string(), resolved_yaml);
  nlohmann::json full_meta = meta.is_object() ? meta : nlohmann::json::object();
  full_meta["sweep"] = sweep;
  full_meta["run_id"] = run_id;
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

RunWriter RunWriter::resume(const std::string& run_dir, const std::string& resolved_yaml,
                            const nlohmann::json& resume_meta) {
  const fs::path dir(run_dir);
  const fs::path jsonl_path = dir / kPointsJsonlFile;
  const fs::path config_path = dir / kConfigFile;
  auto is_run_dir = [&] {
    return fs::is_regular_file(jsonl_path) && fs::is_regular_file(dir / kMetaFile) &&
           fs::is_regular_file(config_path);
  };
  auto not_a_run_dir = [&] {
    return std::runtime_error(run_dir + " is not a run directory (no " + kPointsJsonlFile + ", " +
                              kMetaFile + " or " + kConfigFile + ")");
  };
  // A folder that is not a run is a bad --resume argument.
  if (!is_run_dir()) throw InputError(not_a_run_dir().what());
  RunWriter writer(dir, RunLock::acquire(run_dir));
  if (!is_run_dir()) throw not_a_run_dir();  // removed while we waited for the lock
  const auto differences =
      config_differences(read_text_file(config_path.string()), resolved_yaml,
                         config_path.string(), "this resume");
  if (!differences.empty())
    throw InputError(config_path.string() +
                     ": the resumed sweep differs from the run's resolved config (" +
                     describe_differences(differences, "in the run", "in this resume") +
                     "); resume with the sweep file and overrides the run was made with");
  const PointsFile points = read_points_jsonl(jsonl_path.string());
  if (points.had_truncated_tail) fs::resize_file(jsonl_path, points.valid_bytes);
  for (const Row& row : points.rows) {
    const auto key = row.find(kPointKeyColumn);
    if (key != row.end() && key->is_string()) writer.point_keys_.insert(key->get<std::string>());
  }

  nlohmann::json meta = writer.read_meta();
  nlohmann::json record = {{"time_utc", utc_now_iso8601()},
                           {"points_kept", points.rows.size()},
                           {"dropped_partial_line", points.had_truncated_tail}};
  if (resume_meta.is_object()) record.update(resume_meta);
  meta["resumes"].push_back(std::move(record));
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
  points_jsonl_ << points_jsonl_line(row);
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
