"""The model behaves like SmolLM2-135M-Instruct: plausible perplexity on English technical text
and the exact key on a short passkey prompt, greedily."""

import re
import unittest

import numpy as np

import shared_model
from unisparse.model.prompts import passkey_prompt, prose_prompt


def perplexity(logits, tokens):
    """exp of the mean negative log-likelihood of tokens[1:] under logits [T, vocab] (float64)."""
    logits = logits[:-1].astype(np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_normaliser = np.log(np.exp(logits).sum(axis=-1))
    targets = logits[np.arange(len(logits)), np.asarray(tokens[1:])]
    return float(np.exp(np.mean(log_normaliser - targets)))


class QualityTest(unittest.TestCase):
    def test_perplexity_of_2k_tokens_of_the_gpl(self):
        prompt = prose_prompt(shared_model.tokenizer(), 2048)
        logits, _ = shared_model.model().prefill(prompt.tokens, all_logits=True)
        value = perplexity(logits, prompt.tokens)
        print(f"\nperplexity of {prompt.description['sources']} (first 2048 tokens): {value:.2f}")
        # A 135M model on legal English (Q4_1 weights): ~12-20; a broken forward lands in the
        # hundreds (wrong RoPE pairing: ~200) or near the vocabulary size.
        self.assertGreater(value, 5.0)
        self.assertLess(value, 30.0)

    def test_passkey_answered_greedily(self):
        tokenizer, model = shared_model.tokenizer(), shared_model.model()
        prompt = passkey_prompt(tokenizer, 1536, depth=0.3, seed=2)
        logits, cache = model.prefill(prompt.tokens)
        answer = []
        for _ in range(12):
            answer.append(int(np.argmax(logits)))
            if answer[-1] == tokenizer.eos_id:
                break
            logits = model.decode(answer[-1], cache)
        text = tokenizer.decode(answer)
        print(f"\npasskey {prompt.answer}, answer {text!r}")
        numbers = re.findall(r"\d+", text)
        self.assertTrue(numbers, text)
        self.assertEqual(numbers[0], prompt.answer, text)


if __name__ == "__main__":
    unittest.main()
