#include "framework/config/params.h"

#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>

#include "framework/config/suggest.h"

namespace unisparse {
namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();  // a number with no maximum

// Each builder takes an accessor, a generic lambda `[](auto& p) -> auto& { return p.field; }`, so
// one expression serves both the setter (PointConfig&) and the getter (const PointConfig&).

template <class Access>
Param integer(std::string key, Access access, int64_t min_value, std::string help,
              bool power_of_two = false) {
  const std::string range = power_of_two ? "a power of two >= " + std::to_string(min_value)
                                         : ">= " + std::to_string(min_value);
  return Param{key, ValueKind::integer, help + " (integer, " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const int64_t value = parse_int64(text);
                 if (value < min_value || value > INT_MAX ||
                     (power_of_two && !std::has_single_bit(static_cast<uint64_t>(value))))
                   throw ParamValueError("must be " + range + ", got " + std::string(text));
                 access(point) = static_cast<int>(value);
               },
               [=](const PointConfig& point) { return std::to_string(access(point)); }};
}

template <class Access>
Param unsigned_integer(std::string key, Access access, std::string help) {
  return Param{
      key, ValueKind::integer, help + " (integer >= 0)",
      [=](PointConfig& point, std::string_view text) { access(point) = parse_uint64(text); },
      [=](const PointConfig& point) { return std::to_string(access(point)); }};
}

template <class Access>
Param number(std::string key, Access access, double min_value, double max_value, std::string help) {
  const std::string range = max_value == kUnbounded ? ">= " + format_number(min_value)
                                                    : "in [" + format_number(min_value) + ", " +
                                                          format_number(max_value) + "]";
  return Param{key, ValueKind::number, help + " (number " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const double value = parse_number(text);
                 if (value < min_value || value > max_value)
                   throw ParamValueError("must be " + range + ", got " + std::string(text));
                 access(point) = value;
               },
               [=](const PointConfig& point) { return format_number(access(point)); }};
}

template <class Access>
Param boolean(std::string key, Access access, std::string help) {
  return Param{
      key, ValueKind::boolean, help + " (true | false)",
      [=](PointConfig& point, std::string_view text) { access(point) = parse_bool(text); },
      [=](const PointConfig& point) { return std::string(access(point) ? "true" : "false"); }};
}

template <class Enum, class Access>
Param choice(std::string key, Access access, std::vector<Enum> allowed, std::string help) {
  std::vector<std::string> names;
  for (Enum value : allowed) names.emplace_back(to_string(value));
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : " | ") + name;
  return Param{key, ValueKind::name, help + " (" + listed + ")",
               [=](PointConfig& point, std::string_view text) {
                 for (size_t i = 0; i < allowed.size(); ++i)
                   if (names[i] == text) {
                     access(point) = allowed[i];
                     return;
                   }
                 throw ParamValueError("unknown value '" + std::string(text) + "'" +
                                       did_you_mean(text, names) + "; expected one of: " + listed);
               },
               [=](const PointConfig& point) { return std::string(to_string(access(point))); }};
}

template <class Access>
Param number_list(std::string key, Access access, double min_value, double max_value,
                  std::string help) {
  const std::string range =
      "in [" + format_number(min_value) + ", " + format_number(max_value) + "]";
  return Param{key, ValueKind::number_list, help + " (list of numbers " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const std::vector<double> values = parse_number_list(text);
                 for (double value : values)
                   if (value < min_value || value > max_value)
                     throw ParamValueError("every element must be " + range + ", got " +
                                           format_number(value));
                 access(point) = values;
               },
               [=](const PointConfig& point) { return format_number_list(access(point)); }};
}

std::vector<Param> make_params() {
  const std::vector<DType> float_types{DType::fp16, DType::bf16, DType::fp32};
  const std::vector<DType> kv_types{DType::fp16, DType::bf16, DType::fp32,
                                    DType::int8, DType::int4, DType::fp8};
  return {
      choice<Phase>(
          "phase", [](auto& p) -> auto& { return p.phase; }, {Phase::prefill, Phase::decode},
          "which attention phase a point runs"),
      choice<SparsityMode>(
          "mode", [](auto& p) -> auto& { return p.mode; },
          {SparsityMode::dense, SparsityMode::static_only, SparsityMode::dynamic_only,
           SparsityMode::static_dynamic},
          "static = streaming heads, dynamic = page selection on dense heads"),
      integer(
          "context_len", [](auto& p) -> auto& { return p.context_len; }, 1,
          "prefill tokens T; decode starts from a cache of T tokens"),
      integer(
          "batch", [](auto& p) -> auto& { return p.batch; }, 1, "sequences per point"),
      integer(
          "num_q_heads", [](auto& p) -> auto& { return p.shape.num_q_heads; }, 1,
          "query heads (normally from the model file)"),
      integer(
          "num_kv_heads", [](auto& p) -> auto& { return p.shape.num_kv_heads; }, 1,
          "key/value heads (normally from the model file)"),
      integer(
          "head_dim", [](auto& p) -> auto& { return p.shape.head_dim; }, 1,
          "channels per head (normally from the model file)"),
      choice<DType>(
          "dtype", [](auto& p) -> auto& { return p.dtype; }, float_types,
          "storage type of Q (and of K/V when kv_dtype is a float type)"),
      choice<DType>(
          "kv_dtype", [](auto& p) -> auto& { return p.kv_dtype; }, kv_types,
          "storage type of the KV cache"),
      integer(
          "page_size", [](auto& p) -> auto& { return p.page_size; }, 1, "physical KV page, tokens",
          true),
      integer(
          "logical_page_size", [](auto& p) -> auto& { return p.logical_page_size; }, 1,
          "key-statistics granularity, tokens; divides page_size", true),
      integer(
          "token_budget", [](auto& p) -> auto& { return p.token_budget; }, 1,
          "tokens attended per dense head in dynamic decode; a multiple of page_size"),
      integer(
          "reuse_interval", [](auto& p) -> auto& { return p.reuse_interval; }, 1,
          "decode steps one page selection is reused for"),
      choice<GqaSelection>(
          "gqa_selection", [](auto& p) -> auto& { return p.gqa_selection; },
          {GqaSelection::per_query_head, GqaSelection::kv_head_max, GqaSelection::kv_head_sum},
          "select pages per query head or once per KV head group"),
      choice<CacheFill>(
          "cache_fill", [](auto& p) -> auto& { return p.cache_fill; },
          {CacheFill::upload, CacheFill::prefill},
          "how the cuda backend fills its paged KV cache before decode step 0: upload the prompt's "
          "K/V from the host, or run the prefill over the prompt (streaming heads as streaming "
          "prefill heads, the others dense causal, tiles of block_size) and write the cache from "
          "its device K/V, timed as time_prefill_us; decode only, the cpu backend ignores it (its "
          "cache is the workload itself)"),
      number(
          "streaming_fraction", [](auto& p) -> auto& { return p.streaming_fraction; }, 0.0, 1.0,
          "share of KV heads that are streaming heads"),
      integer(
          "sink_tokens", [](auto& p) -> auto& { return p.sink_tokens; }, 0,
          "tokens at the start a streaming head keeps"),
      integer(
          "local_tokens", [](auto& p) -> auto& { return p.local_tokens; }, 1,
          "most recent tokens a streaming head keeps"),
      integer(
          "block_size", [](auto& p) -> auto& { return p.block_size; }, 1,
          "prefill query/KV tile, tokens (prefill points and cache_fill prefill)", true),
      integer(
          "decode_steps", [](auto& p) -> auto& { return p.decode_steps; }, 0,
          "decode queries per sequence (decode phase needs >= 1)"),
      unsigned_integer(
          "seed", [](auto& p) -> auto& { return p.seed; }, "random seed of the synthetic workload"),
      integer(
          "reference_batches", [](auto& p) -> auto& { return p.reference_batches; }, 1,
          "sequences checked against the fp64 reference (at most batch are used)"),
      integer(
          "reference_rows", [](auto& p) -> auto& { return p.reference_rows; }, 0,
          "prefill query rows per head checked against the reference; 0 = all"),

      integer(
          "workload.num_sink_tokens",
          [](auto& p) -> auto& { return p.workload.knobs.num_sink_tokens; }, 0,
          "attention-sink keys at the start of the sequence"),
      number(
          "workload.sink_strength", [](auto& p) -> auto& { return p.workload.knobs.sink_strength; },
          0.0, kUnbounded, "logit boost of sink keys"),
      number(
          "workload.recency_strength",
          [](auto& p) -> auto& { return p.workload.knobs.recency_strength; }, 0.0, kUnbounded,
          "logit boost of a key at distance 0 from the query"),
      number(
          "workload.recency_scale", [](auto& p) -> auto& { return p.workload.knobs.recency_scale; },
          1.0, kUnbounded, "tokens over which the recency boost decays"),
      number(
          "workload.segment_length_mean",
          [](auto& p) -> auto& { return p.workload.knobs.segment_length_mean; }, 1.0, kUnbounded,
          "mean length of a topical segment, tokens"),
      integer(
          "workload.num_topics", [](auto& p) -> auto& { return p.workload.knobs.num_topics; }, 1,
          "distinct topic directions"),
      number(
          "workload.topic_strength",
          [](auto& p) -> auto& { return p.workload.knobs.topic_strength; }, 0.0, kUnbounded,
          "logit boost of keys of the query's topic"),
      number_list(
          "workload.needle_depths", [](auto& p) -> auto& { return p.workload.knobs.needle_depths; },
          0.0, 1.0, "needle positions as fractions of the prefill; [] = no needles"),
      integer(
          "workload.needle_tokens", [](auto& p) -> auto& { return p.workload.knobs.needle_tokens; },
          1, "contiguous tokens per needle"),
      number(
          "workload.needle_strength",
          [](auto& p) -> auto& { return p.workload.knobs.needle_strength; }, 0.0, kUnbounded,
          "logit of a needle token for a query that seeks it"),
      number(
          "workload.streaming_sink_strength",
          [](auto& p) -> auto& { return p.workload.knobs.streaming_sink_strength; }, 0.0,
          kUnbounded, "sink logit boost in streaming-type heads"),
      number(
          "workload.streaming_local_strength",
          [](auto& p) -> auto& { return p.workload.knobs.streaming_local_strength; }, 0.0,
          kUnbounded, "local-window logit boost in streaming-type heads"),
      number(
          "workload.query_drift", [](auto& p) -> auto& { return p.workload.knobs.query_drift; },
          0.0, 1.0, "per-step share of a decode query replaced by fresh noise"),
      number(
          "workload.jump_probability",
          [](auto& p) -> auto& { return p.workload.knobs.jump_probability; }, 0.0, 1.0,
          "per-step probability that a decode query jumps to another topic or needle"),
      number(
          "workload.key_noise", [](auto& p) -> auto& { return p.workload.knobs.key_noise; }, 0.0,
          kUnbounded, "std of the isotropic part of keys and queries"),
      number(
          "workload.value_noise", [](auto& p) -> auto& { return p.workload.knobs.value_noise; },
          0.0, kUnbounded, "std of values"),
      number(
          "workload.strength_reference_context",
          [](auto& p) -> auto& { return p.workload.knobs.strength_reference_context; }, 0.0,
          kUnbounded,
          "context the strengths are given for; a longer context adds ln(T / it) to the sink, "
          "needle and streaming strengths (0 = strengths are literal)"),

      integer(
          "timing.warmup", [](auto& p) -> auto& { return p.timing.warmup; }, 0,
          "untimed iterations before measuring"),
      integer(
          "timing.min_iters", [](auto& p) -> auto& { return p.timing.min_iters; }, 1,
          "timed iterations at least"),
      integer(
          "timing.max_iters", [](auto& p) -> auto& { return p.timing.max_iters; }, 1,
          "timed iterations at most (>= min_iters)"),
      number(
          "timing.max_noise", [](auto& p) -> auto& { return p.timing.max_noise; }, 0.0, kUnbounded,
          "stop once the relative spread of the median is below this"),
      boolean(
          "timing.l2_flush", [](auto& p) -> auto& { return p.timing.l2_flush; },
          "flush the L2 cache before every timed iteration"),
  };
}

}  // namespace

const std::vector<Param>& params() {
  static const std::vector<Param> table = make_params();
  return table;
}

const Param* find_param(std::string_view key) {
  for (const Param& param : params())
    if (param.key == key) return &param;
  return nullptr;
}

const std::vector<std::string>& param_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all;
    for (const Param& param : params()) all.push_back(param.key);
    return all;
  }();
  return keys;
}

void set_param(PointConfig& point, std::string_view key, std::string_view text) {
  const Param* param = find_param(key);
  if (param == nullptr)
    throw ParamValueError("unknown parameter '" + std::string(key) + "'" +
                          did_you_mean(key, param_keys()));
  param->set(point, text);
}

std::vector<std::pair<std::string, std::string>> describe(const PointConfig& point) {
  std::vector<std::pair<std::string, std::string>> row{
      {"model", point.model},
      {"workload", point.workload.name},
      {"workload.trace", point.workload.trace_path},
      {"workload.trace_layer", point.workload.trace_path.empty()
                                   ? std::string()
                                   : std::to_string(point.workload.trace_layer)},
      {"backend", point.backend},
  };
  for (const Param& param : params()) row.emplace_back(param.key, param.get(point));
  return row;
}

}  // namespace unisparse
