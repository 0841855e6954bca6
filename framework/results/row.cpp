#include "framework/results/row.h"

#include <cmath>

namespace unisparse {

std::string make_point_key(const std::string& point_id, const std::string& backend) {
  return point_id + "|" + backend;
}

Row finite_or_null(const Row& value) {
  if (value.is_number_float()) {
    return std::isfinite(value.get<double>()) ? value : Row(nullptr);
  }
  if (value.is_object()) {
    Row copy = Row::object();
    for (const auto& [key, item] : value.items()) copy[key] = finite_or_null(item);
    return copy;
  }
  if (value.is_array()) {
    Row copy = Row::array();
    for (const auto& item : value) copy.push_back(finite_or_null(item));
    return copy;
  }
  return value;
}

}  // namespace unisparse
