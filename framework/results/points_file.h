#pragma once
// Reading points.jsonl back: one JSON object per line. A run killed mid-write can leave a partial
// last line; it is reported and dropped (that point reruns on resume). Any other bad line is an
// error.
#include <string>
#include <vector>

#include "framework/results/row.h"

namespace unisparse {

struct PointsFile {
  std::vector<Row> rows;
  // Byte length of the complete lines; a truncated tail starts here.
  size_t valid_bytes = 0;
  bool had_truncated_tail = false;
};

// Throws InputError ("path:line: ...", bad input: the CLI exits with 2) for a line that is not a
// JSON object, unless it is the last line and lacks its newline.
PointsFile parse_points_jsonl(const std::string& text, const std::string& path_for_errors);

PointsFile read_points_jsonl(const std::string& path);

// The line a row is written as: compact JSON ending in a newline, NaN and infinities as null.
std::string points_jsonl_line(const Row& row);

}  // namespace unisparse
