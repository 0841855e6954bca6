"""Trace capture: the trace holds exactly what the forward attended with, in unisparse's layout;
the command line writes it with its metadata and refuses bad arguments (exit 2, nothing written)."""

import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
from safetensors import safe_open

import shared_model
from unisparse import capture, capture_grid
from unisparse.model.attention import DenseAttention
from unisparse.model.prompts import passkey_prompt, prose_prompt
from unisparse.trace import write_trace


class KeepingAttention(DenseAttention):
    """Dense attention that keeps copies of its inputs per layer."""

    def __init__(self):
        super().__init__()
        self.prefill_inputs, self.decode_inputs = {}, {}

    def prefill(self, layer, q, k, v):
        self.prefill_inputs[layer] = (q.copy(), k.copy(), v.copy())
        return super().prefill(layer, q, k, v)

    def decode(self, layer, q, kv):
        self.decode_inputs.setdefault(layer, []).append((q.copy(), kv.keys.copy(), kv.values.copy()))
        return super().decode(layer, q, kv)


def read_trace(path):
    with safe_open(str(path), "np") as handle:
        return {name: handle.get_tensor(name) for name in handle.keys()}, handle.metadata()


def header(path):
    data = Path(path).read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + size]), data[8 + size:]


LOAD_MODEL_AND_TOKENIZER = capture.load_model_and_tokenizer


def shared_or_loaded(path):
    """The command's model loader, answering the default model with the already loaded one."""
    if path is None:
        return shared_model.model(), shared_model.tokenizer()
    return LOAD_MODEL_AND_TOKENIZER(path)


def run_main(main, argv):
    """(exit code, stderr) of a command's main(argv), argparse's own exits included."""
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    return code, errors.getvalue()


class CaptureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model, cls.tokenizer = shared_model.model(), shared_model.tokenizer()
        cls.config = cls.model.config

    def test_trace_holds_what_the_forward_attended_with(self):
        prompt = passkey_prompt(self.tokenizer, 400, 0.5, seed=3)
        length, steps, layers = len(prompt.tokens), 4, [0, 7, 29]
        attention = KeepingAttention()
        result = capture.capture(self.model, prompt.tokens, steps, layers,
                                 with_prefill_queries=True, attention=attention)
        config = self.config
        expected_names = {f"layers.{layer}.{name}" for layer in layers
                          for name in ("q", "k", "v", "q_decode", "k_decode", "v_decode")}
        self.assertEqual(set(result.tensors), expected_names)
        for layer in layers:
            tensors = {name.split(".")[-1]: array for name, array in result.tensors.items()
                       if name.startswith(f"layers.{layer}.")}
            self.assertEqual(tensors["k"].shape, (config.num_kv_heads, length, config.head_dim))
            self.assertEqual(tensors["q"].shape, (config.num_q_heads, length, config.head_dim))
            self.assertEqual(tensors["q_decode"].shape, (steps, config.num_q_heads, config.head_dim))
            self.assertEqual(tensors["k_decode"].shape, (steps, config.num_kv_heads, config.head_dim))
            q, k, v = attention.prefill_inputs[layer]
            np.testing.assert_array_equal(tensors["q"], q)
            np.testing.assert_array_equal(tensors["k"], k)
            np.testing.assert_array_equal(tensors["v"], v)
            for step, (q_step, keys, values) in enumerate(attention.decode_inputs[layer]):
                # Step s appended token T + s, then its query attended to tokens 0..T + s.
                self.assertEqual(keys.shape[1], length + step + 1)
                np.testing.assert_array_equal(tensors["q_decode"][step], q_step)
                np.testing.assert_array_equal(tensors["k_decode"][step], keys[:, length + step])
                np.testing.assert_array_equal(tensors["v_decode"][step], values[:, length + step])
                np.testing.assert_array_equal(keys[:, :length], k)
        logits, _ = self.model.prefill(prompt.tokens)
        self.assertEqual(result.generated[0], int(np.argmax(logits)))

    def test_command_line_writes_the_trace_and_its_metadata(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "passkey.safetensors"
            code, errors = run_main(capture.main, [
                "--prompt", "passkey", "--context", "300", "--depth", "0.25", "--seed", "4",
                "--decode-steps", "3", "--layers", "7,0", "--dtype", "f32",
                "--with-prefill-queries", "--out", str(out)])
            self.assertEqual(code, 0, errors)
            self.assertEqual(os.listdir(folder), ["passkey.safetensors"])
            tensors, metadata = read_trace(out)
        prompt = passkey_prompt(self.tokenizer, 300, 0.25, seed=4)
        expected = capture.capture(self.model, prompt.tokens, 3, [0, 7], with_prefill_queries=True)
        self.assertEqual(set(tensors), set(expected.tensors))
        for name, array in expected.tensors.items():
            self.assertEqual(tensors[name].dtype, np.float32)
            np.testing.assert_array_equal(tensors[name], array, name)
        self.assertEqual(json.loads(metadata["needle_positions"]), prompt.needle_positions)
        self.assertEqual(json.loads(metadata["text"]), prompt.description)
        self.assertEqual(metadata["prompt_kind"], "passkey")
        self.assertEqual(metadata["num_layers"], str(self.config.num_layers))
        self.assertEqual(json.loads(metadata["layers"]), [0, 7])
        self.assertEqual(metadata["generated"], self.tokenizer.decode(expected.generated))
        self.assertEqual(metadata["rope"], "rotate_half")
        self.assertEqual(metadata["dtype"], "f32")
        self.assertEqual(metadata["model"], "SmolLM2-135M-Instruct.Q4_1")

    def test_prose_trace_in_f16_by_default(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "prose.safetensors"
            with mock.patch.object(capture, "load_model_and_tokenizer", shared_or_loaded):
                code, errors = run_main(capture.main, ["--prompt", "prose", "--context", "200",
                                                       "--decode-steps", "2", "--layers", "3",
                                                       "--out", str(out)])
            self.assertEqual(code, 0, errors)
            tensors, metadata = read_trace(out)
        expected = capture.capture(self.model, prose_prompt(self.tokenizer, 200).tokens, 2, [3])
        for name, array in expected.tensors.items():
            self.assertEqual(tensors[name].dtype, np.float16)
            np.testing.assert_allclose(tensors[name], array, rtol=1e-3, atol=1e-3, err_msg=name)
        self.assertEqual(metadata["prompt_kind"], "prose")
        self.assertNotIn("needle_positions", metadata)
        self.assertNotIn("layers.3.q", tensors)

    def test_bf16_trace(self):
        values = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "bf16.safetensors"
            write_trace(out, {"layers.0.k": values}, {"dtype": "bf16"}, "bf16")
            entries, data = header(out)
        import ml_dtypes

        self.assertEqual(entries["layers.0.k"]["dtype"], "BF16")
        self.assertEqual(entries["layers.0.k"]["shape"], [3, 5, 4])
        stored = np.frombuffer(data, dtype=ml_dtypes.bfloat16).astype(np.float32).reshape(3, 5, 4)
        np.testing.assert_allclose(stored, values, rtol=2 ** -8)

    def test_bad_arguments_exit_2_and_write_nothing(self):
        with tempfile.TemporaryDirectory() as folder:
            out = str(Path(folder) / "trace.safetensors")
            small_text = Path(folder) / "short.txt"
            small_text.write_text("Too short for the context asked for.\n")
            cases = [
                (["--prompt", "poem", "--out", out], "--prompt"),
                (["--prompt", "passkey", "--context", "0", "--out", out], "--context"),
                (["--prompt", "passkey", "--context", "4k", "--out", out], "--context"),
                (["--prompt", "passkey", "--depth", "1.5", "--out", out], "--depth"),
                (["--prompt", "passkey", "--decode-steps", "-1", "--out", out], "--decode-steps"),
                (["--prompt", "passkey", "--layers", "first", "--out", out], "--layers"),
                (["--prompt", "passkey", "--dtype", "f8", "--out", out], "--dtype"),
                (["--prompt", "passkey", "--out", str(Path(folder) / "missing" / "t.st")], "--out"),
                (["--prompt", "prose", "--depth", "0.5", "--out", out], "--depth"),
                (["--prompt", "passkey", "--colour", "red", "--out", out], "--colour"),
                (["--prompt", "passkey", "--model", str(Path(folder) / "none.gguf"), "--out", out],
                 "none.gguf"),
                (["--prompt", "passkey", "--layers", "0,30", "--out", out], "--layers"),
                (["--prompt", "passkey", "--context", "8193", "--out", out], "context length"),
                (["--prompt", "passkey", "--context", "20", "--out", out], "passkey prompt"),
                (["--prompt", "prose", "--source", str(small_text), "--out", out], "short.txt"),
            ]
            for argv, fragment in cases:
                with mock.patch.object(capture, "load_model_and_tokenizer", shared_or_loaded):
                    code, errors = run_main(capture.main, argv)
                self.assertEqual(code, 2, f"{argv}: {errors}")
                self.assertIn(fragment, errors, argv)
                self.assertEqual(os.listdir(folder), ["short.txt"], argv)

    def test_module_entry_point(self):
        with tempfile.TemporaryDirectory() as folder:
            completed = subprocess.run(
                [sys.executable, "-m", "unisparse.capture", "--prompt", "passkey", "--layers", "",
                 "--out", str(Path(folder) / "trace.safetensors")],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(completed.returncode, 2, completed.stderr)
            self.assertIn("--layers", completed.stderr)
            self.assertEqual(os.listdir(folder), [])


class CaptureGridTest(unittest.TestCase):
    def test_grid_writes_one_trace_per_context_and_depth(self):
        with tempfile.TemporaryDirectory() as folder:
            with mock.patch.object(capture, "load_model_and_tokenizer", shared_or_loaded):
                code, errors = run_main(capture_grid.main, [
                    "--contexts", "256,320", "--depths", "0,1", "--decode-steps", "1",
                    "--layers", "0", "--seed", "9", "--out-dir", folder])
            self.assertEqual(code, 0, errors)
            names = sorted(os.listdir(folder))
            self.assertEqual(names, [capture_grid.trace_name(context, depth, 9)
                                     for context in (256, 320) for depth in (0.0, 1.0)])
            for name in names:
                tensors, metadata = read_trace(Path(folder) / name)
                description = json.loads(metadata["text"])
                self.assertEqual(tensors["layers.0.k"].shape[1], description["context_tokens"])
                self.assertEqual(len(json.loads(metadata["needle_positions"])), 10)

    def test_bad_grid_arguments(self):
        with tempfile.TemporaryDirectory() as folder:
            for argv, fragment in ((["--depths", "0.5,deep"], "--depths"),
                                   (["--contexts", "1024,-5"], "--contexts"),
                                   (["--depths", "0.5,2"], "--depths")):
                code, errors = run_main(capture_grid.main, argv + ["--out-dir", folder])
                self.assertEqual(code, 2, argv)
                self.assertIn(fragment, errors)
            code, errors = run_main(capture_grid.main, ["--out-dir", str(Path(folder) / "none")])
            self.assertEqual(code, 2)
            self.assertEqual(os.listdir(folder), [])


if __name__ == "__main__":
    unittest.main()
