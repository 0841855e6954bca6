#include "framework/core/types.h"

#include <array>
#include <cmath>
#include <utility>

namespace unisparse {

int HeadLayout::num_streaming() const {
  int n = 0;
  for (HeadKind k : kv_head_kind) n += k == HeadKind::streaming;
  return n;
}

HeadLayout HeadLayout::with_streaming_fraction(int num_kv_heads, double fraction, int sink_tokens,
                                               int local_tokens) {
  HeadLayout layout;
  layout.sink_tokens = sink_tokens;
  layout.local_tokens = local_tokens;
  layout.kv_head_kind.assign(num_kv_heads, HeadKind::dense);
  const int num_streaming = static_cast<int>(std::lround(fraction * num_kv_heads));
  // Odd heads first, then even heads from the top: 0.5 alternates, 0.25 spreads out, 1.0 is all.
  std::vector<int> order;
  for (int h = 1; h < num_kv_heads; h += 2) order.push_back(h);
  for (int h = num_kv_heads - 1 - (num_kv_heads % 2 == 0 ? 1 : 0); h >= 0; h -= 2) order.push_back(h);
  for (int i = 0; i < num_streaming && i < static_cast<int>(order.size()); ++i)
    layout.kv_head_kind[order[i]] = HeadKind::streaming;
  return layout;
}

HeadLayout HeadLayout::all_dense(int num_kv_heads) {
  HeadLayout layout;
  layout.kv_head_kind.assign(num_kv_heads, HeadKind::dense);
  return layout;
}

namespace {
template <class E, size_t N>
std::string_view name_of(E value, const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [e, name] : table)
    if (e == value) return name;
  return "?";
}
template <class E, size_t N>
bool value_of(std::string_view text, E& out, const std::array<std::pair<E, std::string_view>, N>& table) {
  for (const auto& [e, name] : table)
    if (name == text) {
      out = e;
      return true;
    }
  return false;
}

constexpr std::array<std::pair<HeadKind, std::string_view>, 2> kHeadKinds{
    {{HeadKind::dense, "dense"}, {HeadKind::streaming, "streaming"}}};
constexpr std::array<std::pair<GqaSelection, std::string_view>, 3> kGqa{
    {{GqaSelection::per_query_head, "per_query_head"},
     {GqaSelection::kv_head_max, "kv_head_max"},
     {GqaSelection::kv_head_sum, "kv_head_sum"}}};
constexpr std::array<std::pair<SparsityMode, std::string_view>, 4> kModes{
    {{SparsityMode::dense, "dense"},
     {SparsityMode::static_only, "static"},
     {SparsityMode::dynamic_only, "dynamic"},
     {SparsityMode::static_dynamic, "static+dynamic"}}};
constexpr std::array<std::pair<Phase, std::string_view>, 2> kPhases{
    {{Phase::prefill, "prefill"}, {Phase::decode, "decode"}}};
constexpr std::array<std::pair<CacheFill, std::string_view>, 2> kCacheFills{
    {{CacheFill::upload, "upload"}, {CacheFill::prefill, "prefill"}}};
constexpr std::array<std::pair<DType, std::string_view>, 6> kDTypes{
    {{DType::fp32, "fp32"}, {DType::fp16, "fp16"}, {DType::bf16, "bf16"},
     {DType::int8, "int8"}, {DType::int4, "int4"}, {DType::fp8, "fp8"}}};
}  // namespace

std::string_view to_string(HeadKind v) { return name_of(v, kHeadKinds); }
std::string_view to_string(GqaSelection v) { return name_of(v, kGqa); }
std::string_view to_string(SparsityMode v) { return name_of(v, kModes); }
std::string_view to_string(Phase v) { return name_of(v, kPhases); }
std::string_view to_string(CacheFill v) { return name_of(v, kCacheFills); }
std::string_view to_string(DType v) { return name_of(v, kDTypes); }
bool parse(std::string_view t, GqaSelection& o) { return value_of(t, o, kGqa); }
bool parse(std::string_view t, SparsityMode& o) { return value_of(t, o, kModes); }
bool parse(std::string_view t, Phase& o) { return value_of(t, o, kPhases); }
bool parse(std::string_view t, CacheFill& o) { return value_of(t, o, kCacheFills); }
bool parse(std::string_view t, DType& o) { return value_of(t, o, kDTypes); }

}  // namespace unisparse
