#include "framework/config/params.h"

#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "framework/config/suggest.h"
#include "framework/core/size_limits.h"

namespace unisparse {
namespace {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();  // a number with no maximum

// A parameter's identity: its key, role, figure label and legend name.
struct ParamName {
  std::string key;
  ParamRole role;
  std::string label;
  std::string short_name;
};

Param make_param(const ParamName& name, ValueKind kind, std::string description,
                 std::function<void(PointConfig&, std::string_view)> set,
                 std::function<std::string(const PointConfig&)> get) {
  return Param{name.key,   name.role,           name.label, name.short_name,
               kind,       std::move(description), std::move(set), std::move(get)};
}

// Each builder takes an accessor, a generic lambda `[](auto& p) -> auto& { return p.field; }`, so
// one expression serves both the setter (PointConfig&) and the getter (const PointConfig&).

// The allowed values of an integer parameter; a bare minimum allows up to INT_MAX.
struct IntegerRange {
  IntegerRange(int64_t min, int64_t max = INT_MAX) : min_value(min), max_value(max) {}
  int64_t min_value, max_value;
};

template <class Access>
Param integer(const ParamName& name, Access access, IntegerRange allowed, std::string help,
              bool power_of_two = false) {
  const int64_t min_value = allowed.min_value, max_value = allowed.max_value;
  const std::string bounds = max_value < INT_MAX ? "in [" + std::to_string(min_value) + ", " +
                                                       std::to_string(max_value) + "]"
                                                 : ">= " + std::to_string(min_value);
  const std::string range = power_of_two ? "a power of two " + bounds : bounds;
  return make_param(name, ValueKind::integer, help + " (integer, " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const int64_t value = parse_int64(text);
                 if (value < min_value || value > max_value ||
                     (power_of_two && !std::has_single_bit(static_cast<uint64_t>(value))))
                   throw ParamValueError("must be " + range + ", got " + std::string(text));
                 access(point) = static_cast<int>(value);
               },
               [=](const PointConfig& point) { return std::to_string(access(point)); });
}

template <class Access>
Param unsigned_integer(const ParamName& name, Access access, std::string help) {
  return make_param(name, ValueKind::integer, help + " (integer >= 0)",
      [=](PointConfig& point, std::string_view text) { access(point) = parse_uint64(text); },
      [=](const PointConfig& point) { return std::to_string(access(point)); });
}

template <class Access>
Param number(const ParamName& name, Access access, double min_value, double max_value, std::string help) {
  const std::string range = max_value == kUnbounded ? ">= " + format_number(min_value)
                                                    : "in [" + format_number(min_value) + ", " +
                                                          format_number(max_value) + "]";
  return make_param(name, ValueKind::number, help + " (number " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const double value = parse_number(text);
                 if (value < min_value || value > max_value)
                   throw ParamValueError("must be " + range + ", got " + std::string(text));
                 access(point) = value;
               },
               [=](const PointConfig& point) { return format_number(access(point)); });
}

template <class Access>
Param boolean(const ParamName& name, Access access, std::string help) {
  return make_param(name, ValueKind::boolean, help + " (true | false)",
      [=](PointConfig& point, std::string_view text) { access(point) = parse_bool(text); },
      [=](const PointConfig& point) { return std::string(access(point) ? "true" : "false"); });
}

template <class Enum, class Access>
Param choice(const ParamName& name, Access access, std::vector<Enum> allowed, std::string help) {
  std::vector<std::string> names;
  for (Enum value : allowed) names.emplace_back(to_string(value));
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : " | ") + name;
  return make_param(name, ValueKind::name, help + " (" + listed + ")",
               [=](PointConfig& point, std::string_view text) {
                 for (size_t i = 0; i < allowed.size(); ++i)
                   if (names[i] == text) {
                     access(point) = allowed[i];
                     return;
                   }
                 throw ParamValueError("unknown value '" + std::string(text) + "'" +
                                       did_you_mean(text, names) + "; expected one of: " + listed);
               },
               [=](const PointConfig& point) { return std::string(to_string(access(point))); });
}

template <class Access>
Param number_list(const ParamName& name, Access access, double min_value, double max_value,
                  std::string help) {
  const std::string range =
      "in [" + format_number(min_value) + ", " + format_number(max_value) + "]";
  return make_param(name, ValueKind::number_list, help + " (list of numbers " + range + ")",
               [=](PointConfig& point, std::string_view text) {
                 const std::vector<double> values = parse_number_list(text);
                 for (double value : values)
                   if (value < min_value || value > max_value)
                     throw ParamValueError("every element must be " + range + ", got " +
                                           format_number(value));
                 access(point) = values;
               },
               [=](const PointConfig& point) { return format_number_list(access(point)); });
}

// A number that may be left unset, written as `keyword` when it is.
template <class Access>
Param number_or_keyword(const ParamName& name, Access access, double min_value, double max_value,
                        std::string keyword, std::string help) {
  const std::string range = "in [" + format_number(min_value) + ", " + format_number(max_value) + "]";
  return make_param(name, ValueKind::number, help + " (number " + range + ", or " + keyword + ")",
               [=](PointConfig& point, std::string_view text) {
                 if (text == keyword) {
                   access(point).reset();
                   return;
                 }
                 const double value = parse_number(text);
                 if (value < min_value || value > max_value)
                   throw ParamValueError("must be " + range + " or " + keyword + ", got " +
                                         std::string(text));
                 access(point) = value;
               },
               [=](const PointConfig& point) {
                 return access(point) ? format_number(*access(point)) : keyword;
               });
}

// The trace layer a point reads: an integer, shown empty for synthetic workloads (which have no
// layers; the sweep loader rejects a layer set on one), and "" reads back as the default layer 0.
template <class Access>
Param trace_layer(const ParamName& name, Access access, std::string help) {
  return make_param(name, ValueKind::integer, help + " (integer >= 0)",
      [=](PointConfig& point, std::string_view text) {
        const int64_t value = text.empty() ? 0 : parse_int64(text);
        if (value < 0 || value > INT_MAX)
          throw ParamValueError("must be >= 0, got " + std::string(text));
        access(point) = static_cast<int>(value);
      },
      [=](const PointConfig& point) {
        return point.workload.trace_path.empty() ? std::string() : std::to_string(access(point));
      });
}

// A reference to a file, kept as written and resolved by the sweep loader ("" = none).
template <class Access>
Param reference(const ParamName& name, Access access, std::string help) {
  return make_param(name, ValueKind::name, std::move(help),
      [=](PointConfig& point, std::string_view text) {
        if (text.find_first_of(" \t\n") != std::string_view::npos)
          throw ParamValueError("expected a name or a path without spaces, got '" +
                                std::string(text) + "'");
        access(point) = std::string(text);
      },
      [=](const PointConfig& point) { return access(point); });
}

// A model-level point's parameter (role model): shown empty on attention-level points (task none),
// which do not read it, and "" reads back as the default.
template <class Value, class Access>
Param model_value(const ParamName& name, ValueKind kind, Access access, Value min_value,
                  Value max_value, std::string help) {
  const std::string range = "in [" + format_number(min_value) + ", " + format_number(max_value) + "]";
  const PointConfig defaults;
  const Value default_value = access(defaults);
  return make_param(name, kind, help + " (" + (kind == ValueKind::integer ? "integer " : "number ") +
                                    range + "; model-level points only)",
      [=](PointConfig& point, std::string_view text) {
        if (text.empty()) {
          access(point) = default_value;
          return;
        }
        const double value = kind == ValueKind::integer ? static_cast<double>(parse_int64(text))
                                                        : parse_number(text);
        if (value < min_value || value > max_value)
          throw ParamValueError("must be " + range + ", got " + std::string(text));
        access(point) = static_cast<Value>(value);
      },
      [=](const PointConfig& point) {
        if (!is_model_level(point.task)) return std::string();
        return kind == ValueKind::integer ? std::to_string(access(point))
                                          : format_number(access(point));
      });
}

std::vector<Param> make_params() {
  const std::vector<DType> float_types{DType::fp16, DType::bf16, DType::fp32};
  const std::vector<DType> kv_types{DType::fp16, DType::bf16, DType::fp32,
                                    DType::int8, DType::int4, DType::fp8};
  return {
      choice<Phase>(
          {"phase", ParamRole::workload, "attention phase", "phase"}, [](auto& p) -> auto& { return p.phase; }, {Phase::prefill, Phase::decode},
          "which attention phase a point runs"),
      choice<SparsityMode>(
          {"mode", ParamRole::plan, "sparsity mode", "mode"}, [](auto& p) -> auto& { return p.mode; },
          {SparsityMode::dense, SparsityMode::static_only, SparsityMode::dynamic_only,
           SparsityMode::static_dynamic},
          "static = streaming heads, dynamic = page selection on dense heads"),
      integer(
          {"context_len", ParamRole::workload, "context length (tokens)", "context"}, [](auto& p) -> auto& { return p.context_len; }, {1, kMaxSequenceTokens},
          "prefill tokens T; decode starts from a cache of T tokens; T + decode_steps <= " +
              std::to_string(kMaxSequenceTokens)),
      integer(
          {"batch", ParamRole::workload, "batch (sequences)", "batch"}, [](auto& p) -> auto& { return p.batch; }, 1,
          "sequences per point; batch x num_q_heads x (context_len + decode_steps) x head_dim <= " +
              std::to_string(kMaxTensorElements)),
      integer(
          {"num_q_heads", ParamRole::workload, "query heads", "q heads"}, [](auto& p) -> auto& { return p.shape.num_q_heads; }, 1,
          "query heads (normally from the model file)"),
      integer(
          {"num_kv_heads", ParamRole::workload, "KV heads", "kv heads"}, [](auto& p) -> auto& { return p.shape.num_kv_heads; }, 1,
          "key/value heads (normally from the model file)"),
      integer(
          {"head_dim", ParamRole::workload, "head dimension (channels)", "d"}, [](auto& p) -> auto& { return p.shape.head_dim; }, 1,
          "channels per head (normally from the model file)"),
      choice<DType>(
          {"dtype", ParamRole::workload, "Q/K/V dtype", "dtype"}, [](auto& p) -> auto& { return p.dtype; }, float_types,
          "storage type of Q (and of K/V when kv_dtype is a float type)"),
      choice<DType>(
          {"kv_dtype", ParamRole::plan, "KV cache dtype", "kv"}, [](auto& p) -> auto& { return p.kv_dtype; }, kv_types,
          "storage type of the KV cache"),
      integer(
          {"page_size", ParamRole::plan, "physical page size (tokens)", "page"}, [](auto& p) -> auto& { return p.page_size; }, 1, "physical KV page, tokens",
          true),
      integer(
          {"logical_page_size", ParamRole::plan, "logical page size (tokens)", "logical"}, [](auto& p) -> auto& { return p.logical_page_size; }, 1,
          "key-statistics granularity, tokens; divides page_size", true),
      integer(
          {"token_budget", ParamRole::plan, "token budget (tokens)", "budget"}, [](auto& p) -> auto& { return p.token_budget; }, 1,
          "tokens attended per dense head in dynamic decode; a multiple of page_size"),
      integer(
          {"reuse_interval", ParamRole::plan, "reuse interval (decode steps)", "reuse"}, [](auto& p) -> auto& { return p.reuse_interval; }, 1,
          "decode steps one page selection is reused for"),
      choice<GqaSelection>(
          {"gqa_selection", ParamRole::plan, "GQA selection", "gqa"}, [](auto& p) -> auto& { return p.gqa_selection; },
          {GqaSelection::per_query_head, GqaSelection::kv_head_max, GqaSelection::kv_head_sum},
          "select pages per query head or once per KV head group"),
      choice<PageSelectorKind>(
          {"selector", ParamRole::plan, "page selector", "selector"}, [](auto& p) -> auto& { return p.selector; },
          {PageSelectorKind::quest, PageSelectorKind::oracle},
          "what ranks the pages of dense heads in dynamic decode: Quest's key-statistics bounds, or "
          "the oracle's true softmax mass per page (same budget, forced last page, ties, reuse and "
          "GQA combination; cpu backend only)"),
      choice<CacheFill>(
          {"cache_fill", ParamRole::workload, "KV cache fill", "fill"}, [](auto& p) -> auto& { return p.cache_fill; },
          {CacheFill::upload, CacheFill::prefill},
          "how the cuda backend fills its paged KV cache before decode step 0: upload the prompt's "
          "K/V from the host, or run the prefill over the prompt (streaming heads as streaming "
          "prefill heads, the others dense causal, tiles of block_size) and write the cache from "
          "its device K/V, timed as time_prefill_us; decode only, the cpu backend ignores it (its "
          "cache is the workload itself)"),
      number(
          {"streaming_fraction", ParamRole::workload, "streaming heads (share of KV heads)", "streaming"}, [](auto& p) -> auto& { return p.streaming_fraction; }, 0.0, 1.0,
          "share of KV heads that are streaming heads"),
      integer(
          {"sink_tokens", ParamRole::workload, "sink tokens", "sink"}, [](auto& p) -> auto& { return p.sink_tokens; }, 0,
          "tokens at the start a streaming head keeps"),
      integer(
          {"local_tokens", ParamRole::workload, "local window (tokens)", "local"}, [](auto& p) -> auto& { return p.local_tokens; }, 1,
          "most recent tokens a streaming head keeps"),
      choice<HeadSelection>(
          {"head_selection", ParamRole::workload, "streaming-head selection", "heads"}, [](auto& p) -> auto& { return p.head_selection; },
          {HeadSelection::interleaved, HeadSelection::trace, HeadSelection::random,
           HeadSelection::calibrated, HeadSelection::calibrated_inverted},
          "which KV heads are streaming: interleaved (fixed order, streaming_fraction per layer), "
          "trace (the trace's head_types), random (seed; a global share across the trace's layers), "
          "calibrated / calibrated_inverted (the head_calibration's cheapest / costliest heads, a "
          "global quantile at streaming_fraction across layers); traces only, except interleaved"),
      reference(
          {"head_calibration", ParamRole::workload, "head calibration", "calibration"}, [](auto& p) -> auto& { return p.head_calibration; },
          "streaming-head costs for head_selection calibrated*: a name (configs/heads/<name>.yaml) "
          "or a DuoAttention full_attention_heads .tsv path (relative to the sweep file, then the "
          "repository); \"\" = none"),
      trace_layer(
          {"layer", ParamRole::workload, "layer", "layer"}, [](auto& p) -> auto& { return p.workload.trace_layer; },
          "trace layer a point reads; `all` (in fixed:, axes: or the workload mapping) sweeps every "
          "layer the trace holds"),
      integer(
          {"block_size", ParamRole::plan, "prefill block size (tokens)", "block"}, [](auto& p) -> auto& { return p.block_size; }, 1,
          "prefill query/KV tile, tokens (prefill points and cache_fill prefill)", true),
      integer(
          {"decode_steps", ParamRole::workload, "decode steps", "steps"}, [](auto& p) -> auto& { return p.decode_steps; }, {0, kMaxSequenceTokens},
          "decode queries per sequence (decode phase needs >= 1); context_len + decode_steps <= " +
              std::to_string(kMaxSequenceTokens)),
      unsigned_integer(
          {"seed", ParamRole::workload, "workload seed", "seed"}, [](auto& p) -> auto& { return p.seed; }, "random seed of the synthetic workload and of head_selection random"),
      integer(
          {"reference_batches", ParamRole::evaluation, "sequences scored against the reference", "ref batches"}, [](auto& p) -> auto& { return p.reference_batches; }, 1,
          "sequences checked against the fp64 reference (at most batch are used)"),
      integer(
          {"reference_rows", ParamRole::evaluation, "prefill rows scored against the reference", "ref rows"}, [](auto& p) -> auto& { return p.reference_rows; }, 0,
          "prefill query rows per head checked against the reference; 0 = all"),
      number(
          {"needle_mass_threshold", ParamRole::evaluation, "needle-seeking mass threshold", "needle mass"},
          [](auto& p) -> auto& { return p.needle_mass_threshold; }, 0.0, 1.0,
          "traces with needle_positions: a decode row seeks the needle when its dense attention puts "
          "at least this share of its mass on the needle tokens (needle_hit counts those rows)"),
      choice<ModelTask>(
          {"task", ParamRole::model, "model task", "task"}, [](auto& p) -> auto& { return p.task; },
          {ModelTask::none, ModelTask::passkey, ModelTask::perplexity},
          "none = one layer's attention on the workload, scored against the dense fp64 reference; "
          "passkey / perplexity = the real model (configs/models/<model>.yaml names it) decodes with "
          "the point's plan in every layer's attention (cpu backend, decode phase)"),
      model_value<double>(
          {"passkey_depth", ParamRole::model, "passkey depth (share of the filler)", "depth"},
          ValueKind::number, [](auto& p) -> auto& { return p.passkey_depth; }, 0.0, 1.0,
          "task passkey: where the key sits in the filler, 0 = first, 1 = last"),
      model_value<int>(
          {"passkey_seed", ParamRole::model, "passkey seed", "key seed"}, ValueKind::integer,
          [](auto& p) -> auto& { return p.passkey_seed; }, 0, INT_MAX,
          "task passkey: the seed of the five-digit key"),
      model_value<int>(
          {"eval_tokens", ParamRole::model, "evaluated tokens", "eval tokens"}, ValueKind::integer,
          [](auto& p) -> auto& { return p.eval_tokens; }, 1, kMaxSequenceTokens,
          "decode steps under the point's plan: passkey = greedy answer tokens after the prompt, "
          "perplexity = the text's last tokens, teacher-forced and scored (the prefill is the "
          "context_len - eval_tokens tokens before them)"),

      integer(
          {"workload.num_sink_tokens", ParamRole::workload, "sink keys (tokens)", "sink keys"},
          [](auto& p) -> auto& { return p.workload.knobs.num_sink_tokens; }, 0,
          "attention-sink keys at the start of the sequence"),
      number(
          {"workload.sink_strength", ParamRole::workload, "sink strength (logit)", "sink str"}, [](auto& p) -> auto& { return p.workload.knobs.sink_strength; },
          0.0, kUnbounded, "logit boost of sink keys"),
      number(
          {"workload.recency_strength", ParamRole::workload, "recency strength (logit)", "recency"},
          [](auto& p) -> auto& { return p.workload.knobs.recency_strength; }, 0.0, kUnbounded,
          "logit boost of a key at distance 0 from the query"),
      number(
          {"workload.recency_scale", ParamRole::workload, "recency scale (tokens)", "recency scale"}, [](auto& p) -> auto& { return p.workload.knobs.recency_scale; },
          1.0, kUnbounded, "tokens over which the recency boost decays"),
      number(
          {"workload.segment_length_mean", ParamRole::workload, "mean segment length (tokens)", "segment"},
          [](auto& p) -> auto& { return p.workload.knobs.segment_length_mean; }, 1.0, kUnbounded,
          "mean length of a topical segment, tokens"),
      integer(
          {"workload.num_topics", ParamRole::workload, "topics", "topics"}, [](auto& p) -> auto& { return p.workload.knobs.num_topics; }, 1,
          "distinct topic directions"),
      number(
          {"workload.topic_strength", ParamRole::workload, "topic strength (logit)", "topic str"},
          [](auto& p) -> auto& { return p.workload.knobs.topic_strength; }, 0.0, kUnbounded,
          "logit boost of keys of the query's topic"),
      number_list(
          {"workload.needle_depths", ParamRole::workload, "needle depths (share of the prefill)", "depths"}, [](auto& p) -> auto& { return p.workload.knobs.needle_depths; },
          0.0, 1.0, "needle positions as fractions of the prefill; [] = no needles"),
      integer(
          {"workload.needle_tokens", ParamRole::workload, "tokens per needle", "needle tokens"}, [](auto& p) -> auto& { return p.workload.knobs.needle_tokens; },
          1, "contiguous tokens per needle"),
      number(
          {"workload.needle_strength", ParamRole::workload, "needle strength (logit)", "needle str"},
          [](auto& p) -> auto& { return p.workload.knobs.needle_strength; }, 0.0, kUnbounded,
          "logit of a needle token for a query that seeks it"),
      number(
          {"workload.streaming_sink_strength", ParamRole::workload, "streaming-head sink strength (logit)", "stream sink"},
          [](auto& p) -> auto& { return p.workload.knobs.streaming_sink_strength; }, 0.0,
          kUnbounded, "sink logit boost in streaming-type heads"),
      number(
          {"workload.streaming_local_strength", ParamRole::workload, "streaming-head local strength (logit)", "stream local"},
          [](auto& p) -> auto& { return p.workload.knobs.streaming_local_strength; }, 0.0,
          kUnbounded, "local-window logit boost in streaming-type heads"),
      number_or_keyword(
          {"workload.streaming_type_fraction", ParamRole::workload, "streaming-type heads (share of KV heads)", "stream types"},
          [](auto& p) -> auto& { return p.workload.knobs.streaming_type_fraction; }, 0.0, 1.0,
          "layout", "share of KV heads with streaming-type structure, whatever streaming_fraction; "
          "layout = the point's streaming heads"),
      number(
          {"workload.strength_spread", ParamRole::workload, "head-to-head strength spread (log std)", "spread"},
          [](auto& p) -> auto& { return p.workload.knobs.strength_spread; }, 0.0, kUnbounded,
          "std of the log of each query head's factor on each strength (0 = heads alike)"),
      number(
          {"workload.query_drift", ParamRole::workload, "decode query drift (share per step)", "drift"}, [](auto& p) -> auto& { return p.workload.knobs.query_drift; },
          0.0, 1.0, "per-step share of a decode query replaced by fresh noise"),
      number(
          {"workload.jump_probability", ParamRole::workload, "decode query jump probability", "jump"},
          [](auto& p) -> auto& { return p.workload.knobs.jump_probability; }, 0.0, 1.0,
          "per-step probability that a decode query jumps to another topic or needle"),
      number(
          {"workload.key_noise", ParamRole::workload, "key noise (std)", "key noise"}, [](auto& p) -> auto& { return p.workload.knobs.key_noise; }, 0.0,
          kUnbounded, "std of the isotropic part of keys and queries"),
      number(
          {"workload.value_noise", ParamRole::workload, "value noise (std)", "value noise"}, [](auto& p) -> auto& { return p.workload.knobs.value_noise; },
          0.0, kUnbounded, "std of values"),
      number(
          {"workload.strength_reference_context", ParamRole::workload, "strength reference context (tokens)", "strength ref"},
          [](auto& p) -> auto& { return p.workload.knobs.strength_reference_context; }, 0.0,
          kUnbounded,
          "context the strengths are given for; a longer context adds ln(T / it) to the sink, "
          "needle and streaming strengths (0 = strengths are literal)"),

      integer(
          {"timing.warmup", ParamRole::timing, "warm-up iterations", "warmup"}, [](auto& p) -> auto& { return p.timing.warmup; }, 0,
          "untimed iterations before measuring"),
      integer(
          {"timing.min_iters", ParamRole::timing, "minimum timed iterations", "min iters"}, [](auto& p) -> auto& { return p.timing.min_iters; }, 1,
          "timed iterations at least"),
      integer(
          {"timing.max_iters", ParamRole::timing, "maximum timed iterations", "max iters"}, [](auto& p) -> auto& { return p.timing.max_iters; }, 1,
          "timed iterations at most (>= min_iters)"),
      number(
          {"timing.max_noise", ParamRole::timing, "noise target", "noise"}, [](auto& p) -> auto& { return p.timing.max_noise; }, 0.0, kUnbounded,
          "stop once the relative spread of the median is below this"),
      boolean(
          {"timing.l2_flush", ParamRole::timing, "L2 flush", "flush"}, [](auto& p) -> auto& { return p.timing.l2_flush; },
          "flush the L2 cache before every timed iteration"),
  };
}

std::vector<Param>& registry() {
  static std::vector<Param> table = make_params();
  return table;
}

}  // namespace

std::string_view to_string(ParamRole role) {
  switch (role) {
    case ParamRole::workload: return "workload";
    case ParamRole::plan: return "plan";
    case ParamRole::evaluation: return "evaluation";
    case ParamRole::timing: return "timing";
    case ParamRole::model: return "model";
  }
  return "?";
}

const std::vector<Param>& params() { return registry(); }

void register_param(Param param) {
  if (find_param(param.key) != nullptr)
    throw std::invalid_argument("parameter '" + param.key + "' is already registered");
  registry().push_back(std::move(param));
}

const Param* find_param(std::string_view key) {
  for (const Param& param : params())
    if (param.key == key) return &param;
  return nullptr;
}

std::vector<std::string> param_keys() {
  std::vector<std::string> all;
  for (const Param& param : params()) all.push_back(param.key);
  return all;
}

bool changes_workload(std::string_view key) {
  const Param* param = find_param(key);
  return param != nullptr && param->role == ParamRole::workload;
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
      {"trace_overrides", point.workload.trace_overrides},
      {"backend", point.backend},
  };
  for (const Param& param : params()) row.emplace_back(param.key, param.get(point));
  return row;
}

}  // namespace unisparse
