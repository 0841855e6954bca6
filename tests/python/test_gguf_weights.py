"""GGUF loading: configuration, weights with the Q/K permutation undone, and refused bad files."""

import tempfile
import unittest
from pathlib import Path

import numpy as np

import shared_model
import tiny_gguf
from unisparse.errors import InputError, ModelFileError
from unisparse.model.gguf_weights import load_gguf, undo_rope_permutation


class TinyModelTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "tiny.gguf"
        self.weights = tiny_gguf.tiny_weights()

    def tearDown(self):
        self.folder.cleanup()

    def test_weights_come_back_in_rotate_half_order(self):
        tiny_gguf.write_tiny_gguf(self.path, self.weights)
        model = load_gguf(self.path)
        config = model.config
        self.assertEqual((config.num_layers, config.hidden_size, config.num_q_heads,
                          config.num_kv_heads, config.head_dim, config.intermediate_size),
                         (tiny_gguf.LAYERS, tiny_gguf.HIDDEN, tiny_gguf.NUM_Q_HEADS,
                          tiny_gguf.NUM_KV_HEADS, tiny_gguf.HEAD_DIM, tiny_gguf.INTERMEDIATE))
        layer = model.weights.layers[1]
        np.testing.assert_array_equal(layer.q_proj, self.weights["blk.1.attn_q.weight"])
        np.testing.assert_array_equal(layer.k_proj, self.weights["blk.1.attn_k.weight"])
        np.testing.assert_array_equal(layer.down_proj, self.weights["blk.1.ffn_down.weight"])
        self.assertTrue(model.weights.tied_embeddings)
        self.assertIs(model.weights.lm_head, model.weights.token_embedding)

    def test_undo_rope_permutation_inverts_the_converter(self):
        rows = np.arange(3 * 8 * 2, dtype=np.float32).reshape(24, 2)
        np.testing.assert_array_equal(undo_rope_permutation(tiny_gguf.llama_cpp_permute(rows, 3), 3),
                                      rows)

    def assert_refused(self, *fragments):
        with self.assertRaises(ModelFileError) as raised:
            load_gguf(self.path)
        message = str(raised.exception)
        self.assertIsInstance(raised.exception, InputError)
        for fragment in (str(self.path),) + fragments:
            self.assertIn(fragment, message)

    def test_missing_file(self):
        self.assert_refused("no such model file")

    def test_truncated_file(self):
        tiny_gguf.write_tiny_gguf(self.path, self.weights)
        data = self.path.read_bytes()
        self.path.write_bytes(data[:len(data) - 1000])
        self.assert_refused("truncated")

    def test_not_a_gguf_file(self):
        self.path.write_text("GPL-3 is not a model\n")
        self.assert_refused("not a readable GGUF file")

    def test_unsupported_architecture(self):
        tiny_gguf.write_tiny_gguf(self.path, self.weights, architecture="gpt2")
        self.assert_refused("general.architecture", "gpt2")

    def test_missing_key(self):
        tiny_gguf.write_tiny_gguf(self.path, self.weights, drop_key="llama.block_count")
        self.assert_refused("llama.block_count", "missing")

    def test_mis_shaped_tensor(self):
        tiny_gguf.write_tiny_gguf(self.path, self.weights, reshape=("blk.1.ffn_up.weight", (32, 15)))
        self.assert_refused("blk.1.ffn_up.weight", "[32, 15]", "[32, 16]")

    def test_missing_tensor(self):
        del self.weights["blk.0.attn_v.weight"]
        tiny_gguf.write_tiny_gguf(self.path, self.weights)
        self.assert_refused("blk.0.attn_v.weight", "missing")


class SmolLm2Test(unittest.TestCase):
    def test_configuration(self):
        config = shared_model.gguf_model().config
        self.assertEqual((config.num_layers, config.num_q_heads, config.num_kv_heads,
                          config.head_dim, config.hidden_size, config.context_length),
                         (30, 9, 3, 64, 576, 8192))
        self.assertAlmostEqual(config.rope_theta, 1e5)
        self.assertAlmostEqual(config.rms_norm_eps, 1e-5)

    def test_weights_are_finite(self):
        weights = shared_model.gguf_model().weights
        for name in ("q_proj", "k_proj", "down_proj"):
            self.assertTrue(np.isfinite(getattr(weights.layers[7], name)).all(), name)
        self.assertTrue(np.isfinite(weights.token_embedding).all())


if __name__ == "__main__":
    unittest.main()
