#pragma once
// The knobs of the structured synthetic generator (README.md, Workloads). Every knob is named in
// configs/workloads/*.yaml; a knob a workload file leaves out keeps the default below.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace unisparse {

struct GeneratorKnobs {
  // Attention sinks: the first num_sink_tokens keys share a direction every query leans on, so the
  // first tokens take a large share of the softmax mass.
  int num_sink_tokens = 4;
  double sink_strength = 4.0;  // logit added (after the 1/sqrt(d) scale) to q.k of sink keys

  // RoPE-induced recency: a positional sub-space in which q.k decays with the distance |i - j|.
  double recency_strength = 2.0;  // logit boost at distance 0
  double recency_scale = 256.0;   // tokens over which the boost decays (e-folding)

  // Topical segments (spatial locality): contiguous runs of tokens share a topic direction; a query
  // that asks about a topic attends the whole segment.
  double segment_length_mean = 512.0;  // tokens
  int num_topics = 16;
  double topic_strength = 2.0;  // logit boost for keys of the query's topic

  // Needles at chosen depths (fractions of the prefill length) that retrieval-type (dense) heads seek.
  std::vector<double> needle_depths{0.25, 0.5, 0.75};
  int needle_tokens = 4;          // contiguous tokens planted per needle
  double needle_strength = 10.0;  // logit of a needle token for a query that seeks it

  // Streaming-type heads put most of their mass on sink + local tokens.
  double streaming_sink_strength = 6.0;
  double streaming_local_strength = 6.0;
  // Share of KV heads whose structure is streaming-type, planted in the interleaved order of
  // HeadLayout::with_streaming_fraction whatever the point's streaming_fraction: what kind of
  // attention a head has is the model's, which heads a point makes streaming heads is the plan's.
  // Unset (`layout` in a workload file): the point's streaming heads are the streaming-type ones
  // (and no others).
  std::optional<double> streaming_type_fraction;
  // Heads differ: each query head multiplies each of its strengths (sink, recency, topic, needle,
  // streaming sink, streaming local; after the context scaling below) by its own
  // exp(strength_spread * z), z standard normal drawn per (query head, strength): log-normal, the
  // median at the knob's value. 0 = every head of a type alike.
  double strength_spread = 0.0;

  // Decode queries drift slowly (temporal locality) with occasional jumps to another topic/needle.
  double query_drift = 0.05;        // per-step fraction of the query replaced by fresh noise
  double jump_probability = 0.05;   // per step
  double key_noise = 1.0;           // std of the isotropic part of keys and queries (before scaling)
  double value_noise = 1.0;

  // Strengths are logits, so a fixed set of tokens gets a smaller share of the softmax mass as the
  // context grows (the noise tail holds T tokens). When this is > 0, the strengths above are taken as
  // given for a context of this many tokens and a longer context T adds ln(T / it) to the
  // strengths of fixed-size structures (sinks, needles, streaming sink and local window), which
  // keeps their shares of mass roughly independent of T, as in real long-context attention.
  // 0 = strengths are literal.
  double strength_reference_context = 0.0;
};

}  // namespace unisparse
