#pragma once
// The one table of sweep parameters. Every key that a sweep's `fixed:`, `axes:` or `timing:`, a
// model or workload file, or a command-line override can set is an entry here: its name, the kind
// of value it takes, its range check, how it is written into a PointConfig and how it reads back as
// text for the results row, what role it plays (which points can share a workload), and how figures
// label it. Adding an axis = a field in point.h + one entry in params.cpp + the code that reads it.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/config/point.h"
#include "framework/config/value_text.h"

namespace unisparse {

enum class ValueKind {
  integer,      // YAML int
  number,       // YAML int or float
  boolean,      // true | false
  name,         // one of a fixed set of names (dtype, mode, ...), or a file reference
  number_list,  // YAML sequence of numbers
};

// What a parameter changes, which decides what a point can share with its neighbours: points whose
// workload-role parameters are equal share one generated (or read) workload and its dense reference.
enum class ParamRole {
  workload,    // the tensors: shape, context, batch, seed, head layout, generator knobs, trace layer
  plan,        // the sparsity plan and the kernels run on the same tensors: pages, budget, mode, ...
  evaluation,  // how a point is scored against the reference
  timing,      // how a point is measured
  model,       // model-level points: the task and its evaluation
};

std::string_view to_string(ParamRole role);

struct Param {
  std::string key;  // "page_size", "workload.needle_strength", "timing.warmup"
  ParamRole role;
  std::string label;       // axis label for figures, with units: "physical page size (tokens)"
  std::string short_name;  // legend name: "page"
  ValueKind kind;
  std::string description;  // meaning and allowed values, one line
  // Parses text (a scalar, or "[a, b]" for number_list), checks its range and stores it; throws
  // ParamValueError saying what was expected.
  std::function<void(PointConfig&, std::string_view text)> set;
  // The value as text that set() reads back to the same value.
  std::function<std::string(const PointConfig&)> get;
};

// Every parameter, in results-column order.
const std::vector<Param>& params();
// Adds a parameter at the end of the table (an extension's axis, or a test's); throws
// std::invalid_argument when the key is taken. Call before any sweep is loaded.
void register_param(Param param);
// nullptr when no parameter has this key.
const Param* find_param(std::string_view key);
// Every key, for "did you mean" hints.
std::vector<std::string> param_keys();
// Whether points that differ in this key can share a workload (plan, evaluation and timing keys,
// and the backend, do not change the tensors).
bool changes_workload(std::string_view key);

// Sets one parameter from text; throws ParamValueError (unknown key included).
void set_param(PointConfig& point, std::string_view key, std::string_view text);

// The point as (key, value) pairs for a results row: model, workload, workload.trace,
// trace_overrides, backend, then every parameter of the table in order.
std::vector<std::pair<std::string, std::string>> describe(const PointConfig& point);

}  // namespace unisparse
