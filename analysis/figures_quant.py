"""Figures of the KV-cache quantization sweeps.

(g) dense decode step time per KV dtype at 128k batch 16, with the speedup over fp16 and the
    achieved bandwidth: quantized KV pays off only if the kernel turns fewer bytes into less time;
(h) dense decode step time vs physical page size per KV dtype and context (LServe Table 1): small
    pages cost more when each page holds fewer bytes; also as quant_page_table.md;
(i) accuracy (and step time) of flat vs hierarchical paging vs physical page size, fp16 and int4:
    whether hierarchical paging still fixes the page-size dilemma once K/V are quantized.

These read one sweep each by its exact name (quant_paging is not quant_paging_cpu).
"""

import os
import re

import pandas as pd
import yaml

from analysis import style
from analysis.errors import InputError
from analysis.figures_layout import (STEP_TIME_LABEL, add_legend, caption, context_label,
                                     log2_axis, source_sentence)
from analysis.figures_runs import (Source, column_is, mean_by, newest_run, paging_variants,
                                   pin_unplotted, points_of, report)
from analysis.frames import distinct_values, format_value, present_columns, with_any
from analysis.params import REPO_ROOT, label, param_table

DECODE_SWEEP = "quant_decode_dense"
PAGE_SIZE_SWEEP = "quant_page_size"
PAGING_SWEEP = "quant_paging"
PAGING_CPU_SWEEP = "quant_paging_cpu"
KV_DTYPES = ["fp16", "bf16", "int8", "int4", "fp8"]
# The speedups over fp16 dense decode (128k, batch 16) that make quantized KV worth its accuracy
# cost: the quantized kernels' targets.
TARGET_SPEEDUP = {"int8": 1.85, "fp8": 1.9, "int4": 3.0}
PAGING_DTYPES = ["fp16", "int4"]
PAGING_METRICS = ["out_rel_l2_mean", "needle_hit"]
DTYPE_MARKERS = ["o", "s", "^", "D", "v"]
DEVICES_DIR = os.path.join(REPO_ROOT, "configs", "devices")


def ordered_dtypes(points):
    present = distinct_values(points, "kv_dtype")
    return [d for d in KV_DTYPES if d in present] + [d for d in present if d not in KV_DTYPES]


def sweep_source(results_dir, sweep, fallback=None):
    """The ok points of the newest run of sweep: its CUDA rows, else its CPU rows, else the CPU rows
    of the newest run of fallback; the note says when CPU rows stand in for GPU ones."""
    run_dir = newest_run(results_dir, sweep)
    runs = [run_dir] if run_dir else []
    points, used = points_of(runs, lambda ok: column_is(ok, "backend", "cuda"))
    if not points.empty:
        return Source(points, used)
    points, used = points_of(runs, lambda ok: column_is(ok, "backend", "cpu"))
    if not points.empty:
        return Source(points, used, f"CPU backend: no GPU rows in {sweep}")
    if fallback:
        fallback_dir = newest_run(results_dir, fallback)
        points, used = points_of([fallback_dir] if fallback_dir else [],
                                 lambda ok: column_is(ok, "backend", "cpu"))
        if not points.empty:
            return Source(points, used, f"CPU backend ({fallback}): no GPU run of {sweep}")
    wanted = sweep + (f" nor {fallback}" if fallback else "")
    if not runs:
        return Source(pd.DataFrame(), [], f"no run of {wanted}")
    return Source(pd.DataFrame(), [], f"no ok cuda or cpu rows in {wanted}")


def quant_source(results_dir, letter, sweep, fallback=None):
    source = sweep_source(results_dir, sweep, fallback)
    if source.points.empty:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return source


def hbm_ceiling_gbps(points, devices_dir=DEVICES_DIR):
    """The measured copy ceiling of the points' device: hbm_gbps of the devices/<name>.yaml whose
    name appears in the device column (e.g. h200 in 'NVIDIA H200, 132 SMs, ...'); None when
    unknown."""
    devices = distinct_values(points, "device")
    if len(devices) != 1 or not os.path.isdir(devices_dir):
        return None
    words = set(re.findall(r"[a-z0-9]+", str(devices[0]).lower()))
    for name in sorted(os.listdir(devices_dir)):
        stem, extension = os.path.splitext(name)
        if extension != ".yaml" or stem.lower() not in words:
            continue
        path = os.path.join(devices_dir, name)
        try:
            with open(path, encoding="utf-8") as handle:
                ceilings = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise InputError(f"{path}: not YAML: {error}") from None
        value = ceilings.get("hbm_gbps") if isinstance(ceilings, dict) else None
        return float(value) if value else None  # 0 means not measured
    return None


def speedups_over_fp16(points):
    """{kv_dtype: mean fp16 step time / mean step time of that dtype}; {} without fp16 rows."""
    times = mean_by(points, ["kv_dtype"], "time_us")
    if "fp16" not in times.index or not times["fp16"]:
        return {}
    return (times["fp16"] / times[times > 0]).to_dict()


def target_label(dtypes):
    """The legend entry of the target ticks: the targets of the dtypes drawn, in their order."""
    return "target: " + ", ".join(f"{dtype} {TARGET_SPEEDUP[dtype]:g}x" for dtype in dtypes
                                  if dtype in TARGET_SPEEDUP)


def plot_quant_decode_speedup(results_dir, out_dir):
    """(g): a bar of median step time per KV dtype, annotated with the speedup over fp16 and the
    achieved GB/s, the target speedups as dotted ticks; a second panel of achieved GB/s against the
    device's copy ceiling. Returns the files written."""
    source = quant_source(results_dir, "g", DECODE_SWEEP)
    if source is None:
        return []
    points = with_any(source.points, ["time_us"])
    if points.empty or not distinct_values(points, "kv_dtype"):
        report("g", "skipped: no rows with a time_us and a kv_dtype")
        return []
    points, pinned = pin_unplotted(points, {"kv_dtype"}, {"context_len": 131072, "batch": 16})
    table = param_table(points)
    dtypes = ordered_dtypes(points)
    times = mean_by(points, ["kv_dtype"], "time_us")
    gbps = mean_by(points, ["kv_dtype"], "achieved_gbps")
    baseline = times.get("fp16")
    speedup = speedups_over_fp16(points)
    ceiling = hbm_ceiling_gbps(points)
    positions = list(range(len(dtypes)))

    figure, panels = style.new_figure(2 if not gbps.empty else 1)
    panel = panels[0]
    heights = [times[d] for d in dtypes]
    panel.bar(positions, heights, width=0.6, color=[style.color(i) for i in positions])
    for position, dtype, height in zip(positions, dtypes, heights):
        lines = [f"{speedup[dtype]:.2f}x"] if dtype in speedup else []
        if dtype in gbps.index:
            lines.append(f"{gbps[dtype]:.0f} GB/s")
        panel.annotate("\n".join(lines), (position, height), xytext=(0, 3),
                       textcoords="offset points", ha="center", va="bottom", fontsize=8)
        if baseline and dtype in TARGET_SPEEDUP:
            panel.hlines(baseline / TARGET_SPEEDUP[dtype], position - 0.4, position + 0.4,
                         colors="black", linestyles=":",
                         label=target_label(dtypes))
    panel.set_ylim(0, max(heights) * 1.3)
    panel.set_xticks(positions)
    panel.set_xticklabels(dtypes)
    panel.set_xlabel(label("kv_dtype", table))
    panel.set_ylabel(STEP_TIME_LABEL)
    panel.set_title("step time, speedup over fp16" if baseline else "step time (no fp16 row)")
    panel.grid(axis="x", visible=False)
    if not gbps.empty:
        panel = panels[1]
        xs = [p for p, d in zip(positions, dtypes) if d in gbps.index]
        values = [gbps[dtypes[p]] for p in xs]
        panel.bar(xs, values, width=0.6, color=[style.color(p) for p in xs])
        if ceiling:
            panel.axhline(ceiling, color="black", linestyle="--",
                          label=f"device copy ceiling ({ceiling:.0f} GB/s)")
        panel.set_ylim(0, max(values + [ceiling or 0]) * 1.1)
        panel.set_xticks(positions)
        panel.set_xticklabels(dtypes)
        panel.set_xlabel(label("kv_dtype", table))
        panel.set_ylabel("achieved GB/s (model bytes / time)")
        panel.set_title("achieved bandwidth")
        panel.grid(axis="x", visible=False)
    add_legend(figure, panels)
    shape = [f"context {context_label(c)}" for c in distinct_values(points, "context_len")]
    shape += [f"batch {format_value(b)}" for b in distinct_values(points, "batch")]
    figure.suptitle(caption("g", "Dense decode step time by KV cache dtype (" +
                            ", ".join(shape) + ")", source, results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "g_quant_decode_speedup"))


def plot_quant_latency_vs_page_size(results_dir, out_dir):
    """(h): one panel per context, x physical page size, y median step time, a line per KV dtype;
    plus quant_page_table.md. Returns the files written."""
    source = quant_source(results_dir, "h", PAGE_SIZE_SWEEP)
    if source is None:
        return []
    points = with_any(source.points, ["time_us"])
    if not distinct_values(points, "page_size") or not distinct_values(points, "kv_dtype"):
        report("h", "skipped: no rows with a time_us, a page_size and a kv_dtype")
        return []
    points, pinned = pin_unplotted(points, {"page_size", "kv_dtype", "context_len"}, {"batch": 32})
    table = param_table(points)
    pages = distinct_values(points, "page_size")
    contexts = distinct_values(points, "context_len")
    dtypes = ordered_dtypes(points)
    # Rows (context, KV dtype), one column per page size.
    means = mean_by(points, ["context_len", "kv_dtype", "page_size"],
                    "time_us").unstack("page_size")

    figure, panels = style.new_figure(len(contexts))
    for panel, context in zip(panels, contexts):
        for index, dtype in enumerate(dtypes):
            if (context, dtype) not in means.index:
                continue
            line = means.loc[(context, dtype)].dropna()
            xs = [page for page in pages if page in line.index]
            # Markers tell apart dtypes of equal width (int8, fp8) whose lines may overlap.
            panel.plot([float(x) for x in xs], [line[x] for x in xs], color=style.color(index),
                       marker=DTYPE_MARKERS[index % len(DTYPE_MARKERS)], label=f"KV {dtype}")
        log2_axis(panel, pages)
        panel.set_ylim(bottom=0)
        panel.set_xlabel(label("page_size", table))
        panel.set_ylabel(STEP_TIME_LABEL)
        panel.set_title(f"context {context_label(context)}")
    add_legend(figure, panels)
    batches = [f"batch {format_value(b)}" for b in distinct_values(points, "batch")]
    figure.suptitle(caption("h", "Dense decode step time vs physical page size by KV cache dtype",
                            source, results_dir, batches + pinned))
    written = style.save(figure, os.path.join(out_dir, "h_quant_latency_vs_page_size"))
    written.append(write_page_table(means, contexts, dtypes, pages, source, results_dir,
                                    batches + pinned, os.path.join(out_dir, "quant_page_table.md")))
    return written


def write_page_table(means, contexts, dtypes, pages, source, results_dir, fixed, path):
    """One line per (context, KV dtype) of means (rows (context, dtype), a column per page size):
    the step time at each page size and the ratio of the smallest page's time to the largest
    page's (LServe Table 1 reads page 16 / page 128)."""
    small, large = format_value(pages[0]), format_value(pages[-1])
    lines = ["# Dense decode step time vs page size by KV dtype", "",
             source_sentence(source, results_dir),
             "Fixed: " + (", ".join(fixed) or "nothing else varies") +
             ". Median time per decode step, one layer, µs; the last column is the time at page "
             f"{small} over the time at page {large} (above 1: small pages are slower).", "",
             "| context | KV dtype | " + " | ".join(f"page {format_value(p)}" for p in pages) +
             f" | page {small} / page {large} |",
             "|" + " --- |" * (3 + len(pages))]
    for context in contexts:
        for dtype in dtypes:
            if (context, dtype) not in means.index:
                continue
            cells = means.loc[(context, dtype)].reindex(pages)
            if cells.isna().all():
                continue
            first, last = cells.iloc[0], cells.iloc[-1]
            ratio = "" if pd.isna(first) or pd.isna(last) or not last else f"{first / last:.2f}"
            lines.append(f"| {format_value(context)} | {dtype} | " +
                         " | ".join(format_value(cell) for cell in cells) + f" | {ratio} |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def paging_panels(points):
    """The metrics (i) draws a panel of: the accuracy ones with a value, then time_us unless every
    row is a CPU row (CPU times of the quantized formats say nothing about the kernels)."""
    metrics = present_columns(points, PAGING_METRICS)
    on_cpu = column_is(points, "backend", "cpu").all()
    if not on_cpu and present_columns(points, ["time_us"]):
        metrics.append("time_us")
    return metrics


def plot_quant_paging_accuracy(results_dir, out_dir):
    """(i): panels out_rel_l2_mean and needle_hit (and step time, GPU rows only) vs physical page
    size; per KV dtype (fp16, int4) a flat line (logical = physical) and a hierarchical one (logical
    16). Returns the files written."""
    source = quant_source(results_dir, "i", PAGING_SWEEP, PAGING_CPU_SWEEP)
    if source is None:
        return []
    missing = [c for c in ("page_size", "logical_page_size", "kv_dtype")
               if not distinct_values(source.points, c)]
    if missing:
        report("i", f"skipped: no {', '.join(missing)} column")
        return []
    points = source.points[source.points["kv_dtype"].isin(PAGING_DTYPES)]
    if points.empty:
        report("i", f"skipped: no rows with kv_dtype {' or '.join(PAGING_DTYPES)}")
        return []
    on_cpu = column_is(points, "backend", "cpu").all()
    metrics = paging_panels(points)
    if not metrics:
        report("i", "skipped: no accuracy or time column has a value")
        return []
    points = with_any(points, metrics)
    points, pinned = pin_unplotted(points, {"page_size", "logical_page_size", "kv_dtype"})
    table = param_table(points)
    variants = paging_variants(points)
    pages = distinct_values(points, "page_size")
    dtypes = [d for d in PAGING_DTYPES if d in distinct_values(points, "kv_dtype")]

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        lines = [mean_by(variant, ["kv_dtype", "page_size"], metric).unstack("page_size")
                 for _, variant, _, _ in variants]
        for dtype_index, dtype in enumerate(dtypes):
            for (name, _, line_style, marker), means in zip(variants, lines):
                if dtype not in means.index:
                    continue
                line = means.loc[dtype].dropna()
                xs = [page for page in pages if page in line.index]
                panel.plot([float(x) for x in xs], [line[x] for x in xs],
                           color=style.color(dtype_index), linestyle=line_style,
                           marker=marker, label=f"KV {dtype}, {name}")
        log2_axis(panel, pages)
        panel.set_xlabel(label("page_size", table))
        panel.set_ylabel(STEP_TIME_LABEL if metric == "time_us" else label(metric, table))
        panel.set_title(metric)
    add_legend(figure, panels)
    shape = [f"context {context_label(c)}" for c in distinct_values(points, "context_len")]
    shape += [f"batch {format_value(b)}" for b in distinct_values(points, "batch")]
    shape += [f"token_budget={format_value(b)}" for b in distinct_values(points, "token_budget")]
    if on_cpu:
        shape.append("CPU rows: no latency panel")
    figure.suptitle(caption("i", "Flat vs hierarchical paging with quantized KV: accuracy vs "
                            "physical page size", source, results_dir, shape + pinned))
    return style.save(figure, os.path.join(out_dir, "i_quant_paging_accuracy"))
