"""Accuracy figures of the decode trade-off sweeps.

(a) accuracy vs physical page size, flat Quest pages (logical = physical) against hierarchical pages
    (logical 16), at one token budget (LServe Fig. 6/13);
(b) accuracy vs reuse interval at two token budgets (LServe Table 6), also as a markdown table.
Each is drawn twice: from the synthetic workload's decode_tradeoff runs (a_/b_ files, what the
generator shows) and from the real-trace runs of real_tradeoff_* (a_real_/b_real_ files: every layer
of SmolLM2-135M on a passkey and a prose trace, Quest beside the oracle page choice).
"""

import os

from analysis import style
from analysis.figures_layout import (STEP_TIME_LABEL, add_legend, caption, context_label,
                                     log2_axis, source_sentence)
from analysis.figures_runs import (HIERARCHICAL_LOGICAL_PAGE, column_is, gpu_points_or_cpu,
                                   mean_by, paging_variants, pin, pin_unplotted, real_trace_source,
                                   report, same_value)
from analysis.frames import distinct_values, format_value, present_columns, with_any
from analysis.params import label, param_table

TRADEOFF_SWEEPS = ["decode_tradeoff"]
ACCURACY_PANELS = ["attn_recall", "out_rel_l2_mean", "needle_hit"]
FIXED_BUDGET = 4096
REUSE_TABLE_METRICS = ["attn_recall", "out_rel_l2_mean", "needle_hit", "page_recall", "time_us"]
REAL_PANELS = ["attn_recall", "out_rel_l2_mean", "needle_hit"]
# The real-trace figures ask about page selection alone: dynamic decode (no streaming heads), one
# selection per query head, the selector at every step for (a), budget 1024 of the 4k traces.
REAL_SETTING = {"mode": "dynamic", "gqa_selection": "per_query_head", "reuse_interval": 1,
                "token_budget": 1024}


def tradeoff_source(results_dir, letter):
    source = gpu_points_or_cpu(results_dir, TRADEOFF_SWEEPS, "decode")
    if source.points.empty:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}" +
           (f" ({source.note})" if source.note else ""))
    return source


def plot_page_size_accuracy(results_dir, out_dir):
    """(a) from the synthetic runs, then from the real-trace runs. Returns the files written."""
    return (plot_synthetic_page_size_accuracy(results_dir, out_dir) +
            plot_real_page_size_accuracy(results_dir, out_dir))


def plot_synthetic_page_size_accuracy(results_dir, out_dir):
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
                            "paging (synthetic workload)", source, results_dir, details))
    return style.save(figure, os.path.join(out_dir, "a_accuracy_vs_page_size"))


def real_source(results_dir, letter):
    source = real_trace_source(results_dir)
    if source.points.empty:
        report(letter, f"skipped: {source.note}")
        return None
    report(letter, f"using {source.describe(results_dir)}")
    return source


def selector_variants(points):
    """Quest with flat pages, Quest with 16-token logical pages, and the oracle page choice (the k
    pages of highest true mass: logical pages do not change it, its flat rows are drawn) as (label,
    points, line style, marker)."""
    quest = points[column_is(points, "selector", "quest")]
    oracle = points[column_is(points, "selector", "oracle")]
    (flat_name, flat, _, _), (hierarchical_name, hierarchical, _, _) = paging_variants(quest)
    oracle_flat = oracle[oracle["logical_page_size"] == oracle["page_size"]]
    return [(f"Quest, {flat_name}", flat, "-", "o"),
            (f"Quest, {hierarchical_name}", hierarchical, "--", "s"),
            ("oracle pages (highest true mass)", oracle_flat, ":", "^")]


def plot_real_page_size_accuracy(results_dir, out_dir):
    """(a-real): one panel per accuracy metric, x physical page size, per trace a Quest flat, a
    Quest hierarchical and an oracle line, the mean over every layer. Returns the files written."""
    source = real_source(results_dir, "a-real")
    if source is None:
        return []
    points = with_any(source.points, REAL_PANELS)
    points, pinned = pin_unplotted(points, {"page_size", "logical_page_size", "selector"},
                                   preferred=REAL_SETTING)
    metrics = present_columns(points, REAL_PANELS)
    if not metrics:
        report("a-real", "skipped: no accuracy column has a value")
        return []
    table = param_table(points)
    pages = distinct_values(points, "page_size")
    traces = distinct_values(points, "trace")
    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        for index, trace in enumerate(traces):
            for name, variant, line_style, marker in selector_variants(
                    points[points["trace"] == trace]):
                line = mean_by(variant, ["page_size"], metric)
                if line.empty:
                    continue
                panel.plot([float(x) for x in line.index], line.tolist(), color=style.color(index),
                           linestyle=line_style, marker=marker, label=f"{name}, {trace}")
        log2_axis(panel, pages)
        panel.set_xlabel(label("page_size", table))
        panel.set_ylabel(label(metric, table))
        panel.set_title(metric)
    add_legend(figure, panels, columns=2)
    figure.suptitle(caption("a-real", "Decode accuracy vs physical page size on real attention "
                            f"(SmolLM2-135M traces): Quest flat, Quest logical "
                            f"{HIERARCHICAL_LOGICAL_PAGE}, oracle", source, results_dir, pinned))
    written = style.save(figure, os.path.join(out_dir, "a_real_accuracy_vs_page_size"))
    written.append(write_real_paging_table(source, results_dir,
                                           os.path.join(out_dir, "real_paging_table.md")))
    return written


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
    """(b) from the synthetic runs, then from the real-trace runs. Returns the files written."""
    return (plot_synthetic_reuse_accuracy(results_dir, out_dir) +
            plot_real_reuse_accuracy(results_dir, out_dir))


def plot_synthetic_reuse_accuracy(results_dir, out_dir):
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
    figure.suptitle(caption("b", "Decode accuracy vs selection reuse interval at two token budgets "
                            "(synthetic workload)", source, results_dir, pinned))
    written = style.save(figure, os.path.join(out_dir, "b_accuracy_vs_reuse_interval"))
    written.append(write_reuse_table(points, pinned, source, results_dir,
                                     os.path.join(out_dir, "reuse_table.md")))
    return written


def plot_real_reuse_accuracy(results_dir, out_dir):
    """(b-real): accuracy vs reuse interval per trace and budget, Quest (solid) and the oracle page
    choice (dotted) at the same geometry, the mean over every layer. Returns the files written."""
    source = real_source(results_dir, "b-real")
    if source is None:
        return []
    if len(distinct_values(source.points, "reuse_interval")) < 2:
        report("b-real", "skipped: the rows hold fewer than two reuse intervals")
        return []
    points = with_any(source.points, REAL_PANELS)
    setting = {key: value for key, value in REAL_SETTING.items() if key != "reuse_interval"}
    points, pinned = pin_unplotted(points, {"reuse_interval", "token_budget", "selector"},
                                   preferred=setting)
    metrics = present_columns(points, REAL_PANELS)
    if not metrics:
        report("b-real", "skipped: no accuracy column has a value")
        return []
    table = param_table(points)
    intervals = distinct_values(points, "reuse_interval")
    budgets = distinct_values(points, "token_budget")
    traces = distinct_values(points, "trace")
    selectors = [("quest", "Quest", "-"), ("oracle", "oracle", ":")]
    figure, panels = style.new_figure(len(metrics))
    for panel, metric in zip(panels, metrics):
        for trace_index, trace in enumerate(traces):
            for budget_index, budget in enumerate(budgets):
                for selector, name, line_style in selectors:
                    members = points[(points["trace"] == trace) & (points["token_budget"] == budget)
                                     & column_is(points, "selector", selector)]
                    line = mean_by(members, ["reuse_interval"], metric)
                    if line.empty:
                        continue
                    panel.plot([float(x) for x in line.index], line.tolist(),
                               color=style.color(trace_index), linestyle=line_style,
                               marker=style.OTHER_MARKERS[budget_index % len(style.OTHER_MARKERS)],
                               label=f"{name}, {trace}, budget {format_value(budget)}")
        log2_axis(panel, intervals)
        panel.set_xlabel(label("reuse_interval", table))
        panel.set_ylabel(label(metric, table))
        panel.set_title(metric)
    add_legend(figure, panels, columns=4)
    figure.suptitle(caption("b-real", "Decode accuracy vs selection reuse interval on real "
                            "attention (SmolLM2-135M traces)", source, results_dir, pinned))
    return style.save(figure, os.path.join(out_dir, "b_real_accuracy_vs_reuse_interval"))


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


# The page-size question's geometries: (label, selector, physical page, logical page).
PAGING_ROWS = [("oracle, page 16", "oracle", 16, 16), ("oracle, page 64", "oracle", 64, 64),
               ("Quest, flat 16", "quest", 16, 16), ("Quest, flat 64", "quest", 64, 64),
               ("Quest, logical 16 in page 64", "quest", 64, 16),
               ("oracle, page 128", "oracle", 128, 128), ("Quest, flat 128", "quest", 128, 128),
               ("Quest, logical 16 in page 128", "quest", 128, 16)]
PAGING_METRICS = ["attn_recall", "out_rel_l2_mean"]


def paging_means(points, keys):
    """{label: frame of the PAGING_METRICS means per keys} for each geometry of PAGING_ROWS."""
    means = {}
    for name, selector, page, logical in PAGING_ROWS:
        rows = points[column_is(points, "selector", selector) & (points["page_size"] == page)
                      & (points["logical_page_size"] == logical)]
        means[name] = rows.groupby(keys)[PAGING_METRICS].mean()
    return means


def recovered_share(flat_small, flat_large, hierarchical):
    """How much of the flat large page's loss against the flat small page the hierarchical page
    wins back (1 = all of it); '' when the large page loses nothing."""
    loss = flat_small - flat_large
    if not abs(loss) > 1e-12:
        return ""
    return format_value((hierarchical - flat_large) / loss)


def write_real_paging_table(source, results_dir, path):
    """Per trace and budget (dynamic decode, reuse 1, per query head, mean over layers): recall and
    output error of the oracle and Quest at pages 16, 64 and 128, flat and with 16-token logical
    pages, the 64-token loss split into granularity (oracle 16 - oracle 64) and Quest's bound
    (oracle 64 - Quest 64), and the share of the loss that logical pages recover; then per layer at
    budget 1024; then the error growth with the reuse interval."""
    points = with_any(source.points, PAGING_METRICS)
    setting = {"mode": "dynamic", "gqa_selection": "per_query_head", "reuse_interval": 1}
    pinned_points = points
    for key, value in setting.items():
        if key in pinned_points.columns:
            pinned_points = pinned_points[pinned_points[key] == value]
    keys = ["trace", "token_budget"]
    means = paging_means(pinned_points, keys)
    lines = ["# The page-size question on real attention", "",
             source_sentence(source, results_dir),
             "Fixed: mode=dynamic, reuse_interval=1, gqa_selection=per_query_head; means over "
             "every layer of the trace. Recall = attn_recall (share of the dense mass attended), "
             "error = out_rel_l2_mean.", "",
             "## Recall and error per geometry", "",
             "| trace | budget | " + " | ".join(f"{name} recall | {name} error"
                                               for name, _, _, _ in PAGING_ROWS) + " |",
             "|" + " --- |" * (2 + 2 * len(PAGING_ROWS))]
    index = means[PAGING_ROWS[0][0]].index
    for key in index:
        cells = [format_value(value) for value in key]
        for name, _, _, _ in PAGING_ROWS:
            row = means[name].loc[key] if key in means[name].index else None
            cells += ([format_value(row[m]) for m in PAGING_METRICS] if row is not None
                      else ["", ""])
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## The 64- and 128-token loss of recall, split", "",
              "granularity = oracle 16 - oracle P; Quest's bound = oracle P - Quest flat P; "
              "recovered = (Quest logical 16 in P - Quest flat P) / (Quest flat 16 - Quest flat P).",
              "", "| trace | budget | page P | Quest flat 16 - Quest flat P | granularity | "
              "Quest's bound at P | Quest's bound at 16 | recovered by logical 16 |",
              "|" + " --- |" * 8]
    for key in index:
        def recall(name):
            frame = means[name]
            return frame.loc[key, "attn_recall"] if key in frame.index else float("nan")
        for page in (64, 128):
            flat_small, flat_large = recall("Quest, flat 16"), recall(f"Quest, flat {page}")
            oracle_small, oracle_large = recall("oracle, page 16"), recall(f"oracle, page {page}")
            hierarchical = recall(f"Quest, logical 16 in page {page}")
            cells = [format_value(value) for value in key] + [str(page)] + [
                format_value(value) for value in (flat_small - flat_large,
                                                  oracle_small - oracle_large,
                                                  oracle_large - flat_large,
                                                  oracle_small - flat_small)]
            cells.append(recovered_share(flat_small, flat_large, hierarchical))
            lines.append("| " + " | ".join(cells) + " |")
    layer_means = paging_means(pinned_points[pinned_points["token_budget"] == 1024],
                               ["trace", "layer"])
    layer_rows = ["oracle, page 16", "oracle, page 64", "Quest, flat 16", "Quest, flat 64",
                  "Quest, logical 16 in page 64"]
    lines += ["", "## Per layer, budget 1024: recall", "",
              "| trace | layer | " + " | ".join(layer_rows) + " |",
              "|" + " --- |" * (2 + len(layer_rows))]
    for key in layer_means[layer_rows[0]].index:
        cells = [format_value(value) for value in key]
        for name in layer_rows:
            frame = layer_means[name]
            cells.append(format_value(frame.loc[key, "attn_recall"]) if key in frame.index else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Reuse: error and recall vs reuse interval (page 64, logical 16)", "",
              "Fixed: mode=dynamic, gqa_selection=per_query_head; means over every layer.", "",
              "| trace | selector | budget | reuse interval | recall | error | error / error at "
              "reuse 1 |", "|" + " --- |" * 7]
    reuse = points[(points["page_size"] == 64) & (points["logical_page_size"] == 16)]
    for key, value in {"mode": "dynamic", "gqa_selection": "per_query_head"}.items():
        if key in reuse.columns:
            reuse = reuse[reuse[key] == value]
    reuse_means = reuse.groupby(["trace", "selector", "token_budget", "reuse_interval"])[
        PAGING_METRICS].mean()
    for key, row in reuse_means.iterrows():
        first = reuse_means.loc[key[:3] + (reuse_means.loc[key[:3]].index.min(),)]
        growth = (row["out_rel_l2_mean"] / first["out_rel_l2_mean"]
                  if first["out_rel_l2_mean"] > 0 else float("nan"))
        lines.append("| " + " | ".join([format_value(v) for v in key] + [
            format_value(row["attn_recall"]), format_value(row["out_rel_l2_mean"]),
            format_value(growth)]) + " |")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path
