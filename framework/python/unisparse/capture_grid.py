"""A passkey trace set: one capture per (context length, depth), the model loaded once.

    python -m unisparse.capture_grid --contexts 1024,2048,4096,8192 --depths 0.1,0.5,0.9 \
        --decode-steps 32 --out-dir traces/passkey

writes traces/passkey/passkey_c{context}_d{depth}_s{seed}.safetensors (depth in percent) with the
metadata of `python -m unisparse.capture`. Bad arguments exit with code 2; nothing is written then.
"""

import argparse
import sys
from pathlib import Path

from unisparse import capture
from unisparse.capture_cli import (add_capture_arguments, capture_to_file, check_folder,
                                   check_lengths, exit_code_of, fraction, parse_layers,
                                   positive_int)
from unisparse.errors import InputError


def parse_list(text, parse, option):
    try:
        return [parse(part) for part in text.split(",")]
    except (ValueError, argparse.ArgumentTypeError) as error:
        raise InputError(f"{option}: {error} in {text!r}")


def trace_name(context, depth, seed):
    return f"passkey_c{context}_d{round(depth * 100):03d}_s{seed}.safetensors"


def run_grid(args):
    contexts = parse_list(args.contexts, positive_int, "--contexts")
    depths = parse_list(args.depths, fraction, "--depths")
    parse_layers(args.layers)
    check_folder(args.out_dir, "--out-dir")
    source = capture.numpy_source(args.model)
    layers = parse_layers(args.layers, source.config.num_layers)
    for context in contexts:
        check_lengths(source.config, context, args.decode_steps)
    from unisparse.model.prompts import passkey_prompt

    prompts = [passkey_prompt(source.tokenizer, context, depth, args.seed)
               for context in contexts for depth in depths]
    for prompt in prompts:
        name = trace_name(prompt.description["context_tokens"], prompt.description["depth"], args.seed)
        capture_to_file(source, prompt, Path(args.out_dir) / name, args, layers)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m unisparse.capture_grid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contexts", default="1024,2048,4096,8192",
                        help="prompt lengths in tokens (default 1024,2048,4096,8192)")
    parser.add_argument("--depths", default="0.1,0.5,0.9", help="passkey depths (default 0.1,0.5,0.9)")
    parser.add_argument("--out-dir", required=True, help="existing folder for the trace files")
    add_capture_arguments(parser, capture.MODEL_HELP)
    return exit_code_of(run_grid, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
