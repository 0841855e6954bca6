"""A Llama-architecture GGUF file: its configuration, tokenizer metadata and float32 weights.

GGUF conversions of Llama models permute the rows of the Q and K projections of every head so that
llama.cpp can rotate interleaved pairs (2i, 2i+1). The loader undoes that permutation, so the
weights here are in the Hugging Face order, whose RoPE rotates the pairs (i, i + head_dim / 2)
("rotate half", see rope.py). Attention scores are unchanged by the permutation; the per-channel
layout of q and k (and so the captured traces) follows the Hugging Face form.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np

from unisparse.errors import ModelFileError

MODEL_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_PATH_VARIABLE = "UNISPARSE_MODEL"


def default_model_path():
    """$UNISPARSE_MODEL, else the file `make model` writes into the repository's .venv/models/."""
    if os.environ.get(MODEL_PATH_VARIABLE):
        return Path(os.environ[MODEL_PATH_VARIABLE])
    repository = Path(__file__).resolve().parents[4]
    return repository / ".venv" / "models" / MODEL_FILE_NAME


@dataclasses.dataclass(frozen=True)
class LlamaConfig:
    name: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_q_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    context_length: int
    rope_theta: float
    rms_norm_eps: float


@dataclasses.dataclass
class LayerWeights:
    attention_norm: np.ndarray  # [hidden]
    q_proj: np.ndarray  # [num_q_heads * head_dim, hidden], rows in rotate-half order per head
    k_proj: np.ndarray  # [num_kv_heads * head_dim, hidden], rows in rotate-half order per head
    v_proj: np.ndarray  # [num_kv_heads * head_dim, hidden]
    o_proj: np.ndarray  # [hidden, num_q_heads * head_dim]
    mlp_norm: np.ndarray  # [hidden]
    gate_proj: np.ndarray  # [intermediate, hidden]
    up_proj: np.ndarray  # [intermediate, hidden]
    down_proj: np.ndarray  # [hidden, intermediate]


@dataclasses.dataclass
class LlamaWeights:
    token_embedding: np.ndarray  # [vocab, hidden]
    layers: list
    final_norm: np.ndarray  # [hidden]
    lm_head: np.ndarray  # [vocab, hidden]; the embedding itself when tied
    tied_embeddings: bool


@dataclasses.dataclass
class GgufModel:
    path: Path
    config: LlamaConfig
    weights: LlamaWeights
    metadata: dict  # every GGUF key-value field, decoded (tokenizer vocabulary included)


def undo_rope_permutation(rows, num_heads):
    """[num_heads * head_dim, in] from llama.cpp's interleaved-pair order to rotate-half order."""
    head_dim = rows.shape[0] // num_heads
    return np.ascontiguousarray(
        rows.reshape(num_heads, head_dim // 2, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape))


def _open_reader(path):
    import gguf

    if not path.is_file():
        raise ModelFileError(path, "no such model file (`make model` fetches the default one)")
    try:
        return gguf.GGUFReader(path)
    except Exception as error:  # the reader raises ValueError/IndexError/... on a bad or short file
        raise ModelFileError(path, f"not a readable GGUF file (truncated or corrupt): {error}") from error


def _read_metadata(reader):
    metadata = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        value = field.contents()
        metadata[key] = value
    return metadata


def _config(path, metadata):
    architecture = metadata.get("general.architecture")
    if architecture != "llama":
        raise ModelFileError(path, f"metadata 'general.architecture' is {architecture!r}; "
                                   "only 'llama' is supported")

    def number(key, kind, default=None):
        full_key = f"llama.{key}"
        if full_key not in metadata:
            if default is None:
                raise ModelFileError(path, f"metadata key '{full_key}' is missing")
            return default
        value = metadata[full_key]
        if isinstance(value, (bool, str, list)) or not np.isscalar(value):
            raise ModelFileError(path, f"metadata key '{full_key}' is {value!r}, not a number")
        return kind(value)

    scaling = metadata.get("llama.rope.scaling.type", "none")
    if scaling not in ("none", ""):
        raise ModelFileError(path, f"metadata 'llama.rope.scaling.type' is {scaling!r}; "
                                   "RoPE scaling is not supported")
    hidden = number("embedding_length", int)
    num_q_heads = number("attention.head_count", int)
    num_kv_heads = number("attention.head_count_kv", int, default=num_q_heads)
    if num_q_heads < 1 or hidden % num_q_heads or num_kv_heads < 1 or num_q_heads % num_kv_heads:
        raise ModelFileError(path, f"metadata 'llama.attention.head_count' {num_q_heads} and "
                                   f"'llama.attention.head_count_kv' {num_kv_heads} do not divide "
                                   f"'llama.embedding_length' {hidden}")
    head_dim = hidden // num_q_heads
    rotary_dims = number("rope.dimension_count", int, default=head_dim)
    if rotary_dims != head_dim:
        raise ModelFileError(path, f"metadata 'llama.rope.dimension_count' is {rotary_dims}, not "
                                   f"the head dimension {head_dim}; partial RoPE is not supported")
    tokens = metadata.get("tokenizer.ggml.tokens", [])
    return LlamaConfig(
        name=str(metadata.get("general.name", path.stem)),
        num_layers=number("block_count", int),
        hidden_size=hidden,
        intermediate_size=number("feed_forward_length", int),
        num_q_heads=num_q_heads,
        num_kv_heads=num_kv_heads,
        head_dim=head_dim,
        vocab_size=number("vocab_size", int, default=len(tokens) or None),
        context_length=number("context_length", int),
        rope_theta=number("rope.freq_base", float, default=10000.0),
        rms_norm_eps=number("attention.layer_norm_rms_epsilon", float),
    )


def _tensor_reader(path, reader):
    import gguf

    tensors = {tensor.name: tensor for tensor in reader.tensors}

    def read(name, shape, optional=False):
        """The tensor `name` as float32 of numpy shape `shape` (GGUF lists the dimensions reversed)."""
        tensor = tensors.get(name)
        if tensor is None:
            if optional:
                return None
            raise ModelFileError(path, f"tensor '{name}' is missing")
        stored_shape = tuple(int(extent) for extent in reversed(tensor.shape))
        if stored_shape != tuple(shape):
            raise ModelFileError(path, f"tensor '{name}' has shape {list(stored_shape)}, "
                                       f"expected {list(shape)}")
        try:
            values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except NotImplementedError as error:
            raise ModelFileError(path, f"tensor '{name}': type {tensor.tensor_type.name} cannot be "
                                       f"dequantized: {error}") from error
        return np.array(values, dtype=np.float32).reshape(shape)

    return read


def load_gguf(path=None):
    """Reads the model at `path` (default: default_model_path()) into float32 numpy arrays."""
    path = Path(path) if path is not None else default_model_path()
    reader = _open_reader(path)
    metadata = _read_metadata(reader)
    config = _config(path, metadata)
    read = _tensor_reader(path, reader)
    hidden, inner = config.hidden_size, config.intermediate_size
    q_rows, kv_rows = config.num_q_heads * config.head_dim, config.num_kv_heads * config.head_dim

    layers = []
    for i in range(config.num_layers):
        prefix = f"blk.{i}."
        layers.append(LayerWeights(
            attention_norm=read(prefix + "attn_norm.weight", (hidden,)),
            q_proj=undo_rope_permutation(read(prefix + "attn_q.weight", (q_rows, hidden)),
                                         config.num_q_heads),
            k_proj=undo_rope_permutation(read(prefix + "attn_k.weight", (kv_rows, hidden)),
                                         config.num_kv_heads),
            v_proj=read(prefix + "attn_v.weight", (kv_rows, hidden)),
            o_proj=read(prefix + "attn_output.weight", (hidden, q_rows)),
            mlp_norm=read(prefix + "ffn_norm.weight", (hidden,)),
            gate_proj=read(prefix + "ffn_gate.weight", (inner, hidden)),
            up_proj=read(prefix + "ffn_up.weight", (inner, hidden)),
            down_proj=read(prefix + "ffn_down.weight", (hidden, inner)),
        ))
    embedding = read("token_embd.weight", (config.vocab_size, hidden))
    lm_head = read("output.weight", (config.vocab_size, hidden), optional=True)
    weights = LlamaWeights(
        token_embedding=embedding,
        layers=layers,
        final_norm=read("output_norm.weight", (hidden,)),
        lm_head=embedding if lm_head is None else lm_head,
        tied_embeddings=lm_head is None,
    )
    return GgufModel(path=path, config=config, weights=weights, metadata=metadata)
