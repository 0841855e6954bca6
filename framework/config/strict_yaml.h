#pragma once
// Strict access to YAML documents: every problem becomes an InputError that names the file, the
// 1-based line and the dotted key. A value that came from a command-line override has no line; its
// errors name "<command line>" and quote the override.
#include <yaml-cpp/yaml.h>

#include <span>
#include <string>
#include <vector>

#include "framework/config/params.h"
#include "framework/core/error.h"

namespace unisparse {

// Where a YAML node came from.
struct YamlSource {
  std::string file;           // the path as given, or "<command line>"
  std::string override_text;  // the whole override, when the node came from the command line

  static YamlSource command_line(std::string override_text);
  bool from_command_line() const { return !override_text.empty(); }
  // The error at node `at` (its line, when it came from a file) for dotted key `key`.
  InputError error(const YAML::Node& at, const std::string& key, const std::string& message) const;
};

// A node together with its source and the dotted key it sits at ("fixed.page_size").
struct LocatedNode {
  YAML::Node node;
  YamlSource source;
  std::string key;
  YAML::Node key_node;  // the mapping key node holding it, if any: gives the line of an empty value

  InputError error(const std::string& message) const {
    return source.error(node.IsNull() && key_node.IsDefined() ? key_node : node, key, message);
  }
};

// Parses a whole file; a missing file or a syntax error is an InputError.
YAML::Node load_yaml_file(const std::string& path);
// The stems of the *.yaml files in dir, sorted ("llama3-8b" for llama3-8b.yaml); empty when dir
// does not exist.
std::vector<std::string> yaml_names_in(const std::string& dir);

// Parses the value part of a command-line override.
YAML::Node parse_override_value(const std::string& value_text, const YamlSource& source,
                                const std::string& key);

struct MapEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

// The entries of a mapping in document order. Errors: not a mapping, a duplicate key, a key not in
// known (with a "did you mean" hint). parent is the dotted key of the mapping ("" at the top).
std::vector<MapEntry> strict_map(const YAML::Node& node, const YamlSource& source,
                                 const std::string& parent, std::span<const std::string> known);

// The value of a mapping entry as a LocatedNode at key "parent.key".
LocatedNode located(const MapEntry& entry, const YamlSource& source, const std::string& parent);

// "parent.key", or "key" at the top level.
std::string dotted(const std::string& parent, const std::string& key);

// "an integer", "a list", "a mapping", ... describing what a node holds, for messages.
std::string describe_node(const YAML::Node& node);

// The text of a scalar node; error when it is not a scalar.
std::string scalar_text(const LocatedNode& value, const std::string& expected);

// The text a parameter's setter reads from this node: the scalar, or "[a, b]" for a number list.
// Checks the node's shape against the parameter's kind (a quoted string is not a number, a list is
// not a scalar) and reports a mismatch as an InputError.
std::string param_text(const Param& param, const LocatedNode& value);

// Sets a parameter from a node: param_text, then the parameter's setter, with its range errors
// reported at the node.
void apply_param(PointConfig& point, const Param& param, const LocatedNode& value);

}  // namespace unisparse
