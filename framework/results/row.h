#pragma once
// One results row: column name -> value, in insertion order. A null value means "does not apply to
// this row" and becomes an empty CSV cell, never a zero.
#include <nlohmann/json.hpp>
#include <string>

namespace unisparse {

using Row = nlohmann::ordered_json;

// The column that identifies a row across resumes; the runner skips points whose key is present.
inline constexpr const char* kPointKeyColumn = "point_key";

// A stable key for one point run on one backend.
std::string make_point_key(const std::string& point_id, const std::string& backend);

// A copy of value with every NaN or infinite number (at any depth) replaced by null, so the JSON
// written is valid and a missing metric reads as empty rather than "nan".
Row finite_or_null(const Row& value);

}  // namespace unisparse
