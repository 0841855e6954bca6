#include "framework/results/csv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/results/csv_reader.h"

namespace unisparse {
namespace {

using testing_support::parse_csv;

TEST(CsvColumns, StartWithTheDesignListInOrder) {
  const std::vector<std::string> expected_prefix = {"sweep",
                                                    "point_id",
                                                    "status",
                                                    "reason",
                                                    "phase",
                                                    "backend",
                                                    "mode",
                                                    "model",
                                                    "workload",
                                                    "context_len",
                                                    "batch",
                                                    "num_q_heads",
                                                    "num_kv_heads",
                                                    "head_dim",
                                                    "dtype",
                                                    "kv_dtype",
                                                    "page_size",
                                                    "logical_page_size",
                                                    "token_budget",
                                                    "reuse_interval",
                                                    "streaming_fraction",
                                                    "sink_tokens",
                                                    "local_tokens",
                                                    "block_size",
                                                    "gqa_selection",
                                                    "out_rel_l2_mean",
                                                    "out_rel_l2_p99",
                                                    "out_rel_l2_max",
                                                    "attn_recall",
                                                    "page_recall",
                                                    "needle_hit",
                                                    "time_us",
                                                    "time_us_min",
                                                    "time_us_max",
                                                    "time_stats_us",
                                                    "time_selector_us",
                                                    "time_topk_us",
                                                    "time_attention_us",
                                                    "time_merge_us",
                                                    "bytes_model",
                                                    "flops_model",
                                                    "achieved_gbps",
                                                    "achieved_tflops",
                                                    "device"};
  EXPECT_EQ(csv_columns(), expected_prefix);
}

TEST(CsvHeader, ExtraKeysFollowSortedAndOnce) {
  Row first = {{"zeta", 1}, {"page_size", 64}, {"point_key", "a|cpu"}};
  Row second = {{"alpha", 2}, {"zeta", 3}};
  const std::vector<std::string> header = csv_header({first, second});
  const size_t standard = csv_columns().size();
  ASSERT_EQ(header.size(), standard + 3);
  EXPECT_TRUE(std::equal(csv_columns().begin(), csv_columns().end(), header.begin()));
  EXPECT_EQ(header[standard], "alpha");
  EXPECT_EQ(header[standard + 1], "point_key");
  EXPECT_EQ(header[standard + 2], "zeta");
}

TEST(CsvEscape, PlainFieldsAreUnchanged) {
  EXPECT_EQ(csv_escape(""), "");
  EXPECT_EQ(csv_escape("page_size=64; budget 4096"), "page_size=64; budget 4096");
}

TEST(CsvEscape, QuotesCommasQuotesAndNewlines) {
  EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_escape("line1\nline2"), "\"line1\nline2\"");
  EXPECT_EQ(csv_escape("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(csv_escape("\""), "\"\"\"\"");
}

TEST(CsvEscape, RoundTripsThroughAnIndependentReader) {
  const std::vector<std::string> fields = {
      "plain", "a,b", "say \"hi\", twice", "multi\nline,\"x\"", "", ",", "\"\""};
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += csv_escape(fields[i]);
  }
  line += '\n';
  const auto records = parse_csv(line);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0], fields);
}

TEST(CsvCell, FormatsEachJsonKind) {
  EXPECT_EQ(csv_cell(Row(nullptr)), "");
  EXPECT_EQ(csv_cell(Row("cuda")), "cuda");
  EXPECT_EQ(csv_cell(Row(true)), "true");
  EXPECT_EQ(csv_cell(Row(4099)), "4099");
  EXPECT_EQ(csv_cell(Row(-7)), "-7");
  EXPECT_EQ(csv_cell(Row(0.1)), "0.1");
  EXPECT_EQ(std::stod(csv_cell(Row(1.0 / 3.0))), 1.0 / 3.0);  // round-trips exactly
  EXPECT_EQ(csv_cell(Row::array({1, 2})), "[1,2]");
}

TEST(CsvCell, NonFiniteNumbersAreEmpty) {
  EXPECT_EQ(csv_cell(Row(std::numeric_limits<double>::quiet_NaN())), "");
  EXPECT_EQ(csv_cell(Row(std::numeric_limits<double>::infinity())), "");
  EXPECT_EQ(csv_cell(Row(-std::numeric_limits<double>::infinity())), "");
}

TEST(FormatCsv, MissingNullAndNaNValuesAreEmptyCells) {
  Row row = {{"sweep", "odd sizes"},
             {"status", "ok"},
             {"reason", nullptr},
             {"page_size", 7},
             {"out_rel_l2_mean", std::numeric_limits<double>::quiet_NaN()},
             {"time_us", 12.5}};
  const auto records = parse_csv(format_csv({row}));
  ASSERT_EQ(records.size(), 2u);
  const auto& header = records[0];
  const auto& cells = records[1];
  ASSERT_EQ(header.size(), cells.size());
  auto cell = [&](const std::string& column) {
    const auto at = std::find(header.begin(), header.end(), column);
    EXPECT_NE(at, header.end()) << column;
    return cells[at - header.begin()];
  };
  EXPECT_EQ(cell("sweep"), "odd sizes");
  EXPECT_EQ(cell("status"), "ok");
  EXPECT_EQ(cell("reason"), "");
  EXPECT_EQ(cell("page_size"), "7");
  EXPECT_EQ(cell("out_rel_l2_mean"), "");
  EXPECT_EQ(cell("time_us"), "12.5");
  EXPECT_EQ(cell("needle_hit"), "");  // absent from the row
}

TEST(FormatCsv, NoRowsIsAHeaderLine) {
  const std::string text = format_csv({});
  EXPECT_EQ(text.substr(0, 15), "sweep,point_id,");
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

}  // namespace
}  // namespace unisparse
