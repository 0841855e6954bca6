"""The model with the plan in the loop: every layer's attention computed by the C++ core
(unisparse._core) under a sweep point's policy, and the tasks that score the model's output.

    policy        a point's plan: per-layer head layouts, paging, budget, reuse, KV format
    attention     the Attention strategy: prefill through the core's prefill plan, decode through
                  one core DecodeSession per layer
    prefill_cache the prefill of a prompt under a prefill head layout, computed once and shared
    tasks         passkey retrieval and teacher-forced perplexity against the dense model
"""
