#include "framework/results/points_file.h"

#include <gtest/gtest.h>

namespace unisparse {
namespace {

TEST(PointsFile, ReadsOneObjectPerLineAndSkipsBlankLines) {
  const std::string text = "{\"a\":1}\n\n{\"a\":2}\n";
  const PointsFile file = parse_points_jsonl(text, "points.jsonl");
  ASSERT_EQ(file.rows.size(), 2u);
  EXPECT_EQ(file.rows[1]["a"], 2);
  EXPECT_EQ(file.valid_bytes, text.size());
  EXPECT_FALSE(file.had_truncated_tail);
}

TEST(PointsFile, ALastLineWithoutNewlineIsATruncatedTail) {
  const std::string complete = "{\"a\":1}\n";
  for (const std::string tail : {"{\"a\":", "{\"a\":2}"}) {
    const PointsFile file = parse_points_jsonl(complete + tail, "points.jsonl");
    EXPECT_EQ(file.rows.size(), 1u) << tail;
    EXPECT_TRUE(file.had_truncated_tail) << tail;
    EXPECT_EQ(file.valid_bytes, complete.size()) << tail;
  }
}

TEST(PointsFile, ABadCompleteLineNamesItsLine) {
  try {
    parse_points_jsonl("{\"a\":1}\n[1,2]\n{\"a\":3}\n", "run/points.jsonl");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "run/points.jsonl:2: not a JSON object");
  }
  EXPECT_THROW(parse_points_jsonl("{\"a\":\n{\"a\":3}\n", "p"), std::runtime_error);
}

TEST(PointsFile, EmptyTextHasNoRows) {
  const PointsFile file = parse_points_jsonl("", "p");
  EXPECT_TRUE(file.rows.empty());
  EXPECT_EQ(file.valid_bytes, 0u);
}

}  // namespace
}  // namespace unisparse
