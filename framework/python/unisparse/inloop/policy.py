"""A model-level sweep point's plan, as the C++ core's DecodeSession takes it.

The C++ runner resolves every parameter (strict loader, skip rules) and the head layout of every
layer (head_selection, calibrations) and sends them as text; this module only carries them to the
core, it decides nothing.
"""

import dataclasses

# Modes whose streaming heads run streaming (README "Sparsity modes"): the rest keep every head dense.
STREAMING_MODES = ("static", "static+dynamic")


@dataclasses.dataclass(frozen=True)
class Policy:
    mode: str  # dense | static | dynamic | static+dynamic
    head_layouts: tuple  # per layer: 'd' / 's' per KV head, as run (all 'd' without streaming)
    sink_tokens: int
    local_tokens: int
    page_size: int
    logical_page_size: int
    token_budget: int
    reuse_interval: int
    gqa_selection: str
    selector: str
    kv_dtype: str
    block_size: int  # prefill tile of the prefill plan

    @classmethod
    def from_point(cls, params, head_layouts):
        """params: the point's parameters as text (key -> value), head_layouts: per layer."""
        return cls(mode=params["mode"], head_layouts=tuple(head_layouts),
                   sink_tokens=int(params["sink_tokens"]), local_tokens=int(params["local_tokens"]),
                   page_size=int(params["page_size"]),
                   logical_page_size=int(params["logical_page_size"]),
                   token_budget=int(params["token_budget"]),
                   reuse_interval=int(params["reuse_interval"]),
                   gqa_selection=params["gqa_selection"], selector=params["selector"],
                   kv_dtype=params["kv_dtype"], block_size=int(params["block_size"]))

    @classmethod
    def dense(cls, num_layers, num_kv_heads):
        """The model's own attention: every head dense, every page, fp32 cache."""
        return cls(mode="dense", head_layouts=("d" * num_kv_heads,) * num_layers, sink_tokens=0,
                   local_tokens=1, page_size=64, logical_page_size=64, token_budget=64,
                   reuse_interval=1, gqa_selection="per_query_head", selector="quest",
                   kv_dtype="fp32", block_size=64)

    @property
    def streaming(self):
        return self.mode in STREAMING_MODES and any("s" in layout for layout in self.head_layouts)

    def prefill_layout(self):
        """What the prefill depends on: the streaming heads and their window, or nothing (every
        head dense causal). Points with equal prefill layouts share one prefill of a prompt."""
        if not self.streaming:
            return ("dense",)
        return ("streaming", self.head_layouts, self.sink_tokens, self.local_tokens, self.block_size)

    def session_arguments(self, layer):
        """Keyword arguments of unisparse._core.DecodeSession for one layer."""
        return dict(mode=self.mode, head_kinds=self.head_layouts[layer],
                    sink_tokens=self.sink_tokens, local_tokens=self.local_tokens,
                    page_size=self.page_size, logical_page_size=self.logical_page_size,
                    token_budget=self.token_budget, reuse_interval=self.reuse_interval,
                    gqa_selection=self.gqa_selection, selector=self.selector,
                    kv_dtype=self.kv_dtype)
