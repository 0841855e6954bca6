#!/usr/bin/env python3
"""Peer timings on the GPU: torch SDPA dense decode on the shapes of sweeps/decode_dense*.yaml.

Writes rows of the results schema (README "Results") into RUN_DIR/points.jsonl and
RUN_DIR/points.csv (appended when the files exist, using the existing CSV header), one row per
(shape, SDPA backend):
backend "torch_sdpa_flash", "torch_sdpa_efficient", "torch_sdpa_cudnn"; time_us is the median step
time with min/max, bytes_model the K/V bytes one decode step must read, achieved_gbps their rate.

Decode shapes: llama3-8b, 32 query / 8 KV heads, head_dim 128, fp16, one query token per sequence,
context 32k/128k x batch 1/16 and 512k x batch 1. GQA runs through enable_gqa=True where the backend
takes it; otherwise each KV head's 4 query heads become 4 query rows of one head (no mask is needed
for the newest token), which reads every K/V element once as well. Timing: CUDA events around each
call, warm-up, an L2-sized buffer overwritten before every sample, median of the samples.

    python3 analysis/peers.py RUN_DIR [--iters 50] [--warmup 10] [--shapes 32768x1,131072x16]
"""
import argparse
import csv
import json
import os
import statistics
import sys
import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

NUM_Q_HEADS, NUM_KV_HEADS, HEAD_DIM = 32, 8, 128
DEFAULT_SHAPES = [(32768, 1), (131072, 1), (32768, 16), (131072, 16), (524288, 1)]
BACKENDS = {
    "torch_sdpa_flash": SDPBackend.FLASH_ATTENTION,
    "torch_sdpa_efficient": SDPBackend.EFFICIENT_ATTENTION,
    "torch_sdpa_cudnn": SDPBackend.CUDNN_ATTENTION,
}
# The columns every points.csv carries (README "Results").
COLUMNS = (
    "sweep point_id status reason phase backend mode model workload context_len batch num_q_heads "
    "num_kv_heads head_dim dtype kv_dtype page_size logical_page_size token_budget reuse_interval "
    "streaming_fraction sink_tokens local_tokens block_size gqa_selection out_rel_l2_mean "
    "out_rel_l2_p99 out_rel_l2_max attn_recall page_recall needle_hit time_us time_us_min "
    "time_us_max time_stats_us time_selector_us time_topk_us time_attention_us time_merge_us "
    "bytes_model flops_model achieved_gbps achieved_tflops device"
).split()


def make_step(context_len, batch, grouped_rows):
    """Returns a callable running one decode step, or raises if the backend refuses the layout."""
    q = torch.randn(batch, NUM_Q_HEADS, 1, HEAD_DIM, device="cuda", dtype=torch.float16)
    k = torch.randn(batch, NUM_KV_HEADS, context_len, HEAD_DIM, device="cuda", dtype=torch.float16)
    v = torch.randn_like(k)
    if grouped_rows:
        group = NUM_Q_HEADS // NUM_KV_HEADS
        q = q.view(batch, NUM_KV_HEADS, group, HEAD_DIM)
        return lambda: F.scaled_dot_product_attention(q, k, v)
    return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


def time_step(step, iters, warmup, flush_buffer):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    samples = []
    for _ in range(iters):
        flush_buffer.add_(1)  # evicts the K/V of the previous sample from L2
        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        step()
        end.record()
        end.synchronize()
        samples.append(begin.elapsed_time(end) * 1e3)
    return statistics.median(samples), min(samples), max(samples)


def measure(backend_name, backend, context_len, batch, args, flush_buffer, device):
    row = {c: "" for c in COLUMNS}
    row.update(sweep="peers_decode", phase="decode", backend=backend_name, mode="dense",
               model="llama3-8b", workload="random", context_len=context_len, batch=batch,
               num_q_heads=NUM_Q_HEADS, num_kv_heads=NUM_KV_HEADS, head_dim=HEAD_DIM, dtype="fp16",
               kv_dtype="fp16", device=device)
    bytes_model = batch * NUM_KV_HEADS * context_len * HEAD_DIM * 2 * 2
    flops_model = batch * NUM_Q_HEADS * context_len * HEAD_DIM * 4
    row.update(bytes_model=bytes_model, flops_model=flops_model)
    errors = []
    for grouped_rows in (False, True):
        try:
            with sdpa_kernel(backend):
                step = make_step(context_len, batch, grouped_rows)
                step()
                torch.cuda.synchronize()
                median, low, high = time_step(step, args.iters, args.warmup, flush_buffer)
            row.update(status="ok", time_us=round(median, 3), time_us_min=round(low, 3),
                       time_us_max=round(high, 3), time_attention_us=round(median, 3),
                       achieved_gbps=round(bytes_model / (median * 1e-6) / 1e9, 1),
                       achieved_tflops=round(flops_model / (median * 1e-6) / 1e12, 3),
                       peer_layout="grouped_query_rows" if grouped_rows else "enable_gqa")
            return row
        except RuntimeError as error:  # the backend refuses this layout or runs out of memory
            errors.append(str(error).splitlines()[0][:160])
        finally:
            torch.cuda.empty_cache()
    row.update(status="skipped", reason="; ".join(errors))
    return row


def write_rows(run_dir, rows):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "points.jsonl"), "a") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    csv_path = os.path.join(run_dir, "points.csv")
    header = None
    if os.path.exists(csv_path) and os.path.getsize(csv_path) > 0:
        with open(csv_path, newline="") as existing:
            header = next(csv.reader(existing))
    fields = header or COLUMNS + ["peer_layout"]
    with open(csv_path, "a", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        if header is None:
            writer.writeheader()
        writer.writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--shapes", default=",".join(f"{n}x{b}" for n, b in DEFAULT_SHAPES),
                        help="context x batch list, e.g. 32768x1,131072x16")
    args = parser.parse_args()
    # The efficient backend takes no GQA and says so on every call; the fallback layout handles it.
    warnings.filterwarnings("ignore", message="For dense input")
    if not torch.cuda.is_available():
        sys.exit("peers.py needs a CUDA device")
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    l2_bytes = getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 60 << 20)
    flush_buffer = torch.zeros(2 * l2_bytes // 4, device="cuda", dtype=torch.float32)
    device = torch.cuda.get_device_name(0)
    rows = []
    for context_len, batch in shapes:
        for name, backend in BACKENDS.items():
            row = measure(name, backend, context_len, batch, args, flush_buffer, device)
            row["point_id"] = len(rows)
            rows.append(row)
            print(f"{name:22s} {context_len:>7d} x {batch:<2d} {row['status']:8s} "
                  f"{row['time_us'] or '':>10} us  {row['achieved_gbps'] or '':>8} GB/s  "
                  f"{row.get('peer_layout', '')} {row['reason'][:80]}", flush=True)
    write_rows(args.run_dir, rows)


if __name__ == "__main__":
    main()
