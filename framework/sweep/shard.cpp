#include "framework/sweep/shard.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "framework/core/error.h"
#include "framework/results/row.h"
#include "framework/results/run_writer.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

// A whole non-negative decimal integer, nothing before or after it.
std::optional<int> parse_count(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0)
    return std::nullopt;
  return value;
}

std::optional<Shard> split_shard(std::string_view text, std::string_view separator) {
  const size_t at = text.find(separator);
  if (at == std::string_view::npos) return std::nullopt;
  const auto index = parse_count(text.substr(0, at));
  const auto count = parse_count(text.substr(at + separator.size()));
  if (!index || !count) return std::nullopt;
  return Shard{*index, *count};
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const std::optional<Shard> shard = split_shard(text, "/");
  auto error = [&](const std::string& message) {
    return InputError("<command line>: --shard '" + text + "': " + message);
  };
  if (!shard) throw error("expected I/N, two integers (shard I of N, 0 <= I < N)");
  if (shard->count < 1) throw error("N must be at least 1");
  if (shard->index >= shard->count)
    throw error("I must be below N (shards are numbered 0 to " + std::to_string(shard->count - 1) +
                ")");
  return *shard;
}

std::string shard_label(const Shard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

std::string shard_dir_name(const Shard& shard) {
  return std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
}

std::optional<Shard> parse_shard_dir_name(const std::string& name) {
  const std::optional<Shard> shard = split_shard(name, "-of-");
  if (!shard || shard->count < 1 || shard->index >= shard->count) return std::nullopt;
  if (shard_dir_name(*shard) != name) return std::nullopt;  // "02-of-4" is not shard 2
  return shard;
}

std::string sharded_run_dir(const std::string& results_root, const std::string& sweep,
                            const std::string& run_id) {
  if (run_id.empty())
    throw InputError(
        "<command line>: a sharded run needs --run-id ID, the same for every shard "
        "(or --resume RUN_DIR)");
  require_folder_name(sweep, "sweep name");
  require_folder_name(run_id, "run id");
  return (fs::path(results_root) / sweep / run_id).string();
}

fs::path shards_dir(const std::string& run_dir) { return fs::path(run_dir) / kShardsFolder; }

fs::path shard_dir(const std::string& run_dir, const Shard& shard) {
  return shards_dir(run_dir) / shard_dir_name(shard);
}

fs::path pinned_config_path(const std::string& run_dir) {
  return shards_dir(run_dir) / "config.yaml";
}

std::vector<std::pair<Shard, fs::path>> find_shard_dirs(const std::string& run_dir) {
  std::vector<std::pair<Shard, fs::path>> found;
  std::vector<std::string> strangers;
  std::map<int, std::vector<std::string>> by_count;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(shards_dir(run_dir), error)) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    const std::optional<Shard> shard = parse_shard_dir_name(name);
    if (!shard) {
      strangers.push_back(name);
      continue;
    }
    found.emplace_back(*shard, entry.path());
    by_count[shard->count].push_back(name);
  }
  const std::string where = shards_dir(run_dir).string();
  if (!strangers.empty()) {
    std::sort(strangers.begin(), strangers.end());
    std::string names;
    for (const std::string& name : strangers) names += (names.empty() ? "" : ", ") + name;
    throw InputError(where + ": folders that are not shards (<I>-of-<N>): " + names);
  }
  if (by_count.size() > 1) {
    std::string groups;
    for (auto& [count, names] : by_count) {
      std::sort(names.begin(), names.end());
      std::string list;
      for (const std::string& name : names) list += (list.empty() ? "" : ", ") + name;
      groups += (groups.empty() ? "" : "; ") + ("N=" + std::to_string(count) + ": " + list);
    }
    throw InputError(where + ": shards of different shard counts (" + groups +
                     "); every shard of a run must use the same N");
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first.index < b.first.index; });
  return found;
}

int base_point_count(const std::vector<ExpandedPoint>& points,
                     const std::vector<std::string>& backends) {
  const int num_backends = std::max<int>(1, backends.size());
  return static_cast<int>(points.size()) / num_backends;
}

int shard_of_base_point(int base_point, int shard_count) { return base_point % shard_count; }

int shard_of_point(int point_id, int base_points, int shard_count) {
  return shard_of_base_point(point_id % base_points, shard_count);
}

std::vector<int> execution_order(const std::vector<ExpandedPoint>& points,
                                 const std::vector<std::string>& backends,
                                 const std::optional<Shard>& shard) {
  const int num_backends = static_cast<int>(backends.size());
  const int base_points = base_point_count(points, backends);
  std::vector<int> order;
  for (int base = 0; base < base_points; ++base) {
    if (shard && shard_of_base_point(base, shard->count) != shard->index) continue;
    for (int b = 0; b < num_backends; ++b)
      if (backends[b] == "cpu") order.push_back(b * base_points + base);
    for (int b = 0; b < num_backends; ++b)
      if (backends[b] != "cpu") order.push_back(b * base_points + base);
  }
  return order;
}

std::vector<PlannedPoint> planned_points(const SweepConfig& sweep, int shard_count) {
  const std::vector<ExpandedPoint> points = expand(sweep);
  const int base_points = base_point_count(points, sweep.backends);
  std::vector<PlannedPoint> planned;
  for (int index : execution_order(points, sweep.backends)) {
    const ExpandedPoint& point = points[index];
    planned.push_back({make_point_key(std::to_string(point.point_id), point.config.backend),
                       shard_of_point(point.point_id, base_points, shard_count)});
  }
  return planned;
}

}  // namespace unisparse
