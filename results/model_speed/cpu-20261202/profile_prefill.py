"""Where a model-level prefill's time goes: the prefill of N random tokens through the core's CPU
prefill plan (what every model-level point runs, every head dense here) against the model's own numpy
dense attention, each with the seconds spent inside attention.

    UNISPARSE_MODEL=$PWD/.venv/models/SmolLM2-135M-Instruct.Q4_1.gguf OPENBLAS_NUM_THREADS=1 \
      .venv/bin/python results/model_speed/cpu-20261202/profile_prefill.py 2048
"""
import sys
import time

import numpy as np

from unisparse.inloop.attention import PrefillAttention
from unisparse.inloop.policy import Policy
from unisparse.inloop.runtime import ModelRuntime
from unisparse.model.attention import DenseAttention


def timed(strategy):
    """strategy with its prefill calls' wall time summed into .seconds."""
    inner = strategy.prefill
    strategy.seconds = 0.0

    def prefill(layer, q, k, v):
        start = time.perf_counter()
        out = inner(layer, q, k, v)
        strategy.seconds += time.perf_counter() - start
        return out

    strategy.prefill = prefill
    return strategy


def main():
    tokens_count = int(sys.argv[1])
    runtime = ModelRuntime()
    config = runtime.model.config
    tokens = np.random.default_rng(0).integers(0, 1000, tokens_count)
    for name, strategy in (("core prefill plan", PrefillAttention(Policy.dense(config.num_layers, config.num_kv_heads))),
                           ("numpy dense", DenseAttention())):
        strategy = timed(strategy)
        start = time.perf_counter()
        runtime.model.prefill(tokens, attention=strategy)
        total = time.perf_counter() - start
        print(f"{name}: {tokens_count} tokens, total {total:.2f} s, attention {strategy.seconds:.2f} s, "
              f"rest of the forward {total - strategy.seconds:.2f} s")


if __name__ == "__main__":
    main()
