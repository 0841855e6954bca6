#pragma once
// What a model-level sweep point evaluates. `none` is an attention-level point (one layer's
// attention on a workload, scored against the dense fp64 reference); the others run the real model
// with the point's plan inside every layer's attention and score the model's output
// (framework/sweep/model_points.h).
#include <array>
#include <string_view>
#include <utility>

namespace unisparse {

enum class ModelTask { none, passkey, perplexity };

inline constexpr std::array<std::pair<ModelTask, std::string_view>, 3> kModelTaskNames{
    {{ModelTask::none, "none"}, {ModelTask::passkey, "passkey"}, {ModelTask::perplexity, "perplexity"}}};

inline std::string_view to_string(ModelTask task) {
  for (const auto& [value, name] : kModelTaskNames)
    if (value == task) return name;
  return "?";
}

// False on an unknown name (the caller reports where it came from).
inline bool parse(std::string_view text, ModelTask& out) {
  for (const auto& [value, name] : kModelTaskNames)
    if (name == text) {
      out = value;
      return true;
    }
  return false;
}

inline bool is_model_level(ModelTask task) { return task != ModelTask::none; }

}  // namespace unisparse
