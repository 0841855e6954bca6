#include "framework/results/params_table.h"

#include <string>

#include "framework/config/params.h"

namespace unisparse {
namespace {

std::string kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::integer: return "integer";
    case ValueKind::number: return "number";
    case ValueKind::boolean: return "boolean";
    case ValueKind::name: return "name";
    case ValueKind::number_list: return "number_list";
  }
  return "?";
}

}  // namespace

nlohmann::ordered_json params_table_json() {
  nlohmann::ordered_json table = nlohmann::ordered_json::array();
  for (const Param& param : params()) {
    nlohmann::ordered_json entry;
    entry["key"] = param.key;
    entry["role"] = std::string(to_string(param.role));
    entry["label"] = param.label;
    entry["short"] = param.short_name;
    entry["kind"] = kind_name(param.kind);
    entry["description"] = param.description;
    table.push_back(std::move(entry));
  }
  return table;
}

}  // namespace unisparse
