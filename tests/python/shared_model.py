"""The SmolLM2 model of `make model`, loaded once per test process (loading takes a few seconds)."""

import functools

from unisparse.model.gguf_weights import load_gguf
from unisparse.model.llama import LlamaModel
from unisparse.model.tokenizer import Tokenizer


@functools.lru_cache(maxsize=1)
def gguf_model():
    return load_gguf()


@functools.lru_cache(maxsize=1)
def model():
    return LlamaModel(gguf_model())


@functools.lru_cache(maxsize=1)
def tokenizer():
    return Tokenizer.from_gguf(gguf_model())
