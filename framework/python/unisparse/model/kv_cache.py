"""The key/value cache of a sequence: per layer, post-RoPE keys and values of every token so far."""

import numpy as np


class LayerKv:
    """One layer's cache: keys and values [num_kv_heads, n, head_dim], grown by doubling."""

    def __init__(self, num_kv_heads, head_dim, capacity):
        self._keys = np.empty((num_kv_heads, max(capacity, 1), head_dim), dtype=np.float32)
        self._values = np.empty_like(self._keys)
        self.length = 0

    @property
    def keys(self):
        return self._keys[:, :self.length]

    @property
    def values(self):
        return self._values[:, :self.length]

    def extend(self, keys, values):
        """Appends keys, values [num_kv_heads, T, head_dim]."""
        count = keys.shape[1]
        self._reserve(self.length + count)
        self._keys[:, self.length:self.length + count] = keys
        self._values[:, self.length:self.length + count] = values
        self.length += count

    def append(self, key, value):
        """Appends one token's key, value [num_kv_heads, head_dim]."""
        self.extend(key[:, None], value[:, None])

    def copy(self):
        clone = LayerKv(self._keys.shape[0], self._keys.shape[2], self.length)
        clone.extend(self.keys, self.values)
        return clone

    def _reserve(self, needed):
        capacity = self._keys.shape[1]
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        for name in ("_keys", "_values"):
            old = getattr(self, name)
            grown = np.empty((old.shape[0], capacity, old.shape[2]), dtype=old.dtype)
            grown[:, :self.length] = old[:, :self.length]
            setattr(self, name, grown)


class KvCache:
    """Every layer's LayerKv; `length` is the number of tokens the sequence holds."""

    def __init__(self, num_layers, num_kv_heads, head_dim, capacity):
        self.layers = [LayerKv(num_kv_heads, head_dim, capacity) for _ in range(num_layers)]

    @property
    def length(self):
        return self.layers[-1].length

    def layer(self, index):
        return self.layers[index]

    def copy(self):
        """An independent cache with the same contents (to decode several ways from one prefill)."""
        clone = KvCache.__new__(KvCache)
        clone.layers = [layer.copy() for layer in self.layers]
        return clone
