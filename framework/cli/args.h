#pragma once
// A small declarative command-line parser shared by the subcommands: options are declared with the
// variable they fill and a help line; --help prints them. Bad arguments are InputErrors.
#include <string>
#include <string_view>
#include <vector>

#include "framework/config/point.h"

namespace unisparse::cli {

class ArgParser {
 public:
  ArgParser(std::string usage_line, std::string description);
  void flag(const std::string& name, bool* out, const std::string& help);
  void option(const std::string& name, std::string* out, const std::string& metavar,
              const std::string& help, bool required = false);
  void repeated(const std::string& name, std::vector<std::string>* out, const std::string& metavar,
                const std::string& help);
  void positional(const std::string& name, std::string* out, const std::string& help,
                  bool required = true);

  // Returns false when --help was asked for (help printed to stdout).
  bool parse(const std::vector<std::string>& args);
  // Whether the option appeared on the command line (also with an empty value).
  bool given(const std::string& name) const;
  std::string help() const;

 private:
  enum class Kind { flag, option, repeated, positional };
  struct Spec {
    Kind kind;
    std::string name, metavar, help;
    void* out;
    bool required;
    bool seen = false;
  };
  Spec* find(const std::string& name);
  std::string usage_line_;
  std::string description_;
  std::vector<Spec> specs_;
};

// Parses an integer option value; InputError naming the option otherwise.
int parse_int_option(const std::string& option, const std::string& value);

// Sets parameter `key` of the table from an option's value, with the parameter's own checks; a bad
// value is an InputError naming the option.
void set_param_option(PointConfig& point, const std::string& option, std::string_view key,
                      const std::string& value);

}  // namespace unisparse::cli
