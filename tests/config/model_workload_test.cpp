// Model and workload files: strict loading, and every committed config and sweep loads.
#include <gtest/gtest.h>

#include <filesystem>

#include "framework/config/model_config.h"
#include "framework/config/sweep_config.h"
#include "framework/config/workload_config.h"
#include "tests/common/committed_sweeps.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;
using testing::repo_configs_dir;
using testing::ScratchDir;

std::vector<std::filesystem::path> yaml_files_under(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  if (!std::filesystem::exists(dir)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ModelFileTest, LoadsTheShape) {
  const ModelConfig model = load_model_file(repo_configs_dir() + "/models/llama3-8b.yaml");
  EXPECT_EQ(model.name, "llama3-8b");
  EXPECT_EQ(model.shape.num_q_heads, 32);
  EXPECT_EQ(model.shape.num_kv_heads, 8);
  EXPECT_EQ(model.shape.head_dim, 128);
  const ModelConfig tiny = load_model_file(repo_configs_dir() + "/models/tiny.yaml");
  EXPECT_EQ(tiny.shape.num_q_heads, 4);
  EXPECT_EQ(tiny.shape.num_kv_heads, 2);
  EXPECT_EQ(tiny.shape.head_dim, 64);
}

TEST(ModelFileTest, Errors) {
  ScratchDir dir;
  const std::string good = "name: m\nnum_q_heads: 6\nnum_kv_heads: 3\nhead_dim: 64\n";
  EXPECT_EQ(load_model_file(dir.write("m.yaml", good)).shape.group_size(), 2);

  std::string path =
      dir.write("m.yaml", "name: m\nnum_q_heads: 6\nnum_kv_heads: many\nhead_dim: 64\n");
  expect_contains(input_error_of([&] { load_model_file(path); }),
                  {path + ":3:", "key 'num_kv_heads'", "expected an integer"});
  path = dir.write("m.yaml", "name: m\nnum_q_heads: 6\nnum_kv_heads: 4\nhead_dim: 64\n");
  expect_contains(input_error_of([&] { load_model_file(path); }),
                  {path, "key 'num_q_heads'", "not a multiple of num_kv_heads 4"});
  path = dir.write("m.yaml", "name: m\nnum_q_heads: 6\nnum_kv_heads: 3\nhead_dims: 64\n");
  expect_contains(input_error_of([&] { load_model_file(path); }),
                  {path + ":4:", "key 'head_dims'", "did you mean 'head_dim'?"});
  path = dir.write("m.yaml", "name: m\nnum_q_heads: 6\nnum_kv_heads: 3\n");
  expect_contains(input_error_of([&] { load_model_file(path); }),
                  {"key 'head_dim'", "missing key"});
  path = dir.write("m.yaml", "name: other\nnum_q_heads: 6\nnum_kv_heads: 3\nhead_dim: 64\n");
  expect_contains(input_error_of([&] { load_model_file(path); }),
                  {path + ":1:", "key 'name'", "does not match the file name"});
}

TEST(WorkloadFileTest, NeedleNamesEveryKnob) {
  const std::string path = repo_configs_dir() + "/workloads/needle.yaml";
  const YAML::Node root = YAML::LoadFile(path);
  for (const std::string& knob : knob_keys()) EXPECT_TRUE(root["knobs"][knob]) << knob;
  const WorkloadSpec spec = load_workload_file(path);
  EXPECT_EQ(spec.name, "needle");
  EXPECT_EQ(spec.knobs.needle_depths.size(), 3u);
}

TEST(WorkloadFileTest, UnknownKnobNamesTheWorkloadFile) {
  ScratchDir dir;
  const std::string path =
      dir.write("w.yaml", "name: w\nknobs:\n  sink_strength: 1.0\n  needle_strenght: 2.0\n");
  expect_contains(input_error_of([&] { load_workload_file(path); }),
                  {path + ":4:", "key 'knobs.needle_strenght'", "did you mean 'needle_strength'?"});
  const std::string bad_value = dir.write("w.yaml", "name: w\nknobs:\n  query_drift: 2\n");
  expect_contains(input_error_of([&] { load_workload_file(bad_value); }),
                  {bad_value + ":3:", "key 'knobs.query_drift'", "in [0.0, 1.0]"});
}

TEST(CommittedConfigsTest, EveryModelAndWorkloadLoads) {
  const std::filesystem::path configs = repo_configs_dir();
  const auto models = yaml_files_under(configs / "models");
  const auto workloads = yaml_files_under(configs / "workloads");
  EXPECT_GE(models.size(), 4u);
  EXPECT_GE(workloads.size(), 3u);
  for (const auto& file : models) EXPECT_NO_THROW(load_model_file(file.string())) << file;
  for (const auto& file : workloads) EXPECT_NO_THROW(load_workload_file(file.string())) << file;
  // Other config folders (devices/, ...) have their own schemas; they must at least be valid YAML.
  for (const auto& file : yaml_files_under(configs))
    EXPECT_NO_THROW(load_yaml_file(file.string())) << file;
}

TEST(CommittedConfigsTest, EverySweepLoads) {
  const auto sweeps = yaml_files_under(testing::source_dir() + "/sweeps");
  EXPECT_FALSE(sweeps.empty());
  ScratchDir scratch;
  for (const auto& file : sweeps) {
    try {
      const SweepConfig sweep = testing::load_committed_sweep(file, scratch);
      EXPECT_EQ(sweep.name, file.stem().string()) << "a sweep's name is its file name";
    } catch (const InputError& error) {
      ADD_FAILURE() << error.what();
    }
  }
}

}  // namespace
}  // namespace unisparse
