#pragma once
// Workload files, configs/workloads/<name>.yaml: the knobs of the synthetic generator.
//   name: needle             # must match the file name
//   description: ...         # optional
//   knobs:                   # any GeneratorKnobs field (knobs.h); a missing knob keeps its default
//     needle_strength: 10.0
// A sweep refers to a workload by name, or to a captured trace by a mapping
//   {trace: path.safetensors, layer: 0}
// whose path is relative to the directory of the file that names it (or absolute).
#include <string>

#include "framework/config/point.h"
#include "framework/config/strict_yaml.h"

namespace unisparse {

WorkloadSpec load_workload_file(const std::string& path);

// Resolves a workload reference: a name against <configs_dir>/workloads/, or a trace mapping whose
// relative path is taken from base_dir. The trace file must exist.
WorkloadSpec load_workload(const LocatedNode& reference, const std::string& configs_dir,
                           const std::string& base_dir);

// The generator-knob keys as they appear under `knobs:` ("needle_strength"); the parameter table
// holds them as "workload.<knob>".
const std::vector<std::string>& knob_keys();

}  // namespace unisparse
