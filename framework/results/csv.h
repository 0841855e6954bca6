#pragma once
// points.csv: the rows of points.jsonl as a table. Columns are README.md's list (Results), in that
// order, then every other key that any row carries, sorted. Null and missing values are empty
// cells.
#include <string>
#include <vector>

#include "framework/results/row.h"

namespace unisparse {

// The columns every points.csv carries, in order (README.md, Results).
const std::vector<std::string>& csv_columns();

// RFC 4180 quoting: a field holding a comma, quote, CR or LF is wrapped in quotes, inner quotes
// doubled; any other field is returned unchanged.
std::string csv_escape(const std::string& field);

// The unescaped text of one cell: "" for null, the string itself, true/false, the shortest
// round-tripping decimal for numbers, compact JSON for arrays and objects.
std::string csv_cell(const Row& value);

// csv_columns(), then the keys of rows outside that list, sorted.
std::vector<std::string> csv_header(const std::vector<Row>& rows);

// The whole file: header line, then one line per row, each line ending in "\n".
std::string format_csv(const std::vector<Row>& rows);

}  // namespace unisparse
