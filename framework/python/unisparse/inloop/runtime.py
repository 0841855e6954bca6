"""The model, its tokenizer and what is shared across a sweep's points: prefills (by prompt and
prefill layout) and the dense model's next-token log-probabilities (by text)."""

import collections

from unisparse.inloop import tasks
from unisparse.inloop.policy import Policy
from unisparse.inloop.prefill_cache import PrefillCache
from unisparse.model.gguf_weights import load_gguf
from unisparse.model.llama import LlamaModel
from unisparse.model.tokenizer import Tokenizer
from unisparse.errors import InputError

DENSE_REFERENCES_KEPT = 4


class ModelRuntime:
    def __init__(self, model_path=None):
        gguf = load_gguf(model_path)
        self.path = str(gguf.path)
        self.model = LlamaModel(gguf)
        self.tokenizer = Tokenizer.from_gguf(gguf)
        self.prefills = PrefillCache(self.model)
        self._dense = collections.OrderedDict()

    def describe(self):
        config = self.model.config
        return {"name": self.model.name, "path": self.path, "num_layers": config.num_layers,
                "num_q_heads": config.num_q_heads, "num_kv_heads": config.num_kv_heads,
                "head_dim": config.head_dim, "vocab_size": config.vocab_size}

    def dense_reference(self, prompt_key, tokens, eval_tokens):
        """log p [eval_tokens, vocab] of the dense model, teacher-forced like the points."""
        key = (prompt_key, len(tokens), eval_tokens)
        if key not in self._dense:
            policy = Policy.dense(self.model.config.num_layers, self.model.config.num_kv_heads)
            self._dense[key] = tasks.teacher_forced_log_probs(self, policy, prompt_key, tokens,
                                                              eval_tokens)[0]
            while len(self._dense) > DENSE_REFERENCES_KEPT:
                self._dense.popitem(last=False)
        self._dense.move_to_end(key)
        return self._dense[key]

    def evaluate(self, params, head_layouts):
        """The metric columns of one model-level point: params (key -> text, the runner's
        resolved point) and head_layouts (per layer, 'd' / 's' per KV head, as run)."""
        config = self.model.config
        if len(head_layouts) != config.num_layers:
            raise InputError(f"{len(head_layouts)} head layouts for a model of "
                             f"{config.num_layers} layers")
        policy = Policy.from_point(params, head_layouts)
        task = params["task"]
        context_len, eval_tokens = int(params["context_len"]), int(params["eval_tokens"])
        if task == "passkey":
            return tasks.passkey(self, policy, context_len, float(params["passkey_depth"]),
                                 int(params["passkey_seed"]), eval_tokens)
        if task == "perplexity":
            return tasks.perplexity(self, policy, context_len, eval_tokens)
        raise InputError(f"task '{task}' is not a model-level task (passkey | perplexity)")
