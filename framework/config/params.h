#pragma once
// The one table of sweep parameters. Every key that a sweep's `fixed:`, `axes:` or `timing:`, a
// model or workload file, or a command-line override can set is an entry here: its name, the kind
// of value it takes, its range check, how it is written into a PointConfig and how it reads back as
// text for the results row. Adding an axis = a field in point.h + one entry in params.cpp.
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
  name,         // one of a fixed set of names (dtype, mode, ...)
  number_list,  // YAML sequence of numbers
};

struct Param {
  std::string key;  // "page_size", "workload.needle_strength", "timing.warmup"
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
// nullptr when no parameter has this key.
const Param* find_param(std::string_view key);
// Every key, for "did you mean" hints.
const std::vector<std::string>& param_keys();

// Sets one parameter from text; throws ParamValueError (unknown key included).
void set_param(PointConfig& point, std::string_view key, std::string_view text);

// The point as (key, value) pairs for a results row: model, workload, workload.trace,
// workload.trace_layer, backend, then every parameter of the table in order.
std::vector<std::pair<std::string, std::string>> describe(const PointConfig& point);

}  // namespace unisparse
