#!/usr/bin/env python3
"""Feeds plans written by `unisparse run --dump-plans` to FlexAttention and checks them.

For every *_plan.safetensors under RUN_DIR/plans: checks that the FlexAttention block arrays
(kv_num_blocks / kv_indices) hold exactly the CSR rows (indptr / indices), builds the BlockMask as
README.md shows (the plan also in mask_mod, since flex_attention without torch.compile evaluates only
the mask_mod), runs flex_attention on random Q/K/V, and compares it with dense attention under the
token mask expanded from the CSR arrays. Prints one line per plan and exits 1 on a mismatch.

    python3 analysis/check_plan_export.py RUN_DIR
"""
import glob
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch.nn.attention.flex_attention import BlockMask, flex_attention


def dense_attention(q, k, v, token_mask):
    # q [1, H, Lq, d], k/v [1, H, n, d] (already expanded to query heads), token_mask [H, Lq, n]
    scores = (q.float() @ k.float().transpose(-1, -2)) / q.shape[-1] ** 0.5
    scores = scores.masked_fill(~token_mask.unsqueeze(0), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v.float()


def csr_token_mask(indptr, indices, rows, block, n, heads, queries_per_row):
    mask = torch.zeros(heads, queries_per_row, n, dtype=torch.bool, device="cuda")
    for row in range(rows):
        for block_id in indices[indptr[row]:indptr[row + 1]].tolist():
            h, q_block = divmod(row, rows // heads)
            q_rows = slice(q_block * block, (q_block + 1) * block) if queries_per_row > 1 else slice(0, 1)
            mask[h, q_rows, block_id * block:(block_id + 1) * block] = True
    return mask


def blocks_match_csr(kv_num_blocks, kv_indices, indptr, indices):
    """kv_num_blocks [..., rows], kv_indices [..., rows, width] against CSR rows in the same order."""
    counts = kv_num_blocks.reshape(-1).cpu()
    lists = kv_indices.reshape(counts.numel(), -1).cpu()
    indptr, indices = indptr.cpu(), indices.cpu()
    for row in range(counts.numel()):
        expected = indices[indptr[row]:indptr[row + 1]]
        if counts[row] != expected.numel() or not torch.equal(lists[row, :counts[row]], expected):
            return False
    return True


def check_decode(path):
    meta = safe_open(path, "pt").metadata()
    arrays = load_file(path, device="cuda")
    heads, kv_heads = int(meta["num_q_heads"]), int(meta["num_kv_heads"])
    group, page = heads // kv_heads, int(meta["page_size"])
    sink, local = int(meta["sink_tokens"]), int(meta["local_tokens"])
    kinds = meta["kv_head_kinds"].split(",")
    streaming = torch.tensor([kinds[h // group] == "streaming" for h in range(heads)], device="cuda")
    worst = 0.0
    for s in range(int(meta["steps"])):
        n = int(meta["context_len"]) + s + 1
        if not blocks_match_csr(arrays[f"decode.step{s}.kv_num_blocks"], arrays[f"decode.step{s}.kv_indices"],
                                arrays[f"decode.step{s}.indptr"], arrays[f"decode.step{s}.indices"]):
            return float("inf")
        q = torch.randn(1, heads, 1, 64, device="cuda", dtype=torch.float16)
        k = torch.randn(1, kv_heads, n, 64, device="cuda", dtype=torch.float16)
        v = torch.randn_like(k)
        indptr, indices = arrays[f"decode.step{s}.indptr"], arrays[f"decode.step{s}.indices"]
        selected = torch.zeros(heads, (n + page - 1) // page, dtype=torch.bool, device="cuda")
        for h in range(heads):
            selected[h, indices[indptr[h]:indptr[h + 1]].long()] = True

        def decode_mask(b, h, q_idx, kv_idx):
            window = (kv_idx < sink) | (kv_idx >= n - local)
            return selected[h, kv_idx // page] & (~streaming[h] | window)

        block_mask = BlockMask.from_kv_blocks(arrays[f"decode.step{s}.kv_num_blocks"][:1],
                                              arrays[f"decode.step{s}.kv_indices"][:1],
                                              BLOCK_SIZE=page, mask_mod=decode_mask, seq_lengths=(1, n))
        out = flex_attention(q, k, v, block_mask=block_mask, enable_gqa=True)
        token_mask = csr_token_mask(arrays[f"decode.step{s}.indptr"].cpu(),
                                    arrays[f"decode.step{s}.indices"].cpu(), heads, page, n, heads, 1)
        positions = torch.arange(n, device="cuda")
        window = (positions < sink) | (positions >= n - local)
        token_mask &= (~streaming[:, None, None]) | window[None, None, :]
        ref = dense_attention(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1), token_mask)
        worst = max(worst, ((out.float() - ref).norm() / ref.norm()).item())
    return worst


def check_prefill(path):
    meta = safe_open(path, "pt").metadata()
    arrays = load_file(path, device="cuda")
    heads, kv_heads = int(meta["num_q_heads"]), int(meta["num_kv_heads"])
    T, block = int(meta["context_len"]), int(meta["block_size"])
    sink, local = int(meta["sink_tokens"]), int(meta["local_tokens"])
    streaming = torch.tensor([m == "streaming" for m in meta["head_modes"].split(",")], device="cuda")

    if not blocks_match_csr(arrays["prefill.kv_num_blocks"], arrays["prefill.kv_indices"],
                            arrays["prefill.indptr"], arrays["prefill.indices"]):
        return float("inf")
    blocks = (T + block - 1) // block
    active = torch.zeros(heads, blocks, blocks, dtype=torch.bool, device="cuda")
    indptr, indices = arrays["prefill.indptr"], arrays["prefill.indices"]
    for row in range(heads * blocks):
        active[row // blocks, row % blocks, indices[indptr[row]:indptr[row + 1]].long()] = True

    def prefill_mask(b, h, q_idx, kv_idx):
        window = (kv_idx < sink) | (q_idx - kv_idx < local)
        return active[h, q_idx // block, kv_idx // block] & (kv_idx <= q_idx) & (~streaming[h] | window)

    q = torch.randn(1, heads, T, 64, device="cuda", dtype=torch.float16)
    k = torch.randn(1, kv_heads, T, 64, device="cuda", dtype=torch.float16)
    v = torch.randn_like(k)
    block_mask = BlockMask.from_kv_blocks(arrays["prefill.kv_num_blocks"], arrays["prefill.kv_indices"],
                                          BLOCK_SIZE=block, mask_mod=prefill_mask, seq_lengths=(T, T))
    out = flex_attention(q, k, v, block_mask=block_mask, enable_gqa=True)
    num_q_blocks = (T + block - 1) // block
    token_mask = csr_token_mask(arrays["prefill.indptr"].cpu(), arrays["prefill.indices"].cpu(),
                                heads * num_q_blocks, block, T, heads, T)
    i = torch.arange(T, device="cuda")
    exact = (i[None, :] <= i[:, None])[None] & ((~streaming[:, None, None]) | (i[None, None, :] < sink)
                                               | (i[None, :, None] - i[None, None, :] < local))
    token_mask &= exact
    group = heads // kv_heads
    ref = dense_attention(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1), token_mask)
    return ((out.float() - ref).norm() / ref.norm()).item()


def main():
    failed = False
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "**", "*_plan.safetensors"), recursive=True)):
        error = check_prefill(path) if "_prefill_" in path else check_decode(path)
        ok = error < 1e-2
        failed |= not ok
        print(f"{'ok' if ok else 'MISMATCH'} {os.path.relpath(path, sys.argv[1])}: "
              f"flex_attention vs CSR-masked dense attention, rel L2 {error:.2e}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
