#include "framework/results/points_file.h"

#include "framework/core/error.h"
#include "framework/results/file_io.h"

namespace unisparse {

PointsFile parse_points_jsonl(const std::string& text, const std::string& path_for_errors) {
  PointsFile file;
  size_t line_start = 0;
  int line_number = 0;
  while (line_start < text.size()) {
    ++line_number;
    const size_t newline = text.find('\n', line_start);
    const bool complete = newline != std::string::npos;
    const size_t line_end = complete ? newline : text.size();
    const std::string line = text.substr(line_start, line_end - line_start);
    const size_t next_start = complete ? newline + 1 : text.size();

    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      if (complete) file.valid_bytes = next_start;
      line_start = next_start;
      continue;
    }
    Row row = Row::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!complete) {
      // Every append ends in a newline, so a line without one was cut off, even if it parses.
      file.had_truncated_tail = true;
      break;
    }
    if (row.is_discarded() || !row.is_object()) {
      throw input_error(path_for_errors, line_number, "", "not a JSON object");
    }
    file.rows.push_back(std::move(row));
    file.valid_bytes = next_start;
    line_start = next_start;
  }
  return file;
}

PointsFile read_points_jsonl(const std::string& path) {
  return parse_points_jsonl(read_text_file(path), path);
}

std::string points_jsonl_line(const Row& row) {
  return finite_or_null(row).dump(-1, ' ', false, Row::error_handler_t::replace) + "\n";
}

}  // namespace unisparse
