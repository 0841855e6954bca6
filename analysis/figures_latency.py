"""Latency figures of the decode and prefill sweeps, beside the torch peers.

(c) decode step time vs context for dense / static / dynamic / static+dynamic, batch panels, torch
    SDPA dense decode as reference;
(d) prefill time vs context, dense and streaming configurations beside SDPA flash / cuDNN and Flex;
(e) decode step time split into phases (stats, selector, top-k, attention, merge) per mode.
"""

import os

import style
from figures_layout import add_legend, caption, context_label, log2_axis
from figures_runs import (Source, gpu_rows_or_cpu, mean_by, newest_runs, pin_unplotted,
                          report, rows_of)
from points import LABELS, distinct_values, number, present_columns

DECODE_SWEEPS = ["decode_dense", "decode_sparse"]
PREFILL_SWEEPS = ["prefill_dense", "prefill_streaming", "prefill_tradeoff"]
MODES = ["dense", "static", "dynamic", "static+dynamic"]
PHASES = ["time_stats_us", "time_selector_us", "time_topk_us", "time_attention_us",
          "time_merge_us"]
PHASE_NAMES = {"time_stats_us": "key statistics", "time_selector_us": "selector",
               "time_topk_us": "top-k", "time_attention_us": "attention", "time_merge_us": "merge"}
PEER_COLOR = "#444444"
PEER_STYLES = {"torch_sdpa_flash": ("-.", "^"), "torch_sdpa_cudnn": (":", "D"),
               "torch_sdpa_efficient": ((0, (1, 3)), "v"), "torch_flex": ("--", "P")}


def ordered_modes(rows):
    present = distinct_values(rows, "mode")
    return [m for m in MODES if m in present] + [m for m in present if m not in MODES]


def peer_rows(results_dir, sweep, phase):
    runs = newest_runs(results_dir, [sweep])
    return rows_of(runs, lambda row: row.get("backend", "").startswith("torch_")
                   and row.get("phase", phase) == phase and number(row.get("time_us")) is not None)


def with_peers(source, peer_runs):
    return Source(source.rows, source.run_dirs + peer_runs, source.note)


def decode_source(results_dir, letter):
    source = gpu_rows_or_cpu(results_dir, DECODE_SWEEPS, "decode")
    if not source.rows:
        report(letter, f"skipped: {source.note}")
        return None, []
    rows, pinned = pin_unplotted(source.rows, {"mode", "context_len", "batch"})
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return Source(rows, source.run_dirs, source.note), pinned


def plot_decode_latency(results_dir, out_dir):
    """(c): one panel per batch size, x context, y median step time, a line per mode and per torch
    SDPA backend. Returns the files written."""
    source, pinned = decode_source(results_dir, "c")
    if source is None:
        return []
    if not present_columns(source.rows, ["time_us"]):
        report("c", "skipped: no time_us values")
        return []
    peers, peer_runs = peer_rows(results_dir, "peers_decode", "decode")
    if peer_runs:
        report("c", "torch reference from " + ", ".join(peer_runs))
    batches = distinct_values(source.rows, "batch") or [""]
    figure, panels = style.new_figure(len(batches))
    for panel, batch in zip(panels, batches):
        ours = [row for row in source.rows if row.get("batch", "") == batch]
        theirs = [row for row in peers if row.get("batch", "") == batch]
        contexts = distinct_values(ours + theirs, "context_len")
        ours_means = mean_by(ours, ("mode", "context_len"), "time_us")
        for index, mode in enumerate(ordered_modes(ours)):
            xs = [c for c in contexts if (mode, c) in ours_means]
            panel.plot([float(x) for x in xs], [ours_means[(mode, x)] for x in xs],
                       color=style.color(index), marker="o", label=f"unisparse {mode}")
        peer_means = mean_by(theirs, ("backend", "context_len"), "time_us")
        for backend in distinct_values(theirs, "backend"):
            xs = [c for c in contexts if (backend, c) in peer_means]
            line_style, marker = PEER_STYLES.get(backend, (":", "x"))
            panel.plot([float(x) for x in xs], [peer_means[(backend, x)] for x in xs],
                       color=PEER_COLOR, linestyle=line_style, marker=marker,
                       label=f"{backend} (dense)")
        if contexts:
            log2_axis(panel, contexts, [context_label(c) for c in contexts])
        panel.set_yscale("log")
        panel.set_xlabel(LABELS["context_len"])
        panel.set_ylabel("decode step time (µs, median, one layer)")
        panel.set_title(f"batch {batch}")
    add_legend(figure, panels)
    figure.suptitle(caption("c", "Decode latency per step vs context by sparsity mode",
                            with_peers(source, peer_runs), results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "c_decode_latency_vs_context"))


def prefill_configuration(row):
    """A legend name for the row's mask: dense causal, or the streaming share and window."""
    share = number(row.get("streaming_fraction"))
    if row.get("mode") == "dense" or share in (None, 0.0):
        return "dense causal"
    return f"{share:.0%} streaming heads, local {row.get('local_tokens', '?')}"


def plot_prefill_latency(results_dir, out_dir):
    """(d): panel 1 dense causal prefill, panel 2 streaming masks; x context, y median prefill time;
    unisparse CUDA in solid lines, the torch peers in broken lines. Returns the files written."""
    source = gpu_rows_or_cpu(results_dir, PREFILL_SWEEPS, "prefill")
    peers, peer_runs = peer_rows(results_dir, "peers_prefill", "prefill")
    if not source.rows and not peers:
        report("d", f"skipped: {source.note} and no peers_prefill run")
        return []
    report("d", "using " + ", ".join(source.run_dirs + peer_runs) +
           (f" ({source.note})" if source.note else ""))
    # Block 128 is the tile the streaming sweeps and FlexAttention's block masks use.
    groups, notes = {}, set()
    for row in source.rows:
        groups.setdefault(prefill_configuration(row), []).append(row)
    ours = []
    for members in groups.values():
        pinned_rows, pinned = pin_unplotted(members, {"context_len", "mode", "streaming_fraction",
                                                      "local_tokens"}, {"block_size": "128"})
        ours += pinned_rows
        notes.update(pinned)
    series = [("unisparse " + row.get("backend", ""), row) for row in ours]
    series += [(row.get("backend", ""), row) for row in peers]
    configurations = sorted({prefill_configuration(row) for _, row in series},
                            key=lambda name: (name != "dense causal", name))
    dense_panel = [pair for pair in series if prefill_configuration(pair[1]) == "dense causal"]
    sparse_panel = [pair for pair in series if prefill_configuration(pair[1]) != "dense causal"]
    panel_contents = [(title, pairs) for title, pairs in
                      [("dense causal", dense_panel), ("streaming heads (sink + local window)",
                                                       sparse_panel)] if pairs]
    if not panel_contents:
        report("d", "skipped: no prefill rows with a time")
        return []
    figure, panels = style.new_figure(len(panel_contents))
    figure.set_figheight(figure.get_figheight() + 1.8)  # room for a legend of up to ~12 lines
    for panel, (title, pairs) in zip(panels, panel_contents):
        contexts = distinct_values([row for _, row in pairs], "context_len")
        lines = {}
        for name, row in pairs:
            lines.setdefault((name, prefill_configuration(row)), []).append(row)
        for (name, configuration), members in sorted(lines.items()):
            means = mean_by(members, ("context_len",), "time_us")
            xs = [c for c in contexts if (c,) in means]
            if not xs:
                continue
            line_style, marker = ("-", "o") if name.startswith("unisparse") else \
                PEER_STYLES.get(name, (":", "x"))
            panel.plot([float(x) for x in xs], [means[(x,)] / 1000 for x in xs],
                       color=style.color(configurations.index(configuration)),
                       linestyle=line_style, marker=marker, label=f"{name}: {configuration}")
        if contexts:
            log2_axis(panel, contexts, [context_label(c) for c in contexts])
        panel.set_yscale("log")
        panel.set_xlabel(LABELS["context_len"])
        panel.set_ylabel("prefill time (ms, median, one layer)")
        panel.set_title(title)
    add_legend(figure, panels, columns=2)
    figure.suptitle(caption("d", "Prefill latency vs context: dense and streaming heads beside torch "
                            "peers", with_peers(source, peer_runs), results_dir, sorted(notes)))
    return style.save(figure, os.path.join(out_dir, "d_prefill_latency_vs_context"))


def plot_decode_breakdown(results_dir, out_dir):
    """(e): one panel per (batch, context), a stacked bar of phase times per mode with the measured
    total as a black tick. Returns the files written."""
    source, pinned = decode_source(results_dir, "e")
    if source is None:
        return []
    phases = present_columns(source.rows, PHASES)
    if not phases:
        report("e", "skipped: no per-phase time column has a value")
        return []
    cells = [(batch, context) for batch in distinct_values(source.rows, "batch") or [""]
             for context in distinct_values(source.rows, "context_len") or [""]
             if any(row.get("batch", "") == batch and row.get("context_len", "") == context
                    for row in source.rows)]
    figure, panels = style.new_figure(len(cells))
    for panel, (batch, context) in zip(panels, cells):
        rows = [row for row in source.rows
                if row.get("batch", "") == batch and row.get("context_len", "") == context]
        modes = ordered_modes(rows)
        bottoms = [0.0] * len(modes)
        for phase_index, phase in enumerate(phases):
            means = mean_by(rows, ("mode",), phase)
            heights = [means.get((mode,), 0.0) for mode in modes]  # an empty phase adds nothing
            panel.bar(range(len(modes)), heights, bottom=bottoms, color=style.color(phase_index),
                      label=PHASE_NAMES[phase], width=0.6)
            bottoms = [b + h for b, h in zip(bottoms, heights)]
        totals = mean_by(rows, ("mode",), "time_us")
        measured = [(i, totals[(mode,)]) for i, mode in enumerate(modes) if (mode,) in totals]
        if measured:
            panel.scatter([i for i, _ in measured], [t for _, t in measured], marker="_", s=400,
                          color="black", zorder=3, label="time_us (measured median)")
        panel.set_xticks(range(len(modes)))
        panel.set_xticklabels(modes)
        panel.set_xlabel(LABELS["mode"])
        panel.set_ylabel("time per decode step (µs, one layer)")
        panel.set_title(f"context {context_label(context)}, batch {batch}")
        panel.grid(axis="x", visible=False)
    add_legend(figure, panels)
    figure.suptitle(caption("e", "Decode step time by phase (median per phase, stacked)", source,
                            results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "e_decode_latency_breakdown"))
