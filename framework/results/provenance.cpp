#include "framework/results/provenance.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <optional>
#include <thread>

#include "framework/core/text.h"
#include "framework/results/version.h"

namespace unisparse {

namespace {

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  quoted += '\'';
  return quoted;
}

// stdout of a shell command, or nothing when it cannot start or exits non-zero.
std::optional<std::string> command_output(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  std::array<char, 4096> buffer;
  size_t count;
  while ((count = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    output.append(buffer.data(), count);
  if (pclose(pipe) != 0) return std::nullopt;
  return output;
}

std::string format_utc_now(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 64> text;
  const size_t length = std::strftime(text.data(), text.size(), format, &utc);
  return std::string(text.data(), length);
}

}  // namespace

nlohmann::json git_provenance(const std::string& source_dir) {
  const std::string git = "git -C " + shell_quote(source_dir) + " ";
  const auto sha = command_output(git + "rev-parse HEAD 2>/dev/null");
  if (!sha || trim(*sha).empty()) {
    // A copy of the tree without .git (e.g. shipped to a GPU machine) gets the commit it was made
    // from through the environment.
    if (const char* given = std::getenv("UNISPARSE_GIT_SHA"); given && *given)
      return {{"sha", std::string(given)}, {"dirty", nullptr}, {"source", "UNISPARSE_GIT_SHA"}};
    return {{"sha", "unknown"}, {"dirty", nullptr}};
  }
  // Untracked files (build folders, results) do not make the code that ran differ from the commit.
  const auto changes = command_output(git + "status --porcelain --untracked-files=no 2>/dev/null");
  nlohmann::json dirty = nullptr;
  if (changes) dirty = !trim(*changes).empty();
  return {{"sha", std::string(trim(*sha))}, {"dirty", dirty}};
}

nlohmann::json host_provenance() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0) name[0] = '\0';
  nlohmann::json host = {{"name", std::string(name.data())}};
  utsname system{};
  if (uname(&system) == 0) {
    host["os"] = std::string(system.sysname) + " " + system.release;
    host["arch"] = std::string(system.machine);
  }
  host["cpus"] = std::thread::hardware_concurrency();
  return host;
}

nlohmann::json launch_environment() {
  static const char* const kSlurmVariables[] = {
      "SLURM_JOB_ID",        "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_NAME",
      "SLURM_JOB_PARTITION", "SLURM_CLUSTER_NAME", "SLURMD_NODENAME",     "SLURM_JOB_GPUS"};
  nlohmann::json environment = nlohmann::json::object();
  auto value_of = [](const char* name) -> const char* {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
  };
  if (value_of("SLURM_JOB_ID")) {
    nlohmann::json slurm = nlohmann::json::object();
    for (const char* name : kSlurmVariables)
      if (const char* value = value_of(name)) slurm[name] = value;
    environment["slurm"] = slurm;
  }
  if (const char* devices = value_of("CUDA_VISIBLE_DEVICES"))
    environment["cuda_visible_devices"] = devices;
  return environment;
}

std::string utc_now_iso8601() { return format_utc_now("%Y-%m-%dT%H:%M:%SZ"); }

std::string utc_now_run_id() { return format_utc_now("%Y%m%d-%H%M%S"); }

nlohmann::json run_meta(const std::vector<std::string>& argv, const std::string& source_dir,
                        const nlohmann::json& device) {
  return {
      {"schema_version", kResultsSchemaVersion},
      {"unisparse_version", unisparse_version()},
      {"argv", argv},
      {"git", git_provenance(source_dir)},
      {"host", host_provenance()},
      {"start_time_utc", utc_now_iso8601()},
      {"device", device},
  };
}

}  // namespace unisparse
