"""Capture a trace from the model: prefill a prompt, decode greedily, keep post-RoPE q/k/v.

    python -m unisparse.capture --prompt passkey --context 4096 --depth 0.5 --seed 0 \
        --decode-steps 32 --layers all --dtype f16 --out passkey_4k.safetensors

Decode step s appends token T + s (step 0 appends the argmax of the prefill logits, step s the
argmax of step s - 1's logits) and its query attends to tokens 0..T + s, as unisparse's decode
replays it. q and k are in the rotate-half RoPE form (see unisparse.model.rope). Bad arguments
exit with code 2 and a message; nothing is written then.
"""

import dataclasses
import functools
import sys
import time
from typing import Callable

import numpy as np

from unisparse.capture_cli import exit_code_of, run_single_capture, single_capture_parser
from unisparse.trace import TraceRecorder


@dataclasses.dataclass
class Capture:
    tensors: dict  # trace tensor name -> float32 array
    generated: list  # the decode_steps token ids appended by the decode steps
    prefill_seconds: float
    decode_seconds: float


@dataclasses.dataclass
class CaptureSource:
    """A model to capture from: its name for the metadata, a config with num_layers, num_q_heads,
    num_kv_heads, head_dim, context_length and rope_theta, its tokenizer, and
    run(tokens, decode_steps, layers, with_prefill_queries) -> Capture."""

    name: str
    config: object
    tokenizer: object
    run: Callable


def capture(model, tokens, decode_steps, layers, with_prefill_queries=False, attention=None):
    """Runs `tokens` through `model` (unisparse.model.llama.LlamaModel) and `decode_steps` greedy
    steps, recording `layers`."""
    recorder = TraceRecorder(layers, with_prefill_queries)
    start = time.perf_counter()
    logits, cache = model.prefill(tokens, attention=attention, observer=recorder)
    prefill_seconds = time.perf_counter() - start
    generated = []
    start = time.perf_counter()
    for _ in range(decode_steps):
        token = int(np.argmax(logits))
        generated.append(token)
        logits = model.decode(token, cache, attention=attention, observer=recorder)
    return Capture(recorder.tensors(), generated, prefill_seconds, time.perf_counter() - start)


def load_model_and_tokenizer(path):
    from unisparse.model.gguf_weights import load_gguf
    from unisparse.model.llama import LlamaModel
    from unisparse.model.tokenizer import Tokenizer

    gguf_model = load_gguf(path)
    return LlamaModel(gguf_model), Tokenizer.from_gguf(gguf_model)


def numpy_source(path):
    """The GGUF model at `path` (default: unisparse.model.gguf_weights.default_model_path())."""
    model, tokenizer = load_model_and_tokenizer(path)
    return CaptureSource(model.name, model.config, tokenizer, functools.partial(capture, model))


MODEL_HELP = "GGUF file (default: $UNISPARSE_MODEL or the `make model` file in .venv/models)"


def main(argv=None):
    parser = single_capture_parser("python -m unisparse.capture", __doc__, MODEL_HELP)
    return exit_code_of(run_single_capture, parser.parse_args(argv), numpy_source)


if __name__ == "__main__":
    sys.exit(main())
