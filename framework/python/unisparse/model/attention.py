"""How a layer attends: the strategy the forward pass delegates to, and the dense causal default.

Shapes (float32): prefill gets q [num_q_heads, T, head_dim] and k, v [num_kv_heads, T, head_dim]
after RoPE and returns [num_q_heads, T, head_dim]; decode gets one query q [num_q_heads, head_dim]
and the layer's cache (LayerKv: keys / values [num_kv_heads, n, head_dim], the current token
already appended as row n - 1) and returns [num_q_heads, head_dim]. Query head h belongs to KV
head h // (num_q_heads // num_kv_heads). A strategy may keep state per layer (a cached page
selection, say); one strategy object serves one sequence at a time.
"""

import numpy as np

# Prefill queries are processed this many at a time, so the score block of a KV head group is
# [group * PREFILL_QUERY_CHUNK, T]: 50 MB at T = 8192 for SmolLM2's groups of three.
PREFILL_QUERY_CHUNK = 512


class Attention:
    """The interface; subclasses implement both phases."""

    def prefill(self, layer, q, k, v):
        raise NotImplementedError

    def decode(self, layer, q, kv):
        raise NotImplementedError


def softmax_rows(scores):
    """Softmax over the last axis, in place on `scores` (float32)."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


class DenseAttention(Attention):
    """Full causal attention with a 1/sqrt(head_dim) scale: the model's own attention."""

    def __init__(self, query_chunk=PREFILL_QUERY_CHUNK):
        self.query_chunk = query_chunk

    def prefill(self, layer, q, k, v):
        num_q_heads, length, head_dim = q.shape
        num_kv_heads = k.shape[0]
        group = num_q_heads // num_kv_heads
        scale = np.float32(1.0 / np.sqrt(head_dim))
        out = np.empty_like(q)
        for start in range(0, length, self.query_chunk):
            stop = min(start + self.query_chunk, length)
            # Query row r (position start + r) sees keys 0..start + r.
            future = np.arange(stop)[None, :] > np.arange(start, stop)[:, None]  # [chunk, stop]
            for kv_head in range(num_kv_heads):
                heads = slice(kv_head * group, (kv_head + 1) * group)
                queries = q[heads, start:stop].reshape(-1, head_dim)  # [group * chunk, d]
                scores = (queries @ k[kv_head, :stop].T) * scale  # [group * chunk, stop]
                scores = scores.reshape(group, stop - start, stop)
                scores[:, future] = -np.inf
                probabilities = softmax_rows(scores).reshape(-1, stop)
                out[heads, start:stop] = (probabilities @ v[kv_head, :stop]).reshape(
                    group, stop - start, head_dim)
        return out

    def decode(self, layer, q, kv):
        num_q_heads, head_dim = q.shape
        keys, values = kv.keys, kv.values  # [num_kv_heads, n, d]
        group = num_q_heads // keys.shape[0]
        scale = np.float32(1.0 / np.sqrt(head_dim))
        grouped = q.reshape(keys.shape[0], group, head_dim)  # [num_kv_heads, group, d]
        scores = np.matmul(grouped, keys.transpose(0, 2, 1)) * scale  # [num_kv_heads, group, n]
        out = np.matmul(softmax_rows(scores), values)  # [num_kv_heads, group, d]
        return out.reshape(num_q_heads, head_dim)
