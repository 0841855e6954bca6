// Fuzzes the points.jsonl reader that `run --resume` uses: parse_points_jsonl on fuzzed text, then
// what a resume does with the rows it keeps (points.csv is rebuilt from them). Bad input must be an
// InputError (the CLI's exit 2); any other exception, a crash or a sanitizer report is a finding,
// and so is a kept prefix that does not end at a line boundary.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "framework/core/error.h"
#include "framework/results/csv.h"
#include "framework/results/points_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  unisparse::PointsFile points;
  try {
    points = unisparse::parse_points_jsonl(text, "points.jsonl");
  } catch (const unisparse::InputError&) {
    return 0;
  }
  // A resume truncates the file to valid_bytes: that must be whole lines of the input.
  if (points.valid_bytes > text.size() ||
      (points.valid_bytes > 0 && text[points.valid_bytes - 1] != '\n'))
    std::abort();
  unisparse::format_csv(points.rows);
  return 0;
}
