"""A Llama-family model from a GGUF file, run in numpy float32 on the CPU.

    gguf_weights  metadata and dequantized weights (ModelFileError on a bad file)
    tokenizer     the byte-level BPE tokenizer and chat template from the GGUF metadata
    attention     the attention strategy interface and the dense causal default
    rope          rotary position embedding (rotate-half form)
    kv_cache      per-layer post-RoPE keys and values of a sequence
    llama         the forward pass: prefill, decode, per-layer observers
    prompts       passkey and prose prompts with a description of what they are
"""
