#pragma once
// Where a result came from (framework/DESIGN.md, Results schema and provenance): the command, the
// code, the host and the device. Written to meta.json in each run directory.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace unisparse {

// {"sha": <HEAD commit>, "dirty": <tracked files modified>} of the git checkout at source_dir, read
// by running git; {"sha": "unknown", "dirty": null} when it is not a checkout or git is missing.
nlohmann::json git_provenance(const std::string& source_dir);

// {"name", "os", "arch", "cpus"} of this machine.
nlohmann::json host_provenance();

// "2026-11-28T14:23:05Z"
std::string utc_now_iso8601();

// "20261128-142305": the default run id.
std::string utc_now_run_id();

// How this process was launched onto its machine: {"slurm": {...}} with the SLURM_* variables that
// place a job (SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURMD_NODENAME, ...) when
// SLURM_JOB_ID is set, and "cuda_visible_devices" when CUDA_VISIBLE_DEVICES is set; {} otherwise.
nlohmann::json launch_environment();

// The meta.json block of a new run: argv, schema and unisparse versions, git state of source_dir,
// host, start time, and the device block as the caller measured it (null for CPU-only runs).
nlohmann::json run_meta(const std::vector<std::string>& argv, const std::string& source_dir,
                        const nlohmann::json& device);

}  // namespace unisparse
