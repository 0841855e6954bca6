"""A whole-model sweep on a trace of the real model, end to end: a short passkey trace captured from
SmolLM2-135M runs through `unisparse run` over every layer it holds, and each row records the
trace's context and decode steps (what the trace replaced in trace_overrides), its layer, and the
head layout that ran under a DuoAttention calibration.

The CLI is the one `make test` builds (build/bin/unisparse, or $UNISPARSE_BIN)."""

import csv
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import shared_model
from unisparse import capture
from unisparse.model.prompts import passkey_prompt
from unisparse.trace import trace_metadata, write_trace

REPOSITORY = Path(__file__).resolve().parents[2]
CONTEXT, DECODE_STEPS, LAYERS = 1024, 4, [0, 7, 14]
NUM_KV_HEADS, NUM_Q_HEADS = 3, 9


def unisparse_binary():
    return Path(os.environ.get("UNISPARSE_BIN", REPOSITORY / "build" / "bin" / "unisparse"))


def duo_gates(num_layers):
    """DuoAttention gates for layers 0 .. num_layers - 1: KV head layer % 3 of each layer is the
    cheapest, so a streaming fraction of 1/3 makes exactly that head streaming in every layer."""
    lines = []
    for layer in range(num_layers):
        gates = ["0.9"] * NUM_KV_HEADS
        gates[layer % NUM_KV_HEADS] = "0.1"
        lines.append("\t".join(gates))
    return "\n".join(lines) + "\n"


def expected_layout(layer):
    return "".join("s" if head == layer % NUM_KV_HEADS else "d" for head in range(NUM_KV_HEADS))


SWEEP = """name: real_trace_check
model: smollm2-135m
workload: {{trace: {trace}, layer: all}}
phase: decode
backends: [cpu]
fixed:
  mode: static+dynamic
  streaming_fraction: {fraction}
  sink_tokens: 64
  local_tokens: 128
  head_selection: calibrated
  head_calibration: {gates}
  page_size: 16
  logical_page_size: 16
  token_budget: 256
axes:
  reuse_interval: [1, 2]
timing: {{warmup: 0, min_iters: 1, max_iters: 1}}
"""


class RealTraceSweepTest(unittest.TestCase):
    def test_whole_model_sweep_records_what_the_trace_holds(self):
        binary = unisparse_binary()
        self.assertTrue(binary.is_file(), f"{binary} is missing: build it first (make build; make "
                        "test does), or point UNISPARSE_BIN at a built unisparse")
        model, tokenizer = shared_model.model(), shared_model.tokenizer()
        prompt = passkey_prompt(tokenizer, CONTEXT, 0.5, seed=0)
        result = capture.capture(model, prompt.tokens, DECODE_STEPS, LAYERS)
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            trace = folder / "passkey.safetensors"
            write_trace(trace, result.tensors, trace_metadata(
                model.name, model.config, tokenizer, prompt, result.generated, LAYERS, "f16"))
            gates = folder / "gates.tsv"
            gates.write_text(duo_gates(max(LAYERS) + 1))
            sweep = folder / "real_trace_check.yaml"
            # One streaming head in three, over the calibration's 15 layers: 15 of 45 pairs.
            sweep.write_text(SWEEP.format(trace=trace, gates=gates, fraction=1 / 3))
            run = subprocess.run([str(binary), "run", str(sweep), "--results", str(folder / "runs"),
                                  "--run-id", "check", "--quiet"], cwd=REPOSITORY,
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("run_dir:", run.stdout)
            with open(folder / "runs" / "real_trace_check" / "check" / "points.csv",
                      newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))

        self.assertEqual(len(rows), len(LAYERS) * 2)  # layer x reuse interval
        self.assertEqual(sorted({int(row["layer"]) for row in rows}), LAYERS)
        for row in rows:
            where = f"layer {row['layer']}, reuse {row['reuse_interval']}"
            self.assertEqual(row["status"], "ok", f"{where}: {row['reason']}")
            self.assertEqual(int(row["context_len"]), CONTEXT, where)
            self.assertEqual(int(row["decode_steps"]), DECODE_STEPS, where)
            self.assertEqual(int(row["batch"]), 1, where)
            self.assertIn(f"context_len: 4096 -> {CONTEXT}", row["trace_overrides"], where)
            self.assertEqual(row["workload.trace"], str(trace), where)
            self.assertEqual(row["head_layout"], expected_layout(int(row["layer"])), where)
            self.assertEqual(int(row["num_streaming_heads"]), 1, where)
            self.assertEqual(int(row["accuracy_rows"]), DECODE_STEPS * NUM_Q_HEADS, where)
            self.assertGreater(float(row["attn_recall"]), 0.0, where)
            self.assertLessEqual(float(row["attn_recall"]), 1.0 + 1e-9, where)


if __name__ == "__main__":
    unittest.main()
