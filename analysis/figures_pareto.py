"""(f) The accuracy-latency Pareto front over every knob of the decode trade-off sweep.

A point is Pareto-optimal when no other point is at least as fast and at least as accurate and
strictly better in one of the two. Context length is the workload, not a knob, so each context gets
its own front.
"""

import os

import style
from figures_accuracy import tradeoff_rows
from figures_layout import add_legend, caption, context_label
from figures_runs import Source, pin_unplotted, report
from points import distinct_values, number

KNOBS = ["page_size", "logical_page_size", "token_budget", "reuse_interval"]
KNOB_SHORT = {"page_size": "P", "logical_page_size": "L", "token_budget": "B", "reuse_interval": "R"}
# y of each panel: (title, function of a row giving higher-is-better accuracy or None).
ACCURACY_AXES = [
    ("attention recall (share of mass)", lambda row: number(row.get("attn_recall"))),
    ("1 - output error (mean relative L2)",
     lambda row: None if number(row.get("out_rel_l2_mean")) is None
     else 1.0 - number(row.get("out_rel_l2_mean"))),
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


def knob_label(row):
    return " ".join(f"{KNOB_SHORT[k]}{row[k]}" for k in KNOBS if row.get(k, "") != "")


def evenly_spaced(items, count):
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def plot_pareto(results_dir, out_dir):
    """(f): one panel per accuracy measure; every point grey-ish by context, its front drawn as a
    step line with the optimal points ringed and a few labelled P<page> L<logical> B<budget>
    R<reuse>. Returns the files written."""
    source = tradeoff_rows(results_dir, "f")
    if source is None:
        return []
    rows = [row for row in source.rows if number(row.get("time_us")) is not None
            and any(accuracy(row) is not None for _, accuracy in ACCURACY_AXES)]
    rows, pinned = pin_unplotted(rows, set(KNOBS) | {"context_len"})
    axes = [(name, accuracy) for name, accuracy in ACCURACY_AXES
            if any(accuracy(row) is not None for row in rows)]
    if not axes:
        report("f", "skipped: no row has both time_us and an accuracy value")
        return []
    contexts = distinct_values(rows, "context_len") or [""]
    figure, panels = style.new_figure(len(axes))
    for panel, (name, accuracy) in zip(panels, axes):
        for index, context in enumerate(contexts):
            members = [row for row in rows if row.get("context_len", "") == context
                       and accuracy(row) is not None]
            points = [(number(row["time_us"]), accuracy(row)) for row in members]
            if not points:
                continue
            colour = style.color(index)
            panel.scatter([p[0] for p in points], [p[1] for p in points], s=10, alpha=0.3,
                          color=colour, label=f"all points, context {context_label(context)}")
            front = pareto_front(points)
            front_points = [points[i] for i in front]
            panel.step([p[0] for p in front_points], [p[1] for p in front_points], where="post",
                       color=colour, linewidth=1.2)
            panel.scatter([p[0] for p in front_points], [p[1] for p in front_points], s=36,
                          facecolors="none", edgecolors=colour, linewidths=1.2,
                          label=f"Pareto-optimal, context {context_label(context)}")
            for i in evenly_spaced(front, LABELLED_PER_FRONT):
                panel.annotate(knob_label(members[i]), points[i], textcoords="offset points",
                               xytext=(4, 4), fontsize=6.5, color=colour)
            report("f", f"{name}, context {context}: {len(front)} of {len(points)} points optimal")
        panel.set_xlabel("decode step time (µs, median, one layer)")
        panel.set_ylabel(name)
        panel.set_title(f"{name} vs time")
    add_legend(figure, panels)
    details = ["labels: P physical page, L logical page, B token budget, R reuse interval"] + pinned
    figure.suptitle(caption("f", "Accuracy-latency Pareto front over page, logical page, budget and "
                            "reuse", Source(rows, source.run_dirs, source.note), results_dir,
                            details))
    return style.save(figure, os.path.join(out_dir, "f_pareto_accuracy_latency"))
