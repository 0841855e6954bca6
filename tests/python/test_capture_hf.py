"""Capture from a transformers Llama model (a tiny random one): the trace layout, post-RoPE keys,
decode rows equal to those of one forward over the whole sequence, greedy tokens as generate()."""

import importlib.util
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
from safetensors import safe_open

from unisparse.model.prompts import passkey_prompt
from unisparse.model.rope import RotaryEmbedding

HAVE_TORCH = all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


@unittest.skipUnless(HAVE_TORCH, "torch and transformers are not installed (torch is not in the "
                                 "project's requirements: its PyPI wheels bring CUDA libraries)")
class CaptureHfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        config = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128,
                             num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                             max_position_embeddings=256, rope_theta=5000.0)
        cls.model = LlamaForCausalLM(config).eval()
        cls.tokens = [int(t) for t in np.random.default_rng(1).integers(0, 97, size=37)]

    def capture(self, tokens, steps, layers=(0, 2), with_q=True):
        from unisparse.capture_hf import capture_hf

        return capture_hf(self.model, tokens, steps, list(layers), with_prefill_queries=with_q)

    def test_layout_and_post_rope_keys(self):
        import torch

        implementation = self.model.config._attn_implementation
        result = self.capture(self.tokens, 3)
        self.assertEqual(self.model.config._attn_implementation, implementation)
        length = len(self.tokens)
        self.assertEqual(result.tensors["layers.0.k"].shape, (2, length, 16))
        self.assertEqual(result.tensors["layers.2.q"].shape, (4, length, 16))
        self.assertEqual(result.tensors["layers.2.q_decode"].shape, (3, 4, 16))
        self.assertEqual(result.tensors["layers.2.v_decode"].shape, (3, 2, 16))
        self.assertNotIn("layers.1.k", result.tensors)
        # Layer 0's keys from its weights: k_proj(input_layernorm(embedding)), rotated half-wise.
        layer = self.model.model.layers[0]
        with torch.no_grad():
            hidden = layer.input_layernorm(self.model.model.embed_tokens(torch.tensor(self.tokens)))
            keys = layer.self_attn.k_proj(hidden).reshape(length, 2, 16).transpose(0, 1).numpy()
        rotated = RotaryEmbedding(16, 5000.0).apply(keys, np.arange(length))
        np.testing.assert_allclose(result.tensors["layers.0.k"], rotated, rtol=1e-4, atol=1e-5)

    def test_decode_rows_match_one_forward_over_the_whole_sequence(self):
        steps = 4
        decoded = self.capture(self.tokens, steps)
        whole = self.capture(self.tokens + decoded.generated, 0)
        length = len(self.tokens)
        for layer in (0, 2):
            for name, prefill_name in (("q_decode", "q"), ("k_decode", "k"), ("v_decode", "v")):
                rows = whole.tensors[f"layers.{layer}.{prefill_name}"][:, length:].transpose(1, 0, 2)
                np.testing.assert_allclose(decoded.tensors[f"layers.{layer}.{name}"], rows,
                                           rtol=1e-4, atol=1e-5, err_msg=f"{layer} {name}")

    def test_greedy_tokens_equal_generate(self):
        import torch

        result = self.capture(self.tokens, 5, with_q=False)
        with torch.no_grad():
            generated = self.model.generate(torch.tensor([self.tokens]), max_new_tokens=5,
                                            do_sample=False, min_new_tokens=5)
        self.assertEqual(result.generated, generated[0, len(self.tokens):].tolist())


@unittest.skipUnless(HAVE_TORCH, "torch and transformers are not installed")
class CaptureHfCommandTest(unittest.TestCase):
    def test_command_line_on_a_saved_model(self):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

        import shared_model
        from unisparse import capture_hf

        tokenizer = shared_model.tokenizer()
        with tempfile.TemporaryDirectory() as folder:
            model_folder = Path(folder) / "tiny-llama"
            torch.manual_seed(0)
            config = LlamaConfig(vocab_size=tokenizer.vocab_size, hidden_size=32,
                                 intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                 num_key_value_heads=1, max_position_embeddings=1024)
            LlamaForCausalLM(config).save_pretrained(model_folder)
            hf_tokenizer = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend,
                                                   eos_token="<|im_end|>")
            hf_tokenizer.chat_template = shared_model.gguf_model().metadata["tokenizer.chat_template"]
            hf_tokenizer.save_pretrained(model_folder)
            out = Path(folder) / "trace.safetensors"
            code = capture_hf.main(["--model", str(model_folder), "--prompt", "passkey",
                                    "--context", "300", "--decode-steps", "2", "--layers", "1",
                                    "--out", str(out)])
            self.assertEqual(code, 0)
            with safe_open(str(out), "np") as handle:
                metadata = handle.metadata()
                self.assertEqual(handle.get_tensor("layers.1.k").shape, (1, 300, 16))
                self.assertEqual(handle.get_tensor("layers.1.q_decode").shape, (2, 2, 16))
            expected = passkey_prompt(tokenizer, 300, 0.5, seed=0)
            self.assertEqual(json.loads(metadata["needle_positions"]), expected.needle_positions)
            self.assertEqual(metadata["num_layers"], "2")
            missing = capture_hf.main(["--model", str(Path(folder) / "none"), "--prompt", "prose",
                                       "--out", str(Path(folder) / "other.safetensors")])
            self.assertEqual(missing, 2)
            self.assertFalse((Path(folder) / "other.safetensors").exists())


if __name__ == "__main__":
    unittest.main()
