#include "framework/config/value_text.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "framework/core/text.h"

namespace unisparse {
namespace {

template <class T>
T parse_whole(std::string_view text, const char* expected) {
  T value{};
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  // from_chars rejects a leading '+'; YAML allows it (but not "+-5").
  if (begin != end && *begin == '+' && (begin + 1 == end || begin[1] != '-')) ++begin;
  const auto [stop, error] = std::from_chars(begin, end, value);
  if (error == std::errc::result_out_of_range)
    throw ParamValueError("'" + std::string(text) + "' is out of range for " + expected);
  if (text.empty() || error != std::errc() || stop != end)
    throw ParamValueError("expected " + std::string(expected) + ", got '" + std::string(text) +
                          "'");
  return value;
}

}  // namespace

int64_t parse_int64(std::string_view text) { return parse_whole<int64_t>(text, "an integer"); }

uint64_t parse_uint64(std::string_view text) {
  if (!text.empty() && text.front() == '-')
    throw ParamValueError("expected a non-negative integer, got '" + std::string(text) + "'");
  return parse_whole<uint64_t>(text, "a non-negative integer");
}

double parse_number(std::string_view text) {
  const double value = parse_whole<double>(text, "a number");
  if (!std::isfinite(value))
    throw ParamValueError("expected a finite number, got '" + std::string(text) + "'");
  return value;
}

bool parse_bool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  throw ParamValueError("expected true or false, got '" + std::string(text) + "'");
}

std::vector<double> parse_number_list(std::string_view text) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']')
    throw ParamValueError("expected a list of numbers like [0.25, 0.5], got '" + std::string(text) +
                          "'");
  std::string_view items = trim(text.substr(1, text.size() - 2));
  std::vector<double> values;
  while (!items.empty()) {
    const size_t comma = items.find(',');
    values.push_back(parse_number(trim(items.substr(0, comma))));
    if (comma == std::string_view::npos) break;
    items = items.substr(comma + 1);
    if (trim(items).empty())
      throw ParamValueError("trailing comma in list '" + std::string(text) + "'");
  }
  return values;
}

std::string format_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string text(buffer, result.ptr);
  // Keep a number that happens to be integral recognisable as a real number (2.0, not 2).
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string format_number_list(const std::vector<double>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + format_number(values[i]);
  return text + "]";
}

}  // namespace unisparse
