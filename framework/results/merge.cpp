#include "framework/results/merge.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "framework/core/error.h"
#include "framework/results/csv.h"
#include "framework/results/file_io.h"
#include "framework/results/points_file.h"
#include "framework/results/provenance.h"
#include "framework/results/run_writer.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

// A merge error names the problem rows; a long list is cut to this many per shard.
constexpr size_t kRowsNamedPerShard = 10;

std::string file_in(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

std::string read_file_of_shard(const std::string& path) {
  try {
    return read_text_file(path);
  } catch (const std::runtime_error& error) {
    throw InputError(error.what());
  }
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

std::string some_keys(const std::vector<std::string>& keys) {
  std::vector<std::string> named(keys.begin(),
                                 keys.begin() + std::min(keys.size(), kRowsNamedPerShard));
  std::string text = join(named, ", ");
  if (keys.size() > named.size())
    text += " and " + std::to_string(keys.size() - named.size()) + " more";
  return text;
}

// The provenance of one shard for the merged meta.json's "shards" list.
nlohmann::json shard_record(const ShardRun& shard, const std::string& run_dir) {
  nlohmann::json record = {{"shard", shard.label},
                           {"dir", fs::relative(shard.dir, run_dir).string()},
                           {"rows", shard.rows.size()}};
  for (const char* key : {"host", "device", "git", "start_time_utc", "end_time_utc", "argv",
                          "slurm", "cuda_visible_devices", "resumes"})
    if (shard.meta.contains(key)) record[key] = shard.meta[key];
  return record;
}

nlohmann::json merged_meta(const std::string& run_dir, const std::vector<ShardRun>& shards,
                           bool partial, const std::vector<std::string>& missing,
                           const std::vector<std::string>& argv, size_t rows) {
  nlohmann::json meta = shards.front().meta;
  for (const char* key :
       {"shard", "slurm", "cuda_visible_devices", "resumes", "end_time_utc", "num_points"})
    meta.erase(key);
  std::vector<std::string> differing;
  for (const char* key : {"host", "device", "git", "sweep_file", "unisparse_version"}) {
    const bool same = std::all_of(shards.begin(), shards.end(), [&](const ShardRun& shard) {
      return shard.meta.value(key, nlohmann::json()) ==
             shards.front().meta.value(key, nlohmann::json());
    });
    if (!same) {
      meta.erase(key);
      differing.push_back(key);
    }
  }
  if (!differing.empty()) meta["differs_across_shards"] = differing;
  std::string start, end;
  for (const ShardRun& shard : shards) {
    const std::string shard_start = shard.meta.value("start_time_utc", "");
    const std::string shard_end = shard.meta.value("end_time_utc", "");
    if (!shard_start.empty() && (start.empty() || shard_start < start)) start = shard_start;
    if (shard_end > end) end = shard_end;
  }
  if (!start.empty()) meta["start_time_utc"] = start;
  if (!end.empty()) meta["end_time_utc"] = end;
  meta["num_points"] = rows;
  nlohmann::json records = nlohmann::json::array();
  for (const ShardRun& shard : shards) records.push_back(shard_record(shard, run_dir));
  meta["shards"] = records;
  meta["merge"] = {{"time_utc", utc_now_iso8601()},
                   {"argv", argv},
                   {"host", host_provenance()},
                   {"partial", partial},
                   {"missing", missing}};
  return meta;
}

}  // namespace

ShardRun read_shard_run(const std::string& label, const std::string& dir) {
  ShardRun shard;
  shard.label = label;
  shard.dir = dir;
  shard.config_yaml = read_file_of_shard(file_in(dir, RunWriter::kConfigFile));
  const std::string meta_path = file_in(dir, RunWriter::kMetaFile);
  shard.meta = nlohmann::json::parse(read_file_of_shard(meta_path), nullptr, false);
  if (shard.meta.is_discarded() || !shard.meta.is_object())
    throw input_error(meta_path, 0, "", "not a JSON object");
  const std::string points_path = file_in(dir, RunWriter::kPointsJsonlFile);
  shard.rows = parse_points_jsonl(read_file_of_shard(points_path), points_path).rows;
  return shard;
}

MergedRun merge_shard_runs(const std::string& run_dir, const std::string& run_config,
                           const std::vector<std::string>& shard_labels,
                           const std::vector<ExpectedRow>& expected,
                           const std::vector<ShardRun>& shards, bool partial,
                           const std::vector<std::string>& argv) {
  std::vector<std::string> problems;
  if (shards.empty()) problems.push_back("no shard has started");
  for (const ShardRun& shard : shards) {
    const std::string name = "shard " + shard.label;
    const auto differences = config_differences(run_config, shard.config_yaml, "the run", name);
    if (!differences.empty())
      problems.push_back(name + " (" + shard.dir + ") ran another config: " +
                         describe_differences(differences, "in the run", "in " + name));
  }

  std::map<std::string, size_t> position;  // point key -> index into expected
  for (size_t i = 0; i < expected.size(); ++i) position[expected[i].point_key] = i;
  std::vector<std::vector<const ShardRun*>> holders(expected.size());
  std::vector<const Row*> found(expected.size(), nullptr);
  std::vector<const ShardRun*> found_in(expected.size(), nullptr);
  for (const ShardRun& shard : shards) {
    for (const Row& row : shard.rows) {
      const auto key_field = row.find(kPointKeyColumn);
      if (key_field == row.end() || !key_field->is_string()) {
        problems.push_back("shard " + shard.label + ": a row without a " + kPointKeyColumn);
        continue;
      }
      const std::string key = key_field->get<std::string>();
      const auto at = position.find(key);
      if (at == position.end()) {
        problems.push_back("shard " + shard.label + " holds row " + key +
                           ", which is no point of this sweep");
        continue;
      }
      if (expected[at->second].shard != shard.label)
        problems.push_back("shard " + shard.label + " holds row " + key + ", which shard " +
                           expected[at->second].shard + " owes");
      holders[at->second].push_back(&shard);
      found[at->second] = &row;
      found_in[at->second] = &shard;
    }
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (holders[i].size() < 2) continue;
    std::vector<std::string> names;
    for (const ShardRun* shard : holders[i]) names.push_back(shard->label);
    problems.push_back("row " + expected[i].point_key + " is there " +
                       std::to_string(holders[i].size()) + " times (shards " + join(names, ", ") +
                       ")");
  }

  MergedRun merged;
  std::map<std::string, std::vector<std::string>> missing_by_shard;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (found[i]) {
      merged.rows.push_back(*found[i]);
      const auto plan_file = found[i]->find("plan_file");
      if (plan_file != found[i]->end() && plan_file->is_string()) {
        const RowFile file{(fs::path(found_in[i]->dir) / plan_file->get<std::string>()).string(),
                           plan_file->get<std::string>()};
        if (!fs::is_regular_file(file.source))
          problems.push_back("shard " + found_in[i]->label + ": row " + expected[i].point_key +
                             " names " + file.source + ", which is not there");
        merged.files.push_back(file);
      }
    } else {
      merged.missing.push_back(expected[i].point_key);
      missing_by_shard[expected[i].shard].push_back(expected[i].point_key);
    }
  }
  if (!partial) {
    for (const std::string& label : shard_labels) {
      const auto missing = missing_by_shard.find(label);
      if (missing == missing_by_shard.end()) continue;
      const bool started = std::any_of(shards.begin(), shards.end(),
                                       [&](const ShardRun& shard) { return shard.label == label; });
      size_t owed = 0;
      for (const ExpectedRow& row : expected) owed += row.shard == label;
      problems.push_back("shard " + label + (started ? "" : " (not started)") + " lacks " +
                         std::to_string(missing->second.size()) + " of its " +
                         std::to_string(owed) + " rows: " + some_keys(missing->second));
    }
  }
  if (!problems.empty()) {
    std::string message = run_dir + ": cannot merge:\n  " + join(problems, "\n  ");
    if (!partial && !merged.missing.empty())
      message += "\nrun or resume the missing shards, or merge with --partial to write the " +
                 std::to_string(merged.rows.size()) + " rows that are there";
    throw InputError(message);
  }
  merged.config_yaml = run_config;
  merged.meta = merged_meta(run_dir, shards, partial, merged.missing, argv, merged.rows.size());
  return merged;
}

void write_merged_run(const std::string& run_dir, const MergedRun& merged) {
  for (const RowFile& file : merged.files) {
    const fs::path target = fs::path(run_dir) / file.relative;
    std::error_code error;
    fs::create_directories(target.parent_path(), error);
    fs::remove(target, error);
    fs::create_hard_link(file.source, target, error);
    if (error) fs::copy_file(file.source, target, fs::copy_options::overwrite_existing);
  }
  std::string jsonl;
  for (const Row& row : merged.rows) jsonl += points_jsonl_line(row);
  write_text_file_atomically(file_in(run_dir, RunWriter::kConfigFile), merged.config_yaml);
  write_text_file_atomically(file_in(run_dir, RunWriter::kPointsJsonlFile), jsonl);
  write_text_file_atomically(file_in(run_dir, RunWriter::kPointsCsvFile), format_csv(merged.rows));
  write_text_file_atomically(
      file_in(run_dir, RunWriter::kMetaFile),
      merged.meta.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace unisparse
