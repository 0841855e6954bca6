"""Figures of one run: accuracy and latency against each swept axis.

    python -m analysis.plot_run RUN_DIR

Reads the run (points.csv, or points.jsonl for a stopped run) and writes
RUN_DIR/figures/{accuracy,latency}_vs_<axis>.{png,pdf}. For each axis that takes more than one value
among the ok points, one line per value of a second "series" axis (e.g. logical page size when
plotting against page size) and per backend; every other swept axis (and always the layers of a
whole-model trace sweep) is averaged over, as each figure's title says. Prints the files written.
"""

import argparse
import os
import sys

from analysis import style  # selects the headless backend before pyplot is imported
from analysis.axes import AVERAGED_AXES, swept_axes
from analysis.errors import InputError
from analysis.frames import (distinct_values, format_value, is_numeric_column, numeric,
                             present_columns)
from analysis.metrics import ACCURACY_METRICS
from analysis.params import label, param_table, short_name
from analysis.results import load_run, ok_points, run_identity

# For an x axis, the axes that make the most telling series, best first.
SERIES_PREFERENCE = {
    "page_size": ["logical_page_size", "token_budget", "reuse_interval"],
    "logical_page_size": ["page_size", "token_budget"],
    "token_budget": ["page_size", "logical_page_size", "reuse_interval", "context_len"],
    "reuse_interval": ["token_budget", "page_size"],
    "context_len": ["token_budget", "mode", "page_size"],
    "batch": ["context_len", "mode"],
    "streaming_fraction": ["local_tokens", "mode"],
    "local_tokens": ["streaming_fraction", "mode"],
    "block_size": ["context_len", "mode"],
    "gqa_selection": ["token_budget", "page_size"],
    "kv_dtype": ["page_size", "token_budget"],
    "mode": ["context_len", "token_budget"],
}


def drawn_axes(axes):
    """The swept axes a figure can put on its x axis or its series."""
    return [axis for axis in axes if axis not in AVERAGED_AXES]


def series_axis(x_axis, axes):
    """The axis whose values become separate lines in plots against x_axis, or None."""
    others = [axis for axis in drawn_axes(axes) if axis != x_axis]
    for preferred in SERIES_PREFERENCE.get(x_axis, []):
        if preferred in others:
            return preferred
    return others[0] if others else None


def averaging_note(averaged, table):
    if not averaged:
        return "every other setting fixed"
    return "mean over " + ", ".join(short_name(axis, table) for axis in averaged)


class XScale:
    """Where each value of the x axis goes: numeric axes keep their values (log2 spacing for sizes
    that span a factor of 4 or more), categorical axes get evenly spaced positions."""

    def __init__(self, points, axis):
        self.values = distinct_values(points, axis)
        self.numeric = is_numeric_column(points, axis)
        self.log2 = (self.numeric and min(self.values) > 0 and
                     max(self.values) / min(self.values) >= 4)

    def position(self, value):
        return float(value) if self.numeric else self.values.index(value)

    def apply(self, axes):
        if self.log2:
            axes.set_xscale("log", base=2)
        axes.set_xticks([self.position(v) for v in self.values])
        labels = [format_value(v) for v in self.values]
        long_labels = any(len(text) > 8 for text in labels)
        axes.set_xticklabels(labels, rotation=20 if long_labels else 0,
                             ha="right" if long_labels else "center")
        axes.minorticks_off()


def line_keys(series):
    return ["backend"] + ([series] if series else [])


def line_means(points, x_axis, series, metric):
    """Mean of metric per line (backend, series value) and x value, over the rows where it is not
    empty: one row per line, one column per x value, NaN where a line has no point there."""
    timed = points.assign(**{metric: numeric(points, metric)}).dropna(subset=[metric, x_axis])
    return timed.groupby(line_keys(series) + [x_axis])[metric].mean().unstack(x_axis)


def single_row_spreads(points, x_axis, series):
    """{(backend[, series value], x value): (time_us_min, time_us_max)}, only where one row makes
    the point (nothing averaged), so the spread is that measurement's own."""
    if not {"time_us_min", "time_us_max"} <= set(points.columns):
        return {}
    grouped = points.dropna(subset=["time_us"]).groupby(line_keys(series) + [x_axis])
    spreads = grouped[["time_us_min", "time_us_max"]].first()[grouped.size() == 1].dropna()
    return {key: (low, high) for key, low, high in spreads.itertuples()}


def use_log_y(values):
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and positive and max(positive) / min(positive) > 20


def draw_panel(axes, points, x_axis, series, metric, scale, backends, table, with_spread=False):
    means = line_means(points, x_axis, series, metric)
    series_values = distinct_values(points, series) if series else [None]
    spreads = single_row_spreads(points, x_axis, series) if with_spread else {}
    plotted = []
    for backend in backends:
        for index, series_value in enumerate(series_values):
            line_key = (backend, series_value) if series else (backend,)
            row = line_key if series else backend
            if row not in means.index:
                continue
            line = means.loc[row].dropna()
            xs = [x for x in scale.values if x in line.index]
            ys = [line[x] for x in xs]
            parts = [f"{short_name(series, table)}={format_value(series_value)}"] if series else []
            if len(backends) > 1 or with_spread:
                parts.append(backend)
            drawn, = axes.plot([scale.position(x) for x in xs], ys,
                               label=", ".join(parts) or metric, color=style.color(index),
                               linestyle=style.linestyle(backend, backends),
                               marker=style.marker(backend, backends))
            keyed = [(x, y, spreads[line_key + (x,)]) for x, y in zip(xs, ys)
                     if line_key + (x,) in spreads]
            if keyed:
                axes.errorbar([scale.position(x) for x, _, _ in keyed], [y for _, y, _ in keyed],
                              yerr=[[y - low for _, y, (low, _) in keyed],
                                    [high - y for _, y, (_, high) in keyed]],
                              fmt="none", ecolor=drawn.get_color(), capsize=2, linewidth=0.8)
            plotted.extend(ys)
    scale.apply(axes)
    if plotted and use_log_y(plotted):
        axes.set_yscale("log")
    axes.set_xlabel(label(x_axis, table))
    axes.set_ylabel(label(metric, table))


def plot_axis(points, x_axis, axes_swept, table, figures_dir):
    sweep, run_id = run_identity(points)
    series = series_axis(x_axis, axes_swept)
    averaged = [a for a in axes_swept if a not in (x_axis, series)]
    note = averaging_note(averaged, table)
    scale = XScale(points, x_axis)
    backends = distinct_values(points, "backend") or [""]
    x_label = label(x_axis, table)
    written = []

    metrics = present_columns(points, ACCURACY_METRICS)
    if metrics:
        figure, panels = style.new_figure(len(metrics))
        for panel, metric in zip(panels, metrics):
            draw_panel(panel, points, x_axis, series, metric, scale, backends, table)
            panel.set_title(f"{metric} vs {x_axis}")
        style.add_legend(figure, panels)
        figure.suptitle(f"{sweep} · run {run_id}: accuracy vs {x_label}\n"
                        f"({note}; ok points only)")
        written += style.save(figure, os.path.join(figures_dir, f"accuracy_vs_{x_axis}"))

    if present_columns(points, ["time_us"]):
        figure, (panel,) = style.new_figure(1)
        draw_panel(panel, points, x_axis, series, "time_us", scale, backends, table,
                   with_spread=True)
        phase = "/".join(distinct_values(points, "phase")) or "run"
        per = "per decode step" if phase == "decode" else "per prefill" if phase == "prefill" else ""
        panel.set_title(f"median {per}, one layer (bars: min-max where one point)".replace("  ", " "))
        style.add_legend(figure, [panel])
        figure.suptitle(f"{sweep} · run {run_id}: latency vs {x_label}\n({note})")
        written += style.save(figure, os.path.join(figures_dir, f"latency_vs_{x_axis}"))
    return written


def plot_run(run_dir):
    """Writes the figures of run_dir and returns their paths."""
    points = load_run(run_dir)
    ok = ok_points(points)
    if "backend" not in ok.columns:
        ok = ok.assign(backend="")
    if ok.empty:
        print(f"{run_dir}: no ok points, nothing to plot", file=sys.stderr)
        return []
    table = param_table(points)
    axes_swept = swept_axes(ok, table)
    if not drawn_axes(axes_swept):
        print(f"{run_dir}: no axis takes more than one value among ok points, nothing to plot",
              file=sys.stderr)
        return []
    figures_dir = os.path.join(run_dir, "figures")
    os.makedirs(figures_dir, exist_ok=True)
    written = []
    for x_axis in drawn_axes(axes_swept):
        written += plot_axis(ok, x_axis, axes_swept, table, figures_dir)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m analysis.plot_run",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="results/<sweep>/<run-id>")
    args = parser.parse_args(argv)
    try:
        written = plot_run(args.run_dir)
    except InputError as error:
        print(f"plot_run: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
