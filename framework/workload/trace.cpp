#include "framework/workload/trace.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/size_limits.h"
#include "framework/workload/head_selection.h"
#include "framework/workload/safetensors.h"

namespace unisparse {
namespace {

InputError tensor_error(const std::string& path, const std::string& name,
                        const std::string& message) {
  return InputError(path + ": tensor '" + name + "': " + message);
}

InputError metadata_error(const std::string& path, const std::string& key,
                          const std::string& message) {
  return InputError(path + ": __metadata__ " + key + ": " + message);
}

// Checks one tensor's shape against the expected extents (-1 = any) named by `layout`.
void expect_shape(const std::string& path, const std::string& name,
                  const std::vector<int64_t>& shape, const std::vector<int64_t>& expected,
                  const std::string& layout) {
  if (shape.size() != expected.size())
    throw tensor_error(path, name, "expected " + std::to_string(expected.size()) +
                                       " dimensions " + layout + ", got " + shape_text(shape));
  for (size_t i = 0; i < expected.size(); ++i)
    if (expected[i] >= 0 && shape[i] != expected[i]) {
      std::string wanted = "[";
      for (size_t j = 0; j < expected.size(); ++j)
        wanted += (j ? ", " : "") + (expected[j] >= 0 ? std::to_string(expected[j]) : "*");
      throw tensor_error(path, name, "expected shape " + wanted + "] " + layout + ", got " +
                                         shape_text(shape));
    }
}

nlohmann::json parse_metadata_json(const std::string& path, const std::string& key,
                                   const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error; out_of_range: a huge number
    throw metadata_error(path, key, std::string("not valid JSON: ") + e.what());
  }
}

// This layer's entry of the head_types metadata; nullopt when the trace has none.
std::optional<std::vector<HeadKind>> trace_head_types(
    const std::string& path, const std::map<std::string, std::string>& metadata, int layer,
    int num_kv_heads) {
  const auto it = metadata.find("head_types");
  if (it == metadata.end()) return std::nullopt;
  auto bad = [&](const std::string& message) { return metadata_error(path, "head_types", message); };
  const nlohmann::json json = parse_metadata_json(path, "head_types", it->second);
  const std::string key = std::to_string(layer);
  nlohmann::json kinds;
  if (json.is_array() && layer < static_cast<int>(json.size())) {
    kinds = json[layer];
  } else if (json.is_object() && json.contains(key)) {
    kinds = json[key];
  } else {
    throw bad("no entry for layer " + key);
  }
  if (!kinds.is_array() || static_cast<int>(kinds.size()) != num_kv_heads)
    throw bad("layer " + key + " must list " + std::to_string(num_kv_heads) + " KV head types");
  std::vector<HeadKind> types(num_kv_heads, HeadKind::dense);
  for (int h = 0; h < num_kv_heads; ++h) {
    const std::string kind = kinds[h].is_string() ? kinds[h].get<std::string>() : "";
    if (kind == "streaming") {
      types[h] = HeadKind::streaming;
    } else if (kind != "dense") {
      throw bad("layer " + key + " head " + std::to_string(h) +
                ": expected \"streaming\" or \"dense\", got " + kinds[h].dump());
    }
  }
  return types;
}

// The needle_positions metadata: prompt token positions, each in [0, T).
std::vector<int32_t> needle_positions(const std::string& path,
                                      const std::map<std::string, std::string>& metadata,
                                      int context_len) {
  const auto it = metadata.find("needle_positions");
  if (it == metadata.end()) return {};
  const nlohmann::json json = parse_metadata_json(path, "needle_positions", it->second);
  if (!json.is_array())
    throw metadata_error(path, "needle_positions", "expected a JSON list of token positions, got " +
                                                       json.dump());
  std::vector<int32_t> positions;
  for (const nlohmann::json& item : json) {
    if (!item.is_number_integer() || item.get<int64_t>() < 0 || item.get<int64_t>() >= context_len)
      throw metadata_error(path, "needle_positions",
                           "expected token positions in [0, " + std::to_string(context_len) +
                               ") (the prompt), got " + item.dump());
    positions.push_back(item.get<int32_t>());
  }
  std::sort(positions.begin(), positions.end());
  return positions;
}

// Layer ids of the layers.{i}.k tensors, ascending.
std::vector<int> layers_held(const SafetensorsReader& reader) {
  std::vector<int> layers;
  constexpr std::string_view kPrefix = "layers.", kSuffix = ".k";
  for (const std::string& name : reader.names()) {
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    const std::string_view digits =
        std::string_view(name).substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    int layer = -1;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), layer);
    if (error == std::errc() && end == digits.data() + digits.size() && layer >= 0)
      layers.push_back(layer);
  }
  std::sort(layers.begin(), layers.end());
  return layers;
}

struct TensorNames {
  std::string k, v, q, q_decode, k_decode, v_decode;
  explicit TensorNames(int layer) {
    const std::string prefix = "layers." + std::to_string(layer) + ".";
    k = prefix + "k", v = prefix + "v", q = prefix + "q";
    q_decode = prefix + "q_decode", k_decode = prefix + "k_decode", v_decode = prefix + "v_decode";
  }
};

TraceLayerInfo inspect(const SafetensorsReader& reader, int layer, const PointConfig& point,
                       const HeadCalibration* calibration) {
  const std::string& path = reader.path();
  const TensorNames names(layer);
  const std::vector<int64_t>& k_shape = reader.entry(names.k).shape;
  expect_shape(path, names.k, k_shape, {-1, -1, -1}, "[num_kv_heads, T, head_dim]");
  const int64_t num_kv_heads = k_shape[0], T = k_shape[1], head_dim = k_shape[2];
  if (num_kv_heads < 1 || T < 1 || head_dim < 1)
    throw tensor_error(path, names.k, "empty shape " + shape_text(k_shape));
  expect_shape(path, names.v, reader.entry(names.v).shape, k_shape, "[num_kv_heads, T, head_dim]");
  const std::string& stored = reader.entry(names.k).dtype;
  if (stored != "F32" && stored != "F16" && stored != "BF16")
    throw tensor_error(path, names.k, "unsupported dtype '" + stored + "' (expected F16, BF16 or F32)");

  const bool has_prefill_queries = reader.contains(names.q);
  const bool has_decode = reader.contains(names.q_decode);
  if (needs_prefill_queries(point) && !has_prefill_queries)
    throw tensor_error(path, names.q,
                       point.phase == Phase::prefill
                           ? "missing from the file (a prefill point needs prefill queries)"
                           : "missing from the file (cache_fill prefill runs the prefill over the "
                             "prompt, which needs its queries)");
  if (point.phase == Phase::decode && !has_decode)
    throw tensor_error(path, names.q_decode,
                       "missing from the file (a decode point needs decode queries)");

  const bool model_named = !point.model.empty();
  int64_t num_q_heads = model_named ? point.shape.num_q_heads : num_kv_heads;
  if (has_prefill_queries) {
    const std::vector<int64_t>& shape = reader.entry(names.q).shape;
    expect_shape(path, names.q, shape, {-1, T, head_dim}, "[num_q_heads, T, head_dim]");
    num_q_heads = shape[0];
  }
  int64_t trace_steps = 0;
  if (has_decode) {
    const std::vector<int64_t>& shape = reader.entry(names.q_decode).shape;
    expect_shape(path, names.q_decode, shape,
                 {-1, has_prefill_queries ? num_q_heads : -1, head_dim},
                 "[steps, num_q_heads, head_dim]");
    num_q_heads = shape[1];
    trace_steps = shape[0];
    // An empty tensor's other extents are not bounded by the file's size; a trace has no use for
    // decode tensors without steps (write_trace leaves them out).
    if (trace_steps < 1 || num_q_heads < 1)
      throw tensor_error(path, names.q_decode, "empty shape " + shape_text(shape));
    expect_shape(path, names.k_decode, reader.entry(names.k_decode).shape,
                 {trace_steps, num_kv_heads, head_dim}, "[steps, num_kv_heads, head_dim]");
    expect_shape(path, names.v_decode, reader.entry(names.v_decode).shape,
                 {trace_steps, num_kv_heads, head_dim}, "[steps, num_kv_heads, head_dim]");
  }
  if (num_q_heads < 1 || num_q_heads % num_kv_heads != 0)
    throw tensor_error(path, has_decode ? names.q_decode : names.q,
                       std::to_string(num_q_heads) + " query heads are not a multiple of " +
                           std::to_string(num_kv_heads) + " KV heads");
  // Every extent of a non-empty tensor is bounded by the file's size; the token count must also fit
  // the harness's sequence limit, positions being int.
  if (T + trace_steps > kMaxSequenceTokens)
    throw tensor_error(path, has_decode ? names.q_decode : names.k,
                       std::to_string(T) + " prefill tokens + " + std::to_string(trace_steps) +
                           " decode steps exceed the limit of " +
                           std::to_string(kMaxSequenceTokens) + " tokens per sequence");
  if (model_named) {
    const ModelShape& m = point.shape;
    if (num_q_heads != m.num_q_heads || num_kv_heads != m.num_kv_heads || head_dim != m.head_dim)
      throw tensor_error(
          path, names.k,
          "trace shape (num_q_heads " + std::to_string(num_q_heads) + ", num_kv_heads " +
              std::to_string(num_kv_heads) + ", head_dim " + std::to_string(head_dim) +
              ") does not match model '" + point.model + "' (" + std::to_string(m.num_q_heads) +
              ", " + std::to_string(m.num_kv_heads) + ", " + std::to_string(m.head_dim) + ")");
  }

  TraceLayerInfo info;
  info.shape = {static_cast<int>(num_q_heads), static_cast<int>(num_kv_heads),
                static_cast<int>(head_dim)};
  info.context_len = static_cast<int>(T);
  info.trace_decode_steps = static_cast<int>(trace_steps);
  info.decode_steps = has_decode ? static_cast<int>(std::min<int64_t>(trace_steps, point.decode_steps)) : 0;
  info.needle_tokens = needle_positions(path, reader.metadata(), info.context_len);
  info.stored_dtype = stored == "F32" ? DType::fp32 : stored == "BF16" ? DType::bf16 : DType::fp16;

  HeadSelectionRequest request;
  request.selection = point.head_selection;
  request.layer = layer;
  request.num_kv_heads = info.shape.num_kv_heads;
  request.streaming_fraction = point.streaming_fraction;
  request.seed = point.seed;
  request.sink_tokens = point.sink_tokens;
  request.local_tokens = point.local_tokens;
  request.model_layers = layers_held(reader);
  std::optional<std::vector<HeadKind>> head_types;
  if (point.head_selection == HeadSelection::trace) {
    head_types = trace_head_types(path, reader.metadata(), layer, info.shape.num_kv_heads);
    if (head_types) request.trace_head_types = &*head_types;
  }
  request.calibration = calibration;
  try {
    info.heads = select_head_layout(request);
  } catch (const std::invalid_argument& e) {
    throw InputError(path + ": layer " + std::to_string(layer) + ": " + e.what());
  }
  return info;
}

// The first `steps` rows of a [trace_steps, heads, head_dim] tensor.
Tensor first_steps(const Tensor& tensor, int64_t steps) {
  Tensor out({steps, tensor.dim(1), tensor.dim(2)});
  std::copy_n(tensor.data(), out.size(), out.data());
  return out;
}

}  // namespace

TraceHeader read_trace_header(const std::string& path) {
  const SafetensorsReader reader(path);
  TraceHeader header{path, layers_held(reader), reader.metadata()};
  if (header.layers.empty())
    throw InputError(path + ": no layers.{i}.k tensor: not a trace (README \"Trace format\")");
  return header;
}

TraceLayerInfo inspect_trace_layer(const std::string& path, int layer, const PointConfig& point,
                                   const HeadCalibration* calibration) {
  const SafetensorsReader reader(path);
  return inspect(reader, layer, point, calibration);
}

Workload read_trace(const std::string& path, int layer, const PointConfig& point,
                    const HeadCalibration* calibration) {
  SafetensorsReader reader(path);
  const TraceLayerInfo info = inspect(reader, layer, point, calibration);
  const TensorNames names(layer);
  const int64_t steps = info.decode_steps;
  const ModelShape& shape = info.shape;

  Workload workload;
  workload.name = point.workload.name.empty() ? std::filesystem::path(path).stem().string()
                                              : point.workload.name;
  workload.shape = shape;
  workload.heads = info.heads;
  workload.context_len = info.context_len;
  workload.dtype = point.dtype;
  workload.seed = point.seed;
  workload.decode_steps = static_cast<int>(steps);

  Sequence seq;
  seq.k = reader.read(names.k);
  seq.v = reader.read(names.v);
  if (needs_prefill_queries(point)) seq.q = reader.read(names.q);
  if (info.trace_decode_steps > 0 || reader.contains(names.q_decode)) {
    seq.q_decode = first_steps(reader.read(names.q_decode), steps);
    seq.k_decode = first_steps(reader.read(names.k_decode), steps);
    seq.v_decode = first_steps(reader.read(names.v_decode), steps);
  } else {
    seq.q_decode = Tensor({0, shape.num_q_heads, shape.head_dim});
    seq.k_decode = Tensor({0, shape.num_kv_heads, shape.head_dim});
    seq.v_decode = Tensor({0, shape.num_kv_heads, shape.head_dim});
  }
  for (Tensor* t : {&seq.q, &seq.k, &seq.v, &seq.q_decode, &seq.k_decode, &seq.v_decode})
    round_to_dtype(t->storage(), point.dtype);
  seq.needle_targets.assign(steps, std::vector<std::vector<int32_t>>(shape.num_q_heads));
  seq.needle_tokens = info.needle_tokens;
  workload.batch.push_back(std::move(seq));
  return workload;
}

void write_trace(const std::string& path, const std::vector<std::pair<int, const Workload*>>& layers,
                 DType dtype, const std::map<std::string, std::string>& metadata,
                 bool with_head_types) {
  std::vector<SafetensorsTensor> tensors;
  nlohmann::json head_types = nlohmann::json::object();
  for (const auto& [layer, workload] : layers) {
    if (workload->batch.empty()) throw InputError(path + ": the workload has no sequence to write");
    const Sequence& seq = workload->batch[0];
    const TensorNames names(layer);
    tensors.push_back({names.k, &seq.k, dtype});
    tensors.push_back({names.v, &seq.v, dtype});
    if (!seq.q.empty()) tensors.push_back({names.q, &seq.q, dtype});
    if (workload->decode_steps > 0) {
      tensors.push_back({names.q_decode, &seq.q_decode, dtype});
      tensors.push_back({names.k_decode, &seq.k_decode, dtype});
      tensors.push_back({names.v_decode, &seq.v_decode, dtype});
    }
    nlohmann::json kinds = nlohmann::json::array();
    for (HeadKind kind : workload->heads.kv_head_kind) kinds.push_back(std::string(to_string(kind)));
    head_types[std::to_string(layer)] = kinds;
  }
  std::map<std::string, std::string> header_metadata = metadata;
  if (with_head_types && !header_metadata.count("head_types"))
    header_metadata["head_types"] = head_types.dump();
  write_safetensors(path, tensors, header_metadata);
}

void write_trace(const std::string& path, const Workload& workload, int layer, DType dtype,
                 const std::map<std::string, std::string>& metadata) {
  write_trace(path, {{layer, &workload}}, dtype, metadata);
}

}  // namespace unisparse
