"""The numpy forward: decode path against prefill path, chunked attention against a float64
reference, attention strategies and observers."""

import unittest

import numpy as np

import shared_model
from unisparse.model.attention import DenseAttention
from unisparse.model.prompts import prose_prompt


def reference_attention(q, k, v):
    """Causal GQA attention in float64, one head and one query at a time."""
    num_q_heads, length, head_dim = q.shape
    group = num_q_heads // k.shape[0]
    out = np.zeros(q.shape)
    for head in range(num_q_heads):
        keys, values = k[head // group].astype(np.float64), v[head // group].astype(np.float64)
        for position in range(length):
            scores = keys[:position + 1] @ q[head, position] / np.sqrt(head_dim)
            weights = np.exp(scores - scores.max())
            out[head, position] = weights @ values[:position + 1] / weights.sum()
    return out


def relative_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


class DenseAttentionTest(unittest.TestCase):
    def test_chunked_prefill_matches_float64_reference_at_odd_sizes(self):
        rng = np.random.default_rng(3)
        for length, chunk in ((13, 5), (64, 64), (67, 16), (1, 4)):
            q = rng.standard_normal((6, length, 8)).astype(np.float32)
            k = rng.standard_normal((2, length, 8)).astype(np.float32)
            v = rng.standard_normal((2, length, 8)).astype(np.float32)
            out = DenseAttention(query_chunk=chunk).prefill(0, q, k, v)
            error = np.abs(out - reference_attention(q, k, v)).max()
            self.assertLess(error, 1e-5, f"length {length}, chunk {chunk}: max error {error}")

    def test_decode_matches_the_last_prefill_row(self):
        rng = np.random.default_rng(4)
        q = rng.standard_normal((6, 9, 8)).astype(np.float32)
        k = rng.standard_normal((2, 9, 8)).astype(np.float32)
        v = rng.standard_normal((2, 9, 8)).astype(np.float32)

        class Kv:
            keys, values = k, v

        out = DenseAttention().decode(0, q[:, -1], Kv())
        error = np.abs(out - reference_attention(q, k, v)[:, -1]).max()
        self.assertLess(error, 1e-5, f"max error {error}")


class RecordingAttention(DenseAttention):
    """Dense attention that keeps what every call received."""

    def __init__(self):
        super().__init__()
        self.prefill_calls, self.decode_calls = [], []

    def prefill(self, layer, q, k, v):
        self.prefill_calls.append((layer, q.shape, k.shape, v.shape))
        return super().prefill(layer, q, k, v)

    def decode(self, layer, q, kv):
        self.decode_calls.append((layer, q.shape, kv.keys.shape))
        return super().decode(layer, q, kv)


class LlamaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = shared_model.model()
        cls.tokens = prose_prompt(shared_model.tokenizer(), 80).tokens

    def test_decode_logits_equal_prefill_logits(self):
        # The same float32 arithmetic summed in another order (gemv for one token, gemm blocks for
        # many): two prefills of different lengths already disagree by ~1e-6 relative at the same
        # position, and the decode path differs from the prefill path by the same amount.
        prompt_length = 70
        full, _ = self.model.prefill(self.tokens, all_logits=True)  # [T, vocab]
        logits, cache = self.model.prefill(self.tokens[:prompt_length])
        errors = [relative_error(logits, full[prompt_length - 1])]
        for position in range(prompt_length, len(self.tokens)):
            logits = self.model.decode(self.tokens[position], cache)
            errors.append(relative_error(logits, full[position]))
        print(f"\ndecode vs prefill logits, relative L2 per step: max {max(errors):.2e}")
        self.assertLess(max(errors), 1e-5, [f"{error:.2e}" for error in errors])
        self.assertEqual(cache.length, len(self.tokens))

    def test_decode_cache_holds_the_prefill_keys(self):
        _, decoded = self.model.prefill(self.tokens[:60])
        for token in self.tokens[60:64]:
            self.model.decode(token, decoded)
        _, prefilled = self.model.prefill(self.tokens[:64])
        for layer in (0, self.model.config.num_layers - 1):
            error = relative_error(decoded.layer(layer).keys, prefilled.layer(layer).keys)
            self.assertLess(error, 1e-5, f"layer {layer}")

    def test_every_layer_attends_through_the_strategy(self):
        attention = RecordingAttention()
        config = self.model.config
        logits, cache = self.model.prefill(self.tokens[:20], attention=attention)
        self.model.decode(int(logits.argmax()), cache, attention=attention)
        layers = list(range(config.num_layers))
        self.assertEqual([call[0] for call in attention.prefill_calls], layers)
        self.assertEqual([call[0] for call in attention.decode_calls], layers)
        d = config.head_dim
        self.assertEqual(attention.prefill_calls[0][1:], ((config.num_q_heads, 20, d),
                                                          (config.num_kv_heads, 20, d),
                                                          (config.num_kv_heads, 20, d)))
        self.assertEqual(attention.decode_calls[0][1:], ((config.num_q_heads, d),
                                                         (config.num_kv_heads, 21, d)))

    def test_a_strategy_changes_the_output(self):
        class AttendToFirstToken(DenseAttention):
            def prefill(self, layer, q, k, v):
                group = q.shape[0] // k.shape[0]
                return np.repeat(v[:, :1], group, axis=0).repeat(q.shape[1], axis=1)

        dense, _ = self.model.prefill(self.tokens[:20])
        first, _ = self.model.prefill(self.tokens[:20], attention=AttendToFirstToken())
        self.assertGreater(relative_error(first, dense), 0.1)

    def test_observer_sees_what_the_cache_stores(self):
        seen = {}

        def observer(layer, phase, q, k, v):
            seen[(layer, phase)] = (q.copy(), k.copy(), v.copy())

        logits, cache = self.model.prefill(self.tokens[:30], observer=observer)
        self.model.decode(int(logits.argmax()), cache, observer=observer)
        for layer in (0, 7):
            _, k, v = seen[(layer, "prefill")]
            np.testing.assert_array_equal(cache.layer(layer).keys[:, :30], k)
            np.testing.assert_array_equal(cache.layer(layer).values[:, :30], v)
            _, k_new, v_new = seen[(layer, "decode")]
            np.testing.assert_array_equal(cache.layer(layer).keys[:, 30], k_new)
            np.testing.assert_array_equal(cache.layer(layer).values[:, 30], v_new)

    def test_bad_tokens_are_refused(self):
        with self.assertRaises(ValueError):
            self.model.prefill([])
        with self.assertRaises(ValueError):
            self.model.prefill([self.model.config.vocab_size])


if __name__ == "__main__":
    unittest.main()
