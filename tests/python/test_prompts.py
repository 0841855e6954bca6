"""Passkey and prose prompts: exact lengths, needle positions, determinism, descriptions."""

import tempfile
import unittest

import shared_model
from unisparse.errors import InputError
from unisparse.model.prompts import passkey_prompt, prose_prompt


class PasskeyPromptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tokenizer = shared_model.tokenizer()

    def test_length_needle_and_chat_template(self):
        for context, depth in ((300, 0.0), (1000, 0.5), (1023, 1.0), (4096, 0.37)):
            prompt = passkey_prompt(self.tokenizer, context, depth, seed=11)
            self.assertEqual(len(prompt.tokens), context)
            self.assertEqual(len(prompt.answer), 5)
            digits = "".join(self.tokenizer.decode([prompt.tokens[i]])
                             for i in prompt.needle_positions)
            self.assertEqual(digits, prompt.answer * 2, f"context {context}, depth {depth}")
            text = self.tokenizer.decode(prompt.tokens)
            self.assertTrue(text.startswith(self.tokenizer.chat_parts()[0]))
            self.assertTrue(text.endswith("What is the pass key?" + self.tokenizer.chat_parts()[1]))
            self.assertIn(f"The pass key is {prompt.answer}. Remember it. {prompt.answer} is the "
                          "pass key.", text)
            self.assertEqual(prompt.description["kind"], "passkey")
            self.assertEqual(prompt.description["key"], prompt.answer)

    def test_depth_moves_the_needle(self):
        starts = [passkey_prompt(self.tokenizer, 2048, depth, seed=1).needle_positions[0]
                  for depth in (0.0, 0.25, 0.5, 0.75, 1.0)]
        self.assertEqual(starts, sorted(starts))
        self.assertGreater(starts[-1] - starts[0], 1800)

    def test_seed_decides_the_key(self):
        first = passkey_prompt(self.tokenizer, 512, 0.5, seed=5)
        self.assertEqual(first, passkey_prompt(self.tokenizer, 512, 0.5, seed=5))
        keys = {passkey_prompt(self.tokenizer, 512, 0.5, seed=seed).answer for seed in range(8)}
        self.assertGreater(len(keys), 4)

    def test_bad_requests_are_refused(self):
        with self.assertRaises(InputError):
            passkey_prompt(self.tokenizer, 40, 0.5, seed=0)
        with self.assertRaises(InputError):
            passkey_prompt(self.tokenizer, 1000, 1.5, seed=0)


class ProsePromptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tokenizer = shared_model.tokenizer()

    def test_cut_to_length_across_sources(self):
        short = prose_prompt(self.tokenizer, 1000)
        self.assertEqual(len(short.tokens), 1000)
        self.assertEqual(short.description["sources"], ["/usr/share/common-licenses/GPL-3"])
        with open("/usr/share/common-licenses/GPL-3", encoding="utf-8") as handle:
            self.assertTrue(handle.read().startswith(self.tokenizer.decode(short.tokens)))
        long = prose_prompt(self.tokenizer, 8192)
        self.assertEqual(len(long.tokens), 8192)
        self.assertEqual(len(long.description["sources"]), 2)
        self.assertEqual(long.tokens[:1000], short.tokens)

    def test_bad_sources_are_refused(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as handle:
            handle.write("Only a few words.")
            handle.flush()
            with self.assertRaises(InputError) as raised:
                prose_prompt(self.tokenizer, 100, sources=[handle.name])
            self.assertIn(handle.name, str(raised.exception))
        with self.assertRaises(InputError) as raised:
            prose_prompt(self.tokenizer, 100, sources=["/nonexistent/text"])
        self.assertIn("/nonexistent/text", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
