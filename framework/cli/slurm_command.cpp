// unisparse slurm: a sweep as a Slurm job array of shards plus the merge job that joins them.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "framework/cli/args.h"
#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/results/file_io.h"
#include "framework/results/provenance.h"
#include "framework/results/run_lock.h"
#include "framework/sweep/expand.h"
#include "framework/sweep/shard.h"
#include "framework/sweep/shard_slurm.h"
#include "framework/sweep/shard_writer.h"

namespace unisparse::cli {

namespace {

namespace fs = std::filesystem;

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Submits a script with `sbatch --parsable` and returns the job id it prints ("id" or
// "id;cluster"). sbatch's own messages go to stderr as they are.
std::string submit(const std::string& script, const std::string& dependency) {
  std::string command = "sbatch --parsable";
  if (!dependency.empty()) command += " --dependency=" + dependency;
  command += ' ';
  command += single_quoted(script);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[256];
  while (size_t count = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, count);
  const int status = pclose(pipe);
  if (status != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(command + " failed (exit status " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                             "; is Slurm's sbatch on PATH?)");
  const std::string id = output.substr(0, output.find_first_of(";\n"));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error(command + " printed no job id: '" + output + "'");
  return id;
}

int non_negative_option(const std::string& option, const std::string& value, int minimum) {
  const int number = parse_int_option(option, value);
  if (number < minimum)
    throw InputError("<command line>: option " + option + " must be at least " +
                     std::to_string(minimum) + ", got " + value);
  return number;
}

// Scripts are numbered by submission: slurm/1-array.sbatch, then 2-... on a resubmission.
int next_submission(const fs::path& slurm_dir) {
  int number = 1;
  while (fs::exists(slurm_dir / (std::to_string(number) + "-merge.sbatch"))) ++number;
  return number;
}

}  // namespace

int slurm_command(const std::vector<std::string>& args, const std::vector<std::string>& argv) {
  std::string sweep_path, shards_text, gpus_text, cpus_text, max_parallel_text, run_id,
      results_root, resume_dir, configs_dir, backend;
  SlurmJobOptions options;
  std::vector<std::string> axis_overrides, fixed_overrides;
  bool do_submit = false;
  ArgParser parser(
      "unisparse slurm SWEEP.yaml --shards N [options] [-a ...] [--set ...] [--backend B]\n"
      "       unisparse slurm --resume RUN_DIR [options]",
      "Writes a Slurm job array with one task per shard (task id = shard index, each task runs\n"
      "unisparse run --shard I/N on its own GPU) and a merge job that runs after the array\n"
      "(--dependency=afterany) into RUN_DIR/slurm/, prints them and, with --submit, submits them\n"
      "with sbatch --parsable and prints the job ids. Task logs go to\n"
      "RUN_DIR/slurm/logs/%A_%a.log. --resume RUN_DIR submits again the shards that do not hold\n"
      "all their points yet (the others are not rerun), then the merge; options not given are\n"
      "those of the first submission.");
  parser.positional("SWEEP.yaml", &sweep_path, "the sweep file (not needed with --resume)",
                    /*required=*/false);
  parser.option("--shards", &shards_text, "N", "number of shards, one array task each");
  parser.option("--gpus-per-task", &gpus_text, "G",
                "GPUs per task (default 1 when a backend is not cpu, else none)");
  parser.option("--cpus-per-task", &cpus_text, "C", "CPUs per task (default: the cluster's)");
  parser.option("--max-parallel", &max_parallel_text, "K",
                "at most K tasks at once (--array=...%K)");
  parser.option("--partition", &options.partition, "P", "Slurm partition");
  parser.option("--time", &options.time, "T", "time limit per task, Slurm format (e.g. 02:00:00)");
  parser.option("--account", &options.account, "A", "Slurm account");
  parser.option("--run-id", &run_id, "ID", "run directory name (default: UTC timestamp)");
  parser.option("--results", &results_root, "DIR", "results root (default: <repo>/results)");
  parser.option("--configs", &configs_dir, "DIR", "configs directory (default: <repo>/configs)");
  parser.option("--resume", &resume_dir, "RUN_DIR", "resubmit the unfinished shards of this run");
  parser.repeated("-a", &axis_overrides, "key=[v1,v2]", "replace or add an axis (as for run)");
  parser.repeated("--set", &fixed_overrides, "key=value", "set a fixed value (as for run)");
  parser.option("--backend", &backend, "cpu|cuda", "run only this backend");
  parser.flag("--submit", &do_submit, "submit the jobs with sbatch and print their ids");
  if (!parser.parse(args)) return 0;

  const bool resume = parser.given("--resume");
  const bool overridden = !axis_overrides.empty() || !fixed_overrides.empty() || !backend.empty();
  if (!resume && sweep_path.empty())
    throw InputError("<command line>: missing SWEEP.yaml (or --resume RUN_DIR) (see --help)");
  if (resume && (parser.given("--run-id") || parser.given("--results")))
    throw InputError(
        "<command line>: --run-id and --results name a new run; --resume names "
        "its run directory");
  if (resume && overridden && sweep_path.empty())
    throw InputError(
        "<command line>: -a, --set and --backend change a sweep file; with --resume "
        "give SWEEP.yaml too (it must resolve to the run's config)");
  if (!resume && !parser.given("--shards"))
    throw InputError("<command line>: missing required option --shards (see --help)");
  for (const auto& [option, value] : {std::pair{"--partition", options.partition},
                                      {"--time", options.time},
                                      {"--account", options.account}})
    check_sbatch_value(option, value);

  const std::string source_dir = find_source_dir(
      sweep_path.empty() ? resume_dir : fs::path(sweep_path).parent_path().string());
  if (configs_dir.empty()) configs_dir = source_dir + "/configs";
  configs_dir = fs::absolute(configs_dir).lexically_normal().string();

  std::string run_dir;
  SweepConfig sweep;
  std::optional<SlurmJobOptions> previous;
  if (resume) {
    run_dir = fs::absolute(resume_dir).lexically_normal().string();
    if (!run_dir.empty() && run_dir.back() == '/') run_dir.pop_back();
    const fs::path options_path = fs::path(run_dir) / kSlurmFolder / "options.json";
    if (!fs::is_regular_file(pinned_config_path(run_dir)) || !fs::is_regular_file(options_path))
      throw InputError(run_dir + " is not a run submitted with unisparse slurm (no " +
                       pinned_config_path(run_dir).string() + " or " + options_path.string() + ")");
    const nlohmann::json saved =
        nlohmann::json::parse(read_text_file(options_path.string()), nullptr, false);
    previous = slurm_options_from_json(saved, options_path.string());
    const std::string pinned = pinned_config_path(run_dir).string();
    sweep = load_sweep(sweep_path.empty() ? pinned : sweep_path,
                       sweep_overrides(axis_overrides, fixed_overrides, backend), configs_dir);
  } else {
    sweep = load_sweep(sweep_path, sweep_overrides(axis_overrides, fixed_overrides, backend),
                       configs_dir);
  }

  // Options given now win; the others come from the first submission, or are the defaults.
  if (previous) {
    const SlurmJobOptions given = options;
    options = *previous;
    if (parser.given("--partition")) options.partition = given.partition;
    if (parser.given("--time")) options.time = given.time;
    if (parser.given("--account")) options.account = given.account;
  } else {
    const bool needs_gpu = std::any_of(sweep.backends.begin(), sweep.backends.end(),
                                       [](const std::string& name) { return name != "cpu"; });
    options.gpus_per_task = needs_gpu ? 1 : 0;
  }
  if (parser.given("--shards")) {
    const int shards = non_negative_option("--shards", shards_text, 1);
    if (previous && shards != previous->shards)
      throw InputError("<command line>: --shards " + shards_text + ": " + run_dir + " has " +
                       std::to_string(previous->shards) + " shards");
    options.shards = shards;
  }
  if (parser.given("--gpus-per-task"))
    options.gpus_per_task = non_negative_option("--gpus-per-task", gpus_text, 0);
  if (parser.given("--cpus-per-task"))
    options.cpus_per_task = non_negative_option("--cpus-per-task", cpus_text, 1);
  if (parser.given("--max-parallel"))
    options.max_parallel = non_negative_option("--max-parallel", max_parallel_text, 1);
  const int base_points = base_point_count(expand(sweep), sweep.backends);
  if (options.shards > base_points)
    throw InputError("<command line>: --shards " + std::to_string(options.shards) +
                     ": the sweep has " + std::to_string(base_points) +
                     " points (per backend), so shards " + std::to_string(base_points) +
                     " and up would be empty");

  // Submissions of one run lock its slurm/ folder, not the run directory, which the merge job
  // locks as it writes: a merge job that starts at once must not find it held.
  std::vector<int> shards;
  std::optional<RunLock> lock;
  if (resume) {
    lock.emplace(RunLock::acquire((fs::path(run_dir) / kSlurmFolder).string()));
    pin_run_config(run_dir, sweep.resolved_yaml, "this submission");
    shards = unfinished_shards(run_dir, sweep, options.shards);
    for (int index : shards)
      if (const auto holder = RunLock::holder(shard_dir(run_dir, {index, options.shards}).string()))
        throw InputError("shard " + shard_label({index, options.shards}) + " of " + run_dir +
                         " is being written by " + *holder +
                         "; wait for its job to end (or scancel it) before resubmitting");
  } else {
    if (results_root.empty()) results_root = source_dir + "/results";
    if (run_id.empty()) run_id = utc_now_run_id();
    run_dir =
        fs::absolute(sharded_run_dir(results_root, sweep.name, run_id)).lexically_normal().string();
    check_sbatch_value("run directory", run_dir);
    if (fs::exists(run_dir))
      throw InputError("run directory " + run_dir + " already exists; resubmit it with --resume " +
                       run_dir + " or choose another run id");
    fs::create_directories(fs::path(run_dir) / kSlurmFolder);
    lock.emplace(RunLock::acquire((fs::path(run_dir) / kSlurmFolder).string()));
    pin_run_config(run_dir, sweep.resolved_yaml, "this submission");
    for (int index = 0; index < options.shards; ++index) shards.push_back(index);
  }

  const fs::path slurm_dir = fs::path(run_dir) / kSlurmFolder;
  fs::create_directories(slurm_dir / "logs");
  write_text_file_atomically((slurm_dir / "options.json").string(),
                             to_json(options).dump(2) + "\n");
  const SlurmJobPaths paths{run_dir, fs::read_symlink("/proc/self/exe").string(),
                            fs::absolute(source_dir).lexically_normal().string(), configs_dir};
  const std::string job_name =
      "unisparse-" + sweep.name + "-" + fs::path(run_dir).filename().string();
  const int number = next_submission(slurm_dir);
  const std::string array_path = (slurm_dir / (std::to_string(number) + "-array.sbatch")).string();
  const std::string merge_path = (slurm_dir / (std::to_string(number) + "-merge.sbatch")).string();
  if (!shards.empty()) {
    const std::string script = array_job_script(paths, options, job_name, shards);
    write_text_file_atomically(array_path, script);
    std::printf("# %s\n%s\n", array_path.c_str(), script.c_str());
  } else {
    std::printf("every shard holds all its points; only the merge job is submitted\n");
  }
  const std::string merge_script = merge_job_script(paths, options, job_name + "-merge");
  write_text_file_atomically(merge_path, merge_script);
  std::printf("# %s\n%s\n", merge_path.c_str(), merge_script.c_str());

  nlohmann::json record = {{"time_utc", utc_now_iso8601()},
                           {"argv", argv},
                           {"shards", shards},
                           {"merge_script", merge_path}};
  if (!shards.empty()) record["array_script"] = array_path;
  if (do_submit) {
    std::string array_job;
    if (!shards.empty()) {
      array_job = submit(array_path, "");
      std::printf("array_job: %s\n", array_job.c_str());
      record["array_job_id"] = array_job;
    }
    const std::string merge_job =
        submit(merge_path, array_job.empty() ? "" : "afterany:" + array_job);
    std::printf("merge_job: %s\n", merge_job.c_str());
    record["merge_job_id"] = merge_job;
  } else {
    std::printf("submit with:\n");
    if (!shards.empty()) {
      std::printf("  array=$(sbatch --parsable %s)\n", single_quoted(array_path).c_str());
      std::printf("  sbatch --dependency=afterany:${array%%%%;*} %s\n",
                  single_quoted(merge_path).c_str());
    } else {
      std::printf("  sbatch %s\n", single_quoted(merge_path).c_str());
    }
  }
  std::ofstream((slurm_dir / "submissions.jsonl").string(), std::ios::app) << record.dump() << "\n";
  std::printf("run_dir: %s\n", run_dir.c_str());
  return 0;
}

}  // namespace unisparse::cli
