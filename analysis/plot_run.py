#!/usr/bin/env python3
"""Figures of one run: accuracy and latency against each swept axis.

    plot_run.py RUN_DIR

Reads RUN_DIR/points.csv and writes RUN_DIR/figures/{accuracy,latency}_vs_<axis>.{png,pdf}. For each
axis that takes more than one value among the ok points, one line per value of a second "series" axis
(e.g. logical page size when plotting against page size) and per backend; every other swept axis is
averaged over, as each figure's title says. Prints the files written.
"""

import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import style  # noqa: E402  (selects the headless backend before pyplot is imported)
from style import add_legend  # noqa: E402
from points import (ACCURACY_METRICS, LABELS, SHORT, distinct_values, is_numeric_column,  # noqa: E402
                    load_rows, number, ok_rows, present_columns, run_identity, swept_axes)

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


def series_axis(x_axis, axes):
    """The axis whose values become separate lines in plots against x_axis, or None."""
    others = [axis for axis in axes if axis != x_axis]
    for preferred in SERIES_PREFERENCE.get(x_axis, []):
        if preferred in others:
            return preferred
    return others[0] if others else None


def averaging_note(averaged):
    if not averaged:
        return "every other setting fixed"
    return "mean over " + ", ".join(SHORT.get(axis, axis) for axis in averaged)


class XScale:
    """Where each value of the x axis goes: numeric axes keep their values (log2 spacing for sizes
    that span a factor of 4 or more), categorical axes get evenly spaced positions."""

    def __init__(self, rows, axis):
        self.values = distinct_values(rows, axis)
        self.numeric = is_numeric_column(rows, axis)
        numbers = [float(v) for v in self.values] if self.numeric else []
        self.log2 = bool(numbers) and min(numbers) > 0 and max(numbers) / min(numbers) >= 4

    def position(self, value):
        return float(value) if self.numeric else self.values.index(value)

    def apply(self, axes):
        if self.log2:
            axes.set_xscale("log", base=2)
        axes.set_xticks([self.position(v) for v in self.values])
        long_labels = any(len(value) > 8 for value in self.values)
        axes.set_xticklabels(self.values, rotation=20 if long_labels else 0,
                             ha="right" if long_labels else "center")
        axes.minorticks_off()


def grouped_means(rows, x_axis, series, metric):
    """{(backend, series value): {x value: mean of metric}} over rows where metric is not empty."""
    sums = defaultdict(lambda: defaultdict(lambda: [0.0, 0]))
    for row in rows:
        value = number(row.get(metric))
        if value is None or row.get(x_axis, "") == "":
            continue
        key = (row.get("backend", ""), row.get(series, "") if series else "")
        cell = sums[key][row[x_axis]]
        cell[0] += value
        cell[1] += 1
    return {key: {x: total / count for x, (total, count) in by_x.items()}
            for key, by_x in sums.items()}


def single_row_spreads(rows, x_axis, series):
    """{(backend, series value, x value): (min, max)} of time_us, only where one row makes the
    point (nothing averaged), so the spread is that measurement's own."""
    groups = defaultdict(list)
    for row in rows:
        if number(row.get("time_us")) is None:
            continue
        groups[(row.get("backend", ""), row.get(series, "") if series else "", row[x_axis])].append(row)
    spreads = {}
    for key, members in groups.items():
        low, high = number(members[0].get("time_us_min")), number(members[0].get("time_us_max"))
        if len(members) == 1 and low is not None and high is not None:
            spreads[key] = (low, high)
    return spreads


def use_log_y(values):
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and positive and max(positive) / min(positive) > 20


def draw_panel(axes, rows, x_axis, series, metric, scale, backends, with_spread=False):
    means = grouped_means(rows, x_axis, series, metric)
    series_values = distinct_values(rows, series) if series else [""]
    spreads = single_row_spreads(rows, x_axis, series) if with_spread else {}
    plotted = []
    for backend in backends:
        for index, series_value in enumerate(series_values):
            by_x = means.get((backend, series_value))
            if not by_x:
                continue
            xs = [x for x in scale.values if x in by_x]
            ys = [by_x[x] for x in xs]
            parts = [f"{SHORT.get(series, series)}={series_value}"] if series else []
            if len(backends) > 1 or with_spread:
                parts.append(backend)
            line, = axes.plot([scale.position(x) for x in xs], ys, label=", ".join(parts) or metric,
                              color=style.color(index), linestyle=style.linestyle(backend, backends),
                              marker=style.marker(backend, backends))
            keyed = [(x, y) for x, y in zip(xs, ys) if (backend, series_value, x) in spreads]
            if keyed:
                low = [y - spreads[(backend, series_value, x)][0] for x, y in keyed]
                high = [spreads[(backend, series_value, x)][1] - y for x, y in keyed]
                axes.errorbar([scale.position(x) for x, _ in keyed], [y for _, y in keyed],
                              yerr=[low, high], fmt="none", ecolor=line.get_color(), capsize=2,
                              linewidth=0.8)
            plotted.extend(ys)
    scale.apply(axes)
    if plotted and use_log_y(plotted):
        axes.set_yscale("log")
    axes.set_xlabel(LABELS.get(x_axis, x_axis))
    axes.set_ylabel(LABELS.get(metric, metric))


def plot_axis(rows, x_axis, axes_swept, sweep, run_id, figures_dir):
    series = series_axis(x_axis, axes_swept)
    averaged = [a for a in axes_swept if a not in (x_axis, series)]
    note = averaging_note(averaged)
    scale = XScale(rows, x_axis)
    backends = distinct_values(rows, "backend") or [""]
    written = []

    metrics = present_columns(rows, ACCURACY_METRICS)
    if metrics:
        figure, panels = style.new_figure(len(metrics))
        for panel, metric in zip(panels, metrics):
            draw_panel(panel, rows, x_axis, series, metric, scale, backends)
            panel.set_title(f"{metric} vs {x_axis}")
        add_legend(figure, panels)
        figure.suptitle(f"{sweep} · run {run_id}: accuracy vs {LABELS.get(x_axis, x_axis)}\n"
                        f"({note}; ok points only)")
        written += style.save(figure, os.path.join(figures_dir, f"accuracy_vs_{x_axis}"))

    if present_columns(rows, ["time_us"]):
        figure, (panel,) = style.new_figure(1)
        draw_panel(panel, rows, x_axis, series, "time_us", scale, backends, with_spread=True)
        phase = "/".join(distinct_values(rows, "phase")) or "run"
        per = "per decode step" if phase == "decode" else "per prefill" if phase == "prefill" else ""
        panel.set_title(f"median {per}, one layer (bars: min-max where one point)".replace("  ", " "))
        add_legend(figure, [panel])
        figure.suptitle(f"{sweep} · run {run_id}: latency vs {LABELS.get(x_axis, x_axis)}\n({note})")
        written += style.save(figure, os.path.join(figures_dir, f"latency_vs_{x_axis}"))
    return written


def plot_run(run_dir):
    """Writes the figures of run_dir and returns their paths."""
    rows = load_rows(run_dir)
    ok = ok_rows(rows)
    sweep, run_id = run_identity(run_dir, rows)
    if not ok:
        print(f"{run_dir}: no ok points, nothing to plot", file=sys.stderr)
        return []
    axes_swept = swept_axes(ok)
    if not axes_swept:
        print(f"{run_dir}: no axis takes more than one value among ok points, nothing to plot",
              file=sys.stderr)
        return []
    figures_dir = os.path.join(run_dir, "figures")
    os.makedirs(figures_dir, exist_ok=True)
    written = []
    for x_axis in axes_swept:
        written += plot_axis(ok, x_axis, axes_swept, sweep, run_id, figures_dir)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="results/<sweep>/<run-id>")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.run_dir, "points.csv")):
        parser.error(f"{args.run_dir} has no points.csv")
    for path in plot_run(args.run_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
