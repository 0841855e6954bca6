"""Capture a trace from the model: prefill a prompt, decode greedily, keep post-RoPE q/k/v.

    python -m unisparse.capture --prompt passkey --context 4096 --depth 0.5 --seed 0 \
        --decode-steps 32 --layers all --dtype f16 --out passkey_4k.safetensors

Decode step s appends token T + s (step 0 appends the argmax of the prefill logits, step s the
argmax of step s - 1's logits) and its query attends to tokens 0..T + s, as unisparse's decode
replays it. Bad arguments exit with code 2 and a message; nothing is written then.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from unisparse.errors import INPUT_ERROR_EXIT_CODE, InputError
from unisparse.trace import TRACE_DTYPES, TraceRecorder, write_trace

ROPE_FORM = "rotate_half"  # Hugging Face / GPT-NeoX RoPE: channel i pairs with i + head_dim / 2
DEFAULT_DEPTH = 0.5


@dataclasses.dataclass
class Capture:
    tensors: dict  # trace tensor name -> float32 array
    generated: list  # the decode_steps token ids appended by the decode steps
    prefill_seconds: float
    decode_seconds: float


def capture(model, tokens, decode_steps, layers, with_prefill_queries=False, attention=None):
    """Runs `tokens` through `model` and `decode_steps` greedy steps, recording `layers`."""
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


def trace_metadata(model, tokenizer, prompt, result, layers, dtype):
    config = model.config
    metadata = {
        "model": model.name,
        "model_name": config.name,
        "text": json.dumps(prompt.description, sort_keys=True),
        "prompt_kind": prompt.kind,
        "num_layers": config.num_layers,
        "layers": json.dumps(sorted(layers)),
        "num_q_heads": config.num_q_heads,
        "num_kv_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "context_len": len(prompt.tokens),
        "decode_steps": len(result.generated),
        "generated": tokenizer.decode(result.generated),
        "generated_tokens": json.dumps(result.generated),
        "rope": ROPE_FORM,
        "rope_theta": config.rope_theta,
        "dtype": dtype,
    }
    if prompt.kind == "passkey":
        metadata["needle_positions"] = json.dumps(prompt.needle_positions)
        metadata["answer"] = prompt.answer
    return metadata


def parse_layers(text, num_layers=None):
    """'all' or a comma-separated list of layer indices; checked against num_layers when given."""
    if text == "all":
        if num_layers is None:
            return "all"
        return list(range(num_layers))
    try:
        layers = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise InputError(f"--layers: expected 'all' or comma-separated layer indices, got {text!r}")
    if layers[0] < 0 or (num_layers is not None and layers[-1] >= num_layers):
        bound = num_layers if num_layers is not None else "num_layers"
        raise InputError(f"--layers: layer indices must lie in [0, {bound}), got {text!r}")
    return layers


def check_lengths(config, context, decode_steps):
    if context + decode_steps > config.context_length:
        raise InputError(f"--context {context} + --decode-steps {decode_steps} exceeds the model's "
                         f"context length {config.context_length}")


def check_output_folder(path, option):
    folder = Path(path).parent if option == "--out" else Path(path)
    if not folder.is_dir():
        raise InputError(f"{option}: folder {str(folder)!r} does not exist")


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text}")
    return value


def add_common_arguments(parser):
    """Options shared by this command and the passkey grid."""
    parser.add_argument("--model", help="GGUF file (default: $UNISPARSE_MODEL or the `make model` "
                                        "file in .venv/models)")
    parser.add_argument("--seed", type=int, default=0, help="passkey seed (default 0)")
    parser.add_argument("--decode-steps", type=_non_negative_int, default=32,
                        help="greedy decode steps recorded (default 32)")
    parser.add_argument("--layers", default="all", help="'all' (default) or e.g. 0,7,14")
    parser.add_argument("--dtype", choices=TRACE_DTYPES, default="f16", help="default f16")
    parser.add_argument("--with-prefill-queries", action="store_true",
                        help="also record layers.{i}.q (needed by prefill sweeps)")


def load_model_and_tokenizer(path):
    from unisparse.model.gguf_weights import load_gguf
    from unisparse.model.llama import LlamaModel
    from unisparse.model.tokenizer import Tokenizer

    gguf_model = load_gguf(path)
    return LlamaModel(gguf_model), Tokenizer.from_gguf(gguf_model)


def capture_to_file(model, tokenizer, prompt, out, args, layers):
    result = capture(model, prompt.tokens, args.decode_steps, layers, args.with_prefill_queries)
    write_trace(out, result.tensors, trace_metadata(model, tokenizer, prompt, result, layers,
                                                    args.dtype), args.dtype)
    decode_rate = (f", decode {len(result.generated) / result.decode_seconds:.1f} tokens/s"
                   if result.generated else "")
    print(f"{out}: {len(prompt.tokens)} tokens, {len(layers)} layers, "
          f"prefill {len(prompt.tokens) / result.prefill_seconds:.0f} tokens/s "
          f"({result.prefill_seconds:.1f} s){decode_rate}; generated "
          f"{tokenizer.decode(result.generated)!r}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m unisparse.capture", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", choices=("passkey", "prose"), required=True)
    parser.add_argument("--context", type=positive_int, default=4096,
                        help="prompt length in tokens (default 4096)")
    parser.add_argument("--depth", type=fraction,
                        help=f"passkey depth in [0, 1] (default {DEFAULT_DEPTH})")
    parser.add_argument("--source", action="append",
                        help="prose text file (repeatable; default: Debian's licence texts)")
    parser.add_argument("--out", required=True, help="trace file to write (.safetensors)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    try:
        parse_layers(args.layers)
        check_output_folder(args.out, "--out")
        if args.prompt == "passkey" and args.source:
            raise InputError("--source applies to --prompt prose only")
        if args.prompt == "prose" and args.depth is not None:
            raise InputError("--depth applies to --prompt passkey only")
        model, tokenizer = load_model_and_tokenizer(args.model)
        layers = parse_layers(args.layers, model.config.num_layers)
        check_lengths(model.config, args.context, args.decode_steps)
        from unisparse.model import prompts

        if args.prompt == "passkey":
            depth = DEFAULT_DEPTH if args.depth is None else args.depth
            prompt = prompts.passkey_prompt(tokenizer, args.context, depth, args.seed)
        else:
            prompt = prompts.prose_prompt(tokenizer, args.context,
                                          args.source or prompts.PROSE_SOURCES)
        capture_to_file(model, tokenizer, prompt, args.out, args, layers)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT_CODE
    return 0


if __name__ == "__main__":
    sys.exit(main())
