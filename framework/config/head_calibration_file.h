#pragma once
// Head calibration files (the format: configs/heads/README.md). Two forms:
//
//   configs/heads/<name>.yaml, written by `unisparse calibrate-heads`:
//     name: smollm2-135m-passkey      # must match the file name
//     model: smollm2-135m
//     metric: out_rel_l2              # the score that ranks heads (a key of every scores entry)
//     sink_tokens: 128                # the streaming window that was scored
//     local_tokens: 256
//     date: 2026-12-02
//     traces:                         # what was scored
//       - {path: traces/passkey/passkey_c4096_d010_s0.safetensors, prompt_kind: passkey,
//          tokens: 4096, decode_steps: 32}
//     scores:                         # per layer, one value per KV head; higher = costlier
//       - {layer: 0, out_rel_l2: [0.02, 0.41, 0.05], outside_mass: [0.01, 0.37, 0.04]}
//
//   DuoAttention's full_attention_heads.tsv: one line per layer (layer i on line i + 1), one
//   tab-separated gate value in [0, 1] per KV head, higher = retrieval (full attention) head. The
//   gate is the cost: the same global quantile then keeps the highest gates dense.
//
// Loading is strict: every problem is an InputError naming the file, the line and the key.
#include <string>
#include <vector>

#include "framework/workload/head_calibration.h"

namespace unisparse {

HeadCalibration load_head_calibration_file(const std::string& path);
HeadCalibration read_duo_attention_tsv(const std::string& path);

// The file a sweep's head_calibration value names: "<name>" -> <configs_dir>/heads/<name>.yaml; a
// value ending in ".tsv" -> that file, relative to the first of search_dirs that holds it (absolute
// paths as they are). ParamValueError (the caller adds where the value came from) when there is
// none; an unknown name lists the calibrations there.
std::string head_calibration_path(const std::string& reference, const std::string& configs_dir,
                                  const std::vector<std::string>& search_dirs);
// A .tsv path is read as DuoAttention's format, anything else as the YAML form.
HeadCalibration load_head_calibration(const std::string& path);

// Writers; an InputError naming the file when it cannot be written.
void write_head_calibration_file(const std::string& path, const HeadCalibration& calibration);
// Gate values = the ranking score divided by its maximum over every (layer, KV head), so the gates
// lie in [0, 1] and keep the ranking (all 0 when every score is 0).
void write_duo_attention_tsv(const std::string& path, const HeadCalibration& calibration);

}  // namespace unisparse
