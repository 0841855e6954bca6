#include "framework/results/csv.h"

#include <set>
#include <unordered_set>

namespace unisparse {

const std::vector<std::string>& csv_columns() {
  // clang-format off
  static const std::vector<std::string> columns = {
      // what the point is
      "sweep", "point_id", "status", "reason", "phase", "backend", "mode", "model", "workload",
      "context_len", "batch", "num_q_heads", "num_kv_heads", "head_dim", "dtype", "kv_dtype",
      "page_size", "logical_page_size", "token_budget", "reuse_interval", "streaming_fraction",
      "sink_tokens", "local_tokens", "block_size", "gqa_selection",
      // accuracy against the dense fp64 reference
      "out_rel_l2_mean", "out_rel_l2_p99", "out_rel_l2_max", "attn_recall", "page_recall",
      "needle_hit",
      // timing, microseconds per decode step or per prefill, one layer
      "time_us", "time_us_min", "time_us_max", "time_stats_us", "time_selector_us", "time_topk_us",
      "time_attention_us", "time_merge_us",
      // roofline
      "bytes_model", "flops_model", "achieved_gbps", "achieved_tflops", "device",
  };
  // clang-format on
  return columns;
}

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string csv_cell(const Row& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  // dump() turns a non-finite double into "null": keep such a cell empty as well.
  const Row finite = finite_or_null(value);
  return finite.is_null() ? "" : finite.dump(-1, ' ', false, Row::error_handler_t::replace);
}

std::vector<std::string> csv_header(const std::vector<Row>& rows) {
  std::vector<std::string> header = csv_columns();
  const std::unordered_set<std::string> standard(header.begin(), header.end());
  std::set<std::string> extra;
  for (const Row& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (!standard.contains(key)) extra.insert(key);
    }
  }
  header.insert(header.end(), extra.begin(), extra.end());
  return header;
}

std::string format_csv(const std::vector<Row>& rows) {
  const std::vector<std::string> header = csv_header(rows);
  std::string text;
  for (size_t i = 0; i < header.size(); ++i) {
    if (i > 0) text += ',';
    text += csv_escape(header[i]);
  }
  text += '\n';
  for (const Row& row : rows) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (i > 0) text += ',';
      const auto found = row.find(header[i]);
      if (found != row.end()) text += csv_escape(csv_cell(*found));
    }
    text += '\n';
  }
  return text;
}

}  // namespace unisparse
