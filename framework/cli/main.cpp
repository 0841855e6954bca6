// The unisparse command line: run a sweep, list what can be run, print a trace's page selections.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "framework/cli/commands.h"
#include "framework/core/error.h"

namespace {

constexpr const char* kUsage = R"(usage: unisparse <command> [options]

Commands:
  run SWEEP.yaml [overrides]   run a sweep, write results/<sweep>/<run-id>/
  list                         list sweeps, models, workloads and backends
  select --trace FILE ...      print the decode page selections of a trace as JSON
  check RUN_DIR --baseline DIR compare a run's accuracy with a baseline, exit 1 on regression
  merge RUN_DIR [--partial]    join the shards of a sharded run (run --shard I/N) into one run
  slurm SWEEP.yaml --shards N  write (and --submit) a Slurm job array of shards and its merge job
  calibrate-heads --trace FILE ... score streaming heads on traces, write configs/heads/NAME.yaml
  attention-stats --trace FILE ... per-head statistics of decode attention (or --model M ...)

Every command has --help.
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? unisparse::kExitBadInput : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::vector<std::string> all_argv(argv, argv + argc);
  try {
    if (command == "run") return unisparse::cli::run_command(rest, all_argv);
    if (command == "list") return unisparse::cli::list_command(rest);
    if (command == "select") return unisparse::cli::select_command(rest);
    if (command == "check") return unisparse::cli::check_command(rest);
    if (command == "merge") return unisparse::cli::merge_command(rest, all_argv);
    if (command == "slurm") return unisparse::cli::slurm_command(rest, all_argv);
    if (command == "calibrate-heads") return unisparse::cli::calibrate_heads_command(rest);
    if (command == "attention-stats") return unisparse::cli::attention_stats_command(rest);
    std::fprintf(stderr, "unisparse: unknown command '%s'\n\n%s", command.c_str(), kUsage);
    return unisparse::kExitBadInput;
  } catch (const unisparse::InputError& error) {
    std::fprintf(stderr, "unisparse: error: %s\n", error.what());
    return unisparse::kExitBadInput;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "unisparse: failed: %s\n", error.what());
    return 1;
  }
}
