#pragma once
// One pass of the CPU backend's decode over every step of a workload: the workload's decode replayed
// through a DecodeSession (decode_session.h), step by step: key statistics kept in step with the
// appended tokens, page selection for dense heads, token-exact attention over the KV cache as
// stored (quantized formats included).
#include <vector>

#include "framework/core/tensor.h"
#include "framework/sparse/decode_session.h"
#include "framework/sparse/plan.h"
#include "framework/workload/workload.h"

namespace unisparse {

struct CpuDecodeResult {
  std::vector<Tensor> out;        // per sequence: [steps, num_q_heads, head_dim]
  DecodeSelections selections;    // [steps] rows b * num_q_heads + h (plan.h)
  DecodePhaseSeconds seconds;
};

// Every (step, sequence, query head) row attends, at step s, tokens of 0 .. T + s:
//  * streaming heads (uses_streaming_heads(plan.mode) and a streaming KV head): sink + local tokens;
//    the row lists the pages those tokens touch;
//  * other heads with page selection: the PageSelector's pages (plan.selector: Quest bounds from
//    key statistics, or the oracle's page masses, for which no statistics are kept);
//  * other heads without page selection: every page.
// Key statistics and page selection read the keys of `workload` (before quantization,
// framework/DESIGN.md, Selection rules); the attention reads the keys and values of `attended_kv`,
// a workload of the same shape.
CpuDecodeResult cpu_decode(const Workload& workload, const Workload& attended_kv,
                           const DecodePlan& plan);
// The same, attending kv_as_stored(workload, plan.kv_storage).
CpuDecodeResult cpu_decode(const Workload& workload, const DecodePlan& plan);

// A copy of the workload whose keys and values (prefill and decode) are what a KV cache in the given
// quantized format returns: quantize -> dequantize per (token, KV head) row (kv_quant.h), kept in
// fp32. fp8 takes one scale per (sequence, KV head) for keys and one for values, e4m3_scale over that
// head's prefill keys (values); decode tokens reuse it and saturate beyond it.
Workload kv_as_stored(const Workload& workload, DType kv_storage);

}  // namespace unisparse
