#include "framework/sweep/shard_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "framework/core/error.h"
#include "framework/results/file_io.h"

namespace unisparse {

namespace {

namespace fs = std::filesystem;

void require_same_shard_count(const std::string& run_dir, const Shard& shard) {
  for (const auto& [other, path] : find_shard_dirs(run_dir))
    if (other.count != shard.count)
      throw InputError(run_dir + " is split into " + std::to_string(other.count) + " shards (" +
                       path.filename().string() + "); this is shard " + shard_label(shard) +
                       ": run it with --shard I/" + std::to_string(other.count));
}

}  // namespace

void pin_run_config(const std::string& run_dir, const std::string& resolved_yaml,
                    const std::string& who) {
  const fs::path pinned = pinned_config_path(run_dir);
  std::error_code error;
  fs::create_directories(pinned.parent_path(), error);
  if (error)
    throw std::runtime_error("cannot create " + pinned.parent_path().string() + ": " +
                             error.message());
  if (!fs::exists(pinned)) {
    // link(2) never replaces an existing file: of two shards starting together, one config wins
    // whole and the other is compared with it.
    const std::string temporary = pinned.string() + "." + std::to_string(getpid()) + ".new";
    write_text_file_atomically(temporary, resolved_yaml);
    const bool linked = link(temporary.c_str(), pinned.c_str()) == 0;
    const int link_error = errno;
    unlink(temporary.c_str());
    if (!linked && link_error != EEXIST)
      throw std::runtime_error("cannot create " + pinned.string() + ": " +
                               std::strerror(link_error));
  }
  const auto differences =
      config_differences(read_text_file(pinned.string()), resolved_yaml, pinned.string(), who);
  if (!differences.empty())
    throw InputError(pinned.string() + ": " + who + " resolves to another config than the run's (" +
                     describe_differences(differences, "in the run", "in " + who) +
                     "); every shard of a run must run the same sweep and overrides");
}

RunWriter open_shard_writer(const std::string& run_dir, const Shard& shard, bool resume,
                            const std::string& sweep_name, const std::string& resolved_yaml,
                            const nlohmann::json& new_meta, const nlohmann::json& resume_meta) {
  if (resume && !fs::is_directory(shards_dir(run_dir))) {
    const bool is_a_shard = parse_shard_dir_name(fs::path(run_dir).filename().string()).has_value();
    throw InputError(
        run_dir + " is not a sharded run (it has no " + kShardsFolder + "/ folder)" +
        (is_a_shard ? "; --resume takes the run directory, the one above shards/" : ""));
  }
  require_same_shard_count(run_dir, shard);
  const fs::path dir = shard_dir(run_dir, shard);
  const bool exists = fs::exists(dir);
  if (exists && !resume)
    throw InputError("shard " + shard_label(shard) + " of " + run_dir +
                     " exists; resume it with --resume " + run_dir + " --shard " +
                     shard_label(shard));
  pin_run_config(run_dir, resolved_yaml);
  if (exists) return RunWriter::resume(dir.string(), resolved_yaml, resume_meta);
  fs::path run_path = fs::path(run_dir).lexically_normal();
  if (run_path.filename().empty()) run_path = run_path.parent_path();  // "results/quick/r1/"
  nlohmann::json meta = new_meta;
  meta["shard"] = {{"index", shard.index}, {"count", shard.count}, {"label", shard_label(shard)}};
  return RunWriter::create_at(dir.string(), sweep_name, run_path.filename().string(), resolved_yaml,
                              meta);
}

}  // namespace unisparse
