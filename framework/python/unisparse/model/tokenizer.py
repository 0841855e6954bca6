"""The model's tokenizer, built from the GGUF metadata with the `tokenizers` library: byte-level BPE
(GPT-2 style) over `tokenizer.ggml.tokens` / `tokenizer.ggml.merges`, control tokens as special
tokens, and the chat template `tokenizer.chat_template` rendered with jinja2 as Hugging Face does.
"""

from unisparse.errors import ModelFileError

# tokenizer.ggml.pre names the pre-tokenizer llama.cpp applies before BPE. Each entry says whether
# digits are split into one token each before the GPT-2 regex (llama.cpp's "\p{N}" rule).
PRE_TOKENIZER_SPLITS_DIGITS = {"smollm": True, "gpt2": False, "default": False}
CONTROL_TOKEN_TYPE = 3  # llama.cpp's LLAMA_TOKEN_TYPE_CONTROL


class Tokenizer:
    def __init__(self, tokenizer, chat_template, bos_id, eos_id, path):
        self._tokenizer = tokenizer
        self._chat_template = chat_template
        self.bos_id = bos_id
        self.eos_id = eos_id
        self.path = path

    @classmethod
    def from_gguf(cls, gguf_model):
        return cls.from_metadata(gguf_model.metadata, gguf_model.path)

    @classmethod
    def from_metadata(cls, metadata, path):
        from tokenizers import AddedToken, Tokenizer as BpeTokenizer, decoders, models, pre_tokenizers

        def field(key, default=None):
            if key not in metadata:
                if default is None:
                    raise ModelFileError(path, f"metadata key '{key}' is missing")
                return default
            return metadata[key]

        kind = field("tokenizer.ggml.model")
        if kind != "gpt2":
            raise ModelFileError(path, f"metadata 'tokenizer.ggml.model' is {kind!r}; only byte-level "
                                       "BPE ('gpt2') is supported")
        pre = field("tokenizer.ggml.pre", "default")
        if pre not in PRE_TOKENIZER_SPLITS_DIGITS:
            raise ModelFileError(path, f"metadata 'tokenizer.ggml.pre' is {pre!r}; supported: "
                                       f"{sorted(PRE_TOKENIZER_SPLITS_DIGITS)}")
        tokens = field("tokenizer.ggml.tokens")
        merges = field("tokenizer.ggml.merges")
        token_types = field("tokenizer.ggml.token_type", [1] * len(tokens))
        if len(token_types) != len(tokens):
            raise ModelFileError(path, f"metadata 'tokenizer.ggml.token_type' has {len(token_types)} "
                                       f"entries for {len(tokens)} tokens")
        pairs = []
        for index, merge in enumerate(merges):
            parts = merge.split(" ")
            if len(parts) != 2:
                raise ModelFileError(path, f"metadata 'tokenizer.ggml.merges' entry {index} "
                                           f"{merge!r} is not two symbols")
            pairs.append((parts[0], parts[1]))

        vocabulary = {token: index for index, token in enumerate(tokens)}
        bpe = BpeTokenizer(models.BPE(vocab=vocabulary, merges=pairs, fuse_unk=False))
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        if PRE_TOKENIZER_SPLITS_DIGITS[pre]:
            bpe.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Digits(individual_digits=True), byte_level])
        else:
            bpe.pre_tokenizer = byte_level
        bpe.decoder = decoders.ByteLevel()
        bpe.add_special_tokens([AddedToken(token, special=True, normalized=False)
                                for token, kind in zip(tokens, token_types)
                                if kind == CONTROL_TOKEN_TYPE])
        return cls(bpe, metadata.get("tokenizer.chat_template"),
                   int(field("tokenizer.ggml.bos_token_id")), int(field("tokenizer.ggml.eos_token_id")),
                   path)

    @property
    def backend(self):
        """The `tokenizers.Tokenizer` doing the work (to hand to other libraries)."""
        return self._tokenizer

    @property
    def vocab_size(self):
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def token_id(self, token):
        """The id of a vocabulary entry (a special token such as '<|im_end|>'), or None."""
        return self._tokenizer.token_to_id(token)

    def encode(self, text):
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode_with_offsets(self, text):
        """(ids, offsets): offsets[i] = (start, end) character span of token i in `text`."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        return encoding.ids, encoding.offsets

    def decode(self, ids, skip_special_tokens=False):
        return self._tokenizer.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def chat_prompt(self, user_message):
        """The chat template applied to one user turn, with the assistant's generation prompt."""
        if not self._chat_template:
            raise ModelFileError(self.path, "metadata key 'tokenizer.chat_template' is missing")
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        template = environment.from_string(self._chat_template)
        return template.render(messages=[{"role": "user", "content": user_message}],
                               add_generation_prompt=True,
                               bos_token=self._tokenizer.id_to_token(self.bos_id),
                               eos_token=self._tokenizer.id_to_token(self.eos_id))

    def chat_parts(self):
        """(before, after): the chat prompt of a user turn is before + message + after."""
        marker = "\x00user message\x00"
        rendered = self.chat_prompt(marker)
        if rendered.count(marker) != 1:
            raise ModelFileError(self.path, "metadata 'tokenizer.chat_template' does not place the "
                                            "user message exactly once")
        before, after = rendered.split(marker)
        return before, after
