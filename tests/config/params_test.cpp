// The parameter table, value text and "did you mean" hints.
#include "framework/config/params.h"

#include <gtest/gtest.h>

#include <set>

#include "framework/config/suggest.h"
#include "framework/config/value_text.h"

namespace unisparse {
namespace {

TEST(ParamsTest, EveryParameterHasARoleALabelAndAShortName) {
  for (const Param& param : params()) {
    EXPECT_FALSE(param.label.empty()) << param.key;
    EXPECT_FALSE(param.short_name.empty()) << param.key;
    EXPECT_FALSE(to_string(param.role).empty()) << param.key;
  }
}

// Which points can share a workload follows from the roles: the tensors change with the context or
// a generator knob, not with the page geometry, the scoring or the timing.
TEST(ParamsTest, OnlyWorkloadRoleParametersChangeTheWorkload) {
  for (const char* key : {"context_len", "batch", "seed", "dtype", "streaming_fraction",
                          "decode_steps", "workload.sink_strength", "phase", "num_q_heads"})
    EXPECT_TRUE(changes_workload(key)) << key;
  for (const char* key : {"page_size", "logical_page_size", "token_budget", "reuse_interval",
                          "gqa_selection", "mode", "kv_dtype", "block_size", "reference_batches",
                          "reference_rows", "timing.warmup", "timing.l2_flush", "no_such_key"})
    EXPECT_FALSE(changes_workload(key)) << key;
}

TEST(ParamsTest, RegisteringAParameterAddsItAndRefusesATakenKey) {
  const size_t before = params().size();
  EXPECT_THROW(register_param(*find_param("page_size")), std::invalid_argument);
  EXPECT_EQ(params().size(), before);
}

TEST(ParamsTest, KeysAreUniqueAndCoverTheResultsColumns) {
  std::set<std::string> keys;
  for (const Param& param : params()) EXPECT_TRUE(keys.insert(param.key).second) << param.key;
  for (const char* column : {"phase",
                             "mode",
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
                             "cache_fill",
                             "decode_steps",
                             "seed",
                             "reference_batches",
                             "reference_rows",
                             "workload.needle_strength",
                             "workload.needle_depths",
                             "timing.warmup",
                             "timing.l2_flush"})
    EXPECT_TRUE(keys.contains(column)) << column;
}

TEST(ParamsTest, EveryValueReadsBackFromItsText) {
  PointConfig point;
  point.workload.knobs.needle_depths = {0.1, 1.0 / 3.0};
  point.streaming_fraction = 0.3;
  PointConfig copy;
  for (const Param& param : params()) param.set(copy, param.get(point));
  EXPECT_EQ(describe(copy), describe(point));
  EXPECT_EQ(copy.workload.knobs.needle_depths, point.workload.knobs.needle_depths);
  EXPECT_EQ(copy.streaming_fraction, 0.3);
}

TEST(ParamsTest, DescribeListsEveryParameterAfterTheIdentity) {
  PointConfig point;
  point.model = "tiny";
  point.workload.name = "needle";
  point.backend = "cuda";
  const auto row = describe(point);
  ASSERT_EQ(row.size(), params().size() + 5);
  EXPECT_EQ(row[0], (std::pair<std::string, std::string>{"model", "tiny"}));
  EXPECT_EQ(row[1].second, "needle");
  EXPECT_EQ(row[2].second, "");  // no trace
  EXPECT_EQ(row[4].second, "cuda");
  for (size_t i = 0; i < params().size(); ++i) EXPECT_EQ(row[5 + i].first, params()[i].key);
}

TEST(ParamsTest, SetParamWritesTheField) {
  PointConfig point;
  set_param(point, "page_size", "128");
  set_param(point, "mode", "dynamic");
  set_param(point, "kv_dtype", "int4");
  set_param(point, "workload.needle_depths", "[0.5, 0.75]");
  set_param(point, "workload.needle_strength", "12.5");
  set_param(point, "timing.l2_flush", "false");
  set_param(point, "seed", "18446744073709551615");
  set_param(point, "cache_fill", "prefill");
  EXPECT_EQ(point.page_size, 128);
  EXPECT_EQ(point.mode, SparsityMode::dynamic_only);
  EXPECT_EQ(point.kv_dtype, DType::int4);
  EXPECT_EQ(point.workload.knobs.needle_depths, (std::vector<double>{0.5, 0.75}));
  EXPECT_EQ(point.workload.knobs.needle_strength, 12.5);
  EXPECT_FALSE(point.timing.l2_flush);
  EXPECT_EQ(point.seed, UINT64_MAX);
  EXPECT_EQ(point.cache_fill, CacheFill::prefill);
}

TEST(ParamsTest, SetParamRejectsBadValuesAndUnknownKeys) {
  PointConfig point;
  EXPECT_THROW(set_param(point, "page_size", "96"), ParamValueError);
  EXPECT_THROW(set_param(point, "page_size", "64.0"), ParamValueError);
  EXPECT_THROW(set_param(point, "context_len", "0"), ParamValueError);
  EXPECT_THROW(set_param(point, "decode_steps", "-1"), ParamValueError);
  EXPECT_THROW(set_param(point, "streaming_fraction", "-0.01"), ParamValueError);
  EXPECT_THROW(set_param(point, "streaming_fraction", "nan"), ParamValueError);
  EXPECT_THROW(set_param(point, "workload.query_drift", "1.5"), ParamValueError);
  EXPECT_THROW(set_param(point, "kv_dtype", "int2"), ParamValueError);
  EXPECT_THROW(set_param(point, "timing.l2_flush", "yes"), ParamValueError);
  EXPECT_THROW(set_param(point, "cache_fill", "Prefill"), ParamValueError);
  EXPECT_THROW(set_param(point, "cache_fill", ""), ParamValueError);
  try {
    set_param(point, "logical_page_sz", "16");
    FAIL() << "no error";
  } catch (const ParamValueError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'logical_page_size'?"), std::string::npos);
  }
  EXPECT_EQ(point.page_size, PointConfig{}.page_size);  // a rejected value leaves the field alone
}

TEST(ParamsTest, CacheFillDefaultsToUploadAndSaysTheCpuBackendIgnoresIt) {
  const Param* cache_fill = find_param("cache_fill");
  ASSERT_NE(cache_fill, nullptr);
  EXPECT_EQ(cache_fill->get(PointConfig{}), "upload");
  const std::string& description = cache_fill->description;
  EXPECT_NE(description.find("upload | prefill"), std::string::npos) << description;
  EXPECT_NE(description.find("cpu backend ignores it"), std::string::npos) << description;
  PointConfig point;
  try {
    set_param(point, "cache_fill", "prefil");
    FAIL() << "no error";
  } catch (const ParamValueError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'prefill'?"), std::string::npos) << e.what();
  }
  EXPECT_EQ(point.cache_fill, CacheFill::upload);
}

TEST(ValueTextTest, Numbers) {
  EXPECT_EQ(parse_int64("+42"), 42);
  EXPECT_EQ(parse_int64("-7"), -7);
  EXPECT_THROW(parse_int64(""), ParamValueError);
  EXPECT_THROW(parse_int64("4k"), ParamValueError);
  EXPECT_THROW(parse_int64("99999999999999999999"), ParamValueError);
  EXPECT_EQ(parse_number("1e-3"), 1e-3);
  EXPECT_EQ(parse_number("3"), 3.0);
  EXPECT_THROW(parse_number("inf"), ParamValueError);
  EXPECT_EQ(format_number(2.0), "2.0");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(parse_number(format_number(1.0 / 3.0)), 1.0 / 3.0);
  EXPECT_EQ(parse_number(format_number(1e-300)), 1e-300);
}

TEST(ValueTextTest, NumberLists) {
  EXPECT_TRUE(parse_number_list("[]").empty());
  EXPECT_EQ(parse_number_list(" [0.25,0.5 , 1] "), (std::vector<double>{0.25, 0.5, 1.0}));
  EXPECT_THROW(parse_number_list("0.5"), ParamValueError);
  EXPECT_THROW(parse_number_list("[0.5,]"), ParamValueError);
  EXPECT_THROW(parse_number_list("[0.5, x]"), ParamValueError);
  EXPECT_EQ(format_number_list({0.25, 3.0}), "[0.25, 3.0]");
}

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(edit_distance("", "abc"), 3);
  EXPECT_EQ(edit_distance("page_size", "page_size"), 0);
  EXPECT_EQ(edit_distance("page_sise", "page_size"), 1);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
}

TEST(SuggestTest, ClosestWithinTwoEdits) {
  const std::vector<std::string> keys{"page_size", "logical_page_size", "workload.needle_strength"};
  EXPECT_EQ(closest_match("pagesize", keys), "page_size");
  EXPECT_EQ(closest_match("logical_pge_sze", keys), "logical_page_size");
  EXPECT_EQ(closest_match("needle_strength", keys), "workload.needle_strength");
  EXPECT_EQ(closest_match("colour", keys), "");
  EXPECT_EQ(did_you_mean("colour", keys), "");
  EXPECT_EQ(did_you_mean("page_sze", keys), " (did you mean 'page_size'?)");
}

}  // namespace
}  // namespace unisparse
