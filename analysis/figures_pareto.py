"""(f) The accuracy-latency Pareto front over every knob of the decode trade-off sweep.

A point is Pareto-optimal when no other point is at least as fast and at least as accurate and
strictly better in one of the two. Context length is the workload, not a knob, so each context gets
its own front. The synthetic version (f_) pairs accuracy with the measured step time; the real-trace
version (f_real_) pairs the accuracy of every layer of SmolLM2-135M's traces (CPU backend, whose time
says nothing about a GPU) with the modelled bytes a decode step moves (bytes_model), one front per
trace, Quest rows only (the oracle reads the true attention and is no selector a server can run).
"""

import os

from analysis import style
from analysis.figures_accuracy import real_source, tradeoff_source
from analysis.figures_layout import STEP_TIME_LABEL, add_legend, caption, context_label
from analysis.figures_runs import Source, column_is, pin_unplotted, report
from analysis.frames import distinct_values, format_value, numeric
from analysis.metrics import METRIC_LABELS
from analysis.params import label, param_table, short_name

KNOBS = ["page_size", "logical_page_size", "token_budget", "reuse_interval"]
# The real-trace front also spans the mode (static+dynamic moves fewer bytes) and the GQA rule.
REAL_KNOBS = KNOBS + ["mode", "gqa_selection"]
REAL_COST_LABEL = "modelled bytes per decode step and layer (bytes_model, mean over layers)"
# y of each panel: (title, higher-is-better accuracy of each point, NaN where it has none).
ACCURACY_AXES = [
    (METRIC_LABELS["attn_recall"], lambda points: numeric(points, "attn_recall")),
    ("1 - output error (mean relative L2)",
     lambda points: 1.0 - numeric(points, "out_rel_l2_mean")),
]
LABELLED_PER_FRONT = 4


def pareto_front(points):
    """Indices of the Pareto-optimal points of [(time, accuracy), ...] (lower time and higher
    accuracy are better), in order of increasing time. Exact duplicates of an optimal point are
    optimal too."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front = []
    best_accuracy = None
    for index in order:
        time, accuracy = points[index]
        if best_accuracy is None or accuracy > best_accuracy:
            front.append(index)
            best_accuracy = accuracy
        elif front and points[front[-1]] == (time, accuracy):
            front.append(index)
    return front


def knob_letters(table):
    """{knob: one capital letter for the point labels}, from the table's short names (page, logical,
    budget, reuse: P, L, B, R)."""
    return {knob: short_name(knob, table)[0].upper() for knob in KNOBS}


def knob_label(row, letters, knobs=KNOBS):
    """'P64 L16 B4096 R4' for a row (a pandas Series); knobs it has no value for are left out, and
    a knob without a letter is written as its value ('static+dynamic')."""
    return " ".join(f"{letters.get(knob, '')}{format_value(row[knob])}" for knob in knobs
                    if knob in row.index and format_value(row[knob]) != "")


def evenly_spaced(items, count):
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def draw_front(panel, pairs, colour, cloud_label, front_label, point_label, fontsize):
    """Every (cost, accuracy) pair faint, the Pareto front as a step line with its points ringed,
    and LABELLED_PER_FRONT of them labelled by point_label(index). Returns the front's indices."""
    panel.scatter([p[0] for p in pairs], [p[1] for p in pairs], s=10, alpha=0.3, color=colour,
                  label=cloud_label)
    front = pareto_front(pairs)
    front_pairs = [pairs[i] for i in front]
    panel.step([p[0] for p in front_pairs], [p[1] for p in front_pairs], where="post",
               color=colour, linewidth=1.2)
    panel.scatter([p[0] for p in front_pairs], [p[1] for p in front_pairs], s=36,
                  facecolors="none", edgecolors=colour, linewidths=1.2, label=front_label)
    for i in evenly_spaced(front, LABELLED_PER_FRONT):
        panel.annotate(point_label(i), pairs[i], textcoords="offset points", xytext=(4, 4),
                       fontsize=fontsize, color=colour)
    return front


def plot_pareto(results_dir, out_dir):
    """(f) from the synthetic runs, then from the real-trace runs. Returns the files written."""
    return plot_synthetic_pareto(results_dir, out_dir) + plot_real_pareto(results_dir, out_dir)


def plot_synthetic_pareto(results_dir, out_dir):
    """(f): one panel per accuracy measure; every point grey-ish by context, its front drawn as a
    step line with the optimal points ringed and a few labelled P<page> L<logical> B<budget>
    R<reuse>. Returns the files written."""
    source = tradeoff_source(results_dir, "f")
    if source is None:
        return []
    points = source.points
    has_accuracy = ACCURACY_AXES[0][1](points).notna()
    for _, accuracy in ACCURACY_AXES[1:]:
        has_accuracy |= accuracy(points).notna()
    points = points[numeric(points, "time_us").notna() & has_accuracy]
    points, pinned = pin_unplotted(points, set(KNOBS) | {"context_len"})
    axes = [(name, accuracy) for name, accuracy in ACCURACY_AXES
            if accuracy(points).notna().any()]
    if not axes:
        report("f", "skipped: no row has both time_us and an accuracy value")
        return []
    table = param_table(points)
    letters = knob_letters(table)
    contexts = distinct_values(points, "context_len")
    figure, panels = style.new_figure(len(axes))
    for panel, (name, accuracy) in zip(panels, axes):
        for index, context in enumerate(contexts):
            members = points[column_is(points, "context_len", context) & accuracy(points).notna()]
            pairs = list(zip(numeric(members, "time_us"), accuracy(members)))
            if not pairs:
                continue
            front = draw_front(panel, pairs, style.color(index),
                               f"all points, context {context_label(context)}",
                               f"Pareto-optimal, context {context_label(context)}",
                               lambda i: knob_label(members.iloc[i], letters), fontsize=6.5)
            report("f", f"{name}, context {format_value(context)}: {len(front)} of {len(pairs)} "
                   "points optimal")
        panel.set_xlabel(STEP_TIME_LABEL)
        panel.set_ylabel(name)
        panel.set_title(f"{name} vs time")
    add_legend(figure, panels)
    details = ["labels: " + ", ".join(f"{letters[knob]} {label(knob, table)}" for knob in KNOBS)]
    figure.suptitle(caption("f", "Accuracy-latency Pareto front over page, logical page, budget and "
                            "reuse (synthetic workload)",
                            Source(points, source.run_dirs, source.note), results_dir,
                            details + pinned))
    return style.save(figure, os.path.join(out_dir, "f_pareto_accuracy_latency"))


def plot_real_pareto(results_dir, out_dir):
    """(f-real): per accuracy measure, every Quest point of the real-trace sweeps (the mean over
    layers of each knob setting) against its modelled bytes per step, one front per trace.
    Returns the files written."""
    source = real_source(results_dir, "f-real")
    if source is None:
        return []
    points = source.points[column_is(source.points, "selector", "quest")]
    points, pinned = pin_unplotted(points, set(REAL_KNOBS) | {"selector"})
    # Knobs that vary only: a setting every point shares is in the caption, not on each label.
    knobs = [knob for knob in REAL_KNOBS
             if knob in points.columns and points[knob].nunique(dropna=True) > 1]
    means = points.groupby(["trace"] + knobs, dropna=False)[
        ["bytes_model", "attn_recall", "out_rel_l2_mean"]].mean().reset_index()
    means = means[numeric(means, "bytes_model").notna()]
    axes = [(name, accuracy) for name, accuracy in ACCURACY_AXES if accuracy(means).notna().any()]
    if means.empty or not axes:
        report("f-real", "skipped: no Quest row has both bytes_model and an accuracy value")
        return []
    table = param_table(points)
    letters = knob_letters(table)
    traces = distinct_values(means, "trace")
    figure, panels = style.new_figure(len(axes))
    for panel, (name, accuracy) in zip(panels, axes):
        for index, trace in enumerate(traces):
            members = means[(means["trace"] == trace) & accuracy(means).notna()]
            pairs = list(zip(numeric(members, "bytes_model"), accuracy(members)))
            front = draw_front(panel, pairs, style.color(index), f"all Quest settings, {trace}",
                               f"Pareto-optimal, {trace}",
                               lambda i: knob_label(members.iloc[i], letters, knobs), fontsize=6)
            report("f-real", f"{name}, {trace}: {len(front)} of {len(pairs)} settings optimal")
        panel.set_xscale("log")
        panel.set_xlabel(REAL_COST_LABEL)
        panel.set_ylabel(name)
        panel.set_title(f"{name} vs modelled bytes")
    add_legend(figure, panels)
    shared = [f"{knob}={format_value(points[knob].dropna().iloc[0])}" for knob in REAL_KNOBS
              if knob not in knobs and knob in points.columns and points[knob].notna().any()]
    details = ["labels: " + ", ".join(f"{letters[knob]} {label(knob, table)}" for knob in KNOBS),
               "then the mode where it varies",
               "cost: bytes_model (the CPU time of these rows is no GPU cost)"] + shared
    figure.suptitle(caption("f-real", "Accuracy vs modelled bytes per step on real attention "
                            "(SmolLM2-135M traces), Quest", source, results_dir,
                            details + pinned))
    return style.save(figure, os.path.join(out_dir, "f_real_pareto_accuracy_bytes"))
