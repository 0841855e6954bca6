#pragma once
// What a trace workload decides for a sweep. A trace holds one prompt of T tokens, one sequence,
// a number of decode steps and some layers, so:
//   context_len   = T          an explicit other value (fixed, axis, override) is an error;
//   batch         = 1          likewise;
//   decode_steps <= the trace's steps: an explicit larger value is an error, a larger default is
//                  lowered to the trace's;
//   layer          must be a layer the trace holds (`all` = every one, expanded before this);
//   dtype, kv_dtype = the precision the trace is stored in, unless set explicitly (then the trace
//                  is rounded to it);
// and every default the trace replaces is recorded as "key: sweep -> trace" in
// WorkloadSpec::trace_overrides, so that no row silently carries a value that did not run. Layers
// of one sweep must agree in T and decode steps.
#include <map>
#include <string>
#include <vector>

#include "framework/config/strict_yaml.h"
#include "framework/config/sweep_config.h"
#include "framework/workload/trace.h"

namespace unisparse {

// Where each explicitly set parameter got its value: the last fixed: entry or override, or the
// axis entry.
using SettingSites = std::map<std::string, LocatedNode>;

// Applies the trace's values to base (and checks the axes' values), InputError at the site of a
// conflicting setting or at `workload` (the sweep's workload reference).
void apply_trace_facts(const TraceHeader& header, PointConfig& base, const std::vector<Axis>& axes,
                       const SettingSites& fixed_sites, const SettingSites& axis_sites,
                       const LocatedNode& workload);

}  // namespace unisparse
