"""Model-level figures: the real model with the plan inside every layer's attention.

(j) j_needle_map            passkey accuracy over context length x depth (needle-in-a-haystack), one
                            panel per setting of the model_needle sweep: dense, and each
                            static+dynamic budget (LServe layout; an aggressive one that breaks);
                            model_needle_<suffix> sweeps add context lengths
(k) k_model_vs_budget       passkey accuracy and perplexity KL to the dense model against the token
                            budget, one line per page layout (physical / logical page size) and,
                            where a run sweeps them, per selector and KV format, from the
                            model_budget and model_perplexity sweeps
Each figure reads the newest committed run of its sweeps (figures_runs.newest_run).

    python -m analysis.figures_model RUN_DIR [--out DIR]   # (j) of one run (default RUN_DIR/figures)
"""

import argparse
import dataclasses
import os
import sys

import numpy as np
import pandas as pd

from analysis import style
from analysis.errors import InputError
from analysis.figures_runs import mean_by, newest_run, report, sweeps_named
from analysis.frames import distinct_values, format_value, numeric
from analysis.params import label, param_table
from analysis.results import load_run, ok_points

NEEDLE_SWEEP = "model_needle"
BUDGET_SWEEPS = {"accuracy": "model_budget", "kl_mean": "model_perplexity"}
# Parameters that get lines of their own in (k) when a run sweeps them (name in the legend).
LINE_SPLIT_KEYS = {"selector": "selector", "kv_dtype": "KV"}
VARIANT_LINESTYLES = ["-", "--", ":", "-."]
LAYOUT_MARKERS = ["o", "s", "^"]
METRIC_LABELS = {"accuracy": "passkey accuracy (exact key)",
                 "kl_mean": "KL(dense || point), mean over decode steps",
                 "top1_agreement": "top-1 agreement with the dense model"}


def _points(results_dir, sweep, letter):
    run_dir = newest_run(results_dir, sweep)
    if run_dir is None:
        report(letter, f"skipped: no run of {sweep} under {results_dir}")
        return None, None
    points = ok_points(load_run(run_dir))
    if points.empty:
        report(letter, f"skipped: {run_dir} has no ok point")
        return None, None
    report(letter, f"using {run_dir}")
    return points, run_dir


def settings(points):
    """[(title, rows)] of the needle sweep: dense (one budget: the budget does not apply), then each
    static+dynamic budget."""
    panels = []
    dense = points[points["mode"] == "dense"]
    if not dense.empty:
        panels.append(("dense", dense[dense["token_budget"] == dense["token_budget"].max()]))
    sparse = points[points["mode"] != "dense"]
    for budget in sorted(distinct_values(sparse, "token_budget"), reverse=True):
        rows = sparse[sparse["token_budget"] == budget]
        first = rows.iloc[0]
        title = (f"{first['mode']}, budget {format_value(budget)}, page {format_value(first['page_size'])}"
                 f" / {format_value(first['logical_page_size'])}, reuse "
                 f"{format_value(first['reuse_interval'])}, streaming "
                 f"{format_value(first['streaming_fraction'])} ({first['head_selection']})")
        panels.append((title, rows))
    return panels


def plot_needle_map(results_dir, out_dir):
    """The map of the newest run of model_needle and of each model_needle_<suffix> sweep (more
    context lengths of the same settings), side by side."""
    frames, labels = [], []
    for sweep in sweeps_named(results_dir, NEEDLE_SWEEP):
        points, run_dir = _points(results_dir, sweep, "j")
        if points is not None:
            frames.append(points)
            labels.append(os.path.relpath(run_dir, os.path.dirname(os.path.abspath(results_dir))))
    if not frames:
        report("j", f"skipped: no run of {NEEDLE_SWEEP} under {results_dir}")
        return []
    return draw_needle_map(pd.concat(frames, ignore_index=True), ", ".join(labels), out_dir)


def draw_needle_map(points, run_label, out_dir):
    """The map of a run's ok passkey points into OUT/j_needle_map.{png,pdf}."""
    table = param_table(points)
    panels = settings(points)
    contexts = distinct_values(points, "context_len")
    depths = distinct_values(points, "passkey_depth")
    figure, axes = style.new_figure(len(panels))
    image = None
    for panel, (title, rows) in zip(axes, panels):
        grid = mean_by(rows, ["passkey_depth", "context_len"], "accuracy").unstack("context_len")
        grid = grid.reindex(index=depths, columns=contexts)
        values = grid.to_numpy(dtype=float)
        image = panel.imshow(values, vmin=0.0, vmax=1.0, cmap="RdYlGn", aspect="auto",
                             origin="upper")
        panel.set_xticks(range(len(contexts)), [format_value(c) for c in contexts])
        panel.set_yticks(range(len(depths)), [format_value(d) for d in depths])
        panel.set_xlabel(label("context_len", table))
        panel.set_ylabel(label("passkey_depth", table))
        panel.set_title(f"{title}\nmean accuracy {numeric(rows, 'accuracy').mean():.2f}", fontsize=8)
        panel.grid(False)
        for (row, column), value in np.ndenumerate(values):
            if not np.isnan(value):
                panel.text(column, row, f"{value:.2g}", ha="center", va="center", fontsize=7)
    if image is not None:
        figure.colorbar(image, ax=axes, label=METRIC_LABELS["accuracy"], shrink=0.8)
    figure.suptitle("Needle in a haystack: SmolLM2-135M-Instruct with the plan in every layer "
                    f"\n({run_label})")
    os.makedirs(out_dir, exist_ok=True)
    return style.save(figure, os.path.join(out_dir, "j_needle_map"))


def _layout_name(page_size, logical_page_size):
    kind = "flat" if page_size == logical_page_size else "hierarchical"
    return f"page {format_value(page_size)} / logical {format_value(logical_page_size)} ({kind})"


@dataclasses.dataclass
class BudgetLine:
    name: str
    layout_index: int  # colour and marker: the page layout
    variant_index: int  # line style: the selector / KV format combination, 0 = the run's first
    values: pd.Series  # metric mean per token_budget


def budget_lines(points, metric):
    """The lines of one (k) panel: one per page layout, and per selector and KV format where the
    run sweeps them, so oracle pages or a quantized cache are never averaged into Quest's fp32 line.
    Variants follow the run's point order (its first axis value first: quest, fp32)."""
    split = [key for key in LINE_SPLIT_KEYS if len(distinct_values(points, key)) > 1]
    keys = ["page_size", "logical_page_size"] + split
    series = mean_by(points, keys + ["token_budget"], metric)
    variants = list(dict.fromkeys(zip(*(points[key] for key in split)))) if split else [()]
    layouts, lines = [], []
    for group, values in series.groupby(level=list(range(len(keys)))):
        layout, variant = tuple(group[:2]), tuple(group[2:])
        if layout not in layouts:
            layouts.append(layout)
        name = _layout_name(*layout) + "".join(
            f", {LINE_SPLIT_KEYS[key]} {value}" for key, value in zip(split, variant))
        lines.append(BudgetLine(name, layouts.index(layout), variants.index(variant),
                                values.droplevel(list(range(len(keys))))))
    return lines


def plot_model_vs_budget(results_dir, out_dir):
    sources = {}
    for metric, sweep in BUDGET_SWEEPS.items():
        points, run_dir = _points(results_dir, sweep, "k")
        if points is not None and metric in points.columns and numeric(points, metric).notna().any():
            sources[metric] = (points, run_dir)
    if not sources:
        return []
    figure, axes = style.new_figure(len(sources))
    runs = []
    for panel, (metric, (points, run_dir)) in zip(axes, sources.items()):
        table = param_table(points)
        runs.append(os.path.relpath(run_dir, os.path.dirname(os.path.abspath(results_dir))))
        for line in budget_lines(points, metric):
            panel.plot(line.values.index, line.values.values, color=style.color(line.layout_index),
                       marker=LAYOUT_MARKERS[line.layout_index % len(LAYOUT_MARKERS)],
                       markersize=8 - 2 * (line.layout_index % len(LAYOUT_MARKERS)),
                       linestyle=VARIANT_LINESTYLES[line.variant_index % len(VARIANT_LINESTYLES)],
                       label=line.name)
        panel.set_xscale("log", base=2)
        panel.set_xlabel(label("token_budget", table))
        panel.set_ylabel(METRIC_LABELS[metric])
        averaged = [key for key in ("passkey_depth", "context_len") if len(distinct_values(points, key)) > 1]
        panel.set_title(f"{metric} vs budget" + (f" (mean over {', '.join(averaged)})" if averaged else ""))
    style.add_legend(figure, axes, columns=3)
    figure.suptitle("Model-level accuracy vs token budget per page layout (" + ", ".join(runs) + ")")
    return style.save(figure, os.path.join(out_dir, "k_model_vs_budget"))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m analysis.figures_model",
                                     description="The needle-in-a-haystack map of one model-level run.")
    parser.add_argument("run_dir", help="results/<sweep>/<run-id>/ of a passkey sweep")
    parser.add_argument("--out", default=None, help="output folder (default RUN_DIR/figures)")
    args = parser.parse_args(argv)
    try:
        points = ok_points(load_run(args.run_dir))
        if points.empty or "accuracy" not in points.columns:
            raise InputError(f"{args.run_dir}: no ok passkey point (no accuracy column)")
        written = draw_needle_map(points, args.run_dir, args.out or os.path.join(args.run_dir, "figures"))
    except InputError as error:
        print(f"figures_model: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
