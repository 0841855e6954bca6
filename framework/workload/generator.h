#pragma once
// The structured synthetic workload generator (README.md, Workloads).
//
// Every structural part is a direction (or, for position, a set of rotating channel pairs) shared by
// keys and queries, so that each part adds a known logit to q.k / sqrt(head_dim). Strengths are in
// those logit units (natural log, after the softmax scaling): a needle_strength of 10 gives a needle
// token a logit of about 10 for a query that seeks it, against about 0 +- key_noise^2 for a diffuse
// token. Because a strength is a logit and not a share of the mass, the share a fixed number of
// tokens (sinks, a needle, the local window) takes falls as the context grows; long-context
// workloads raise the strengths to keep the same shares.
//
// Channels of a KV head (keys and the queries of its group):
//   channel 0                 sink direction (the first num_sink_tokens keys)
//   next 2 * frequency pairs  position: (cos, sin) of position * frequency, so that q.k depends on
//                             the distance only; retrieval heads decay as exp(-distance /
//                             recency_scale), streaming heads as a Gaussian of width local_tokens / 3
//   next content channels     retrieval heads only: one direction per topic and per needle
//                             (orthonormal when they fit, random unit vectors in the span otherwise)
//   the rest                  isotropic noise of keys and queries, scaled so that its logit has
//                             standard deviation key_noise^2
//
// Retrieval-type heads: sinks (sink_strength), recency (recency_strength), and a content target:
// prefill query i asks the topic of its own segment (topic_strength); decode queries seek a needle
// (needle_strength) or a topic present in the context, drift by query_drift per step and jump to
// another target with jump_probability. Streaming-type heads: sinks (streaming_sink_strength) and
// local tokens (streaming_local_strength), no content. Values are isotropic noise (value_noise).
//
// Which KV heads are streaming-type: streaming_type_fraction of them in the interleaved order of
// HeadLayout::with_streaming_fraction, whatever the point's streaming_fraction (unset: the point's
// streaming heads). With strength_spread > 0 every query head scales each of its strengths by its
// own log-normal factor, so heads of one type differ as real heads do.
#include "framework/config/point.h"
#include "framework/workload/workload.h"

namespace unisparse {

// Builds the point's workload: point.batch sequences of point.context_len prefill tokens and
// point.decode_steps decode steps, shape point.shape, heads laid out by point.streaming_fraction,
// every value rounded to point.dtype. Prefill queries are generated only for prefill points.
// Deterministic for point.seed whatever the thread count. Throws InputError on invalid knobs/shape.
Workload generate_workload(const PointConfig& point);

// The InputError generate_workload throws for the point's knobs, shape and sizes, without building
// anything: a sweep checks every workload before it writes its run directory.
void check_generator_inputs(const PointConfig& point);

}  // namespace unisparse
