"""Small GGUF files written with gguf.GGUFWriter: a 2-layer random Llama and broken variants."""

import numpy as np

# [hidden 16, 2 query heads and 1 KV head of dimension 8, MLP 32, vocabulary 40]
HIDDEN, NUM_Q_HEADS, NUM_KV_HEADS, HEAD_DIM, INTERMEDIATE, VOCAB, LAYERS = 16, 2, 1, 8, 32, 40, 2


def llama_cpp_permute(rows, num_heads):
    """What llama.cpp's converter does to Q/K rows (rotate-half order to interleaved pairs)."""
    return (rows.reshape(num_heads, 2, rows.shape[0] // num_heads // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def tiny_weights(seed=0):
    """Hugging Face order weights by GGUF tensor name, float32."""
    rng = np.random.default_rng(seed)

    def random(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    weights = {"token_embd.weight": random(VOCAB, HIDDEN), "output_norm.weight": random(HIDDEN)}
    for layer in range(LAYERS):
        prefix = f"blk.{layer}."
        weights.update({
            prefix + "attn_norm.weight": random(HIDDEN),
            prefix + "attn_q.weight": random(NUM_Q_HEADS * HEAD_DIM, HIDDEN),
            prefix + "attn_k.weight": random(NUM_KV_HEADS * HEAD_DIM, HIDDEN),
            prefix + "attn_v.weight": random(NUM_KV_HEADS * HEAD_DIM, HIDDEN),
            prefix + "attn_output.weight": random(HIDDEN, NUM_Q_HEADS * HEAD_DIM),
            prefix + "ffn_norm.weight": random(HIDDEN),
            prefix + "ffn_gate.weight": random(INTERMEDIATE, HIDDEN),
            prefix + "ffn_up.weight": random(INTERMEDIATE, HIDDEN),
            prefix + "ffn_down.weight": random(HIDDEN, INTERMEDIATE),
        })
    return weights


def write_tiny_gguf(path, weights, architecture="llama", drop_key=None, reshape=None):
    """Writes `weights` (Q/K permuted as llama.cpp stores them); `drop_key` leaves a metadata key
    out, `reshape` = (tensor name, new shape) stores that tensor with another shape."""
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    values = {
        f"{architecture}.block_count": LAYERS,
        f"{architecture}.context_length": 256,
        f"{architecture}.embedding_length": HIDDEN,
        f"{architecture}.feed_forward_length": INTERMEDIATE,
        f"{architecture}.attention.head_count": NUM_Q_HEADS,
        f"{architecture}.attention.head_count_kv": NUM_KV_HEADS,
        f"{architecture}.vocab_size": VOCAB,
    }
    for key, value in values.items():
        if key != drop_key:
            writer.add_uint32(key, value)
    writer.add_float32(f"{architecture}.rope.freq_base", 10000.0)
    writer.add_float32(f"{architecture}.attention.layer_norm_rms_epsilon", 1e-5)
    for name, array in weights.items():
        if name.endswith("attn_q.weight"):
            array = llama_cpp_permute(array, NUM_Q_HEADS)
        elif name.endswith("attn_k.weight"):
            array = llama_cpp_permute(array, NUM_KV_HEADS)
        if reshape and name == reshape[0]:
            array = np.resize(array, reshape[1]).astype(np.float32)
        writer.add_tensor(name, np.ascontiguousarray(array))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
