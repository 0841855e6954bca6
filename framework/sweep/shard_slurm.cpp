#include "framework/sweep/shard_slurm.h"

#include <filesystem>
#include <set>

#include "framework/core/error.h"
#include "framework/results/points_file.h"
#include "framework/results/run_writer.h"
#include "framework/sweep/shard.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

// A word the shell takes as it is, or the word in single quotes.
std::string shell_word(const std::string& text) {
  const bool plain = !text.empty() && text.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_/.:=@%+,-") == std::string::npos;
  if (plain) return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string logs_dir(const SlurmJobPaths& paths) {
  return (fs::path(paths.run_dir) / kSlurmFolder / "logs").string();
}

// The #SBATCH lines both jobs share: where they run and for how long.
std::string placement_lines(const SlurmJobOptions& options) {
  std::string lines;
  if (!options.partition.empty()) lines += "#SBATCH --partition=" + options.partition + "\n";
  if (!options.account.empty()) lines += "#SBATCH --account=" + options.account + "\n";
  if (!options.time.empty()) lines += "#SBATCH --time=" + options.time + "\n";
  return lines;
}

}  // namespace

nlohmann::json to_json(const SlurmJobOptions& options) {
  return {{"shards", options.shards},
          {"gpus_per_task", options.gpus_per_task},
          {"cpus_per_task", options.cpus_per_task},
          {"max_parallel", options.max_parallel},
          {"partition", options.partition},
          {"time", options.time},
          {"account", options.account}};
}

SlurmJobOptions slurm_options_from_json(const nlohmann::json& json, const std::string& path) {
  if (!json.is_object()) throw input_error(path, 0, "", "not a JSON object");
  auto integer = [&](const char* key) {
    if (!json.contains(key) || !json[key].is_number_integer() || json[key].get<int>() < 0)
      throw input_error(path, 0, key, "expected a non-negative integer");
    return json[key].get<int>();
  };
  auto text = [&](const char* key) {
    if (!json.contains(key) || !json[key].is_string())
      throw input_error(path, 0, key, "expected a string");
    return json[key].get<std::string>();
  };
  SlurmJobOptions options;
  options.shards = integer("shards");
  options.gpus_per_task = integer("gpus_per_task");
  options.cpus_per_task = integer("cpus_per_task");
  options.max_parallel = integer("max_parallel");
  options.partition = text("partition");
  options.time = text("time");
  options.account = text("account");
  if (options.shards < 1) throw input_error(path, 0, "shards", "expected at least 1");
  return options;
}

void check_sbatch_value(const std::string& option, const std::string& value) {
  if (value.find_first_of(" \t\r\n\"'#") != std::string::npos)
    throw InputError("<command line>: " + option + " '" + value +
                     "': an #SBATCH value must be one word (no spaces, quotes or '#')");
}

std::string array_indices(const std::vector<int>& shards, int shard_count, int max_parallel) {
  std::string text;
  const bool all = static_cast<int>(shards.size()) == shard_count && shard_count > 1;
  if (all) {
    text = "0-";
    text += std::to_string(shard_count - 1);
  } else {
    for (int shard : shards) {
      if (!text.empty()) text += ',';
      text += std::to_string(shard);
    }
  }
  if (max_parallel > 0) {
    text += '%';
    text += std::to_string(max_parallel);
  }
  return text;
}

std::string array_job_script(const SlurmJobPaths& paths, const SlurmJobOptions& options,
                             const std::string& job_name, const std::vector<int>& shards) {
  const std::string count = std::to_string(options.shards);
  std::string script = "#!/bin/bash\n";
  script += "# unisparse run " + paths.run_dir + (shards.size() == 1 ? ": shard " : ": shards ") +
            array_indices(shards, options.shards, 0) + " of " + count +
            ", one array task each (task id = shard index).\n";
  script +=
      "# A task resumes what an earlier task of its shard left; the merge job joins the "
      "shards.\n";
  script += "#SBATCH --job-name=" + job_name + "\n";
  script += "#SBATCH --array=" + array_indices(shards, options.shards, options.max_parallel) + "\n";
  script += "#SBATCH --ntasks=1\n";
  if (options.cpus_per_task > 0)
    script += "#SBATCH --cpus-per-task=" + std::to_string(options.cpus_per_task) + "\n";
  if (options.gpus_per_task > 0)
    script += "#SBATCH --gpus-per-task=" + std::to_string(options.gpus_per_task) + "\n";
  script += placement_lines(options);
  script += "#SBATCH --output=" + logs_dir(paths) + "/%A_%a.log\n";
  script += "set -euo pipefail\n";
  script += "cd " + shell_word(paths.source_dir) + "\n";
  script += "exec " + shell_word(paths.binary) + " run " +
            shell_word((fs::path(paths.run_dir) / kShardsFolder / "config.yaml").string()) +
            " \\\n  --configs " + shell_word(paths.configs_dir) + " --resume " +
            shell_word(paths.run_dir) + " \\\n  --shard \"${SLURM_ARRAY_TASK_ID}/" + count + "\"\n";
  return script;
}

std::string merge_job_script(const SlurmJobPaths& paths, const SlurmJobOptions& options,
                             const std::string& job_name) {
  std::string script = "#!/bin/bash\n";
  script += "# Merges the shards of unisparse run " + paths.run_dir +
            " once its array job has "
            "ended\n";
  script +=
      "# (submitted with --dependency=afterany:<array job>); exits 2 naming the missing rows "
      "when a shard\n";
  script += "# did not finish.\n";
  script += "#SBATCH --job-name=" + job_name + "\n";
  script += "#SBATCH --ntasks=1\n";
  script += placement_lines(options);
  script += "#SBATCH --output=" + logs_dir(paths) + "/%j_merge.log\n";
  script += "set -euo pipefail\n";
  script += "cd " + shell_word(paths.source_dir) + "\n";
  script += "exec " + shell_word(paths.binary) + " merge " + shell_word(paths.run_dir) +
            " \\\n  --configs " + shell_word(paths.configs_dir) + "\n";
  return script;
}

std::vector<int> unfinished_shards(const std::string& run_dir, const SweepConfig& sweep,
                                   int shard_count) {
  std::vector<std::set<std::string>> owed(shard_count);
  for (const PlannedPoint& point : planned_points(sweep, shard_count))
    owed[point.shard].insert(point.point_key);
  std::vector<int> unfinished;
  for (int index = 0; index < shard_count; ++index) {
    const fs::path points = shard_dir(run_dir, {index, shard_count}) / RunWriter::kPointsJsonlFile;
    if (fs::is_regular_file(points))
      for (const Row& row : read_points_jsonl(points.string()).rows)
        if (row.contains(kPointKeyColumn) && row[kPointKeyColumn].is_string())
          owed[index].erase(row[kPointKeyColumn].get<std::string>());
    if (!owed[index].empty()) unfinished.push_back(index);
  }
  return unfinished;
}

}  // namespace unisparse
