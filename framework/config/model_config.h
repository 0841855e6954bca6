#pragma once
// Model files, configs/models/<name>.yaml: the attention shape of one model.
//   name: llama3-8b          # must match the file name
//   description: ...         # optional
//   num_q_heads: 32
//   num_kv_heads: 8
//   head_dim: 128
#include <string>
#include <vector>

#include "framework/config/strict_yaml.h"
#include "framework/core/types.h"

namespace unisparse {

struct ModelConfig {
  std::string name;
  std::string description;
  ModelShape shape;
};

ModelConfig load_model_file(const std::string& path);

// Resolves a model reference (a name, e.g. from a sweep's `model:`) against
// <configs_dir>/models/<name>.yaml; an unknown name is an error at the reference that lists the
// models there.
ModelConfig load_model(const LocatedNode& reference, const std::string& configs_dir);

}  // namespace unisparse
