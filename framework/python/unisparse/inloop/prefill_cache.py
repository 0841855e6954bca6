"""Prefills computed once and shared: the logits and every layer's keys and values of a prompt
under a prefill head layout. Decode-only sparsity (dense, dynamic) shares the dense prefill;
points with streaming heads share the prefill of their layout. Kept in memory, least recently
used first out past a byte budget."""

import collections
import dataclasses
import time

import numpy as np

from unisparse.inloop.attention import PrefillAttention

# Enough for a few 8k prompts (30 layers x K and V x 3 KV heads x 8192 x 64 float32 = 377 MB each).
DEFAULT_BUDGET_BYTES = 3 << 30


@dataclasses.dataclass
class Prefill:
    logits: np.ndarray  # [vocab] of the last prompt token
    keys: list  # per layer [num_kv_heads, T, head_dim], C-contiguous float32
    values: list
    seconds: float  # wall time the prefill took when it was computed
    tokens: int

    @property
    def nbytes(self):
        return sum(array.nbytes for array in self.keys + self.values)


class PrefillCache:
    def __init__(self, model, budget_bytes=DEFAULT_BUDGET_BYTES):
        self.model = model
        self.budget_bytes = budget_bytes
        self._entries = collections.OrderedDict()
        self.computed = self.reused = 0

    def get(self, prompt_key, tokens, policy):
        """(Prefill, reused) of `tokens` under the policy's prefill layout; prompt_key names the
        prompt (equal keys mean equal tokens)."""
        key = (prompt_key, policy.prefill_layout())
        if key in self._entries:
            self._entries.move_to_end(key)
            self.reused += 1
            return self._entries[key], True
        start = time.perf_counter()
        logits, cache = self.model.prefill(tokens, attention=PrefillAttention(policy))
        seconds = time.perf_counter() - start
        entry = Prefill(logits=logits,
                        keys=[np.ascontiguousarray(layer.keys) for layer in cache.layers],
                        values=[np.ascontiguousarray(layer.values) for layer in cache.layers],
                        seconds=seconds, tokens=len(tokens))
        self._entries[key] = entry
        self.computed += 1
        while len(self._entries) > 1 and sum(e.nbytes for e in self._entries.values()) > self.budget_bytes:
            self._entries.popitem(last=False)
        return entry, False
