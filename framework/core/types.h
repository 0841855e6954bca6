#pragma once
// Vocabulary shared by every part of unisparse: model shape, static head layout, page geometry and
// the dynamic selection policy. Plain structs; validation lives in framework/config.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace unisparse {

struct ModelShape {
  int num_q_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int group_size() const { return num_q_heads / num_kv_heads; }  // query heads per KV head
  int kv_head_of(int q_head) const { return q_head / group_size(); }
};

// Static sparsity: each KV head (and with it its query-head group) is either a dense (retrieval) head
// that keeps the full context or a streaming head that sees only sink + local tokens (Λ shape).
enum class HeadKind { dense, streaming };

struct HeadLayout {
  std::vector<HeadKind> kv_head_kind;  // [num_kv_heads]
  int sink_tokens = 128;
  int local_tokens = 256;

  bool is_streaming(int kv_head) const { return kv_head_kind[kv_head] == HeadKind::streaming; }
  int num_streaming() const;
  // The first round(fraction * num_kv_heads) heads in a fixed interleaved order are streaming, so
  // that a fraction of 0.5 alternates dense and streaming heads.
  static HeadLayout with_streaming_fraction(int num_kv_heads, double fraction, int sink_tokens,
                                            int local_tokens);
  static HeadLayout all_dense(int num_kv_heads);
};

// Hierarchical paging: physical pages are the unit of memory layout and loading; logical pages (a
// divisor of the physical page size) are the unit of key statistics.
struct PageGeometry {
  int physical_page_size = 64;
  int logical_page_size = 16;
  int logical_per_physical() const { return physical_page_size / logical_page_size; }
};

enum class GqaSelection { per_query_head, kv_head_max, kv_head_sum };

struct SelectionPolicy {
  int token_budget = 4096;  // tokens; a multiple of the physical page size
  int reuse_interval = 4;   // the selector runs at decode steps s with s % reuse_interval == 0
  GqaSelection gqa_selection = GqaSelection::per_query_head;
};

// Which sparsity a point runs: static = streaming heads, dynamic = page selection on dense heads.
enum class SparsityMode { dense, static_only, dynamic_only, static_dynamic };

enum class Phase { prefill, decode };

// How a decode run fills the cuda backend's paged KV cache before step 0: upload the prompt's K/V
// from the host, or run the prefill over the prompt and write the cache from its device K/V.
enum class CacheFill { upload, prefill };

// Storage type of Q/K/V. Values in host tensors are already rounded to it, so every backend sees the
// same inputs.
enum class DType { fp32, fp16, bf16, int8, int4, fp8 };

std::string_view to_string(HeadKind);
std::string_view to_string(GqaSelection);
std::string_view to_string(SparsityMode);
std::string_view to_string(Phase);
std::string_view to_string(CacheFill);
std::string_view to_string(DType);
// Parsers return false on an unknown name (the caller reports where it came from).
bool parse(std::string_view text, GqaSelection& out);
bool parse(std::string_view text, SparsityMode& out);
bool parse(std::string_view text, Phase& out);
bool parse(std::string_view text, CacheFill& out);
bool parse(std::string_view text, DType& out);

inline bool uses_streaming_heads(SparsityMode m) {
  return m == SparsityMode::static_only || m == SparsityMode::static_dynamic;
}
inline bool uses_page_selection(SparsityMode m) {
  return m == SparsityMode::dynamic_only || m == SparsityMode::static_dynamic;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace unisparse
