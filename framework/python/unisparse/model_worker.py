"""The model-level sweep worker: `unisparse run` starts it once per run and hands it every
model-level point over a pipe, so the model, its prefills and the dense references stay loaded
across points.

Protocol: one JSON object per line on stdin, one reply per line on stdout (nothing else is written
there; logs go to stderr).

    {"request": "hello"}
        -> {"ok": true, "model": {name, path, num_layers, num_q_heads, num_kv_heads, head_dim,
            vocab_size}, "python": "3.11.2", "numpy": "..."}
    {"request": "evaluate", "point_id": 3, "params": {key: text, ...}, "head_layouts": ["dsd", ...]}
        -> {"ok": true, "columns": {metric: value, ...}}
    any request that fails -> {"ok": false, "error": "<type>: <message>", "input_error": bool}

A model file that cannot be loaded answers the hello with an error (the runner reports bad input
and writes nothing); an evaluation that fails becomes that point's `failed` row.
"""

import json
import platform
import sys
import traceback

import numpy as np

from unisparse.errors import InputError


def _reply(stream, message):
    stream.write(json.dumps(message, allow_nan=False, default=_plain) + "\n")
    stream.flush()


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _failure(error):
    return {"ok": False, "error": f"{type(error).__name__}: {error}",
            "input_error": isinstance(error, InputError)}


def serve(requests, replies):
    runtime = None
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            kind = request.get("request")
            if kind == "hello":
                from unisparse.inloop.runtime import ModelRuntime
                runtime = runtime or ModelRuntime()
                _reply(replies, {"ok": True, "model": runtime.describe(),
                                 "python": platform.python_version(), "numpy": np.__version__})
            elif kind == "evaluate":
                if runtime is None:
                    raise RuntimeError("evaluate before hello")
                columns = runtime.evaluate(request["params"], request["head_layouts"])
                _reply(replies, {"ok": True, "columns": columns})
            else:
                raise InputError(f"unknown request {kind!r} (hello | evaluate)")
        except Exception as error:  # every failure is reported to the runner, which decides
            traceback.print_exc(file=sys.stderr)
            _reply(replies, _failure(error))


def main():
    replies = sys.stdout
    sys.stdout = sys.stderr  # a stray print must not break the protocol
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
