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

import style
from figures_layout import add_legend, caption, context_label, log2_axis
from figures_runs import (Source, mean_by, newest_run, paging_variants, pin_unplotted, report,
                          rows_of)
from points import LABELS, distinct_values, format_value, number, present_columns

DECODE_SWEEP = "quant_decode_dense"
PAGE_SIZE_SWEEP = "quant_page_size"
PAGING_SWEEP = "quant_paging"
PAGING_CPU_SWEEP = "quant_paging_cpu"
KV_DTYPES = ["fp16", "bf16", "int8", "int4", "fp8"]
# The speedups over fp16 dense decode that make quantized KV worth its accuracy cost.
TARGET_SPEEDUP = {"int8": 1.8, "int4": 3.0}
PAGING_DTYPES = ["fp16", "int4"]
PAGING_METRICS = ["out_rel_l2_mean", "needle_hit"]
DTYPE_MARKERS = ["o", "s", "^", "D", "v"]
STEP_TIME_LABEL = "decode step time (µs, median, one layer)"
DEVICES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "configs", "devices")


def ordered_dtypes(rows):
    present = distinct_values(rows, "kv_dtype")
    return [d for d in KV_DTYPES if d in present] + [d for d in present if d not in KV_DTYPES]


def with_metric(rows, metrics):
    """The rows with a value in at least one of metrics, so that no knob is pinned to a value only
    rows without data hold."""
    return [row for row in rows if any(number(row.get(metric)) is not None for metric in metrics)]


def sweep_source(results_dir, sweep, fallback=None):
    """The ok rows of the newest run of sweep: its CUDA rows, else its CPU rows, else the CPU rows
    of the newest run of fallback; the note says when CPU rows stand in for GPU ones."""
    run_dir = newest_run(results_dir, sweep)
    runs = [run_dir] if run_dir else []
    rows, used = rows_of(runs, lambda row: row.get("backend") == "cuda")
    if rows:
        return Source(rows, used)
    rows, used = rows_of(runs, lambda row: row.get("backend") == "cpu")
    if rows:
        return Source(rows, used, f"CPU backend: no GPU rows in {sweep}")
    if fallback:
        fallback_dir = newest_run(results_dir, fallback)
        rows, used = rows_of([fallback_dir] if fallback_dir else [],
                             lambda row: row.get("backend") == "cpu")
        if rows:
            return Source(rows, used, f"CPU backend ({fallback}): no GPU run of {sweep}")
    wanted = sweep + (f" nor {fallback}" if fallback else "")
    if not runs:
        return Source([], [], f"no run of {wanted}")
    return Source([], [], f"no ok cuda or cpu rows in {wanted}")


def quant_source(results_dir, letter, sweep, fallback=None):
    source = sweep_source(results_dir, sweep, fallback)
    if not source.rows:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return source


def hbm_ceiling_gbps(rows, devices_dir=DEVICES_DIR):
    """The measured copy ceiling of the rows' device: hbm_gbps of the devices/<name>.yaml whose name
    appears in the device column (e.g. h200 in 'NVIDIA H200, 132 SMs, ...'); None when unknown."""
    devices = distinct_values(rows, "device")
    if len(devices) != 1 or not os.path.isdir(devices_dir):
        return None
    words = set(re.findall(r"[a-z0-9]+", devices[0].lower()))
    for name in sorted(os.listdir(devices_dir)):
        stem, extension = os.path.splitext(name)
        if extension != ".yaml" or stem.lower() not in words:
            continue
        with open(os.path.join(devices_dir, name), encoding="utf-8") as handle:
            match = re.search(r"^hbm_gbps:\s*([0-9.eE+-]+)", handle.read(), re.MULTILINE)
        value = number(match.group(1)) if match else None
        return value if value else None  # 0 means not measured
    return None


def speedups_over_fp16(rows):
    """{kv_dtype: mean fp16 step time / mean step time of that dtype}; {} without fp16 rows."""
    times = mean_by(rows, ("kv_dtype",), "time_us")
    baseline = times.get(("fp16",))
    if not baseline:
        return {}
    return {dtype: baseline / time for (dtype,), time in times.items() if time > 0}


def plot_quant_decode_speedup(results_dir, out_dir):
    """(g): a bar of median step time per KV dtype, annotated with the speedup over fp16 and the
    achieved GB/s, the target speedups as dotted ticks; a second panel of achieved GB/s against the
    device's copy ceiling. Returns the files written."""
    source = quant_source(results_dir, "g", DECODE_SWEEP)
    if source is None:
        return []
    rows = with_metric(source.rows, ["time_us"])
    if not rows or not distinct_values(rows, "kv_dtype"):
        report("g", "skipped: no rows with a time_us and a kv_dtype")
        return []
    rows, pinned = pin_unplotted(rows, {"kv_dtype"}, {"context_len": "131072", "batch": "16"})
    dtypes = ordered_dtypes(rows)
    times = mean_by(rows, ("kv_dtype",), "time_us")
    gbps = mean_by(rows, ("kv_dtype",), "achieved_gbps")
    baseline = times.get(("fp16",))
    speedup = speedups_over_fp16(rows)
    ceiling = hbm_ceiling_gbps(rows)
    positions = list(range(len(dtypes)))

    figure, panels = style.new_figure(2 if gbps else 1)
    panel = panels[0]
    heights = [times[(d,)] for d in dtypes]
    panel.bar(positions, heights, width=0.6, color=[style.color(i) for i in positions])
    for position, dtype, height in zip(positions, dtypes, heights):
        lines = [f"{speedup[dtype]:.2f}x"] if dtype in speedup else []
        if (dtype,) in gbps:
            lines.append(f"{gbps[(dtype,)]:.0f} GB/s")
        panel.annotate("\n".join(lines), (position, height), xytext=(0, 3),
                       textcoords="offset points", ha="center", va="bottom", fontsize=8)
        if baseline and dtype in TARGET_SPEEDUP:
            panel.hlines(baseline / TARGET_SPEEDUP[dtype], position - 0.4, position + 0.4,
                         colors="black", linestyles=":",
                         label="target: " + ", ".join(f"{d} {s:.1f}x"
                                                      for d, s in TARGET_SPEEDUP.items()))
    panel.set_ylim(0, max(heights) * 1.3)
    panel.set_xticks(positions)
    panel.set_xticklabels(dtypes)
    panel.set_xlabel(LABELS["kv_dtype"])
    panel.set_ylabel(STEP_TIME_LABEL)
    panel.set_title("step time, speedup over fp16" if baseline else "step time (no fp16 row)")
    panel.grid(axis="x", visible=False)
    if gbps:
        panel = panels[1]
        xs = [p for p, d in zip(positions, dtypes) if (d,) in gbps]
        values = [gbps[(dtypes[p],)] for p in xs]
        panel.bar(xs, values, width=0.6, color=[style.color(p) for p in xs])
        if ceiling:
            panel.axhline(ceiling, color="black", linestyle="--",
                          label=f"device copy ceiling ({ceiling:.0f} GB/s)")
        panel.set_ylim(0, max(values + [ceiling or 0]) * 1.1)
        panel.set_xticks(positions)
        panel.set_xticklabels(dtypes)
        panel.set_xlabel(LABELS["kv_dtype"])
        panel.set_ylabel("achieved GB/s (model bytes / time)")
        panel.set_title("achieved bandwidth")
        panel.grid(axis="x", visible=False)
    add_legend(figure, panels)
    shape = [f"context {context_label(c)}" for c in distinct_values(rows, "context_len")]
    shape += [f"batch {b}" for b in distinct_values(rows, "batch")]
    figure.suptitle(caption("g", "Dense decode step time by KV cache dtype (" +
                            ", ".join(shape) + ")", source, results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "g_quant_decode_speedup"))


def plot_quant_latency_vs_page_size(results_dir, out_dir):
    """(h): one panel per context, x physical page size, y median step time, a line per KV dtype;
    plus quant_page_table.md. Returns the files written."""
    source = quant_source(results_dir, "h", PAGE_SIZE_SWEEP)
    if source is None:
        return []
    rows = with_metric(source.rows, ["time_us"])
    if not distinct_values(rows, "page_size") or not distinct_values(rows, "kv_dtype"):
        report("h", "skipped: no rows with a time_us, a page_size and a kv_dtype")
        return []
    rows, pinned = pin_unplotted(rows, {"page_size", "kv_dtype", "context_len"}, {"batch": "32"})
    pages = distinct_values(rows, "page_size")
    contexts = distinct_values(rows, "context_len") or [""]
    dtypes = ordered_dtypes(rows)
    means = mean_by(rows, ("context_len", "kv_dtype", "page_size"), "time_us")

    figure, panels = style.new_figure(len(contexts))
    for panel, context in zip(panels, contexts):
        for index, dtype in enumerate(dtypes):
            xs = [page for page in pages if (context, dtype, page) in means]
            if xs:
                # Markers tell apart dtypes of equal width (int8, fp8) whose lines may overlap.
                panel.plot([float(x) for x in xs], [means[(context, dtype, x)] for x in xs],
                           color=style.color(index),
                           marker=DTYPE_MARKERS[index % len(DTYPE_MARKERS)], label=f"KV {dtype}")
        log2_axis(panel, pages)
        panel.set_ylim(bottom=0)
        panel.set_xlabel(LABELS["page_size"])
        panel.set_ylabel(STEP_TIME_LABEL)
        panel.set_title(f"context {context_label(context)}")
    add_legend(figure, panels)
    batches = [f"batch {b}" for b in distinct_values(rows, "batch")]
    figure.suptitle(caption("h", "Dense decode step time vs physical page size by KV cache dtype",
                            source, results_dir, batches + pinned))
    written = style.save(figure, os.path.join(out_dir, "h_quant_latency_vs_page_size"))
    written.append(write_page_table(means, contexts, dtypes, pages, source, results_dir,
                                    batches + pinned, os.path.join(out_dir, "quant_page_table.md")))
    return written


def write_page_table(means, contexts, dtypes, pages, source, results_dir, fixed, path):
    """One line per (context, KV dtype): the step time at each page size and the ratio of the
    smallest page's time to the largest page's (LServe Table 1 reads page 16 / page 128)."""
    small, large = pages[0], pages[-1]
    lines = ["# Dense decode step time vs page size by KV dtype", "",
             f"Source: {source.describe(results_dir)}." +
             (f" {source.note}." if source.note else ""),
             "Fixed: " + (", ".join(fixed) or "nothing else varies") +
             ". Median time per decode step, one layer, µs; the last column is the time at page "
             f"{small} over the time at page {large} (above 1: small pages are slower).", "",
             "| context | KV dtype | " + " | ".join(f"page {p}" for p in pages) +
             f" | page {small} / page {large} |",
             "|" + " --- |" * (3 + len(pages))]
    for context in contexts:
        for dtype in dtypes:
            cells = [means.get((context, dtype, page)) for page in pages]
            if all(cell is None for cell in cells):
                continue
            ratio = "" if cells[0] is None or not cells[-1] else f"{cells[0] / cells[-1]:.2f}"
            lines.append(f"| {context} | {dtype} | " +
                         " | ".join("" if cell is None else format_value(str(cell))
                                    for cell in cells) + f" | {ratio} |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def paging_panels(rows):
    """The metrics (i) draws a panel of: the accuracy ones with a value, then time_us unless every
    row is a CPU row (CPU times of the quantized formats say nothing about the kernels)."""
    metrics = present_columns(rows, PAGING_METRICS)
    on_cpu = all(row.get("backend") == "cpu" for row in rows)
    if not on_cpu and present_columns(rows, ["time_us"]):
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
               if not distinct_values(source.rows, c)]
    if missing:
        report("i", f"skipped: no {', '.join(missing)} column")
        return []
    rows = [row for row in source.rows if row["kv_dtype"] in PAGING_DTYPES]
    if not rows:
        report("i", f"skipped: no rows with kv_dtype {' or '.join(PAGING_DTYPES)}")
        return []
    on_cpu = all(row.get("backend") == "cpu" for row in rows)
    metrics = paging_panels(rows)
    if not metrics:
        report("i", "skipped: no accuracy or time column has a value")
        return []
    rows = with_metric(rows, metrics)
    rows, pinned = pin_unplotted(rows, {"page_size", "logical_page_size", "kv_dtype"})
    variants = paging_variants(rows)
    pages = distinct_values(rows, "page_size")
    dtypes = [d for d in PAGING_DTYPES if d in distinct_values(rows, "kv_dtype")]

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        for dtype_index, dtype in enumerate(dtypes):
            for name, variant_rows, line_style, marker in variants:
                means = mean_by(variant_rows, ("kv_dtype", "page_size"), metric)
                xs = [page for page in pages if (dtype, page) in means]
                if xs:
                    panel.plot([float(x) for x in xs], [means[(dtype, x)] for x in xs],
                               color=style.color(dtype_index), linestyle=line_style,
                               marker=marker, label=f"KV {dtype}, {name}")
        log2_axis(panel, pages)
        panel.set_xlabel(LABELS["page_size"])
        panel.set_ylabel(STEP_TIME_LABEL if metric == "time_us" else LABELS.get(metric, metric))
        panel.set_title(metric)
    add_legend(figure, panels)
    shape = [f"context {context_label(c)}" for c in distinct_values(rows, "context_len")]
    shape += [f"batch {b}" for b in distinct_values(rows, "batch")]
    shape += [f"token_budget={b}" for b in distinct_values(rows, "token_budget")]
    if on_cpu:
        shape.append("CPU rows: no latency panel")
    figure.suptitle(caption("i", "Flat vs hierarchical paging with quantized KV: accuracy vs "
                            "physical page size", source, results_dir, shape + pinned))
    return style.save(figure, os.path.join(out_dir, "i_quant_paging_accuracy"))
