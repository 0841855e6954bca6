#pragma once
// Per (layer, KV head) costs of making a head a streaming head (sink + local tokens only), from
// `unisparse calibrate-heads` on captured traces or from DuoAttention's gate values, and the rule
// that turns them into head layouts: the global quantile across layers (LServe's binarisation of
// DuoAttention gates). The files are read and written by framework/config/head_calibration_file.h.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace unisparse {

// One trace a calibration was scored on.
struct CalibrationTrace {
  std::string path;
  std::string prompt_kind;  // the trace's prompt_kind metadata ("passkey", "prose"), or ""
  int tokens = 0;           // prefill tokens T
  int decode_steps = 0;     // decode steps scored
};

struct HeadCalibration {
  std::string name;    // configs/heads/<name>.yaml, or the .tsv file's stem
  std::string model;   // "" when unknown (a DuoAttention file)
  std::string metric;  // the score that ranks heads: a key of `scores`
  std::string date;    // YYYY-MM-DD of the scoring, "" when unknown
  int sink_tokens = 0;   // the streaming window scored (0 when unknown)
  int local_tokens = 0;
  std::vector<CalibrationTrace> traces;
  std::vector<int> layers;  // ascending layer ids
  // score name -> [layers.size()][num_kv_heads]; a higher score = a costlier streaming head.
  std::map<std::string, std::vector<std::vector<double>>> scores;

  int num_kv_heads() const;
  // Index of a layer in `layers`, -1 when absent.
  int layer_index(int layer) const;
  const std::vector<std::vector<double>>& ranking() const { return scores.at(metric); }
};

// The score names calibrate-heads writes: output rel L2 error of the streaming head against dense
// attention (max over the KV head's query heads, mean over decode steps, then over traces), and the
// dense attention mass outside sink + local (aggregated the same way).
inline constexpr const char* kOutRelL2Score = "out_rel_l2";
inline constexpr const char* kOutsideMassScore = "outside_mass";
// DuoAttention gate values in [0, 1] (higher = retrieval head), used as the cost itself.
inline constexpr const char* kGateScore = "gate";

// Which (layer, KV head) pairs become streaming: the round(fraction * pairs) pairs of lowest cost
// (highest with `highest_first`), ties to the lower layer, then the lower KV head. cost: [layers][KV
// heads]. Returns [layers][KV heads].
std::vector<std::vector<bool>> streaming_by_global_quantile(
    const std::vector<std::vector<double>>& cost, double fraction, bool highest_first = false);

}  // namespace unisparse
