#include "framework/workload/generator.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/core/parallel.h"
#include "framework/core/size_limits.h"
#include "framework/workload/rng.h"

namespace unisparse {
namespace {

// Stream ids of the random streams derived from the point's seed.
enum StreamRole : uint64_t {
  kFrequencies = 1,
  kContentDirections,
  kSegments,
  kKeys,
  kValues,
  kDecodeKeys,
  kDecodeValues,
  kPrefillQueries,
  kDecodeQueries,
  kHeadStrengths,
};

// The stream of one role for one (sequence, head).
Rng stream(const PointConfig& point, StreamRole role, int sequence, int head) {
  return Rng(point.seed, {role, static_cast<uint64_t>(sequence), static_cast<uint64_t>(head)});
}

// How the head_dim channels of one KV head are used (see generator.h).
struct Channels {
  int sink = 0;
  int position_begin = 1;
  int frequency_pairs = 0;
  int content_begin = 0;
  int content_channels = 0;
  int noise_begin = 0;
  int noise_channels = 0;
};

Channels plan_channels(int head_dim, HeadKind kind, int num_directions) {
  Channels c;
  if (kind == HeadKind::dense) {
    c.frequency_pairs = std::clamp(head_dim / 16, 1, 8);
  } else {
    // Streaming heads carry no content, so their position kernel gets more pairs (a smoother
    // far field: the residual of a finite sum of cosines shrinks as 1 / sqrt(pairs)).
    c.frequency_pairs = std::clamp(head_dim / 4, 1, 32);
  }
  c.content_begin = c.position_begin + 2 * c.frequency_pairs;
  if (kind == HeadKind::dense && num_directions > 0) {
    // Keep at least half of the channels for noise; give content at least one channel.
    const int available = head_dim - c.content_begin - head_dim / 2;
    c.content_channels = std::max(1, std::min(num_directions, available));
  }
  c.noise_begin = c.content_begin + c.content_channels;
  c.noise_channels = head_dim - c.noise_begin;
  return c;
}


// Which KV heads carry streaming-type structure (generator.h): the knob's share in the interleaved
// order, or the point's static layout when the knob is unset.
std::vector<HeadKind> structure_kinds(const PointConfig& point, const HeadLayout& layout) {
  const std::optional<double>& share = point.workload.knobs.streaming_type_fraction;
  if (!share) return layout.kv_head_kind;
  return HeadLayout::with_streaming_fraction(point.shape.num_kv_heads, *share, point.sink_tokens,
                                             point.local_tokens)
      .kv_head_kind;
}

// One query head's strengths: the knobs' (context-scaled) values times the head's log-normal
// factors (strength_spread).
struct HeadStrengths {
  double sink = 0, recency = 0, topic = 0, needle = 0, streaming_sink = 0, streaming_local = 0;
};

HeadStrengths head_strengths(const PointConfig& point, int q_head) {
  const GeneratorKnobs& k = point.workload.knobs;
  HeadStrengths h{k.sink_strength,  k.recency_strength,        k.topic_strength,
                  k.needle_strength, k.streaming_sink_strength, k.streaming_local_strength};
  if (k.strength_spread == 0) return h;
  Rng rng(point.seed, {kHeadStrengths, static_cast<uint64_t>(q_head)});
  for (double* strength : {&h.sink, &h.recency, &h.topic, &h.needle, &h.streaming_sink,
                           &h.streaming_local})
    *strength *= std::exp(k.strength_spread * rng.normal());
  return h;
}

// Everything the per-(sequence, KV head) work shares, built once.
struct Structure {
  const PointConfig& point;
  const GeneratorKnobs& knobs;
  int head_dim = 0;
  int context_len = 0;
  int steps = 0;
  int num_sinks = 0;  // min(num_sink_tokens, T)
  double key_amplitude = 0;
  Channels dense_channels{}, streaming_channels{};
  // Position features (cos, sin per pair, already weighted by 1/sqrt(pairs)) of every token
  // position 0 .. T + steps - 1: [positions, 2 * pairs].
  std::vector<float> dense_position{}, streaming_position{};
  int num_needles = 0;
  int num_directions = 0;                 // num_topics + num_needles
  std::vector<float> directions{};        // [num_directions, dense content channels], unit rows
  std::vector<int> needle_start{};        // [num_needles]
  std::vector<int> needle_of_token{};     // [T], -1 outside needles
  std::vector<std::vector<int>> topic_of_token{};  // [batch][T + steps], -1 when num_topics == 0

  // Query amplitude that, against a key carrying key_amplitude, gives this logit.
  double query_amplitude(double logit) const {
    return logit * std::sqrt(static_cast<double>(head_dim)) / key_amplitude;
  }
  const float* direction(int index) const {
    return directions.data() + static_cast<size_t>(index) * dense_channels.content_channels;
  }
  int topic_direction(int topic) const { return topic; }
  int needle_direction(int needle) const { return knobs.num_topics + needle; }
};

// Frequencies of the position channel pairs. Dense heads: stratified quantiles of the Cauchy
// distribution of scale 1 / recency_scale (the spectrum of exp(-|distance| / recency_scale)).
// Streaming heads: half-normal of scale 3 / local_tokens (the spectrum of a Gaussian of width
// local_tokens / 3, so the window holds nearly all of the local boost).
std::vector<double> position_frequencies(const PointConfig& point, HeadKind kind, int pairs) {
  Rng rng(point.seed, {kFrequencies, static_cast<uint64_t>(kind)});
  constexpr double kHighest = std::numbers::pi / 4;  // period of 8 tokens at most
  std::vector<double> frequencies(pairs);
  for (int f = 0; f < pairs; ++f) {
    double omega;
    if (kind == HeadKind::dense) {
      const double quantile = (f + rng.uniform()) / pairs;
      omega = std::tan(std::numbers::pi / 2 * quantile) / point.workload.knobs.recency_scale;
    } else {
      omega = std::abs(rng.normal()) * 3.0 / point.local_tokens;
    }
    frequencies[f] = std::min(omega, kHighest);
  }
  return frequencies;
}

std::vector<float> position_table(const std::vector<double>& frequencies, int positions) {
  const int pairs = static_cast<int>(frequencies.size());
  const double weight = 1.0 / std::sqrt(static_cast<double>(pairs));
  std::vector<float> table(static_cast<size_t>(positions) * 2 * pairs);
  parallel_for(positions, [&](int64_t p) {
    float* row = table.data() + p * 2 * pairs;
    for (int f = 0; f < pairs; ++f) {
      const double angle = std::fmod(frequencies[f] * static_cast<double>(p), 2 * std::numbers::pi);
      row[2 * f] = static_cast<float>(weight * std::cos(angle));
      row[2 * f + 1] = static_cast<float>(weight * std::sin(angle));
    }
  });
  return table;
}

std::vector<float> content_directions(const PointConfig& point, int count, int channels) {
  std::vector<float> directions(static_cast<size_t>(count) * channels, 0.0f);
  if (count <= channels) {  // orthonormal: one channel each
    for (int i = 0; i < count; ++i) directions[static_cast<size_t>(i) * channels + i] = 1.0f;
    return directions;
  }
  Rng rng(point.seed, {kContentDirections});
  for (int i = 0; i < count; ++i) {
    float* row = directions.data() + static_cast<size_t>(i) * channels;
    double norm = 0;
    for (int c = 0; c < channels; ++c) {
      row[c] = rng.normal();
      norm += static_cast<double>(row[c]) * row[c];
    }
    const float inverse = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
    for (int c = 0; c < channels; ++c) row[c] *= inverse;
  }
  return directions;
}

// Contiguous topical segments of exponentially distributed length over T + steps tokens.
std::vector<int> topic_segments(const PointConfig& point, int sequence, int tokens) {
  const GeneratorKnobs& k = point.workload.knobs;
  std::vector<int> topic(tokens, -1);
  if (k.num_topics == 0) return topic;
  Rng rng(point.seed, {kSegments, static_cast<uint64_t>(sequence)});
  int previous = -1;
  for (int begin = 0; begin < tokens;) {
    const double length = -k.segment_length_mean * std::log1p(-rng.uniform());
    const int end = std::min<int64_t>(tokens, begin + std::max<int64_t>(1, std::llround(length)));
    int next = rng.below(k.num_topics);
    if (k.num_topics > 1 && next == previous) next = (next + 1 + rng.below(k.num_topics - 1)) % k.num_topics;
    std::fill(topic.begin() + begin, topic.begin() + end, next);
    previous = next;
    begin = end;
  }
  return topic;
}

Structure build_structure(const PointConfig& point) {
  Structure s{point, point.workload.knobs};
  const GeneratorKnobs& k = s.knobs;
  s.head_dim = point.shape.head_dim;
  s.context_len = point.context_len;
  s.steps = point.decode_steps;
  s.num_sinks = std::min(k.num_sink_tokens, point.context_len);
  s.key_amplitude = 2.0 * std::pow(static_cast<double>(s.head_dim), 0.25);
  s.num_needles = static_cast<int>(k.needle_depths.size());
  s.num_directions = k.num_topics + s.num_needles;
  s.dense_channels = plan_channels(s.head_dim, HeadKind::dense, s.num_directions);
  s.streaming_channels = plan_channels(s.head_dim, HeadKind::streaming, 0);

  const int positions = s.context_len + s.steps;
  s.dense_position = position_table(
      position_frequencies(point, HeadKind::dense, s.dense_channels.frequency_pairs), positions);
  s.streaming_position = position_table(
      position_frequencies(point, HeadKind::streaming, s.streaming_channels.frequency_pairs),
      positions);
  s.directions = content_directions(point, s.num_directions, s.dense_channels.content_channels);

  s.needle_of_token.assign(s.context_len, -1);
  for (int n = 0; n < s.num_needles; ++n) {
    const int latest = std::max(0, s.context_len - k.needle_tokens);
    const auto wanted = static_cast<int>(std::lround(k.needle_depths[n] * s.context_len));
    const int start = std::clamp(wanted, std::min(s.num_sinks, latest), latest);
    s.needle_start.push_back(start);
    for (int t = start; t < std::min(s.context_len, start + k.needle_tokens); ++t)
      s.needle_of_token[t] = n;
  }
  for (int b = 0; b < point.batch; ++b) s.topic_of_token.push_back(topic_segments(point, b, positions));
  return s;
}

// Noise scaled so that the noise part of q.k / sqrt(head_dim) has std key_noise^2 however many
// channels carry it.
double noise_std(const PointConfig& point, const Channels& channels) {
  if (channels.noise_channels <= 0) return 0;
  const double ratio = static_cast<double>(point.shape.head_dim) / channels.noise_channels;
  return point.workload.knobs.key_noise * std::pow(ratio, 0.25);
}

// Writes the structural key channels of token `position` of one KV head into row (noise is added
// by the caller).
void add_key_structure(const Structure& s, HeadKind kind, int sequence, int position, float* row) {
  const Channels& c = kind == HeadKind::dense ? s.dense_channels : s.streaming_channels;
  const auto amplitude = static_cast<float>(s.key_amplitude);
  if (position < s.num_sinks) row[c.sink] = amplitude;
  const std::vector<float>& table = kind == HeadKind::dense ? s.dense_position : s.streaming_position;
  const float* features = table.data() + static_cast<size_t>(position) * 2 * c.frequency_pairs;
  for (int i = 0; i < 2 * c.frequency_pairs; ++i) row[c.position_begin + i] = amplitude * features[i];
  if (kind != HeadKind::dense || s.num_directions == 0) return;
  int direction = -1;
  if (position < s.context_len && s.needle_of_token[position] >= 0)
    direction = s.needle_direction(s.needle_of_token[position]);
  else if (s.topic_of_token[sequence][position] >= 0)
    direction = s.topic_direction(s.topic_of_token[sequence][position]);
  if (direction < 0) return;
  const float* unit = s.direction(direction);
  for (int i = 0; i < c.content_channels; ++i) row[c.content_begin + i] += amplitude * unit[i];
}

// What a query asks for beyond sinks and position: a needle, a topic, or nothing.
struct QueryTarget {
  int needle = -1;
  int topic = -1;
};

// Writes a query row: noise (given), sink, position and content channels.
void write_query(const Structure& s, HeadKind kind, const HeadStrengths& strengths, int position,
                 const QueryTarget& target, std::span<const float> noise, float* row) {
  const Channels& c = kind == HeadKind::dense ? s.dense_channels : s.streaming_channels;
  std::fill(row, row + s.head_dim, 0.0f);
  std::copy(noise.begin(), noise.end(), row + c.noise_begin);
  const bool dense = kind == HeadKind::dense;
  row[c.sink] = static_cast<float>(
      s.query_amplitude(dense ? strengths.sink : strengths.streaming_sink));
  const auto position_amplitude = static_cast<float>(
      s.query_amplitude(dense ? strengths.recency : strengths.streaming_local));
  const std::vector<float>& table = dense ? s.dense_position : s.streaming_position;
  const float* features = table.data() + static_cast<size_t>(position) * 2 * c.frequency_pairs;
  for (int i = 0; i < 2 * c.frequency_pairs; ++i)
    row[c.position_begin + i] = position_amplitude * features[i];
  if (!dense) return;
  int direction = -1;
  double strength = 0;
  if (target.needle >= 0) {
    direction = s.needle_direction(target.needle);
    strength = strengths.needle;
  } else if (target.topic >= 0) {
    direction = s.topic_direction(target.topic);
    strength = strengths.topic;
  }
  if (direction < 0) return;
  const float* unit = s.direction(direction);
  const auto amplitude = static_cast<float>(s.query_amplitude(strength));
  for (int i = 0; i < c.content_channels; ++i) row[c.content_begin + i] += amplitude * unit[i];
}

void fill_noise(Rng& rng, double std_dev, std::span<float> out) {
  for (float& v : out) v = static_cast<float>(std_dev * rng.normal());
}

// Noise that keeps sqrt(1 - drift) of its previous value and takes the rest fresh, so consecutive
// queries stay similar (the noise parts of two steps have cosine sqrt(1 - drift)).
void drift_noise(Rng& rng, double std_dev, double drift, std::span<float> noise) {
  const double keep = std::sqrt(1.0 - drift);
  const double fresh = std::sqrt(drift) * std_dev;
  for (float& v : noise) v = static_cast<float>(keep * v + fresh * rng.normal());
}

void fill_keys_and_values(const Structure& s, HeadKind kind, int sequence, int kv_head,
                          Sequence& seq) {
  const PointConfig& p = s.point;
  const int d = s.head_dim;
  const Channels& c = kind == HeadKind::dense ? s.dense_channels : s.streaming_channels;
  const double key_std = noise_std(p, c);
  auto make_key = [&](Rng& rng, int position, float* row) {
    std::fill(row, row + d, 0.0f);
    fill_noise(rng, key_std, {row + c.noise_begin, static_cast<size_t>(c.noise_channels)});
    add_key_structure(s, kind, sequence, position, row);
    round_to_dtype({row, static_cast<size_t>(d)}, p.dtype);
  };
  auto make_value = [&](Rng& rng, float* row) {
    fill_noise(rng, p.workload.knobs.value_noise, {row, static_cast<size_t>(d)});
    round_to_dtype({row, static_cast<size_t>(d)}, p.dtype);
  };
  Rng key_rng = stream(p, kKeys, sequence, kv_head);
  Rng value_rng = stream(p, kValues, sequence, kv_head);
  for (int t = 0; t < s.context_len; ++t) {
    make_key(key_rng, t, seq.k.row({kv_head, t}));
    make_value(value_rng, seq.v.row({kv_head, t}));
  }
  Rng decode_key_rng = stream(p, kDecodeKeys, sequence, kv_head);
  Rng decode_value_rng = stream(p, kDecodeValues, sequence, kv_head);
  for (int step = 0; step < s.steps; ++step) {
    make_key(decode_key_rng, s.context_len + step, seq.k_decode.row({step, kv_head}));
    make_value(decode_value_rng, seq.v_decode.row({step, kv_head}));
  }
}

// A content target for a retrieval head's decode query: a needle (half of the time when there are
// both) other than the current one, or the topic of a random context token (so it is present).
QueryTarget next_target(const Structure& s, int sequence, Rng& rng, const QueryTarget& current) {
  const bool has_topics = s.knobs.num_topics > 0;
  QueryTarget target;
  if (s.num_needles > 0 && (!has_topics || rng.uniform() < 0.5)) {
    target.needle = rng.below(s.num_needles);
    if (s.num_needles > 1 && target.needle == current.needle)
      target.needle = (target.needle + 1 + rng.below(s.num_needles - 1)) % s.num_needles;
  } else if (has_topics) {
    target.topic = s.topic_of_token[sequence][rng.below(s.context_len)];
  }
  return target;
}

std::vector<int32_t> needle_tokens(const Structure& s, int needle) {
  std::vector<int32_t> tokens;
  const int start = s.needle_start[needle];
  for (int t = start; t < std::min(s.context_len, start + s.knobs.needle_tokens); ++t)
    tokens.push_back(t);
  return tokens;
}

void fill_queries(const Structure& s, HeadKind kind, int sequence, int q_head, Sequence& seq) {
  const PointConfig& p = s.point;
  const GeneratorKnobs& k = s.knobs;
  const int d = s.head_dim;
  const Channels& c = kind == HeadKind::dense ? s.dense_channels : s.streaming_channels;
  const double query_std = noise_std(p, c);
  const HeadStrengths strengths = head_strengths(p, q_head);
  std::vector<float> noise(c.noise_channels);

  if (!seq.q.empty()) {
    Rng rng = stream(p, kPrefillQueries, sequence, q_head);
    fill_noise(rng, query_std, noise);
    for (int t = 0; t < s.context_len; ++t) {
      if (t > 0) drift_noise(rng, query_std, k.query_drift, noise);
      QueryTarget target;
      target.topic = s.topic_of_token[sequence][t];  // prefill queries ask their own topic
      float* row = seq.q.row({q_head, t});
      write_query(s, kind, strengths, t, target, noise, row);
      round_to_dtype({row, static_cast<size_t>(d)}, p.dtype);
    }
  }

  Rng rng = stream(p, kDecodeQueries, sequence, q_head);
  QueryTarget target;
  for (int step = 0; step < s.steps; ++step) {
    const bool jump = step == 0 || rng.uniform() < k.jump_probability;
    if (jump) {
      fill_noise(rng, query_std, noise);
      if (kind == HeadKind::dense) target = next_target(s, sequence, rng, target);
    } else {
      drift_noise(rng, query_std, k.query_drift, noise);
    }
    float* row = seq.q_decode.row({step, q_head});
    write_query(s, kind, strengths, s.context_len + step, target, noise, row);
    round_to_dtype({row, static_cast<size_t>(d)}, p.dtype);
    if (target.needle >= 0) seq.needle_targets[step][q_head] = needle_tokens(s, target.needle);
  }
}

}  // namespace

void check_generator_inputs(const PointConfig& point) {
  const std::string file = point.workload.name.empty() ? "workload" : point.workload.name;
  auto fail = [&](const std::string& key, const std::string& message) {
    throw input_error(file, 0, key, message);
  };
  const GeneratorKnobs& k = point.workload.knobs;
  const ModelShape& s = point.shape;
  if (s.num_kv_heads < 1 || s.num_q_heads < 1 || s.num_q_heads % s.num_kv_heads != 0)
    fail("model", "num_q_heads must be a positive multiple of num_kv_heads");
  if (s.head_dim < 8) fail("model", "head_dim must be at least 8 for the synthetic generator");
  if (point.context_len < 1) fail("context_len", "must be positive");
  if (point.batch < 1) fail("batch", "must be positive");
  if (point.decode_steps < 0) fail("decode_steps", "must not be negative");
  // Positions run over context and decode steps in int; tensor sizes are int64 element counts.
  const int64_t tokens = int64_t{point.context_len} + point.decode_steps;
  if (tokens > kMaxSequenceTokens)
    fail("decode_steps", "context_len + decode_steps = " + std::to_string(tokens) +
                             " exceeds the limit of " + std::to_string(kMaxSequenceTokens) +
                             " tokens per sequence");
  if (!product_within({point.batch, s.num_q_heads, tokens, s.head_dim}, kMaxTensorElements))
    fail("batch", "batch x num_q_heads x (context_len + decode_steps) x head_dim = " +
                      std::to_string(point.batch) + " x " + std::to_string(s.num_q_heads) + " x " +
                      std::to_string(tokens) + " x " + std::to_string(s.head_dim) +
                      " exceeds the limit of " + std::to_string(kMaxTensorElements) +
                      " elements per tensor");
  if (k.num_sink_tokens < 0) fail("num_sink_tokens", "must not be negative");
  if (!(k.recency_scale > 0)) fail("recency_scale", "must be positive");
  if (!(k.segment_length_mean >= 1)) fail("segment_length_mean", "must be at least 1 token");
  if (k.num_topics < 0) fail("num_topics", "must not be negative");
  for (double depth : k.needle_depths)
    if (!(depth >= 0 && depth <= 1)) fail("needle_depths", "every depth must lie in [0, 1]");
  if (!k.needle_depths.empty() && k.needle_tokens < 1) fail("needle_tokens", "must be positive");
  if (!(k.query_drift >= 0 && k.query_drift <= 1)) fail("query_drift", "must lie in [0, 1]");
  if (!(k.jump_probability >= 0 && k.jump_probability <= 1))
    fail("jump_probability", "must lie in [0, 1]");
  if (!(k.key_noise >= 0)) fail("key_noise", "must not be negative");
  if (!(k.value_noise >= 0)) fail("value_noise", "must not be negative");
  if (const auto& share = k.streaming_type_fraction; share && !(*share >= 0 && *share <= 1))
    fail("streaming_type_fraction", "must lie in [0, 1]");
  if (!(k.strength_spread >= 0)) fail("strength_spread", "must not be negative");
  const bool streaming_types = k.streaming_type_fraction ? *k.streaming_type_fraction > 0
                                                         : point.streaming_fraction > 0;
  if (streaming_types && point.local_tokens < 1)
    fail("local_tokens", "must be positive when there are streaming-type heads");
}

// The point with its structural strengths raised by ln(T / strength_reference_context) (knobs.h).
static PointConfig with_context_scaled_strengths(const PointConfig& requested) {
  PointConfig point = requested;
  GeneratorKnobs& k = point.workload.knobs;
  if (k.strength_reference_context <= 0 || point.context_len <= k.strength_reference_context)
    return point;
  const double boost = std::log(point.context_len / k.strength_reference_context);
  // Only structures of a fixed token count are raised: topic segments already grow with T, and the
  // recency channels give every distant token a small bump that a larger amplitude would inflate.
  for (double* strength : {&k.sink_strength, &k.needle_strength, &k.streaming_sink_strength,
                           &k.streaming_local_strength})
    *strength += boost;
  return point;
}

Workload generate_workload(const PointConfig& requested) {
  const PointConfig point = with_context_scaled_strengths(requested);
  check_generator_inputs(point);
  const ModelShape& shape = point.shape;
  Workload workload;
  workload.name = point.workload.name.empty() ? "synthetic" : point.workload.name;
  workload.shape = shape;
  workload.heads = HeadLayout::with_streaming_fraction(shape.num_kv_heads, point.streaming_fraction,
                                                       point.sink_tokens, point.local_tokens);
  workload.context_len = point.context_len;
  workload.decode_steps = point.decode_steps;
  workload.dtype = point.dtype;
  workload.seed = point.seed;

  const Structure structure = build_structure(point);
  const int64_t T = point.context_len, steps = point.decode_steps, d = shape.head_dim;
  workload.batch.resize(point.batch);
  // Allocation zero-fills gigabytes at long contexts: spread it (and the first touch) over threads.
  parallel_for(point.batch, [&](int64_t b) {
    Sequence& seq = workload.batch[b];
    if (needs_prefill_queries(point)) seq.q = Tensor({shape.num_q_heads, T, d});
    seq.k = Tensor({shape.num_kv_heads, T, d});
    seq.v = Tensor({shape.num_kv_heads, T, d});
    seq.q_decode = Tensor({steps, shape.num_q_heads, d});
    seq.k_decode = Tensor({steps, shape.num_kv_heads, d});
    seq.v_decode = Tensor({steps, shape.num_kv_heads, d});
    seq.needle_targets.assign(steps, std::vector<std::vector<int32_t>>(shape.num_q_heads));
  });

  // One task per (sequence, KV head): its keys and values and the queries of its group. Tasks
  // write disjoint rows and draw from their own streams.
  const int group = shape.group_size();
  const std::vector<HeadKind> kinds = structure_kinds(point, workload.heads);
  parallel_for(int64_t{point.batch} * shape.num_kv_heads, [&](int64_t task) {
    const int sequence = static_cast<int>(task / shape.num_kv_heads);
    const int kv_head = static_cast<int>(task % shape.num_kv_heads);
    const HeadKind kind = kinds[kv_head];
    Sequence& seq = workload.batch[sequence];
    fill_keys_and_values(structure, kind, sequence, kv_head, seq);
    for (int q_head = kv_head * group; q_head < (kv_head + 1) * group; ++q_head)
      fill_queries(structure, kind, sequence, q_head, seq);
  });
  return workload;
}

}  // namespace unisparse
