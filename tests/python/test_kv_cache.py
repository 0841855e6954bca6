"""The KV cache grows past its reserve without losing rows, and copies are independent."""

import unittest

import numpy as np

from unisparse.model.kv_cache import KvCache, LayerKv


class KvCacheTest(unittest.TestCase):
    def test_growth_keeps_every_row(self):
        rng = np.random.default_rng(1)
        kv = LayerKv(num_kv_heads=2, head_dim=3, capacity=2)
        prompt_keys = rng.standard_normal((2, 3, 3)).astype(np.float32)
        kv.extend(prompt_keys, -prompt_keys)
        appended = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(6)]
        for key in appended:
            kv.append(key, -key)
        expected = np.concatenate([prompt_keys] + [key[:, None] for key in appended], axis=1)
        self.assertEqual(kv.length, 9)
        np.testing.assert_array_equal(kv.keys, expected)
        np.testing.assert_array_equal(kv.values, -expected)

    def test_copy_is_independent(self):
        cache = KvCache(num_layers=2, num_kv_heads=1, head_dim=2, capacity=4)
        for layer in cache.layers:
            layer.extend(np.ones((1, 3, 2), np.float32), np.zeros((1, 3, 2), np.float32))
        clone = cache.copy()
        clone.layer(1).append(np.full((1, 2), 5, np.float32), np.full((1, 2), 5, np.float32))
        clone.layer(0).keys[0, 0, 0] = 7
        self.assertEqual((cache.length, clone.length), (3, 4))
        self.assertEqual(cache.layer(0).keys[0, 0, 0], 1)


if __name__ == "__main__":
    unittest.main()
