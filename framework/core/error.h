#pragma once
// Errors the harness reports to the user. InputError is bad input (config, override, trace): the CLI
// prints it and exits with code 2 before writing anything.
#include <stdexcept>
#include <string>

namespace unisparse {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "file:line: key: message" (line 0 = unknown line).
InputError input_error(const std::string& file, int line, const std::string& key,
                       const std::string& message);

// A backend cannot run a valid point (e.g. a kv_dtype it does not implement): the runner records the
// point as skipped with this message as the reason.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kExitBadInput = 2;

}  // namespace unisparse
