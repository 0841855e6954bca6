#pragma once
// Strict conversions between parameter values and their text (a YAML scalar, an override, a results
// cell). Parsers throw ParamValueError with a message that says what was expected; formatters write
// text the parsers read back to the same value.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace unisparse {

// A value that does not parse or is out of range; the caller adds file, line and key.
class ParamValueError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

int64_t parse_int64(std::string_view text);    // decimal, optional sign
uint64_t parse_uint64(std::string_view text);  // decimal, no sign
double parse_number(std::string_view text);    // finite decimal or exponent form
bool parse_bool(std::string_view text);        // true | false
// "[0.25, 0.5]" (flow-sequence text; "[]" is the empty list).
std::vector<double> parse_number_list(std::string_view text);

// Shortest text that parses back to exactly the same double.
std::string format_number(double value);
std::string format_number_list(const std::vector<double>& values);

}  // namespace unisparse
