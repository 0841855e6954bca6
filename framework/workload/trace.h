#pragma once
// Real-model traces (README.md, Trace format): Q/K/V of one or more layers, captured after RoPE,
// in a safetensors file.
//
//   layers.{i}.k          [num_kv_heads, T, head_dim]          prefill keys
//   layers.{i}.v          [num_kv_heads, T, head_dim]          prefill values
//   layers.{i}.q          [num_q_heads,  T, head_dim]          prefill queries (optional)
//   layers.{i}.q_decode   [steps, num_q_heads,  head_dim]      decode queries (optional)
//   layers.{i}.k_decode   [steps, num_kv_heads, head_dim]      with q_decode
//   layers.{i}.v_decode   [steps, num_kv_heads, head_dim]      with q_decode
//
// dtypes F16, BF16 or F32. __metadata__ (strings) may carry "model", "text", "prompt_kind",
// "needle_positions" (a JSON list of the prompt token positions of a passkey's digits) and
// "head_types": a JSON string, either a list over layers or an object keyed by layer number, of
// per-KV-head "streaming"/"dense".
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/point.h"
#include "framework/workload/head_calibration.h"
#include "framework/workload/workload.h"

namespace unisparse {

// A trace's header: the layers it holds (those with a layers.{i}.k tensor, ascending) and its
// metadata. InputError naming the file when it cannot be read or holds no layer.
struct TraceHeader {
  std::string path;
  std::vector<int> layers;
  std::map<std::string, std::string> metadata;
};
TraceHeader read_trace_header(const std::string& path);

// What a point reads from one layer of a trace, known from the header alone.
struct TraceLayerInfo {
  ModelShape shape;
  int context_len = 0;         // T
  int trace_decode_steps = 0;  // steps the layer holds (0 without q_decode)
  int decode_steps = 0;        // steps the point reads: min(trace_decode_steps, point.decode_steps)
  HeadLayout heads;            // by point.head_selection (head_selection.h)
  std::vector<int32_t> needle_tokens;  // needle_positions metadata, [] when absent
  DType stored_dtype = DType::fp16;    // the precision layers.{i}.k is stored in (F32, F16, BF16)
};

// Every check read_trace makes, without reading tensor data: the tensors a point needs exist and
// agree in shape with each other and, when the point names a model, with point.shape; the head
// layout can be chosen (calibration: the head_calibration the point names, loaded, or nullptr); the
// needle positions lie in the prompt. Every failure is an InputError naming the file and the tensor
// or metadata key.
TraceLayerInfo inspect_trace_layer(const std::string& path, int layer, const PointConfig& point,
                                   const HeadCalibration* calibration = nullptr);

// Reads layer `layer` of a trace as a batch of one sequence, after inspect_trace_layer's checks. A
// prefill point needs layers.{i}.q, a decode point layers.{i}.q_decode; decode keeps the first
// min(point.decode_steps, trace steps) steps. Values are rounded to point.dtype. The head layout
// follows point.head_selection (sink and local tokens from the point); a passkey trace's needle
// positions go to Sequence::needle_tokens.
Workload read_trace(const std::string& path, int layer, const PointConfig& point,
                    const HeadCalibration* calibration = nullptr);

// Writes batch[0] of each workload as its layer of one trace stored in dtype (fp32, fp16, bf16).
// Prefill queries and decode tensors are written when present. Unless metadata names head_types or
// with_head_types is false, the workloads' head layouts are written as head_types {"<layer>": [...]}.
void write_trace(const std::string& path, const std::vector<std::pair<int, const Workload*>>& layers,
                 DType dtype, const std::map<std::string, std::string>& metadata,
                 bool with_head_types = true);
// One layer.
void write_trace(const std::string& path, const Workload& workload, int layer, DType dtype,
                 const std::map<std::string, std::string>& metadata);

}  // namespace unisparse
