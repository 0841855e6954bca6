"""The Attention strategy that puts a point's plan inside the model (unisparse.model.attention).

Prefill: every layer's attention is the C++ core's CPU prefill under the prefill plan of the
policy's head layout (streaming KV heads see sink + local tokens of each query, the others every
earlier token). Decode: one unisparse._core.DecodeSession per layer, holding that layer's paged KV
cache in the point's KV format, its key statistics and its page selector; each decode step appends
the token's key and value and attends under the plan (selection reused every reuse_interval steps).
No scoring, top-k, window or quantization happens here: the core does all of it.
"""

import time

import numpy as np

from unisparse import _core
from unisparse.model.attention import Attention


class PrefillAttention(Attention):
    """The prefill half: the core's prefill plan for each layer's head layout."""

    def __init__(self, policy):
        self.policy = policy

    def prefill(self, layer, q, k, v):
        policy = self.policy
        head_kinds = policy.head_layouts[layer] if policy.streaming else ""
        return _core.cpu_prefill(q, k, v, head_kinds=head_kinds, sink_tokens=policy.sink_tokens,
                                 local_tokens=policy.local_tokens, block_size=policy.block_size)

    def decode(self, layer, q, kv):
        raise RuntimeError("PrefillAttention runs prefills only; decode goes through SessionAttention")


class _AppendedRow:
    """A layer's view of the decode cache: keeps the key and value the model appends, which the
    layer's session takes at its step (the session owns the cache itself)."""

    def __init__(self, session):
        self.session = session
        self.key = self.value = None

    @property
    def length(self):
        return self.session.num_tokens

    def append(self, key, value):
        """key, value [num_kv_heads, head_dim] of the token being decoded."""
        self.key, self.value = key, value


class SessionCache:
    """The decode cache LlamaModel.decode reads and appends to (length, layer(i).append), backed by
    one DecodeSession per layer."""

    def __init__(self, sessions):
        self.layers = [_AppendedRow(session) for session in sessions]

    @property
    def length(self):
        return self.layers[-1].session.num_tokens

    def layer(self, index):
        return self.layers[index]


class SessionAttention(Attention):
    """The decode half: layer i's step is its session's step. Counts the seconds spent in the
    core (wall time of the calls, binding included)."""

    def __init__(self):
        self.core_seconds = 0.0

    def prefill(self, layer, q, k, v):
        raise RuntimeError("SessionAttention decodes only; the prefill goes through PrefillAttention")

    def decode(self, layer, q, kv):
        start = time.perf_counter()
        out = kv.session.step(q, kv.key, kv.value)
        self.core_seconds += time.perf_counter() - start
        return out


def open_sessions(policy, config, prefill, reserve_steps):
    """One DecodeSession per layer under `policy`, holding the prompt's cache from `prefill`
    (a prefill_cache.Prefill): the core copies each layer's keys and values into its cache."""
    sessions = []
    for layer in range(config.num_layers):
        session = _core.DecodeSession(config.num_q_heads, config.num_kv_heads, config.head_dim,
                                      reserve_steps=reserve_steps,
                                      **policy.session_arguments(layer))
        session.prefill(prefill.keys[layer], prefill.values[layer])
        sessions.append(session)
    return sessions


def core_phase_seconds(sessions):
    """Seconds per core phase (stats, selector, attention) summed over layers."""
    total = {"stats": 0.0, "selector": 0.0, "attention": 0.0}
    for session in sessions:
        for phase, seconds in session.seconds.items():
            total[phase] += seconds
    return total


def log_softmax(logits):
    """log p [vocab] of logits [vocab], in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())
