#pragma once
// The parameter table as data, for `unisparse list --params --json`, each run's meta.json and the
// analysis scripts (which read axis labels and roles from it instead of keeping their own lists).
#include <nlohmann/json.hpp>

namespace unisparse {

// [{"key", "role", "label", "short", "kind", "description"}, ...] in table order.
nlohmann::ordered_json params_table_json();

}  // namespace unisparse
