#!/usr/bin/env python3
"""A markdown summary of one run for notes and READMEs.

    summarize.py RUN_DIR [--max-rows N]

Prints a table of the ok points (backend, the swept axes, the accuracy metrics and the median time
that the run has), then the skipped and failed points grouped by reason.
"""

import argparse
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from points import (ACCURACY_METRICS, distinct_values, format_value, load_rows,  # noqa: E402
                    number, ok_rows, present_columns, run_identity, swept_axes)

TIME_COLUMNS = ["time_us", "time_selector_us", "time_attention_us", "time_prefill_us", "achieved_gbps"]


def markdown_table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def sort_key(row, axes):
    """Numeric axis values sort as numbers, others as text; numbers first."""
    key = []
    for axis in axes:
        value = number(row.get(axis))
        key.append((0, value, "") if value is not None else (1, 0.0, row.get(axis, "")))
    return key


def summarize(run_dir, max_rows=None):
    rows = load_rows(run_dir)
    ok = ok_rows(rows)
    sweep, run_id = run_identity(run_dir, rows)
    statuses = Counter(row.get("status", "") for row in rows)
    lines = [f"## {sweep} / {run_id}", ""]
    lines.append(f"{len(rows)} points: " +
                 ", ".join(f"{count} {status or 'no status'}" for status, count in sorted(statuses.items())))
    lines.append("")

    if ok:
        axes = ["backend"] + swept_axes(ok)
        fixed = [column for column in ["phase", "mode", "model", "workload", "context_len",
                                       "page_size", "logical_page_size", "token_budget",
                                       "reuse_interval"]
                 if column not in axes and len(distinct_values(ok, column)) == 1]
        if fixed:
            lines.append("Fixed: " + ", ".join(f"{c}={format_value(ok[0][c])}" for c in fixed))
            lines.append("")
        metrics = present_columns(ok, ACCURACY_METRICS + TIME_COLUMNS)
        ordered = sorted(ok, key=lambda row: sort_key(row, axes))
        shown = ordered if max_rows is None else ordered[:max_rows]
        body = [[format_value(row.get(column, "")) for column in axes + metrics] for row in shown]
        lines.append(markdown_table(axes + metrics, body))
        if len(shown) < len(ordered):
            lines.append(f"\n({len(ordered) - len(shown)} more ok rows not shown)")
        lines.append("")

    not_ok = Counter((row.get("status", ""), row.get("reason", "")) for row in rows
                     if row.get("status") != "ok")
    if not_ok:
        body = [[status, str(count), reason] for (status, reason), count in
                sorted(not_ok.items(), key=lambda item: (-item[1], item[0]))]
        lines.append(markdown_table(["status", "points", "reason"], body))
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="results/<sweep>/<run-id>")
    parser.add_argument("--max-rows", type=int, default=None, help="show at most this many ok rows")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.run_dir, "points.csv")):
        parser.error(f"{args.run_dir} has no points.csv")
    print(summarize(args.run_dir, args.max_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
