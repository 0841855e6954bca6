#pragma once
// Version numbers recorded with every run. The results schema version changes when a column is
// renamed or its meaning changes; adding columns does not change it (readers ignore unknown keys).
#include <string>

namespace unisparse {

inline constexpr int kResultsSchemaVersion = 1;

inline std::string unisparse_version() { return "0.1.0"; }

}  // namespace unisparse
