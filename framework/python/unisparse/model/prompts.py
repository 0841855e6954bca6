"""Prompts whose attention is worth tracing, each of an exact token length and describing itself.

* passkey_prompt: the passkey retrieval task of Landmark Attention / DuoAttention. Filler sentences
  repeated to length, "The pass key is NNNNN. Remember it. NNNNN is the pass key." at a depth, then
  "What is the pass key?", all as one user turn of the model's chat template. The token positions
  of the key's digits (both occurrences) are the needle a retrieval head should find.
* prose_prompt: real English text shipped with Debian (the licence texts in
  /usr/share/common-licenses), tokenized and cut to length, without a chat template.
"""

import dataclasses
import random

from unisparse.errors import InputError

FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
TASK_INTRODUCTION = ("There is an important info hidden inside a lot of irrelevant text. Find it and "
                     "memorize it. I will quiz you about the important information there.")
NEEDLE = "The pass key is {key}. Remember it. {key} is the pass key."
QUESTION = "What is the pass key?"
KEY_DIGITS = 5

PROSE_SOURCES = ("/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/GFDL-1.3",
                 "/usr/share/common-licenses/Apache-2.0")
PROSE_SEPARATOR = "\n\n"


@dataclasses.dataclass(frozen=True)
class Prompt:
    tokens: list  # token ids [context_tokens]
    description: dict  # kind, context_tokens and what makes the prompt (JSON-serialisable)
    needle_positions: list = dataclasses.field(default_factory=list)  # passkey digit positions
    answer: str = ""  # the expected answer (the key), empty for prose

    @property
    def kind(self):
        return self.description["kind"]


def passkey_key(seed):
    """The five-digit key of `seed` (never starting with 0)."""
    return str(random.Random(seed).randrange(10 ** (KEY_DIGITS - 1), 10 ** KEY_DIGITS))


def passkey_prompt(tokenizer, context_tokens, depth, seed):
    """A passkey prompt of exactly `context_tokens` tokens with the needle at `depth` (0 = right
    after the introduction, 1 = right before the question) of the filler."""
    if not 0.0 <= depth <= 1.0:
        raise InputError(f"passkey depth must lie in [0, 1], got {depth}")
    key = passkey_key(seed)
    before_message, after_message = tokenizer.chat_parts()
    head = tokenizer.encode(before_message + TASK_INTRODUCTION)
    needle_text = " " + NEEDLE.format(key=key)
    needle, needle_offsets = tokenizer.encode_with_offsets(needle_text)
    tail = tokenizer.encode(" " + QUESTION + after_message)
    filler_length = context_tokens - len(head) - len(needle) - len(tail)
    if filler_length < 0:
        raise InputError(f"a passkey prompt needs at least {context_tokens - filler_length} tokens, "
                         f"asked for {context_tokens}")

    # The filler is the last filler_length tokens of whole repeated sentences, so it ends on a
    # full stop before the question; its first sentence may be cut.
    sentence_tokens = tokenizer.encode(" " + FILLER)
    repeats = filler_length // len(sentence_tokens) + 1
    filler = (sentence_tokens * repeats)[len(sentence_tokens) * repeats - filler_length:]
    # The needle goes after a full stop at or before the depth (or at the very start).
    full_stop = tokenizer.encode(".")[0]
    wanted = round(depth * filler_length)
    split = 0
    for position in range(min(wanted, filler_length)):
        if filler[position] == full_stop:
            split = position + 1
    tokens = head + filler[:split] + needle + filler[split:] + tail

    needle_start = len(head) + split
    key_spans = [(start, start + len(key)) for start in _occurrences(needle_text, key)]
    needle_positions = [needle_start + i for i, (start, end) in enumerate(needle_offsets)
                        if any(start < span_end and end > span_start
                               for span_start, span_end in key_spans)]
    description = {"kind": "passkey", "context_tokens": context_tokens, "depth": depth,
                   "seed": seed, "key": key, "needle_token_start": needle_start,
                   "filler": FILLER, "chat_template": True}
    return Prompt(tokens=tokens, description=description, needle_positions=needle_positions,
                  answer=key)


def prose_prompt(tokenizer, context_tokens, sources=PROSE_SOURCES):
    """The first `context_tokens` tokens of the `sources` files, joined by blank lines."""
    texts, used, available = [], [], 0
    for source in sources:
        try:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{source}: cannot be read as UTF-8 text: {error}") from error
        texts.append(text)
        used.append(str(source))
        available = len(tokenizer.encode(PROSE_SEPARATOR.join(texts)))
        if available >= context_tokens:
            break
    if available < context_tokens:
        raise InputError(f"{', '.join(used)}: {available} tokens in all, fewer than the "
                         f"{context_tokens} asked for")
    tokens = tokenizer.encode(PROSE_SEPARATOR.join(texts))[:context_tokens]
    description = {"kind": "prose", "context_tokens": context_tokens, "sources": used,
                   "chat_template": False}
    return Prompt(tokens=tokens, description=description)


def _occurrences(text, part):
    start = text.find(part)
    while start >= 0:
        yield start
        start = text.find(part, start + 1)
