"""Model-level tasks under a policy, each returning a results row's metric columns.

* passkey: greedy answer to a passkey prompt (unisparse.model.prompts) of context_len tokens, the
  key at a depth; accuracy 1 when the first number of the answer is the key (exact match), else 0.
  The first answer token comes from the prefill's logits, the rest from at most eval_tokens decode
  steps under the policy (stopping at the end of the first number or the end-of-text token).
* perplexity: the first context_len + 1 tokens of the prose text; the prefill covers the first
  context_len - eval_tokens, then eval_tokens teacher-forced decode steps under the policy append
  the text's next tokens, step s predicting token P + s + 1. ppl, and against the dense model on
  the same tokens (dense prefill, every page, fp32 cache): ppl_dense, the mean KL(dense || point)
  of the next-token distributions and the share of steps whose argmax agrees.
"""

import json
import re
import time

import numpy as np

from unisparse.inloop.attention import (SessionAttention, SessionCache, core_phase_seconds,
                                        log_softmax, open_sessions)
from unisparse.model.prompts import passkey_prompt, prose_prompt

_NUMBER_THEN_OTHER = re.compile(r"\d+\D")


class DecodeRun:
    """The sessions of one point's decode and its timing."""

    def __init__(self, runtime, policy, prefill, reserve_steps):
        self.model, self.config = runtime.model, runtime.model.config
        self.sessions = open_sessions(policy, self.config, prefill, reserve_steps)
        self.cache = SessionCache(self.sessions)
        self.attention = SessionAttention()
        self.seconds = 0.0
        self.steps = 0

    def step(self, token):
        """Appends `token`, returns the logits [vocab] of the next one."""
        start = time.perf_counter()
        logits = self.model.decode(token, self.cache, attention=self.attention)
        self.seconds += time.perf_counter() - start
        self.steps += 1
        return logits

    def timing_columns(self, prefill, reused):
        """Where the point's time went: the prefill (when this point computed it), the decode,
        and the part of the decode spent in the C++ core (per phase, summed over layers)."""
        core = core_phase_seconds(self.sessions)
        prefill_seconds = 0.0 if reused else prefill.seconds
        prefill_tokens = 0 if reused else prefill.tokens
        total = prefill_seconds + self.seconds
        return {
            "model_decode_steps": self.steps,
            "prefill_reused": reused,
            "time_prefill_s": None if reused else prefill.seconds,
            "time_decode_s": self.seconds,
            "time_core_s": self.attention.core_seconds,
            "time_core_stats_s": core["stats"],
            "time_core_selector_s": core["selector"],
            "time_core_attention_s": core["attention"],
            "decode_steps_per_s": self.steps / self.seconds if self.seconds > 0 else None,
            "tokens_per_s": (prefill_tokens + self.steps) / total if total > 0 else None,
        }


def passkey(runtime, policy, context_len, depth, seed, eval_tokens):
    tokenizer = runtime.tokenizer
    prompt = passkey_prompt(tokenizer, context_len, depth, seed)
    prefill, reused = runtime.prefills.get(("passkey", context_len, depth, seed), prompt.tokens,
                                           policy)
    run = DecodeRun(runtime, policy, prefill, eval_tokens)
    answer = [int(np.argmax(prefill.logits))]
    while run.steps < eval_tokens and answer[-1] != tokenizer.eos_id:
        if _NUMBER_THEN_OTHER.search(tokenizer.decode(answer)):
            break  # the first number is complete: the answer is decided
        answer.append(int(np.argmax(run.step(answer[-1]))))
    text = tokenizer.decode(answer, skip_special_tokens=True)
    numbers = re.findall(r"\d+", text)
    columns = {
        "accuracy": 1.0 if numbers and numbers[0] == prompt.answer else 0.0,
        "answer": text,
        "answer_expected": prompt.answer,
        "prompt": json.dumps(prompt.description, sort_keys=True),
        "prompt_tokens": len(prompt.tokens),
    }
    columns.update(run.timing_columns(prefill, reused))
    return columns


def _text(runtime, context_len):
    return prose_prompt(runtime.tokenizer, context_len + 1)


def teacher_forced_log_probs(runtime, policy, prompt_key, tokens, eval_tokens):
    """(log p [eval_tokens, vocab] float32 of each step's next token, DecodeRun, prefill,
    reused): tokens[:P] prefilled, then tokens[P + s] appended at step s, P = len - 1 - eval."""
    prefix = len(tokens) - 1 - eval_tokens
    prefill, reused = runtime.prefills.get(prompt_key + (prefix,), tokens[:prefix], policy)
    run = DecodeRun(runtime, policy, prefill, eval_tokens)
    log_probs = np.empty((eval_tokens, runtime.model.config.vocab_size), dtype=np.float32)
    for step in range(eval_tokens):
        log_probs[step] = log_softmax(run.step(tokens[prefix + step]))
    return log_probs, run, prefill, reused


def perplexity(runtime, policy, context_len, eval_tokens):
    text = _text(runtime, context_len)
    tokens = text.tokens
    prompt_key = ("prose", context_len)
    targets = np.asarray(tokens[len(tokens) - eval_tokens:])
    log_probs, run, prefill, reused = teacher_forced_log_probs(runtime, policy, prompt_key, tokens,
                                                               eval_tokens)
    dense = runtime.dense_reference(prompt_key, tokens, eval_tokens)
    rows = np.arange(eval_tokens)
    nll = -log_probs[rows, targets].astype(np.float64)
    dense_nll = -dense[rows, targets].astype(np.float64)
    dense_p = np.exp(dense.astype(np.float64))
    kl = np.sum(dense_p * (dense.astype(np.float64) - log_probs.astype(np.float64)), axis=1)
    description = dict(text.description, context_tokens=context_len, eval_tokens=eval_tokens,
                       prefill_tokens=len(tokens) - 1 - eval_tokens,
                       scored="the text's tokens context_len - eval_tokens + 1 .. context_len")
    columns = {
        "ppl": float(np.exp(nll.mean())),
        "ppl_dense": float(np.exp(dense_nll.mean())),
        "kl_mean": float(max(kl.mean(), 0.0)),
        "top1_agreement": float(np.mean(log_probs.argmax(axis=1) == dense.argmax(axis=1))),
        "prompt": json.dumps(description, sort_keys=True),
        "prompt_tokens": len(tokens) - 1,
    }
    columns.update(run.timing_columns(prefill, reused))
    return columns
