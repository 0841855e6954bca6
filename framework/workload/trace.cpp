#include "framework/workload/trace.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/workload/safetensors.h"

namespace unisparse {
namespace {

InputError tensor_error(const std::string& path, const std::string& name,
                        const std::string& message) {
  return InputError(path + ": tensor '" + name + "': " + message);
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

HeadLayout head_layout(const std::string& path, const std::map<std::string, std::string>& metadata,
                       int layer, int num_kv_heads, const PointConfig& point) {
  HeadLayout layout = HeadLayout::all_dense(num_kv_heads);
  layout.sink_tokens = point.sink_tokens;
  layout.local_tokens = point.local_tokens;
  const auto it = metadata.find("head_types");
  if (it == metadata.end()) return layout;
  auto bad = [&](const std::string& message) {
    return InputError(path + ": __metadata__ head_types: " + message);
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::parse_error& e) {
    throw bad(std::string("not valid JSON: ") + e.what());
  }
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
  for (int h = 0; h < num_kv_heads; ++h) {
    const std::string kind = kinds[h].is_string() ? kinds[h].get<std::string>() : "";
    if (kind == "streaming") {
      layout.kv_head_kind[h] = HeadKind::streaming;
    } else if (kind != "dense") {
      throw bad("layer " + key + " head " + std::to_string(h) +
                ": expected \"streaming\" or \"dense\", got " + kinds[h].dump());
    }
  }
  return layout;
}

// The first `steps` rows of a [trace_steps, heads, head_dim] tensor.
Tensor first_steps(const Tensor& tensor, int64_t steps) {
  Tensor out({steps, tensor.dim(1), tensor.dim(2)});
  std::copy_n(tensor.data(), out.size(), out.data());
  return out;
}

}  // namespace

Workload read_trace(const std::string& path, int layer, const PointConfig& point) {
  SafetensorsReader reader(path);
  const std::string prefix = "layers." + std::to_string(layer) + ".";
  const std::string k_name = prefix + "k", v_name = prefix + "v", q_name = prefix + "q";
  const std::string qd_name = prefix + "q_decode", kd_name = prefix + "k_decode",
                    vd_name = prefix + "v_decode";

  const std::vector<int64_t>& k_shape = reader.entry(k_name).shape;
  expect_shape(path, k_name, k_shape, {-1, -1, -1}, "[num_kv_heads, T, head_dim]");
  const int64_t num_kv_heads = k_shape[0], T = k_shape[1], head_dim = k_shape[2];
  if (num_kv_heads < 1 || T < 1 || head_dim < 1)
    throw tensor_error(path, k_name, "empty shape " + shape_text(k_shape));
  expect_shape(path, v_name, reader.entry(v_name).shape, k_shape, "[num_kv_heads, T, head_dim]");

  const bool has_prefill_queries = reader.contains(q_name);
  const bool has_decode = reader.contains(qd_name);
  if (needs_prefill_queries(point) && !has_prefill_queries)
    throw tensor_error(path, q_name,
                       point.phase == Phase::prefill
                           ? "missing from the file (a prefill point needs prefill queries)"
                           : "missing from the file (cache_fill prefill runs the prefill over the "
                             "prompt, which needs its queries)");
  if (point.phase == Phase::decode && !has_decode)
    throw tensor_error(path, qd_name, "missing from the file (a decode point needs decode queries)");

  const bool model_named = !point.model.empty();
  int64_t num_q_heads = model_named ? point.shape.num_q_heads : num_kv_heads;
  if (has_prefill_queries) {
    const std::vector<int64_t>& shape = reader.entry(q_name).shape;
    expect_shape(path, q_name, shape, {-1, T, head_dim}, "[num_q_heads, T, head_dim]");
    num_q_heads = shape[0];
  }
  int64_t trace_steps = 0;
  if (has_decode) {
    const std::vector<int64_t>& shape = reader.entry(qd_name).shape;
    expect_shape(path, qd_name, shape,
                 {-1, has_prefill_queries ? num_q_heads : -1, head_dim},
                 "[steps, num_q_heads, head_dim]");
    num_q_heads = shape[1];
    trace_steps = shape[0];
    expect_shape(path, kd_name, reader.entry(kd_name).shape, {trace_steps, num_kv_heads, head_dim},
                 "[steps, num_kv_heads, head_dim]");
    expect_shape(path, vd_name, reader.entry(vd_name).shape, {trace_steps, num_kv_heads, head_dim},
                 "[steps, num_kv_heads, head_dim]");
  }
  if (num_q_heads < 1 || num_q_heads % num_kv_heads != 0)
    throw tensor_error(path, has_decode ? qd_name : q_name,
                       std::to_string(num_q_heads) + " query heads are not a multiple of " +
                           std::to_string(num_kv_heads) + " KV heads");
  if (model_named) {
    const ModelShape& m = point.shape;
    if (num_q_heads != m.num_q_heads || num_kv_heads != m.num_kv_heads || head_dim != m.head_dim)
      throw tensor_error(
          path, k_name,
          "trace shape (num_q_heads " + std::to_string(num_q_heads) + ", num_kv_heads " +
              std::to_string(num_kv_heads) + ", head_dim " + std::to_string(head_dim) +
              ") does not match model '" + point.model + "' (" + std::to_string(m.num_q_heads) +
              ", " + std::to_string(m.num_kv_heads) + ", " + std::to_string(m.head_dim) + ")");
  }

  Workload workload;
  workload.name = point.workload.name.empty() ? std::filesystem::path(path).stem().string()
                                              : point.workload.name;
  workload.shape = {static_cast<int>(num_q_heads), static_cast<int>(num_kv_heads),
                    static_cast<int>(head_dim)};
  workload.heads = head_layout(path, reader.metadata(), layer, static_cast<int>(num_kv_heads), point);
  workload.context_len = static_cast<int>(T);
  workload.dtype = point.dtype;
  workload.seed = point.seed;
  const int64_t steps = has_decode ? std::min<int64_t>(trace_steps, point.decode_steps) : 0;
  workload.decode_steps = static_cast<int>(steps);

  Sequence seq;
  seq.k = reader.read(k_name);
  seq.v = reader.read(v_name);
  if (needs_prefill_queries(point)) seq.q = reader.read(q_name);
  if (has_decode) {
    seq.q_decode = first_steps(reader.read(qd_name), steps);
    seq.k_decode = first_steps(reader.read(kd_name), steps);
    seq.v_decode = first_steps(reader.read(vd_name), steps);
  } else {
    seq.q_decode = Tensor({0, num_q_heads, head_dim});
    seq.k_decode = Tensor({0, num_kv_heads, head_dim});
    seq.v_decode = Tensor({0, num_kv_heads, head_dim});
  }
  for (Tensor* t : {&seq.q, &seq.k, &seq.v, &seq.q_decode, &seq.k_decode, &seq.v_decode})
    round_to_dtype(t->storage(), point.dtype);
  seq.needle_targets.assign(steps, std::vector<std::vector<int32_t>>(num_q_heads));
  workload.batch.push_back(std::move(seq));
  return workload;
}

void write_trace(const std::string& path, const Workload& workload, int layer, DType dtype,
                 const std::map<std::string, std::string>& metadata) {
  if (workload.batch.empty()) throw InputError(path + ": the workload has no sequence to write");
  const Sequence& seq = workload.batch[0];
  const std::string prefix = "layers." + std::to_string(layer) + ".";
  std::vector<SafetensorsTensor> tensors{{prefix + "k", &seq.k, dtype}, {prefix + "v", &seq.v, dtype}};
  if (!seq.q.empty()) tensors.push_back({prefix + "q", &seq.q, dtype});
  if (workload.decode_steps > 0) {
    tensors.push_back({prefix + "q_decode", &seq.q_decode, dtype});
    tensors.push_back({prefix + "k_decode", &seq.k_decode, dtype});
    tensors.push_back({prefix + "v_decode", &seq.v_decode, dtype});
  }
  std::map<std::string, std::string> header_metadata = metadata;
  if (!header_metadata.count("head_types")) {
    nlohmann::json kinds = nlohmann::json::array();
    for (HeadKind kind : workload.heads.kv_head_kind) kinds.push_back(std::string(to_string(kind)));
    header_metadata["head_types"] = nlohmann::json{{std::to_string(layer), kinds}}.dump();
  }
  write_safetensors(path, tensors, header_metadata);
}

}  // namespace unisparse
