"""Latency figures of the decode and prefill sweeps, beside the torch peers.

(c) decode step time vs context for dense / static / dynamic / static+dynamic, batch panels, torch
    SDPA dense decode as reference;
(d) prefill time vs context, dense and streaming configurations beside SDPA flash / cuDNN and Flex
    (the masks the peers also run; a variant run of the same call, e.g. the sm_80 kernel path
    forced, is its own line);
(e) decode step time split into phases (stats, selector, top-k, attention, merge) per mode, with
    the step's kernel sum and, where measured, the replayed step graph.
"""

import os

import pandas as pd

from analysis import style
from analysis.figures_layout import (STEP_TIME_LABEL, add_legend, caption, context_label,
                                     log2_axis)
from analysis.figures_runs import (Source, column_is, gpu_points_or_cpu, mean_by, newest_runs,
                                   of_phase, pin_unplotted, points_of, report, variant_runs)
from analysis.frames import distinct_values, format_value, numeric, present_columns
from analysis.params import label, param_table

DECODE_SWEEPS = ["decode_dense", "decode_sparse"]
# prefill_tradeoff is left out: its grid of streaming shares and windows has no peer to stand
# beside and would bury the masks that do.
PREFILL_SWEEPS = ["prefill_dense", "prefill_streaming"]
MODES = ["dense", "static", "dynamic", "static+dynamic"]
PHASES = ["time_stats_us", "time_selector_us", "time_topk_us", "time_attention_us",
          "time_merge_us"]
PHASE_NAMES = {"time_stats_us": "key statistics", "time_selector_us": "selector",
               "time_topk_us": "top-k", "time_attention_us": "attention", "time_merge_us": "merge"}
PEER_COLOR = "#444444"
GRAPH_COLOR = "#c00000"
PEER_STYLES = {"torch_sdpa_flash": ("-.", "^"), "torch_sdpa_cudnn": (":", "D"),
               "torch_sdpa_efficient": ((0, (1, 3)), "v"), "torch_flex": ("--", "P")}
DENSE_CAUSAL = "dense causal"


def ordered_modes(points):
    present = distinct_values(points, "mode")
    return [m for m in MODES if m in present] + [m for m in present if m not in MODES]


def peer_points(results_dir, sweep, phase):
    runs = newest_runs(results_dir, [sweep])
    return points_of(runs, lambda points: points["backend"].str.startswith("torch_")
                     & of_phase(points, phase) & numeric(points, "time_us").notna())


def with_peers(source, peer_runs):
    return Source(source.points, source.run_dirs + peer_runs, source.note)


def decode_source(results_dir, letter):
    source = gpu_points_or_cpu(results_dir, DECODE_SWEEPS, "decode")
    if source.points.empty:
        report(letter, f"skipped: {source.note}")
        return None, []
    points, pinned = pin_unplotted(source.points, {"mode", "context_len", "batch"})
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return Source(points, source.run_dirs, source.note), pinned


def plot_decode_latency(results_dir, out_dir):
    """(c): one panel per batch size, x context, y median step time, a line per mode and per torch
    SDPA backend. Returns the files written."""
    source, pinned = decode_source(results_dir, "c")
    if source is None:
        return []
    if not present_columns(source.points, ["time_us"]):
        report("c", "skipped: no time_us values")
        return []
    peers, peer_runs = peer_points(results_dir, "peers_decode", "decode")
    if peer_runs:
        report("c", "torch reference from " + ", ".join(peer_runs))
    table = param_table(source.points)
    batches = distinct_values(source.points, "batch")
    figure, panels = style.new_figure(len(batches))
    for panel, batch in zip(panels, batches):
        ours = source.points[source.points["batch"] == batch]
        theirs = peers[column_is(peers, "batch", batch)]
        contexts = distinct_values(pd.concat([ours, theirs]), "context_len")
        ours_means = mean_by(ours, ["mode", "context_len"], "time_us").unstack("context_len")
        for index, mode in enumerate(ordered_modes(ours)):
            if mode not in ours_means.index:
                continue
            line = ours_means.loc[mode].dropna()
            xs = [c for c in contexts if c in line.index]
            panel.plot([float(x) for x in xs], [line[x] for x in xs],
                       color=style.color(index), marker="o", label=f"unisparse {mode}")
        peer_means = mean_by(theirs, ["backend", "context_len"], "time_us")
        for backend in distinct_values(theirs, "backend"):
            if backend not in peer_means.index:
                continue
            line = peer_means.loc[backend]
            xs = [c for c in contexts if c in line.index]
            line_style, marker = PEER_STYLES.get(backend, (":", "x"))
            panel.plot([float(x) for x in xs], [line[x] for x in xs],
                       color=PEER_COLOR, linestyle=line_style, marker=marker,
                       label=f"{backend} (dense)")
        if contexts:
            log2_axis(panel, contexts, [context_label(c) for c in contexts])
        panel.set_yscale("log")
        panel.set_xlabel(label("context_len", table))
        panel.set_ylabel(STEP_TIME_LABEL)
        panel.set_title(f"batch {format_value(batch)}")
    add_legend(figure, panels)
    figure.suptitle(caption("c", "Decode latency per step vs context by sparsity mode",
                            with_peers(source, peer_runs), results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "c_decode_latency_vs_context"))


def prefill_configuration(row):
    """A legend name for the row's mask: dense causal, or the streaming share and window."""
    share = row.get("streaming_fraction")
    if row.get("mode") == "dense" or pd.isna(share) or share == 0.0:
        return DENSE_CAUSAL
    local = format_value(row["local_tokens"]) if "local_tokens" in row.index else "?"
    return f"{share:.0%} streaming heads, local {local}"


def with_configuration(points):
    if points.empty:
        return points.assign(configuration=pd.Series(dtype=str))
    return points.assign(configuration=points.apply(prefill_configuration, axis=1))


def pinned_per_configuration(points):
    """Each configuration's points pinned to one setting of the knobs (d) does not plot; block 128
    is the tile the streaming sweeps and FlexAttention's block masks use."""
    pinned_groups, notes = [], set()
    for _, members in with_configuration(points).groupby("configuration", sort=False):
        kept, pinned = pin_unplotted(members, {"context_len", "mode", "streaming_fraction",
                                               "local_tokens"}, {"block_size": 128})
        pinned_groups.append(kept)
        notes.update(pinned)
    ours = pd.concat(pinned_groups) if pinned_groups else points
    return ours, sorted(notes)


def with_variants(source, phase):
    """source plus the ok rows of each variant run of the runs it read (of the phase and the
    backends source holds), every row with its variant name (empty for the runs themselves)."""
    if source.points.empty:
        return source
    backends = source.points["backend"].unique()
    frames = [source.points.assign(variant="")]
    run_dirs = list(source.run_dirs)
    for run_dir in source.run_dirs:
        for name, variant_dir in variant_runs(run_dir):
            points, used = points_of([variant_dir], lambda p: of_phase(p, phase)
                                     & p["backend"].isin(backends))
            if used:
                frames.append(points.assign(variant=name))
                run_dirs += used
    return Source(pd.concat(frames, ignore_index=True), run_dirs, source.note)


def named_lines(ours, peers):
    """Our points and the peers' in one frame, each row named by its line: "unisparse <backend>"
    for ours ("unisparse <backend> (<variant>)" for a variant run's), the backend for a peer."""
    frames = []
    if not ours.empty:
        variant = ours.get("variant", pd.Series("", index=ours.index)).fillna("")
        suffix = variant.map(lambda name: f" ({name})" if name else "")
        frames.append(ours.assign(name="unisparse " + ours["backend"] + suffix))
    if not peers.empty:
        frames.append(with_configuration(peers).assign(name=peers["backend"]))
    if not frames:
        return pd.DataFrame(columns=["name", "configuration", "context_len", "time_us"])
    series = pd.concat(frames, ignore_index=True)
    return series.assign(time_us=numeric(series, "time_us"))


def line_look(name):
    """(line style, marker, marker fill) of a line of (d) by its name from named_lines: ours solid
    (a variant run's, "unisparse <backend> (<variant>)", with open squares), each peer its own
    broken style."""
    if name.startswith("unisparse"):
        return ("-", "s", "none") if name.endswith(")") else ("-", "o", "full")
    line_style, marker = PEER_STYLES.get(name, (":", "x"))
    return line_style, marker, "full"


def plot_prefill_latency(results_dir, out_dir):
    """(d): panel 1 dense causal prefill, panel 2 streaming masks; x context, y median prefill time;
    unisparse CUDA in solid lines, the torch peers in broken lines. Returns the files written."""
    source = with_variants(gpu_points_or_cpu(results_dir, PREFILL_SWEEPS, "prefill"), "prefill")
    peers, peer_runs = peer_points(results_dir, "peers_prefill", "prefill")
    if source.points.empty and peers.empty:
        report("d", f"skipped: {source.note} and no peers_prefill run")
        return []
    report("d", "using " + ", ".join(source.run_dirs + peer_runs) +
           (f" ({source.note})" if source.note else ""))
    ours, notes = pinned_per_configuration(source.points)
    series = named_lines(ours, peers)
    configurations = sorted(series["configuration"].unique(),
                            key=lambda name: (name != DENSE_CAUSAL, name))
    dense = series["configuration"] == DENSE_CAUSAL
    panel_contents = [(title, members) for title, members in
                      [(DENSE_CAUSAL, series[dense]),
                       ("streaming heads (sink + local window)", series[~dense])]
                      if not members.empty]
    if not panel_contents:
        report("d", "skipped: no prefill rows with a time")
        return []
    table = param_table(series)
    figure, panels = style.new_figure(len(panel_contents))
    figure.set_figheight(figure.get_figheight() + 1.8)  # room for a legend of up to ~12 lines
    for panel, (title, members) in zip(panels, panel_contents):
        contexts = distinct_values(members, "context_len")
        means = mean_by(members, ["name", "configuration", "context_len"],
                        "time_us").unstack("context_len")
        for (name, configuration), line in means.iterrows():
            line = line.dropna()
            xs = [c for c in contexts if c in line.index]
            line_style, marker, fill = line_look(name)
            panel.plot([float(x) for x in xs], [line[x] / 1000 for x in xs],
                       color=style.color(configurations.index(configuration)),
                       linestyle=line_style, marker=marker, fillstyle=fill,
                       label=f"{name}: {configuration}")
        if contexts:
            log2_axis(panel, contexts, [context_label(c) for c in contexts])
        panel.set_yscale("log")
        panel.set_xlabel(label("context_len", table))
        panel.set_ylabel("prefill time (ms, median, one layer)")
        panel.set_title(title)
    add_legend(figure, panels, columns=2)
    figure.suptitle(caption("d", "Prefill latency vs context: dense and streaming heads beside torch "
                            "peers", with_peers(source, peer_runs), results_dir, notes))
    return style.save(figure, os.path.join(out_dir, "d_prefill_latency_vs_context"))


def plot_decode_breakdown(results_dir, out_dir):
    """(e): one panel per (batch, context), a stacked bar of phase times per mode with the measured
    kernel sum as a black tick and the replayed step graph as a red cross. Returns the files
    written."""
    source, pinned = decode_source(results_dir, "e")
    if source is None:
        return []
    phases = present_columns(source.points, PHASES)
    if not phases:
        report("e", "skipped: no per-phase time column has a value")
        return []
    table = param_table(source.points)
    cells = source.points.groupby(["batch", "context_len"])
    figure, panels = style.new_figure(cells.ngroups)
    for panel, ((batch, context), points) in zip(panels, cells):
        modes = ordered_modes(points)
        # An empty phase adds nothing to its bar.
        heights = points.groupby("mode")[phases].mean().reindex(modes).fillna(0.0)
        bottoms = [0.0] * len(modes)
        for phase_index, phase in enumerate(phases):
            panel.bar(range(len(modes)), heights[phase].tolist(), bottom=bottoms,
                      color=style.color(phase_index), label=PHASE_NAMES[phase], width=0.6)
            bottoms = [b + h for b, h in zip(bottoms, heights[phase])]
        totals = mean_by(points, ["mode"], "time_us")
        measured = [(i, totals[mode]) for i, mode in enumerate(modes) if mode in totals.index]
        if measured:
            panel.scatter([i for i, _ in measured], [t for _, t in measured], marker="_", s=400,
                          color="black", zorder=3, label="time_us (median kernel sum)")
        # The replayed graph overlaps the streaming branch that the kernel sum counts in full, and
        # adds the gaps between launches that the sum leaves out.
        graphs = mean_by(points, ["mode"], "time_step_graph_us")
        replayed = [(i, graphs[mode]) for i, mode in enumerate(modes) if mode in graphs.index]
        if replayed:
            panel.scatter([i for i, _ in replayed], [t for _, t in replayed], marker="x", s=60,
                          color=GRAPH_COLOR, zorder=4,
                          label="time_step_graph_us (replayed step graph, median)")
        panel.set_xticks(range(len(modes)))
        panel.set_xticklabels(modes)
        panel.set_xlabel(label("mode", table))
        panel.set_ylabel("time per decode step (µs, one layer)")
        panel.set_title(f"context {context_label(context)}, batch {format_value(batch)}")
        panel.grid(axis="x", visible=False)
    add_legend(figure, panels)
    figure.suptitle(caption("e", "Decode step time by phase (median per phase, stacked)", source,
                            results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "e_decode_latency_breakdown"))
