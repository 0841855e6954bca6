#include "framework/config/strict_yaml.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "framework/config/suggest.h"

namespace unisparse {
namespace {

const char* kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::integer:
      return "an integer";
    case ValueKind::number:
      return "a number";
    case ValueKind::boolean:
      return "true or false";
    case ValueKind::name:
      return "a name";
    case ValueKind::number_list:
      return "a list of numbers";
  }
  return "a value";
}

// Quoted scalars carry the non-specific tag "!"; plain ones "?".
bool is_quoted(const YAML::Node& node) { return node.Tag() == "!"; }

}  // namespace

YamlSource YamlSource::command_line(std::string override_text) {
  return YamlSource{"<command line>", std::move(override_text)};
}

InputError YamlSource::error(const YAML::Node& at, const std::string& key,
                             const std::string& message) const {
  if (from_command_line())
    return input_error(file, 0, key, message + " (in override '" + override_text + "')");
  const int line = at.IsDefined() && at.Mark().line >= 0 ? at.Mark().line + 1 : 0;
  return input_error(file, line, key, message);
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream stream(path);
  if (!stream) throw input_error(path, 0, "", "cannot open file");
  std::stringstream text;
  text << stream.rdbuf();
  try {
    return YAML::Load(text.str());
  } catch (const YAML::ParserException& e) {
    throw input_error(path, e.mark.line + 1, "", "YAML syntax error: " + e.msg);
  }
}

std::vector<std::string> yaml_names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

YAML::Node parse_override_value(const std::string& value_text, const YamlSource& source,
                                const std::string& key) {
  try {
    return YAML::Load(value_text);
  } catch (const YAML::ParserException& e) {
    throw source.error(YAML::Node(), key, "YAML syntax error in the value: " + e.msg);
  }
}

LocatedNode located(const MapEntry& entry, const YamlSource& source, const std::string& parent) {
  return LocatedNode{entry.value, source, dotted(parent, entry.key), entry.key_node};
}

std::string dotted(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "an undefined value";
  }
}

std::vector<MapEntry> strict_map(const YAML::Node& node, const YamlSource& source,
                                 const std::string& parent, std::span<const std::string> known) {
  if (!node.IsMap())
    throw source.error(node, parent, "expected a mapping, got " + describe_node(node));
  std::vector<MapEntry> entries;
  std::set<std::string> seen;
  for (const auto& key_and_value : node) {
    const YAML::Node key_node = key_and_value.first;
    if (!key_node.IsScalar())
      throw source.error(key_node, parent,
                         "expected a name as key, got " + describe_node(key_node));
    const std::string key = key_node.Scalar();
    const std::string full_key = dotted(parent, key);
    if (!seen.insert(key).second) throw source.error(key_node, full_key, "duplicate key");
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string message = "unknown key" + did_you_mean(key, known);
      if (known.size() <= 12) {
        message += "; known keys:";
        for (const std::string& k : known) message += " " + k;
      }
      throw source.error(key_node, full_key, message);
    }
    entries.push_back({key, key_node, key_and_value.second});
  }
  return entries;
}

std::string scalar_text(const LocatedNode& value, const std::string& expected) {
  if (!value.node.IsScalar())
    throw value.error("expected " + expected + ", got " + describe_node(value.node));
  return value.node.Scalar();
}

std::string param_text(const Param& param, const LocatedNode& value) {
  const char* expected = kind_name(param.kind);
  if (param.kind == ValueKind::number_list) {
    if (!value.node.IsSequence())
      throw value.error(std::string("expected ") + expected + ", got " + describe_node(value.node));
    std::vector<double> numbers;
    for (const YAML::Node& item : value.node) {
      if (!item.IsScalar() || is_quoted(item))
        throw value.source.error(
            item, value.key,
            std::string("expected a number in the list, got ") + describe_node(item));
      try {
        numbers.push_back(parse_number(item.Scalar()));
      } catch (const ParamValueError& e) {
        throw value.source.error(item, value.key, e.what());
      }
    }
    return format_number_list(numbers);
  }
  if (!value.node.IsScalar())
    throw value.error(std::string("expected ") + expected + ", got " + describe_node(value.node));
  if (param.kind != ValueKind::name && is_quoted(value.node))
    throw value.error(std::string("expected ") + expected + ", got the string \"" +
                      value.node.Scalar() + "\"");
  return value.node.Scalar();
}

void apply_param(PointConfig& point, const Param& param, const LocatedNode& value) {
  const std::string text = param_text(param, value);
  try {
    param.set(point, text);
  } catch (const ParamValueError& e) {
    throw value.error(e.what());
  }
}

}  // namespace unisparse
