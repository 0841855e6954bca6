#pragma once
// The subcommands of the unisparse CLI. Each returns the process exit code; bad input is thrown as
// InputError (exit 2, nothing written).
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"

namespace unisparse::cli {

int run_command(const std::vector<std::string>& args, const std::vector<std::string>& argv);
int list_command(const std::vector<std::string>& args);
int select_command(const std::vector<std::string>& args);
int check_command(const std::vector<std::string>& args);
int merge_command(const std::vector<std::string>& args, const std::vector<std::string>& argv);
int slurm_command(const std::vector<std::string>& args, const std::vector<std::string>& argv);

// The sweep changes of -a, --set and --backend, in that order.
std::vector<Override> sweep_overrides(const std::vector<std::string>& axis_overrides,
                                      const std::vector<std::string>& fixed_overrides,
                                      const std::string& backend);
int calibrate_heads_command(const std::vector<std::string>& args);
int attention_stats_command(const std::vector<std::string>& args);

// The repository root that holds configs/: the first directory upward from `start` with
// configs/models in it, else the current directory.
std::string find_source_dir(const std::string& start);

}  // namespace unisparse::cli
