#pragma once
// NVTX ranges named "<label>.<phase>" (label = "<sweep>.<point_id>"), so that
// `ncu --nvtx --nvtx-include "decode_sparse.3.attention/"` selects one phase of one sweep point. The
// separator is '.', not '/': ncu reads '/' in a filter as the end of a range.
#include <nvtx3/nvToolsExt.h>

#include <string>

namespace unisparse::cuda {

class NvtxRange {
 public:
  NvtxRange(const std::string& label, const char* phase) {
    const std::string name = label.empty() ? std::string(phase) : label + "." + phase;
    nvtxRangePushA(name.c_str());
  }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace unisparse::cuda
