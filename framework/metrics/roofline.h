#pragma once
// The bytes and FLOPs a kernel must move and do (the bytes it should move, not the bytes it happens
// to), and the rates a measured time achieves against them and against the device's measured
// ceilings.
#include "framework/backend/backend.h"
#include "framework/metrics/device_ceilings.h"

namespace unisparse {

struct RooflineModel {
  double bytes = 0;
  double flops = 0;
};

// Decode, per step (averaged over the steps) and summed over every sequence of the batch:
//  bytes = K and V of each (sequence, KV head)'s attended token union, read once (with
//          per-query-head selection the union of the group's pages), at bytes_per_element(kv_dtype)
//          plus each row's dequantization parameters (kv_row_parameter_bytes)
//        + the key statistics the selector reads (kmax and kmin: 2 * head_dim fp16 values per
//          logical page of each dense KV head), amortised over the reuse interval
//        + Q read and O written (workload dtype);
//  flops = 4 * head_dim per attended token per query head (QK and PV)
//        + 2 * head_dim per logical page per query head of dense heads, amortised likewise.
// Attended tokens are attended_ranges() of run.selections, as in the accuracy metrics. Throws
// std::invalid_argument when the selections do not match the workload.
RooflineModel decode_roofline(const Workload& workload, const DecodePlan& plan,
                              const DecodeRun& run, DType kv_dtype);

// Prefill of every sequence: flops = 4 * head_dim per visible (query, key) pair summed over query
// heads; bytes = Q, K, V read once and O written once at bytes_per_element(dtype), plus the block
// list when a head reads one.
RooflineModel prefill_roofline(const Workload& workload, const PrefillPlan& plan, DType dtype);

struct AchievedRates {  // NaN = not applicable (no time, or an unknown ceiling)
  double gbps;
  double tflops;
  double bandwidth_utilisation;  // gbps / ceilings.hbm_gbps
  double compute_utilisation;    // tflops / ceilings.tensor_tflops
};
AchievedRates achieved_rates(const RooflineModel& model, double time_us,
                             const DeviceCeilings& ceilings);

}  // namespace unisparse
