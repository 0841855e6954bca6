#pragma once
// A sweep file (README.md, Sweep files) loaded strictly into typed form, command-line overrides
// applied.
//
//   name: page_size_hierarchy        # results/<name>/...; letters, digits, '.', '_', '-'
//   description: ...                 # optional
//   model: llama3-8b                 # configs/models/<model>.yaml
//   workload: needle                 # configs/workloads/<name>.yaml, or {trace: file, layer: 0}
//                                    # (layer: an index or `all`, the same as the `layer` parameter;
//                                    # optional: kDefaultWorkload, config/workload_config.h)
//   phase: decode                    # prefill | decode
//   backends: [cuda, cpu]            # the outermost loop of the expansion
//   fixed: {context_len: 65536, ...} # any parameter of config/params.cpp
//   axes: {page_size: [16, 64], ...} # cartesian product in the order written, last axis fastest
//   timing: {warmup: 3, ...}         # the timing.* parameters without their prefix
//
// Values are applied in this order, later ones winning: PointConfig defaults, the model, the
// workload's knobs, phase, fixed (in file order, then --set overrides), timing; axis values are
// applied per point on top (framework/sweep/expand.h). A trace workload then takes over what the
// file decides (config/trace_sweep.h); `layer: all` becomes the first axis, every layer the trace
// holds. Head calibrations named by head_calibration are loaded here.
#include <map>
#include <string>
#include <vector>

#include "framework/config/point.h"
#include "framework/workload/head_calibration.h"

namespace unisparse {

struct Axis {
  std::string key;                  // a parameter key (config/params.h)
  std::vector<std::string> values;  // each value as parameter text, already checked
};

struct SweepConfig {
  std::string name, description, source_path;
  std::vector<std::string> backends;
  PointConfig base;  // defaults + model + workload + fixed + timing applied
  std::vector<Axis> axes;
  std::string
      resolved_yaml;  // the fully resolved config (after overrides) as a loadable sweep file
  // Every head_calibration value of the sweep (base and axis), loaded, keyed by the value.
  std::map<std::string, HeadCalibration> head_calibrations;

  // The calibration a point's head_calibration names; nullptr for "".
  const HeadCalibration* head_calibration(const std::string& reference) const;
};

// A command-line change to a sweep.
//   axis:  "page_size=[16,64]" replaces that axis, or adds it after the others (an optional "axes."
//          prefix is accepted).
//   fixed: "batch=8", "fixed.batch=8", "timing.warmup=5", or a top-level key: "model=llama2-7b",
//          "workload=diffuse", "phase=prefill", "backends=[cpu]", "name=...", "description=...".
//          Fixing a parameter that is an axis removes the axis.
struct Override {
  enum Kind { axis, fixed } kind;
  std::string text;
};

// The backend names a sweep may list.
const std::vector<std::string>& known_backends();

// configs_dir: directory holding models/, workloads/ and heads/ (the repository's configs/; its
// parent is the repository, where relative trace and .tsv paths are looked up after the sweep
// file's directory). Every problem is an InputError naming the file (or "<command line>"), the
// line and the dotted key.
SweepConfig load_sweep(const std::string& path, const std::vector<Override>& overrides,
                       const std::string& configs_dir);

}  // namespace unisparse
