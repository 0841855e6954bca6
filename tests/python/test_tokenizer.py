"""The BPE tokenizer and chat template built from the GGUF metadata."""

import unittest

import shared_model
from unisparse.errors import ModelFileError
from unisparse.model.tokenizer import Tokenizer

# SmolLM2's ChatML form of one user turn, with the system turn its template adds when none is given.
EXPECTED_CHAT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                 "Face<|im_end|>\n<|im_start|>user\n{message}<|im_end|>\n<|im_start|>assistant\n")


class TokenizerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tokenizer = shared_model.tokenizer()

    def test_round_trip(self):
        with open("/usr/share/common-licenses/GPL-3", encoding="utf-8") as handle:
            texts = [handle.read()[:20000], "Tabs\tand  double  spaces,\nnewlines\n\n",
                     "naïve café – 東京 🙂", "x = f(3.14159) + 42"]
        for text in texts:
            ids = self.tokenizer.encode(text)
            self.assertEqual(self.tokenizer.decode(ids), text)
        self.assertLess(len(self.tokenizer.encode(texts[0])), len(texts[0]) / 3)

    def test_words_and_digits(self):
        ids = self.tokenizer.encode(" The pass key is 12345.")
        pieces = [self.tokenizer.decode([i]) for i in ids]
        self.assertEqual(pieces[:4], [" The", " pass", " key", " is"])
        self.assertEqual([piece for piece in pieces if piece.isdigit()], list("12345"))

    def test_control_tokens_are_single_ids(self):
        start, end = self.tokenizer.token_id("<|im_start|>"), self.tokenizer.token_id("<|im_end|>")
        self.assertEqual(self.tokenizer.encode("<|im_start|>user<|im_end|>"),
                         [start] + self.tokenizer.encode("user") + [end])
        self.assertEqual(self.tokenizer.eos_id, end)

    def test_chat_template(self):
        message = "What is the pass key?"
        self.assertEqual(self.tokenizer.chat_prompt(message), EXPECTED_CHAT.format(message=message))
        before, after = self.tokenizer.chat_parts()
        self.assertEqual(before + message + after, EXPECTED_CHAT.format(message=message))

    def test_unsupported_metadata_is_refused(self):
        metadata = dict(shared_model.gguf_model().metadata)
        for key, value in (("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.pre", "qwen2")):
            with self.assertRaises(ModelFileError) as raised:
                Tokenizer.from_metadata({**metadata, key: value}, "model.gguf")
            self.assertIn(key, str(raised.exception))
            self.assertIn("model.gguf", str(raised.exception))
        missing = {key: value for key, value in metadata.items() if key != "tokenizer.ggml.merges"}
        with self.assertRaises(ModelFileError) as raised:
            Tokenizer.from_metadata(missing, "model.gguf")
        self.assertIn("tokenizer.ggml.merges", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
