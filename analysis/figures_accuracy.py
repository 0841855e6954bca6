"""Accuracy figures of the decode trade-off sweep.

(a) accuracy vs physical page size, flat Quest pages (logical = physical) against hierarchical pages
    (logical 16), at one token budget (LServe Fig. 6/13);
(b) accuracy vs reuse interval at two token budgets (LServe Table 6), also as a markdown table.
"""

import os

import style
from figures_layout import add_legend, caption, context_label, log2_axis
from figures_runs import (gpu_rows_or_cpu, mean_by, paging_variants, pin, pin_unplotted, report,
                          same_value)
from points import LABELS, distinct_values, format_value, number, present_columns

TRADEOFF_SWEEPS = ["decode_tradeoff"]
ACCURACY_PANELS = ["attn_recall", "out_rel_l2_mean", "needle_hit"]
FIXED_BUDGET = "4096"
REUSE_TABLE_METRICS = ["attn_recall", "out_rel_l2_mean", "needle_hit", "page_recall", "time_us"]


def with_any(rows, metrics):
    """The rows with a value in at least one of metrics, so that a knob is never pinned to a value
    only rows without data hold."""
    return [row for row in rows if any(number(row.get(metric)) is not None for metric in metrics)]


def tradeoff_rows(results_dir, letter):
    source = gpu_rows_or_cpu(results_dir, TRADEOFF_SWEEPS, "decode")
    if not source.rows:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return source


def plot_page_size_accuracy(results_dir, out_dir):
    """(a): one panel per accuracy metric, x physical page size, a flat and a hierarchical line per
    context length. Returns the files written."""
    source = tradeoff_rows(results_dir, "a")
    if source is None:
        return []
    rows = source.rows
    missing = [c for c in ("page_size", "logical_page_size") if not distinct_values(rows, c)]
    if missing:
        report("a", f"skipped: no {', '.join(missing)} column")
        return []
    rows = with_any(rows, ACCURACY_PANELS)
    rows, budget = pin(rows, "token_budget", FIXED_BUDGET, otherwise="largest")
    rows, pinned = pin_unplotted(rows, {"page_size", "logical_page_size", "context_len"})
    metrics = present_columns(rows, ACCURACY_PANELS)
    if not metrics:
        report("a", "skipped: no accuracy column has a value")
        return []
    variants = paging_variants(rows)
    pages = distinct_values(rows, "page_size")
    contexts = distinct_values(rows, "context_len") or [""]

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        for index, context in enumerate(contexts):
            for name, variant_rows, line_style, marker in variants:
                means = mean_by(variant_rows, ("context_len", "page_size"), metric)
                xs = [page for page in pages if (context, page) in means]
                if not xs:
                    continue
                panel.plot([float(x) for x in xs], [means[(context, x)] for x in xs],
                           color=style.color(index), linestyle=line_style, marker=marker,
                           label=f"{name}, context {context_label(context)}")
        log2_axis(panel, pages)
        panel.set_xlabel(LABELS["page_size"])
        panel.set_ylabel(LABELS.get(metric, metric))
        panel.set_title(metric)
    add_legend(figure, panels)
    details = [f"token_budget={budget}"] + pinned
    figure.suptitle(caption("a", "Decode accuracy vs physical page size: flat vs hierarchical "
                            "paging", source, results_dir, details))
    return style.save(figure, os.path.join(out_dir, "a_accuracy_vs_page_size"))


def two_budgets(budgets):
    """The fixed budget (else the largest) and the next smaller one (else the next larger)."""
    main = next((b for b in budgets if same_value(b, FIXED_BUDGET)), budgets[-1])
    smaller = [b for b in budgets if float(b) < float(main)]
    larger = [b for b in budgets if float(b) > float(main)]
    other = smaller[-1] if smaller else (larger[0] if larger else None)
    return sorted([b for b in (main, other) if b is not None], key=float)


def reuse_rows(source):
    """(rows pinned to every knob but reuse interval, budget and context; budgets; notes)."""
    rows = with_any(source.rows, ACCURACY_PANELS + ["time_us"])
    budgets = two_budgets(distinct_values(rows, "token_budget") or [""])
    if budgets != [""]:
        rows = [row for row in rows if row.get("token_budget", "") in budgets]
    rows, pinned = pin_unplotted(rows, {"reuse_interval", "token_budget", "context_len"})
    return rows, budgets, pinned


def plot_reuse_accuracy(results_dir, out_dir):
    """(b): accuracy (and step time) vs reuse interval, one line per (budget, context), plus
    reuse_table.md. Returns the files written."""
    source = tradeoff_rows(results_dir, "b")
    if source is None:
        return []
    if len(distinct_values(source.rows, "reuse_interval")) < 2:
        report("b", "skipped: the rows hold fewer than two reuse intervals")
        return []
    rows, budgets, pinned = reuse_rows(source)
    metrics = present_columns(rows, ACCURACY_PANELS + ["time_us"])
    if not metrics:
        report("b", "skipped: no accuracy or time column has a value")
        return []
    intervals = distinct_values(rows, "reuse_interval")
    contexts = distinct_values(rows, "context_len") or [""]
    line_styles = ["-", "--", ":", "-."]

    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        means = mean_by(rows, ("token_budget", "context_len", "reuse_interval"), metric)
        for budget_index, budget in enumerate(budgets):
            for context_index, context in enumerate(contexts):
                xs = [x for x in intervals if (budget, context, x) in means]
                if not xs:
                    continue
                panel.plot([float(x) for x in xs], [means[(budget, context, x)] for x in xs],
                           color=style.color(budget_index),
                           linestyle=line_styles[context_index % len(line_styles)],
                           marker=style.OTHER_MARKERS[context_index % len(style.OTHER_MARKERS)],
                           label=f"budget {budget}, context {context_label(context)}")
        log2_axis(panel, intervals)
        panel.set_xlabel(LABELS["reuse_interval"])
        panel.set_ylabel(LABELS.get(metric, metric) if metric != "time_us"
                         else "decode step time (µs, median, one layer)")
        panel.set_title(metric)
    add_legend(figure, panels)
    figure.suptitle(caption("b", "Decode accuracy vs selection reuse interval at two token budgets",
                            source, results_dir, pinned))
    written = style.save(figure, os.path.join(out_dir, "b_accuracy_vs_reuse_interval"))
    written.append(write_reuse_table(rows, budgets, pinned, source, results_dir,
                                     os.path.join(out_dir, "reuse_table.md")))
    return written


def write_reuse_table(rows, budgets, pinned, source, results_dir, path):
    """One line per (context, budget, reuse interval): the mean of each metric over its rows."""
    metrics = present_columns(rows, REUSE_TABLE_METRICS)
    keys = ("context_len", "token_budget", "reuse_interval")
    means = {metric: mean_by(rows, keys, metric) for metric in metrics}
    lines = ["# Accuracy vs reuse interval", "",
             f"Source: {source.describe(results_dir)}." +
             (f" {source.note}." if source.note else ""),
             "Fixed: " + (", ".join(pinned) or "nothing else varies") +
             ". Times are per decode step, one layer, selector amortised over the interval.", "",
             "| context | token budget | reuse interval | " + " | ".join(metrics) + " |",
             "|" + " --- |" * (3 + len(metrics))]
    for context in distinct_values(rows, "context_len") or [""]:
        for budget in budgets:
            for interval in distinct_values(rows, "reuse_interval"):
                key = (context, budget, interval)
                if not any(key in means[metric] for metric in metrics):
                    continue
                cells = [format_value(str(means[metric][key])) if key in means[metric] else ""
                         for metric in metrics]
                lines.append(f"| {context} | {budget} | {interval} | " + " | ".join(cells) + " |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
