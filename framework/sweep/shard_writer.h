#pragma once
// Opening one shard of a sharded run for writing (shard.h has the layout). Every refusal is an
// InputError raised before anything is written.
#include <nlohmann/json.hpp>
#include <string>

#include "framework/results/run_writer.h"
#include "framework/sweep/shard.h"

namespace unisparse {

// Writes resolved_yaml as the run's pinned config (run_dir/shards/config.yaml) when there is none
// yet, atomically, so the first of several shards starting at once wins; otherwise checks that it
// equals the pinned one, naming every differing key when not.
void pin_run_config(const std::string& run_dir, const std::string& resolved_yaml,
                    const std::string& who = "this shard");

// The writer of one shard of the run at run_dir: a new shard directory, or with resume the existing
// one (a shard of a resumed run that never started starts now). Refused when the run has shards of
// another count, when the resolved config differs from the run's, when the shard exists and resume
// is not set, when resume is set and run_dir is not a sharded run, and when another process writes
// the shard. new_meta goes to a new shard's meta.json (with "shard" added), resume_meta to the
// record of a resume.
RunWriter open_shard_writer(const std::string& run_dir, const Shard& shard, bool resume,
                            const std::string& sweep_name, const std::string& resolved_yaml,
                            const nlohmann::json& new_meta, const nlohmann::json& resume_meta);

}  // namespace unisparse
