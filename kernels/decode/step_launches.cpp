#include "kernels/decode/step_launches.h"

#include <stdexcept>
#include <string>

namespace unisparse::cuda {

StepLaunches step_launches(const StepShape& shape, int step, bool run_selector) {
  if (step < 0 || shape.context_len < 0 || shape.page_size < 1 || shape.dense_splits < 1 ||
      shape.streaming_splits < 1)
    throw std::invalid_argument("step_launches: step " + std::to_string(step) + ", context_len " +
                                std::to_string(shape.context_len) + ", page_size " +
                                std::to_string(shape.page_size) + " or a split count out of range");
  const int num_tokens = shape.context_len + step + 1;
  const int num_pages = (num_tokens + shape.page_size - 1) / shape.page_size;
  const bool selects = run_selector && shape.dense_pool && shape.uses_selection;
  StepLaunches launches;
  launches.append = shape.dense_pool || shape.streaming_pool;
  launches.page_scores = selects && num_pages > 1;
  launches.topk = selects;
  launches.dense_attention = shape.dense_pool;
  launches.dense_merge = shape.dense_pool && shape.dense_splits > 1;
  launches.streaming_attention = shape.streaming_pool;
  launches.streaming_merge = shape.streaming_pool && shape.streaming_splits > 1;
  return launches;
}

}  // namespace unisparse::cuda
