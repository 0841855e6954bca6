// A sweep that names no workload runs the default one, records it in its resolved config, and a
// workload override still replaces it.
#include <gtest/gtest.h>

#include <string>

#include "framework/config/sweep_config.h"
#include "framework/config/workload_config.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

constexpr const char* kWithoutWorkload = R"(name: defaults
model: tiny
phase: decode
backends: [cpu]
fixed: {context_len: 256, decode_steps: 2}
)";

TEST(DefaultWorkload, ASweepWithoutAWorkloadRunsTheDefault) {
  testing::ScratchDir dir;
  const std::string path = dir.write("sweep.yaml", kWithoutWorkload);
  const SweepConfig sweep = load_sweep(path, {}, testing::repo_configs_dir());
  EXPECT_EQ(sweep.base.workload.name, std::string(kDefaultWorkload));
  EXPECT_TRUE(sweep.base.workload.trace_path.empty());
  EXPECT_NE(sweep.resolved_yaml.find("workload: " + std::string(kDefaultWorkload)),
            std::string::npos)
      << sweep.resolved_yaml;
  // The default's knobs are the workload file's, as if the sweep had named it.
  const std::string named = dir.write(
      "named.yaml", std::string(kWithoutWorkload) + "workload: " + std::string(kDefaultWorkload) + "\n");
  EXPECT_EQ(load_sweep(named, {}, testing::repo_configs_dir()).resolved_yaml, sweep.resolved_yaml);

  const SweepConfig overridden =
      load_sweep(path, {{Override::fixed, "workload=diffuse"}}, testing::repo_configs_dir());
  EXPECT_EQ(overridden.base.workload.name, "diffuse");
}

}  // namespace
}  // namespace unisparse
