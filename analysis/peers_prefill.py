"""Prefill peers on the GPU: torch SDPA (flash and cuDNN backends) and FlexAttention, on the shapes
and masks of the prefill sweeps, written as rows of the results schema (README "Results").

Masks: dense causal; half of the KV heads streaming (sink 128 + local 4096); every head streaming
(sink 128 + local 1024 and 4096). SDPA takes no block mask, so it runs the dense case only (the
sparse cases are rows with status "skipped" and the reason). FlexAttention's block masks are built at
block level with BlockMask.from_kv_blocks (create_block_mask over 32 heads at 32k materialises the
whole mask and runs out of memory).

    python3 analysis/peers_prefill.py --out results/peers_prefill/<run-id> [--contexts 32768 131072]

Times: CUDA events around each call after warm-up; median, min and max over the timed calls.
"""

import argparse
import csv
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.flex_attention import BlockMask, flex_attention

# The columns every points.csv carries (README "Results"), in order; a metric that does not apply
# stays empty.
COLUMNS = [
    "sweep", "point_id", "status", "reason", "phase", "backend", "mode", "model", "workload",
    "context_len", "batch", "num_q_heads", "num_kv_heads", "head_dim", "dtype", "kv_dtype",
    "page_size", "logical_page_size", "token_budget", "reuse_interval", "streaming_fraction",
    "sink_tokens", "local_tokens", "block_size", "gqa_selection", "out_rel_l2_mean",
    "out_rel_l2_p99", "out_rel_l2_max", "attn_recall", "page_recall", "needle_hit", "time_us",
    "time_us_min", "time_us_max", "time_stats_us", "time_selector_us", "time_topk_us",
    "time_attention_us", "time_merge_us", "bytes_model", "flops_model", "achieved_gbps",
    "achieved_tflops", "device",
]

NUM_Q_HEADS, NUM_KV_HEADS, HEAD_DIM = 32, 8, 128  # llama3-8b
FLEX_BLOCK = 128

# (name, streaming share of KV heads, sink tokens, local tokens)
MASKS = [
    ("dense", 0.0, 128, 4096),
    ("half_streaming_local4096", 0.5, 128, 4096),
    ("all_streaming_local4096", 1.0, 128, 4096),
    ("all_streaming_local1024", 1.0, 128, 1024),
]


def streaming_kv_heads(fraction):
    """The KV heads that are streaming heads, in HeadLayout::with_streaming_fraction's order: odd
    heads first, then even heads from the top."""
    count = int(math.floor(fraction * NUM_KV_HEADS + 0.5))
    top_even = NUM_KV_HEADS - 1 - (1 if NUM_KV_HEADS % 2 == 0 else 0)
    order = list(range(1, NUM_KV_HEADS, 2)) + list(range(top_even, -1, -2))
    return set(order[:count])


def attended_pairs(context, streaming, sink, local):
    """(query, key) pairs one head attends: causal, plus the sink/local window for streaming heads."""
    if not streaming:
        return context * (context + 1) // 2
    window = sum(min(q + 1, local) for q in range(context))
    sinks = sum(min(sink, max(0, q + 1 - local)) for q in range(context))
    return window + sinks


def block_tables(context, streaming, sink, local, device):
    """Per (query block, KV block): whether any pair is visible (active) and whether all are (full)."""
    blocks = math.ceil(context / FLEX_BLOCK)
    q_block = torch.arange(blocks, device=device)[:, None]
    kv_block = torch.arange(blocks, device=device)[None, :]
    below = kv_block < q_block
    active = kv_block <= q_block
    full = below.clone()
    if streaming:
        # Closest and farthest (query - key) distance between the two blocks.
        nearest = torch.where(below, (q_block - kv_block - 1) * FLEX_BLOCK + 1, 0)
        farthest = (q_block - kv_block + 1) * FLEX_BLOCK - 1
        active &= (kv_block * FLEX_BLOCK < sink) | (nearest < local)
        full &= ((kv_block + 1) * FLEX_BLOCK - 1 < sink) | (farthest < local)
    # The last block is partial when the context is not a multiple of the block.
    if context % FLEX_BLOCK:
        full[:, -1] = False
        full[-1, :] = False
    return active, full


def to_csr(table):
    """[H, Qb, KVb] bool -> kv_num_blocks [1, H, Qb], kv_indices [1, H, Qb, KVb] (active first)."""
    counts = table.sum(-1, dtype=torch.int32)
    order = torch.argsort((~table).to(torch.int8), dim=-1, stable=True).to(torch.int32)
    return counts[None], order[None]


def flex_block_mask(context, streaming_heads, sink, local, device):
    dense_active, dense_full = block_tables(context, False, sink, local, device)
    stream_active, stream_full = block_tables(context, True, sink, local, device)
    group = NUM_Q_HEADS // NUM_KV_HEADS
    is_streaming = torch.tensor([h // group in streaming_heads for h in range(NUM_Q_HEADS)],
                                device=device)
    active = torch.where(is_streaming[:, None, None], stream_active, dense_active)
    full = torch.where(is_streaming[:, None, None], stream_full, dense_full)
    partial_num, partial_idx = to_csr(active & ~full)
    full_num, full_idx = to_csr(full)

    def mask_mod(b, h, q, kv):
        window = (kv < sink) | (q - kv < local)
        return (q >= kv) & (window | ~is_streaming[h])

    try:
        return BlockMask.from_kv_blocks(partial_num, partial_idx, full_num, full_idx,
                                        BLOCK_SIZE=FLEX_BLOCK, mask_mod=mask_mod,
                                        seq_lengths=(context, context))
    except TypeError:  # torch versions without seq_lengths take the length from the tables
        return BlockMask.from_kv_blocks(partial_num, partial_idx, full_num, full_idx,
                                        BLOCK_SIZE=FLEX_BLOCK, mask_mod=mask_mod)


def time_call(call, warmup, iterations):
    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1e3)  # microseconds
    times.sort()
    return times[len(times) // 2], times[0], times[-1]


def base_row(context, backend, mask_name, fraction, sink, local, device_name):
    row = {column: "" for column in COLUMNS}
    row.update(
        sweep="peers_prefill", point_id=f"{backend}/{mask_name}/{context}", status="ok",
        phase="prefill", backend=backend, mode="dense" if fraction == 0 else "static",
        model="llama3-8b", workload="random", context_len=context, batch=1,
        num_q_heads=NUM_Q_HEADS, num_kv_heads=NUM_KV_HEADS, head_dim=HEAD_DIM, dtype="bf16",
        kv_dtype="bf16", streaming_fraction=fraction, device=device_name)
    if fraction > 0:
        row.update(sink_tokens=sink, local_tokens=local)
    return row


def run(contexts, warmup, iterations, out_dir):
    """Times every peer on every mask; rewrites the results after each context, so a run stopped
    early keeps what it finished."""
    device = torch.device("cuda")
    device_name = torch.cuda.get_device_name()
    compiled_flex = torch.compile(flex_attention, dynamic=False)
    rows = []
    for context in contexts:
        generator = torch.Generator(device=device).manual_seed(context)
        q = torch.randn(1, NUM_Q_HEADS, context, HEAD_DIM, device=device, dtype=torch.bfloat16,
                        generator=generator)
        k = torch.randn(1, NUM_KV_HEADS, context, HEAD_DIM, device=device, dtype=torch.bfloat16,
                        generator=generator)
        v = torch.randn_like(k)
        # SDPA backends get K/V expanded to every query head (not every backend takes GQA).
        k_expanded = k.repeat_interleave(NUM_Q_HEADS // NUM_KV_HEADS, dim=1)
        v_expanded = v.repeat_interleave(NUM_Q_HEADS // NUM_KV_HEADS, dim=1)
        for mask_name, fraction, sink, local in MASKS:
            streaming_heads = streaming_kv_heads(fraction)
            group = NUM_Q_HEADS // NUM_KV_HEADS
            pairs = sum(attended_pairs(context, h // group in streaming_heads, sink, local)
                        for h in range(NUM_Q_HEADS))
            flops = 4.0 * HEAD_DIM * pairs
            peers = [("torch_sdpa_flash", SDPBackend.FLASH_ATTENTION),
                     ("torch_sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("torch_flex", None)]
            for backend, sdpa_backend in peers:
                row = base_row(context, backend, mask_name, fraction, sink, local, device_name)
                row["flops_model"] = flops
                try:
                    if sdpa_backend is not None:
                        if fraction > 0:
                            row.update(status="skipped", reason="SDPA takes no block-sparse mask")
                            rows.append(row)
                            continue

                        def call(selected=sdpa_backend):
                            with sdpa_kernel(selected):
                                return F.scaled_dot_product_attention(q, k_expanded, v_expanded,
                                                                      is_causal=True)
                    else:
                        block_mask = flex_block_mask(context, streaming_heads, sink, local, device)
                        row["block_size"] = FLEX_BLOCK

                        def call(mask=block_mask):
                            return compiled_flex(q, k, v, block_mask=mask, enable_gqa=True)
                    median, low, high = time_call(call, warmup, iterations)
                    row.update(time_us=median, time_us_min=low, time_us_max=high,
                               time_attention_us=median, achieved_tflops=flops / median / 1e6)
                except Exception as error:  # a peer that cannot run is recorded, not fatal
                    row.update(status="failed", reason=f"{type(error).__name__}: {error}"[:300])
                    torch.cuda.empty_cache()
                rows.append(row)
                print(f"{row['point_id']:48s} {row['status']:8s} {row['time_us'] or '':>12} us "
                      f"{row['achieved_tflops'] or ''} TFLOP/s {row['reason']}", flush=True)
        del q, k, v, k_expanded, v_expanded
        torch.cuda.empty_cache()
        write(rows, out_dir)
    return rows


def write(rows, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "points.jsonl"), "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    with open(os.path.join(out_dir, "points.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for points.jsonl and points.csv")
    parser.add_argument("--contexts", type=int, nargs="+", default=[32768, 131072])
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("peers_prefill: no CUDA device", file=sys.stderr)
        return 1
    run(args.contexts, args.warmup, args.iterations, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
