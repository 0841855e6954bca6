#pragma once
// Real-model traces (DESIGN.md §6): Q/K/V of one layer, captured after RoPE, in a safetensors file.
//
//   layers.{i}.k          [num_kv_heads, T, head_dim]          prefill keys
//   layers.{i}.v          [num_kv_heads, T, head_dim]          prefill values
//   layers.{i}.q          [num_q_heads,  T, head_dim]          prefill queries (optional)
//   layers.{i}.q_decode   [steps, num_q_heads,  head_dim]      decode queries (optional)
//   layers.{i}.k_decode   [steps, num_kv_heads, head_dim]      with q_decode
//   layers.{i}.v_decode   [steps, num_kv_heads, head_dim]      with q_decode
//
// dtypes F16, BF16 or F32. __metadata__ may carry "model", "text" and "head_types": a JSON string,
// either a list over layers or an object keyed by layer number, of per-KV-head "streaming"/"dense".
#include <map>
#include <string>

#include "framework/config/point.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Reads layer `layer` of a trace as a batch of one sequence. Shapes are checked against each other
// and, when the point names a model, against point.shape. A prefill point needs layers.{i}.q, a
// decode point layers.{i}.q_decode; decode keeps the first min(point.decode_steps, trace steps)
// steps. Values are rounded to point.dtype. The head layout comes from head_types when present
// (sink and local tokens from the point), else every head is dense. Every failure is an InputError
// naming the file and, where there is one, the tensor.
Workload read_trace(const std::string& path, int layer, const PointConfig& point);

// Writes batch[0] of a workload as layer `layer` of a trace stored in dtype (fp32, fp16, bf16).
// Prefill queries and decode tensors are written when present. Unless metadata names head_types,
// the workload's head layout is written as head_types {"<layer>": [...]}.
void write_trace(const std::string& path, const Workload& workload, int layer, DType dtype,
                 const std::map<std::string, std::string>& metadata);

}  // namespace unisparse
