"""The command line shared by the capture commands: options, their checks, and one capture run
from a prompt description to a trace file. Bad input raises InputError (exit code 2)."""

import argparse
import sys
from pathlib import Path

from unisparse.errors import INPUT_ERROR_EXIT_CODE, InputError
from unisparse.trace import TRACE_DTYPES, trace_metadata, write_trace

DEFAULT_DEPTH = 0.5


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text}")
    return value


def fraction(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1], got {text}")
    return value


def parse_layers(text, num_layers=None):
    """'all' or a comma-separated list of layer indices; checked against num_layers when given."""
    if text == "all":
        return "all" if num_layers is None else list(range(num_layers))
    try:
        layers = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise InputError(f"--layers: expected 'all' or comma-separated layer indices, got {text!r}")
    if layers[0] < 0 or (num_layers is not None and layers[-1] >= num_layers):
        bound = num_layers if num_layers is not None else "num_layers"
        raise InputError(f"--layers: layer indices must lie in [0, {bound}), got {text!r}")
    return layers


def check_lengths(config, context, decode_steps):
    """The prompt must fit the model's context; decode steps may run a little past it (a trace of
    8192 prompt tokens is a natural size), which is said on stderr."""
    if context > config.context_length:
        raise InputError(f"--context {context} exceeds the model's context length "
                         f"{config.context_length}")
    if context + decode_steps > config.context_length:
        print(f"note: decode steps reach position {context + decode_steps - 1}, past the model's "
              f"context length {config.context_length}", file=sys.stderr)


def check_folder(folder, option):
    if not Path(folder).is_dir():
        raise InputError(f"{option}: folder {str(folder)!r} does not exist")


def add_capture_arguments(parser, model_help, model_required=False):
    """Options every capture command takes."""
    parser.add_argument("--model", required=model_required, help=model_help)
    parser.add_argument("--seed", type=int, default=0, help="passkey seed (default 0)")
    parser.add_argument("--decode-steps", type=non_negative_int, default=32,
                        help="greedy decode steps recorded (default 32)")
    parser.add_argument("--layers", default="all", help="'all' (default) or e.g. 0,7,14")
    parser.add_argument("--dtype", choices=TRACE_DTYPES, default="f16", help="default f16")
    parser.add_argument("--with-prefill-queries", action="store_true",
                        help="also record layers.{i}.q (needed by prefill sweeps)")


def single_capture_parser(prog, description, model_help, model_required=False):
    """The options of one capture: the prompt, its length and the output file."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompt", choices=("passkey", "prose"), required=True)
    parser.add_argument("--context", type=positive_int, default=4096,
                        help="prompt length in tokens (default 4096)")
    parser.add_argument("--depth", type=fraction,
                        help=f"passkey depth in [0, 1] (default {DEFAULT_DEPTH})")
    parser.add_argument("--source", action="append",
                        help="prose text file (repeatable; default: Debian's licence texts)")
    parser.add_argument("--out", required=True, help="trace file to write (.safetensors)")
    add_capture_arguments(parser, model_help, model_required)
    return parser


def capture_to_file(source, prompt, out, args, layers):
    """Captures `prompt` from `source` (capture.CaptureSource) into the trace file `out`."""
    result = source.run(prompt.tokens, args.decode_steps, layers, args.with_prefill_queries)
    metadata = trace_metadata(source.name, source.config, source.tokenizer, prompt,
                              result.generated, layers, args.dtype)
    write_trace(out, result.tensors, metadata, args.dtype)
    decode_rate = (f", decode {len(result.generated) / result.decode_seconds:.1f} tokens/s"
                   if result.generated else "")
    print(f"{out}: {len(prompt.tokens)} tokens, {len(layers)} layers, "
          f"prefill {len(prompt.tokens) / result.prefill_seconds:.0f} tokens/s "
          f"({result.prefill_seconds:.1f} s){decode_rate}; generated "
          f"{source.tokenizer.decode(result.generated)!r}")
    return result


def run_single_capture(args, open_source):
    """Checks `args` (of single_capture_parser), opens the model with open_source(args.model),
    builds the prompt and writes its trace."""
    parse_layers(args.layers)
    check_folder(Path(args.out).parent, "--out")
    if args.prompt == "passkey" and args.source:
        raise InputError("--source applies to --prompt prose only")
    if args.prompt == "prose" and args.depth is not None:
        raise InputError("--depth applies to --prompt passkey only")
    source = open_source(args.model)
    layers = parse_layers(args.layers, source.config.num_layers)
    check_lengths(source.config, args.context, args.decode_steps)
    from unisparse.model import prompts

    if args.prompt == "passkey":
        depth = DEFAULT_DEPTH if args.depth is None else args.depth
        prompt = prompts.passkey_prompt(source.tokenizer, args.context, depth, args.seed)
    else:
        prompt = prompts.prose_prompt(source.tokenizer, args.context,
                                      args.source or prompts.PROSE_SOURCES)
    capture_to_file(source, prompt, args.out, args, layers)


def exit_code_of(command, *arguments):
    """Runs command(*arguments); an InputError is printed and becomes exit code 2."""
    try:
        command(*arguments)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return INPUT_ERROR_EXIT_CODE
    return 0
