"""The model with the plan in the loop: dense plans reproduce the model's own attention, the
passkey and perplexity tasks score what they say, prefills are shared, and the worker's protocol
turns failures into messages."""

import io
import json
import unittest

import numpy as np

import shared_model
from unisparse.inloop import tasks
from unisparse.inloop.attention import PrefillAttention, SessionAttention, SessionCache, open_sessions
from unisparse.inloop.policy import Policy
from unisparse.inloop.prefill_cache import PrefillCache
from unisparse.model.prompts import passkey_prompt, prose_prompt
from unisparse.model_worker import serve


class Runtime:
    """ModelRuntime on the shared model (tests load it once)."""

    def __init__(self):
        from unisparse.inloop.runtime import ModelRuntime
        self.runtime = ModelRuntime.__new__(ModelRuntime)
        self.runtime.model, self.runtime.tokenizer = shared_model.model(), shared_model.tokenizer()
        self.runtime.path = "shared"
        self.runtime.prefills = PrefillCache(self.runtime.model)
        self.runtime._dense = __import__("collections").OrderedDict()


RUNTIME = None


def runtime():
    global RUNTIME
    RUNTIME = RUNTIME or Runtime().runtime
    return RUNTIME


def point(**changes):
    params = {"task": "passkey", "mode": "dense", "sink_tokens": "64", "local_tokens": "256",
              "page_size": "64", "logical_page_size": "16", "token_budget": "1024",
              "reuse_interval": "4", "gqa_selection": "per_query_head", "selector": "quest",
              "kv_dtype": "fp32", "block_size": "64", "context_len": "1024", "eval_tokens": "8",
              "passkey_depth": "0.5", "passkey_seed": "0"}
    params.update({key: str(value) for key, value in changes.items()})
    return params


def layouts(text="ddd"):
    return [text] * 30


class InLoopModelTest(unittest.TestCase):
    def test_dense_plan_decodes_as_the_model_does(self):
        model, tokenizer = shared_model.model(), shared_model.tokenizer()
        tokens = prose_prompt(tokenizer, 300).tokens
        expected_logits, cache = model.prefill(tokens[:296])
        policy = Policy.dense(30, 3)
        prefill = PrefillCache(model).get(("prose", 300), tokens[:296], policy)[0]
        np.testing.assert_allclose(prefill.logits, expected_logits, rtol=1e-4, atol=1e-4)
        sessions = open_sessions(policy, model.config, prefill, 4)
        session_cache, attention = SessionCache(sessions), SessionAttention()
        for token in tokens[296:]:
            expected = model.decode(token, cache)
            got = model.decode(token, session_cache, attention=attention)
            self.assertLess(np.linalg.norm(got - expected) / np.linalg.norm(expected), 1e-4)
        self.assertEqual(session_cache.length, 300)
        self.assertGreater(attention.core_seconds, 0.0)

    def test_streaming_prefill_differs_from_dense_and_is_shared_by_its_layout(self):
        model = shared_model.model()
        tokens = prose_prompt(shared_model.tokenizer(), 400).tokens
        cache = PrefillCache(model)
        dense = Policy.from_point(point(mode="dynamic"), layouts())
        streaming = Policy.from_point(point(mode="static+dynamic", local_tokens="64"), layouts("sds"))
        first, reused = cache.get("prose", tokens, dense)
        self.assertFalse(reused)
        self.assertTrue(cache.get("prose", tokens, Policy.dense(30, 3))[1])  # dense shares it
        stream, reused = cache.get("prose", tokens, streaming)
        self.assertFalse(reused)
        self.assertGreater(np.abs(stream.logits - first.logits).max(), 1e-3)
        np.testing.assert_array_equal(stream.keys[0], first.keys[0])  # layer 0's inputs agree
        self.assertEqual(cache.computed, 2)

    def test_perplexity_of_a_dense_point_is_the_dense_reference(self):
        columns = runtime().evaluate(point(task="perplexity", context_len=512, eval_tokens=6),
                                     layouts())
        self.assertEqual(columns["kl_mean"], 0.0)
        self.assertEqual(columns["top1_agreement"], 1.0)
        self.assertEqual(columns["ppl"], columns["ppl_dense"])
        self.assertGreater(columns["ppl"], 1.0)
        self.assertEqual(columns["model_decode_steps"], 6)
        description = json.loads(columns["prompt"])
        self.assertEqual(description["prefill_tokens"], 506)

    def test_a_tiny_budget_moves_the_next_token_distribution(self):
        sparse = runtime().evaluate(point(task="perplexity", context_len=512, eval_tokens=6,
                                          mode="static+dynamic", page_size=16, logical_page_size=16,
                                          token_budget=32, local_tokens=16, sink_tokens=4,
                                          kv_dtype="int4"),
                                    layouts("sss"))
        self.assertGreater(sparse["kl_mean"], 0.01)
        self.assertNotEqual(sparse["ppl"], sparse["ppl_dense"])

    def test_passkey_is_answered_exactly_by_the_dense_plan(self):
        columns = runtime().evaluate(point(context_len=1024, passkey_depth=0.3, passkey_seed=2,
                                           eval_tokens=12), layouts())
        self.assertEqual(columns["accuracy"], 1.0, columns["answer"])
        self.assertIn(columns["answer_expected"], columns["answer"])
        prompt = passkey_prompt(shared_model.tokenizer(), 1024, 0.3, 2)
        self.assertEqual(json.loads(columns["prompt"])["key"], prompt.answer)
        self.assertLessEqual(columns["model_decode_steps"], 12)

    def test_prefill_attention_refuses_decode(self):
        with self.assertRaises(RuntimeError):
            PrefillAttention(Policy.dense(30, 3)).decode(0, None, None)


class WorkerProtocolTest(unittest.TestCase):
    def test_failures_become_messages(self):
        requests = io.StringIO("\n".join([
            json.dumps({"request": "evaluate", "params": {}, "head_layouts": []}),
            json.dumps({"request": "sing"}),
            "not json",
        ]) + "\n")
        replies = io.StringIO()
        serve(requests, replies)
        lines = [json.loads(line) for line in replies.getvalue().splitlines()]
        self.assertEqual(len(lines), 3)
        self.assertFalse(any(line["ok"] for line in lines))
        self.assertIn("evaluate before hello", lines[0]["error"])
        self.assertTrue(lines[1]["input_error"])
        self.assertIn("JSONDecodeError", lines[2]["error"])


if __name__ == "__main__":
    unittest.main()
