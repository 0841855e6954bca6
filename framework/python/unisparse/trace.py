"""unisparse's trace format (README.md "Trace format"): post-RoPE q/k/v per layer in safetensors.

    layers.{i}.k          [num_kv_heads, T, head_dim]   prefill keys
    layers.{i}.v          [num_kv_heads, T, head_dim]   prefill values
    layers.{i}.q          [num_q_heads,  T, head_dim]   prefill queries (optional)
    layers.{i}.q_decode   [steps, num_q_heads,  head_dim]   decode queries
    layers.{i}.k_decode   [steps, num_kv_heads, head_dim]   key of the token appended at step s
    layers.{i}.v_decode   [steps, num_kv_heads, head_dim]   value of the token appended at step s

Decode step s after a prefill of T tokens appends token T + s, whose query then attends to tokens
0..T + s: the rows of step s come from that one forward.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from unisparse.errors import InputError

TRACE_DTYPES = ("f16", "f32", "bf16")
ROPE_FORM = "rotate_half"  # Hugging Face / GPT-NeoX RoPE: channel i pairs with i + head_dim / 2


def numpy_dtype(name):
    if name == "f16":
        return np.dtype(np.float16)
    if name == "f32":
        return np.dtype(np.float32)
    if name == "bf16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    raise InputError(f"unknown trace dtype {name!r}; expected one of {', '.join(TRACE_DTYPES)}")


class TraceRecorder:
    """A layer observer (see unisparse.model.llama) that keeps the trace tensors of `layers`."""

    def __init__(self, layers, with_prefill_queries=False):
        self.layers = set(layers)
        self.with_prefill_queries = with_prefill_queries
        self.prefill = {}  # layer -> (q or None, k, v), each [heads, T, d]
        self.decode = {layer: [] for layer in self.layers}  # layer -> [(q, k, v)] per step

    def __call__(self, layer, phase, q, k, v):
        if layer not in self.layers:
            return
        if phase == "prefill":
            self.prefill[layer] = (q.copy() if self.with_prefill_queries else None, k.copy(), v.copy())
        elif phase == "decode":
            self.decode[layer].append((q.copy(), k.copy(), v.copy()))
        else:
            raise ValueError(f"unknown phase {phase!r}")

    def tensors(self):
        """The trace tensors by name, float32."""
        tensors = {}
        for layer in sorted(self.layers):
            if layer not in self.prefill:
                raise ValueError(f"layer {layer} was not observed in a prefill")
            q, k, v = self.prefill[layer]
            prefix = f"layers.{layer}."
            tensors[prefix + "k"], tensors[prefix + "v"] = k, v
            if q is not None:
                tensors[prefix + "q"] = q
            steps = self.decode[layer]
            if steps:
                for index, name in enumerate(("q_decode", "k_decode", "v_decode")):
                    tensors[prefix + name] = np.stack([step[index] for step in steps])
        return tensors


def write_trace(path, tensors, metadata, dtype="f16"):
    """Writes `tensors` (name -> array) converted to `dtype`, with string `metadata`, to `path`
    through a temporary file in the same folder, so a failed write leaves nothing behind."""
    from safetensors.numpy import save_file

    target = numpy_dtype(dtype)
    path = Path(path)
    converted = {name: np.ascontiguousarray(array, dtype=np.float32).astype(target)
                 for name, array in tensors.items()}
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".part")
    os.close(handle)
    try:
        save_file(converted, temporary, metadata={key: str(value) for key, value in metadata.items()})
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def trace_metadata(model_name, config, tokenizer, prompt, generated, layers, dtype):
    """The __metadata__ of a captured trace (string values): the model, the prompt's description
    (`text`, JSON) and kind, what was captured, the greedy continuation and the RoPE form."""
    metadata = {
        "model": model_name,
        "text": json.dumps(prompt.description, sort_keys=True),
        "prompt_kind": prompt.kind,
        "num_layers": config.num_layers,
        "layers": json.dumps(sorted(layers)),
        "num_q_heads": config.num_q_heads,
        "num_kv_heads": config.num_kv_heads,
        "head_dim": config.head_dim,
        "context_len": len(prompt.tokens),
        "decode_steps": len(generated),
        "generated": tokenizer.decode(generated),
        "generated_tokens": json.dumps([int(token) for token in generated]),
        "rope": ROPE_FORM,
        "rope_theta": config.rope_theta,
        "dtype": dtype,
    }
    if prompt.kind == "passkey":
        metadata["needle_positions"] = json.dumps(prompt.needle_positions)
        metadata["answer"] = prompt.answer
    return metadata
