"""Accuracy figures of the decode trade-off sweep.

(a) accuracy vs physical page size, flat Quest pages (logical = physical) against hierarchical pages
    (logical 16), at one token budget (LServe Fig. 6/13);
(b) accuracy vs reuse interval at two token budgets (LServe Table 6), also as a markdown table.
"""

import os

from analysis import style
from analysis.figures_layout import (STEP_TIME_LABEL, add_legend, caption, context_label,
                                     log2_axis, source_sentence)
from analysis.figures_runs import (gpu_points_or_cpu, mean_by, paging_variants, pin, pin_unplotted,
                                   report, same_value)
from analysis.frames import distinct_values, format_value, present_columns, with_any
from analysis.params import label, param_table

TRADEOFF_SWEEPS = ["decode_tradeoff"]
ACCURACY_PANELS = ["attn_recall", "out_rel_l2_mean", "needle_hit"]
FIXED_BUDGET = 4096
REUSE_TABLE_METRICS = ["attn_recall", "out_rel_l2_mean", "needle_hit", "page_recall", "time_us"]


def tradeoff_source(results_dir, letter):
    source = gpu_points_or_cpu(results_dir, TRADEOFF_SWEEPS, "decode")
    if source.points.empty:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return source


def plot_page_size_accuracy(results_dir, out_dir):
    """(a): one panel per accuracy metric, x physical page size, a flat and a hierarchical line per
    context length. Returns the files written."""
    source = tradeoff_source(results_dir, "a")
    if source is None:
        return []
    points = source.points
    missing = [c for c in ("page_size", "logical_page_size") if not distinct_values(points, c)]
    if missing:
        report("a", f"skipped: no {', '.join(missing)} column")
        return []
    points = with_any(points, ACCURACY_PANELS)
    points, budget = pin(points, "token_budget", FIXED_BUDGET, otherwise="largest")
    points, pinned = pin_unplotted(points, {"page_size", "logical_page_size", "context_len"})
    metrics = present_columns(points, ACCURACY_PANELS)
    if not metrics:
        report("a", "skipped: no accuracy column has a value")
        return []
    table = param_table(points)
    variants = paging_variants(points)
    pages = distinct_values(points, "page_size")
    contexts = distinct_values(points, "context_len")

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        lines = [mean_by(variant, ["context_len", "page_size"], metric).unstack("page_size")
                 for _, variant, _, _ in variants]
        for index, context in enumerate(contexts):
            for (name, _, line_style, marker), means in zip(variants, lines):
                if context not in means.index:
                    continue
                line = means.loc[context].dropna()
                xs = [page for page in pages if page in line.index]
                panel.plot([float(x) for x in xs], [line[x] for x in xs],
                           color=style.color(index), linestyle=line_style, marker=marker,
                           label=f"{name}, context {context_label(context)}")
        log2_axis(panel, pages)
        panel.set_xlabel(label("page_size", table))
        panel.set_ylabel(label(metric, table))
        panel.set_title(metric)
    add_legend(figure, panels)
    details = [f"token_budget={format_value(budget)}"] + pinned
    figure.suptitle(caption("a", "Decode accuracy vs physical page size: flat vs hierarchical "
                            "paging", source, results_dir, details))
    return style.save(figure, os.path.join(out_dir, "a_accuracy_vs_page_size"))


def two_budgets(budgets):
    """The fixed budget (else the largest) and the next smaller one (else the next larger)."""
    if not budgets:
        return []
    main = next((b for b in budgets if same_value(b, FIXED_BUDGET)), budgets[-1])
    smaller = [b for b in budgets if b < main]
    larger = [b for b in budgets if b > main]
    other = smaller[-1] if smaller else (larger[0] if larger else None)
    return sorted(b for b in (main, other) if b is not None)


def reuse_points(source):
    """(points pinned to every knob but reuse interval, budget and context; budgets; notes)."""
    points = with_any(source.points, ACCURACY_PANELS + ["time_us"])
    budgets = two_budgets(distinct_values(points, "token_budget"))
    points = points[points["token_budget"].isin(budgets)]
    points, pinned = pin_unplotted(points, {"reuse_interval", "token_budget", "context_len"})
    return points, budgets, pinned


def plot_reuse_accuracy(results_dir, out_dir):
    """(b): accuracy (and step time) vs reuse interval, one line per (budget, context), plus
    reuse_table.md. Returns the files written."""
    source = tradeoff_source(results_dir, "b")
    if source is None:
        return []
    if len(distinct_values(source.points, "reuse_interval")) < 2:
        report("b", "skipped: the rows hold fewer than two reuse intervals")
        return []
    points, budgets, pinned = reuse_points(source)
    metrics = present_columns(points, ACCURACY_PANELS + ["time_us"])
    if not metrics:
        report("b", "skipped: no accuracy or time column has a value")
        return []
    table = param_table(points)
    intervals = distinct_values(points, "reuse_interval")
    contexts = distinct_values(points, "context_len")
    line_styles = ["-", "--", ":", "-."]

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        means = mean_by(points, ["token_budget", "context_len", "reuse_interval"],
                        metric).unstack("reuse_interval")
        for budget_index, budget in enumerate(budgets):
            for context_index, context in enumerate(contexts):
                if (budget, context) not in means.index:
                    continue
                line = means.loc[(budget, context)].dropna()
                xs = [x for x in intervals if x in line.index]
                panel.plot([float(x) for x in xs], [line[x] for x in xs],
                           color=style.color(budget_index),
                           linestyle=line_styles[context_index % len(line_styles)],
                           marker=style.OTHER_MARKERS[context_index % len(style.OTHER_MARKERS)],
                           label=f"budget {format_value(budget)}, context {context_label(context)}")
        log2_axis(panel, intervals)
        panel.set_xlabel(label("reuse_interval", table))
        panel.set_ylabel(label(metric, table) if metric != "time_us" else STEP_TIME_LABEL)
        panel.set_title(metric)
    add_legend(figure, panels)
    figure.suptitle(caption("b", "Decode accuracy vs selection reuse interval at two token budgets",
                            source, results_dir, pinned))
    written = style.save(figure, os.path.join(out_dir, "b_accuracy_vs_reuse_interval"))
    written.append(write_reuse_table(points, pinned, source, results_dir,
                                     os.path.join(out_dir, "reuse_table.md")))
    return written


def write_reuse_table(points, pinned, source, results_dir, path):
    """One line per (context, budget, reuse interval): the mean of each metric over its rows."""
    metrics = present_columns(points, REUSE_TABLE_METRICS)
    keys = ["context_len", "token_budget", "reuse_interval"]
    means = points.groupby(keys)[metrics].mean().dropna(how="all")
    lines = ["# Accuracy vs reuse interval", "",
             source_sentence(source, results_dir),
             "Fixed: " + (", ".join(pinned) or "nothing else varies") +
             ". Times are per decode step, one layer, selector amortised over the interval.", "",
             "| context | token budget | reuse interval | " + " | ".join(metrics) + " |",
             "|" + " --- |" * (3 + len(metrics))]
    for key, row in means.iterrows():
        cells = [format_value(value) for value in list(key) + row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
