"""The same trace from a Hugging Face `transformers` Llama-family model (Llama, Mistral, Qwen2, ...),
for models too big for the numpy forward.

    python -m unisparse.capture_hf --model /path/to/hf-model --prompt passkey --context 8192 \
        --decode-steps 32 --out passkey_8k.safetensors

The capture registers an attention function with transformers' AttentionInterface (transformers
4.48 or newer): every attention module calls it with the post-RoPE query and the keys / values
after the cache update, exactly what the model attends with, and it hands them to the model's own
attention implementation unchanged. Hugging Face Llama-family models apply RoPE in the rotate-half
form, as unisparse.model does. Batch size 1; the model runs in the dtype transformers loads it in,
and the trace is converted from float32.
"""

import dataclasses
import inspect
import sys
import time

from unisparse.capture import Capture, CaptureSource
from unisparse.capture_cli import exit_code_of, run_single_capture, single_capture_parser
from unisparse.errors import InputError
from unisparse.trace import TraceRecorder

CAPTURE_ATTENTION = "unisparse_capture"


@dataclasses.dataclass(frozen=True)
class HfModelShape:
    """What the trace metadata and the argument checks need from a transformers config."""

    num_layers: int
    num_q_heads: int
    num_kv_heads: int
    head_dim: int
    context_length: int
    rope_theta: float

    @classmethod
    def of(cls, config):
        heads = config.num_attention_heads
        rope_parameters = getattr(config, "rope_parameters", None) or {}
        return cls(num_layers=config.num_hidden_layers, num_q_heads=heads,
                   num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
                   head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
                   context_length=config.max_position_embeddings,
                   rope_theta=float(rope_parameters.get("rope_theta",
                                                        getattr(config, "rope_theta", 10000.0))))


def _to_numpy(tensor):
    import torch

    return tensor.detach().to(dtype=torch.float32).cpu().numpy()


class _AttentionCapture:
    """The registered attention function: records, then delegates to the model's implementation."""

    def __init__(self, recorder, implementation):
        self.recorder = recorder
        self.implementation = implementation  # the model's config._attn_implementation
        self.phase = "prefill"

    def __call__(self, module, query, key, value, attention_mask, **kwargs):
        # query [1, num_q_heads, new, d]; key, value [1, num_kv_heads, cached + new, d]
        if query.shape[0] != 1:
            raise ValueError(f"capture runs batch 1, got a batch of {query.shape[0]}")
        layer = module.layer_idx
        if self.phase == "prefill":
            self.recorder(layer, "prefill", _to_numpy(query[0]), _to_numpy(key[0]),
                          _to_numpy(value[0]))
        else:
            self.recorder(layer, "decode", _to_numpy(query[0, :, -1]), _to_numpy(key[0, :, -1]),
                          _to_numpy(value[0, :, -1]))
        return self._delegate(module)(module, query, key, value, attention_mask, **kwargs)

    def _delegate(self, module):
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        if self.implementation in ALL_ATTENTION_FUNCTIONS:
            return ALL_ATTENTION_FUNCTIONS[self.implementation]
        return sys.modules[type(module).__module__].eager_attention_forward


def _set_attention(model, name):
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name


def capture_hf(model, tokens, decode_steps, layers, with_prefill_queries=False):
    """Prefill `tokens` and `decode_steps` greedy steps through a transformers causal LM,
    recording post-RoPE q/k/v of `layers`; returns a unisparse.capture.Capture."""
    import torch
    from transformers import AttentionInterface, DynamicCache

    recorder = TraceRecorder(layers, with_prefill_queries)
    previous = model.config._attn_implementation
    attention = _AttentionCapture(recorder, previous)
    AttentionInterface.register(CAPTURE_ATTENTION, attention)
    cache_argument = ("cache" if "cache" in inspect.signature(model.forward).parameters
                      else "past_key_values")
    cache = DynamicCache()
    device = next(model.parameters()).device
    _set_attention(model, CAPTURE_ATTENTION)
    try:
        with torch.no_grad():
            start = time.perf_counter()
            ids = torch.tensor([list(tokens)], dtype=torch.long, device=device)
            logits = model(input_ids=ids, use_cache=True, **{cache_argument: cache}).logits[0, -1]
            prefill_seconds = time.perf_counter() - start
            attention.phase = "decode"
            generated = []
            start = time.perf_counter()
            for _ in range(decode_steps):
                token = int(torch.argmax(logits))
                generated.append(token)
                ids = torch.tensor([[token]], dtype=torch.long, device=device)
                logits = model(input_ids=ids, use_cache=True,
                               **{cache_argument: cache}).logits[0, -1]
    finally:
        _set_attention(model, previous)
    return Capture(recorder.tensors(), generated, prefill_seconds, time.perf_counter() - start)


class HfTokenizer:
    """A transformers tokenizer seen through the methods unisparse.model.prompts uses."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.eos_id = tokenizer.eos_token_id

    def encode(self, text):
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def encode_with_offsets(self, text):
        encoded = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return encoded["input_ids"], [tuple(span) for span in encoded["offset_mapping"]]

    def decode(self, ids, skip_special_tokens=False):
        return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def chat_parts(self):
        marker = "\x00user message\x00"
        rendered = self._tokenizer.apply_chat_template([{"role": "user", "content": marker}],
                                                       tokenize=False, add_generation_prompt=True)
        before, separator, after = rendered.partition(marker)
        if not separator:
            raise InputError("the tokenizer's chat template does not contain the user message")
        return before, after


def hf_source(path):
    """The transformers model and tokenizer in the local folder `path`."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise InputError(f"capture_hf needs torch and transformers: {error}") from error
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot be loaded as a transformers model: {error}") from error
    model.eval()
    return CaptureSource(str(path), HfModelShape.of(model.config), HfTokenizer(tokenizer),
                         lambda tokens, steps, layers, with_q: capture_hf(model, tokens, steps,
                                                                          layers, with_q))


def main(argv=None):
    parser = single_capture_parser("python -m unisparse.capture_hf", __doc__,
                                   "local folder of a transformers Llama-family model",
                                   model_required=True)
    return exit_code_of(run_single_capture, parser.parse_args(argv), hf_source)


if __name__ == "__main__":
    sys.exit(main())
