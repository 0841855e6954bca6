#include "framework/results/plan_export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "framework/core/error.h"
#include "framework/workload/safetensors.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

using testing_support::ScratchDir;

// A workload with only the fields the export reads: shape, batch, lengths, heads.
Workload shaped_workload(int batch, int context_len, int steps) {
  Workload workload;
  workload.name = "export_test";
  workload.seed = 17;
  workload.shape = {6, 2, 8};
  workload.heads.kv_head_kind = {HeadKind::dense, HeadKind::streaming};
  workload.heads.sink_tokens = 5;
  workload.heads.local_tokens = 20;
  workload.context_len = context_len;
  workload.decode_steps = steps;
  workload.batch.resize(batch);
  return workload;
}

DecodePlan decode_plan(const Workload& workload) {
  DecodePlan plan;
  plan.mode = SparsityMode::static_dynamic;
  plan.heads = workload.heads;
  plan.geometry = {16, 4};
  plan.policy = {48, 2, GqaSelection::kv_head_max};
  return plan;
}

// Random ascending page subsets (some rows empty, some full) for every step.
DecodeSelections random_selections(const Workload& workload, int page_size, uint32_t seed) {
  std::mt19937 random(seed);
  DecodeSelections selections;
  const int rows = workload.batch_size() * workload.shape.num_q_heads;
  for (int step = 0; step < workload.decode_steps; ++step) {
    const int num_pages = static_cast<int>(ceil_div(workload.tokens_at_step(step), page_size));
    Csr pages;
    for (int row = 0; row < rows; ++row) {
      std::vector<int32_t> ids;
      const int keep_one_in = 1 + row % 3;  // row 0, 3, ...: every page
      for (int page = 0; page < num_pages; ++page)
        if (row % 5 != 4 && random() % keep_one_in == 0) ids.push_back(page);
      pages.append_row(ids);
    }
    selections.push_back(pages);
  }
  return selections;
}

// Checks the FlexAttention arrays against the CSR: one count per row, ids then zero padding.
void expect_block_mask_matches(SafetensorsReader& reader, const std::string& prefix,
                               const Csr& expected, const std::vector<int64_t>& row_shape,
                               int width) {
  std::vector<int64_t> indices_shape = row_shape;
  indices_shape.push_back(width);
  ASSERT_EQ(reader.entry(prefix + "kv_num_blocks").shape, row_shape) << prefix;
  ASSERT_EQ(reader.entry(prefix + "kv_indices").shape, indices_shape) << prefix;
  const std::vector<int32_t> num_blocks = reader.read_int32(prefix + "kv_num_blocks");
  const std::vector<int32_t> indices = reader.read_int32(prefix + "kv_indices");
  for (int row = 0; row < expected.rows(); ++row) {
    const std::span<const int32_t> ids = expected.row(row);
    ASSERT_EQ(num_blocks[row], static_cast<int32_t>(ids.size())) << prefix << " row " << row;
    for (int i = 0; i < width; ++i) {
      const int32_t want = i < static_cast<int>(ids.size()) ? ids[i] : 0;
      ASSERT_EQ(indices[static_cast<size_t>(row) * width + i], want)
          << prefix << " row " << row << " slot " << i;
    }
  }
}

Csr read_csr(SafetensorsReader& reader, const std::string& prefix) {
  Csr csr;
  csr.indptr = reader.read_int32(prefix + "indptr");
  csr.indices = reader.read_int32(prefix + "indices");
  return csr;
}

TEST(PlanExport, DecodeRoundTripKeepsCsrPaddingAndMetadata) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "decode.safetensors").string();
  const Workload workload = shaped_workload(2, 101, 3);
  const DecodePlan plan = decode_plan(workload);
  DecodeRun run;
  run.selections = random_selections(workload, plan.geometry.physical_page_size, 5);

  export_decode_plan(path, workload, plan, run);

  SafetensorsReader reader(path);
  for (int step = 0; step < workload.decode_steps; ++step) {
    const std::string prefix = "decode.step" + std::to_string(step) + ".";
    EXPECT_EQ(reader.entry(prefix + "indptr").dtype, "I32");
    EXPECT_EQ(read_csr(reader, prefix), run.selections[step]) << prefix;
    // 101 + step + 1 tokens in 16-token pages: 7 pages at every step here.
    expect_block_mask_matches(reader, prefix, run.selections[step], {2, 6, 1}, 7);
  }
  EXPECT_FALSE(reader.contains("decode.step3.indptr"));

  const auto& metadata = reader.metadata();
  const std::map<std::string, std::string> expected{
      {"plan", "decode"},          {"page_size", "16"},        {"logical_page_size", "4"},
      {"token_budget", "48"},      {"reuse_interval", "2"},    {"gqa_selection", "kv_head_max"},
      {"mode", std::string(to_string(SparsityMode::static_dynamic))},
      {"batch", "2"},              {"num_q_heads", "6"},       {"num_kv_heads", "2"},
      {"steps", "3"},              {"context_len", "101"},     {"sink_tokens", "5"},
      {"local_tokens", "20"},      {"kv_head_kinds", "dense,streaming"},
      {"workload", "export_test"}, {"seed", "17"}};
  for (const auto& [key, value] : expected) {
    ASSERT_TRUE(metadata.contains(key)) << key;
    EXPECT_EQ(metadata.at(key), value) << key;
  }
}

TEST(PlanExport, DecodeWidthGrowsWhenAStepOpensAPage) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "decode.safetensors").string();
  // 31 prefill tokens in 16-token pages: step 0 has 32 tokens (2 pages), step 1 has 33 (3 pages).
  const Workload workload = shaped_workload(1, 31, 2);
  const DecodePlan plan = decode_plan(workload);
  DecodeRun run;
  run.selections = random_selections(workload, 16, 9);
  export_decode_plan(path, workload, plan, run);

  SafetensorsReader reader(path);
  EXPECT_EQ(reader.entry("decode.step0.kv_indices").shape, (std::vector<int64_t>{1, 6, 1, 2}));
  EXPECT_EQ(reader.entry("decode.step1.kv_indices").shape, (std::vector<int64_t>{1, 6, 1, 3}));
  expect_block_mask_matches(reader, "decode.step1.", run.selections[1], {1, 6, 1}, 3);
}

TEST(PlanExport, DecodeRejectsSelectionsThatDoNotFitTheWorkload) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "decode.safetensors").string();
  const Workload workload = shaped_workload(1, 40, 1);  // 41 tokens: pages 0..2
  const DecodePlan plan = decode_plan(workload);
  const auto run_with_row0 = [&](std::vector<int32_t> row0) {
    DecodeRun run;
    run.selections.resize(1);
    run.selections[0].append_row(row0);
    for (int row = 1; row < workload.shape.num_q_heads; ++row) run.selections[0].append_row({});
    return run;
  };
  EXPECT_NO_THROW(export_decode_plan(path, workload, plan, run_with_row0({0, 2})));
  EXPECT_THROW(export_decode_plan(path, workload, plan, run_with_row0({2, 0})),
               std::invalid_argument);
  EXPECT_THROW(export_decode_plan(path, workload, plan, run_with_row0({1, 1})),
               std::invalid_argument);
  EXPECT_THROW(export_decode_plan(path, workload, plan, run_with_row0({3})), std::invalid_argument);
  DecodeRun short_run = run_with_row0({0});
  short_run.selections[0].indptr.pop_back();
  short_run.selections[0].indices.resize(short_run.selections[0].indptr.back());
  EXPECT_THROW(export_decode_plan(path, workload, plan, short_run), std::invalid_argument);
}

// The trusted path: a KV block is active for a query block when any token pair in them is visible.
Csr brute_force_prefill_blocks(const PrefillPlan& plan, int num_tokens) {
  const int num_blocks = static_cast<int>(ceil_div(num_tokens, plan.block_size));
  Csr active;
  for (size_t q_head = 0; q_head < plan.head_mode.size(); ++q_head) {
    for (int q_block = 0; q_block < num_blocks; ++q_block) {
      const PrefillHeadMode mode = plan.head_mode[q_head];
      if (mode == PrefillHeadMode::block_list) {
        active.append_row(plan.blocks.row(static_cast<int>(q_head) * num_blocks + q_block));
        continue;
      }
      std::vector<int32_t> blocks;
      for (int kv_block = 0; kv_block < num_blocks; ++kv_block) {
        bool any_visible = false;
        for (int query = q_block * plan.block_size;
             query < std::min((q_block + 1) * plan.block_size, num_tokens); ++query)
          for (int key = kv_block * plan.block_size;
               key < std::min((kv_block + 1) * plan.block_size, num_tokens); ++key)
            any_visible = any_visible ||
                          (key <= query && (mode == PrefillHeadMode::dense_causal ||
                                            key < plan.sink_tokens ||
                                            query - key < plan.local_tokens));
        if (any_visible) blocks.push_back(kv_block);
      }
      active.append_row(blocks);
    }
  }
  return active;
}

PrefillPlan mixed_prefill_plan(int num_tokens, int block_size, int sink, int local) {
  PrefillPlan plan;
  plan.block_size = block_size;
  plan.sink_tokens = sink;
  plan.local_tokens = local;
  plan.head_mode = {PrefillHeadMode::dense_causal, PrefillHeadMode::streaming,
                    PrefillHeadMode::block_list,   PrefillHeadMode::streaming,
                    PrefillHeadMode::dense_causal, PrefillHeadMode::block_list};
  const int num_blocks = static_cast<int>(ceil_div(num_tokens, block_size));
  std::mt19937 random(23);
  for (size_t q_head = 0; q_head < plan.head_mode.size(); ++q_head)
    for (int q_block = 0; q_block < num_blocks; ++q_block) {
      std::vector<int32_t> blocks;
      if (plan.head_mode[q_head] == PrefillHeadMode::block_list)
        for (int kv_block = 0; kv_block <= q_block; ++kv_block)
          if (kv_block == q_block || random() % 2 == 0) blocks.push_back(kv_block);
      plan.blocks.append_row(blocks);
    }
  return plan;
}

TEST(PlanExport, PrefillMaterialisesCausalAndStreamingBlocks) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "prefill.safetensors").string();
  // Odd sizes: a partial last block, a sink and a window that end inside blocks.
  for (const auto& [num_tokens, block_size, sink, local] :
       std::vector<std::tuple<int, int, int, int>>{{333, 32, 40, 70}, {97, 16, 0, 1}, {64, 64, 3, 5},
                                                   {50, 7, 100, 9}}) {
    SCOPED_TRACE("T=" + std::to_string(num_tokens) + " block=" + std::to_string(block_size));
    const Workload workload = shaped_workload(1, num_tokens, 0);
    const PrefillPlan plan = mixed_prefill_plan(num_tokens, block_size, sink, local);
    export_prefill_plan(path, workload, plan);

    const int num_blocks = static_cast<int>(ceil_div(num_tokens, block_size));
    const Csr expected = brute_force_prefill_blocks(plan, num_tokens);
    SafetensorsReader reader(path);
    const Csr written = read_csr(reader, "prefill.");
    ASSERT_EQ(written.rows(), 6 * num_blocks);
    for (int row = 0; row < written.rows(); ++row) {
      const auto got = written.row(row);
      const auto want = expected.row(row);
      ASSERT_EQ(std::vector<int32_t>(got.begin(), got.end()),
                std::vector<int32_t>(want.begin(), want.end()))
          << "q_head " << row / num_blocks << " q_block " << row % num_blocks;
    }
    expect_block_mask_matches(reader, "prefill.", expected, {1, 6, num_blocks}, num_blocks);

    const auto& metadata = reader.metadata();
    EXPECT_EQ(metadata.at("plan"), "prefill");
    EXPECT_EQ(metadata.at("block_size"), std::to_string(block_size));
    EXPECT_EQ(metadata.at("context_len"), std::to_string(num_tokens));
    EXPECT_EQ(metadata.at("num_q_blocks"), std::to_string(num_blocks));
    EXPECT_EQ(metadata.at("sink_tokens"), std::to_string(sink));
    EXPECT_EQ(metadata.at("local_tokens"), std::to_string(local));
    EXPECT_EQ(metadata.at("head_modes"),
              "dense_causal,streaming,block_list,streaming,dense_causal,block_list");
  }
}

TEST(PlanExport, PrefillRejectsABlockListThatDoesNotFit) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "prefill.safetensors").string();
  const Workload workload = shaped_workload(1, 100, 0);
  PrefillPlan plan = mixed_prefill_plan(100, 32, 4, 16);
  plan.blocks.append_row(std::vector<int32_t>{0});  // one row too many
  EXPECT_THROW(export_prefill_plan(path, workload, plan), std::invalid_argument);

  plan = mixed_prefill_plan(100, 32, 4, 16);
  plan.blocks.indices[plan.blocks.indptr[2 * 4 + 3]] = 4;  // past the 4 blocks
  EXPECT_THROW(export_prefill_plan(path, workload, plan), std::invalid_argument);

  plan = mixed_prefill_plan(100, 32, 4, 16);
  plan.head_mode.pop_back();
  EXPECT_THROW(export_prefill_plan(path, workload, plan), std::invalid_argument);
}

TEST(PlanExport, IndexArraysAreNotReadAsFloats) {
  ScratchDir scratch;
  std::filesystem::create_directories(scratch.path());
  const std::string path = (scratch.path() / "prefill.safetensors").string();
  const Workload workload = shaped_workload(1, 10, 0);
  export_prefill_plan(path, workload, mixed_prefill_plan(10, 4, 1, 2));
  SafetensorsReader reader(path);
  EXPECT_THROW(reader.read("prefill.indices"), InputError);
}

}  // namespace
}  // namespace unisparse
