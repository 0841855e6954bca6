#pragma once
// Loading the committed sweeps in tests. A sweep over captured traces names files under
// build/traces/ that `make traces` captures (they are not committed), and maybe a head calibration
// scored on them: such a sweep is loaded on a stand-in trace of its model's shape holding the layers
// of its `layer` axis (layers 0 and 1 when it has none) and, when its calibration is not there
// either, a stand-in DuoAttention file of as many layers, so every other key and value of it is
// still checked.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/model_config.h"
#include "framework/config/sweep_config.h"
#include "framework/core/error.h"
#include "tests/common/tiny_trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse::testing {

inline std::vector<Override> stand_ins_for_captures(const std::filesystem::path& sweep_file,
                                                    const ScratchDir& scratch) {
  const YAML::Node root = YAML::LoadFile(sweep_file.string());
  const ModelShape shape =
      load_model_file(repo_configs_dir() + "/models/" + root["model"].as<std::string>() + ".yaml").shape;
  TinyTrace spec;
  spec.layers = {0, 1};
  if (const YAML::Node layer_axis = root["axes"]["layer"]; layer_axis && layer_axis.IsSequence())
    spec.layers = layer_axis.as<std::vector<int>>();
  spec.context_len = 64;
  spec.decode_steps = 2;
  PointConfig point = tiny_generator_point(spec, 1);
  point.shape = shape;
  const Workload workload = generate_workload(point);
  const std::string trace = scratch.path() + "/" + sweep_file.stem().string() + ".safetensors";
  std::vector<std::pair<int, const Workload*>> layers;
  for (int layer : spec.layers) layers.emplace_back(layer, &workload);
  write_trace(trace, layers, DType::fp16, {});
  std::vector<Override> overrides{{Override::fixed, "workload={trace: " + trace + "}"}};
  const YAML::Node calibration = root["fixed"]["head_calibration"];
  if (calibration && !std::filesystem::exists(repo_configs_dir() + "/heads/" +
                                              calibration.as<std::string>() + ".yaml")) {
    std::string gates;
    const int num_layers = *std::max_element(spec.layers.begin(), spec.layers.end()) + 1;
    for (int layer = 0; layer < num_layers; ++layer) {
      for (int head = 0; head < shape.num_kv_heads; ++head) gates += head ? "\t0.5" : "0.5";
      gates += "\n";
    }
    overrides.push_back(
        {Override::fixed, "head_calibration=" + scratch.write(sweep_file.stem().string() + ".tsv", gates)});
  }
  return overrides;
}

// load_sweep of a committed sweep file, over stand-ins when it names a capture that is not there.
inline SweepConfig load_committed_sweep(const std::filesystem::path& sweep_file,
                                        const ScratchDir& scratch) {
  try {
    return load_sweep(sweep_file.string(), {}, repo_configs_dir());
  } catch (const InputError& error) {
    const std::string message = error.what();
    if (message.find("trace file not found: build/traces/") == std::string::npos) throw;
  }
  return load_sweep(sweep_file.string(), stand_ins_for_captures(sweep_file, scratch),
                    repo_configs_dir());
}

}  // namespace unisparse::testing
