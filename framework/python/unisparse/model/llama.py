"""The Llama forward pass in numpy float32: RMSNorm, RoPE (rotate-half form), GQA attention through
an Attention strategy, SwiGLU MLP, tied or separate lm_head.

    model = LlamaModel(load_gguf())
    logits, cache = model.prefill(tokens)             # logits [vocab] of the last token
    logits = model.decode(int(logits.argmax()), cache)  # appends one token, attends 0..n

Every projection is one matmul over all tokens of the prefill; attention goes per KV head group
(attention.DenseAttention by default). An observer, if given, is called per layer with the
post-RoPE q/k/v the attention receives:

    observer(layer, "prefill", q [num_q_heads, T, d], k [num_kv_heads, T, d], v [num_kv_heads, T, d])
    observer(layer, "decode",  q [num_q_heads, d],    k [num_kv_heads, d],    v [num_kv_heads, d])

(for decode, k and v are those of the appended token).
"""

import numpy as np

from unisparse.model.attention import DenseAttention
from unisparse.model.kv_cache import KvCache
from unisparse.model.rope import RotaryEmbedding

# Extra cache rows reserved after a prefill, so the first decode steps do not reallocate.
DECODE_RESERVE = 256


def rms_norm(x, weight, eps):
    """x [T, hidden] scaled to unit root mean square per row, times weight [hidden]."""
    scale = 1.0 / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + np.float32(eps))
    return (x * scale.astype(np.float32)) * weight


def silu(x):
    """x * sigmoid(x), with the sigmoid written through tanh so that no exp overflows."""
    return x * (0.5 * (1.0 + np.tanh(0.5 * x)))


class _Layer:
    """One decoder layer's weights, fused for the forward: [q; k; v] and [gate; up] row blocks."""

    def __init__(self, weights):
        self.attention_norm = weights.attention_norm
        self.qkv_proj = np.concatenate([weights.q_proj, weights.k_proj, weights.v_proj])
        self.o_proj = weights.o_proj
        self.mlp_norm = weights.mlp_norm
        self.gate_up_proj = np.concatenate([weights.gate_proj, weights.up_proj])
        self.down_proj = weights.down_proj


class LlamaModel:
    def __init__(self, gguf_model):
        self.config = gguf_model.config
        self.name = gguf_model.path.stem
        weights = gguf_model.weights
        self.token_embedding = weights.token_embedding
        self.layers = [_Layer(layer) for layer in weights.layers]
        self.final_norm = weights.final_norm
        self.lm_head = weights.lm_head
        self.rope = RotaryEmbedding(self.config.head_dim, self.config.rope_theta)

    def prefill(self, tokens, attention=None, observer=None, all_logits=False):
        """Runs the prompt `tokens` [T] from an empty cache.

        Returns (logits, cache): logits [vocab] of the last token, or [T, vocab] with all_logits.
        """
        tokens = self._check_tokens(tokens)
        config = self.config
        attention = attention or DenseAttention()
        cache = KvCache(config.num_layers, config.num_kv_heads, config.head_dim,
                        len(tokens) + DECODE_RESERVE)
        hidden = self.token_embedding[tokens]  # [T, hidden]
        positions = np.arange(len(tokens))
        for index, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, hidden, positions)
            if observer is not None:
                observer(index, "prefill", q, k, v)
            cache.layer(index).extend(k, v)
            attended = attention.prefill(index, q, k, v)  # [num_q_heads, T, d]
            hidden = self._finish_layer(layer, hidden, attended.transpose(1, 0, 2))
        final = hidden if all_logits else hidden[-1:]
        logits = rms_norm(final, self.final_norm, config.rms_norm_eps) @ self.lm_head.T
        return (logits if all_logits else logits[0]), cache

    def decode(self, token, cache, attention=None, observer=None):
        """Appends `token` at position cache.length, attends to every cached token and itself;
        returns its logits [vocab]."""
        token = int(self._check_tokens([token])[0])
        attention = attention or DenseAttention()
        hidden = self.token_embedding[[token]]  # [1, hidden]
        positions = np.array([cache.length])
        for index, layer in enumerate(self.layers):
            q, k, v = self._qkv(layer, hidden, positions)  # [heads, 1, d]
            if observer is not None:
                observer(index, "decode", q[:, 0], k[:, 0], v[:, 0])
            kv = cache.layer(index)
            kv.append(k[:, 0], v[:, 0])
            attended = attention.decode(index, q[:, 0], kv)  # [num_q_heads, d]
            hidden = self._finish_layer(layer, hidden, attended[None])
        return (rms_norm(hidden, self.final_norm, self.config.rms_norm_eps) @ self.lm_head.T)[0]

    def _check_tokens(self, tokens):
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) == 0:
            raise ValueError(f"expected a non-empty 1-D token list, got shape {tokens.shape}")
        if tokens.min() < 0 or tokens.max() >= self.config.vocab_size:
            raise ValueError(f"token ids must lie in [0, {self.config.vocab_size}), got "
                             f"{tokens.min()}..{tokens.max()}")
        return tokens

    def _qkv(self, layer, hidden, positions):
        """Post-RoPE q [num_q_heads, T, d], k and v [num_kv_heads, T, d] of hidden [T, hidden]."""
        config = self.config
        d, num_q, num_kv = config.head_dim, config.num_q_heads, config.num_kv_heads
        normed = rms_norm(hidden, layer.attention_norm, config.rms_norm_eps)
        projected = normed @ layer.qkv_proj.T  # [T, (num_q + 2 num_kv) d]
        heads = projected.reshape(len(hidden), num_q + 2 * num_kv, d).transpose(1, 0, 2)
        q = self.rope.apply(heads[:num_q], positions)
        k = self.rope.apply(heads[num_q:num_q + num_kv], positions)
        v = np.ascontiguousarray(heads[num_q + num_kv:])
        return q, k, v

    def _finish_layer(self, layer, hidden, attended):
        """Output projection, residual, SwiGLU MLP, residual; attended [T, num_q_heads, d]."""
        hidden = hidden + attended.reshape(len(hidden), -1) @ layer.o_proj.T
        normed = rms_norm(hidden, layer.mlp_norm, self.config.rms_norm_eps)
        gate_up = normed @ layer.gate_up_proj.T  # [T, 2 * intermediate]
        gate, up = np.split(gate_up, 2, axis=-1)
        return hidden + (silu(gate) * up) @ layer.down_proj.T
