"""A markdown summary of one run for notes and READMEs.

    python -m analysis.summarize RUN_DIR [--max-rows N]

Prints a table of the ok points (backend, the swept axes, the accuracy metrics and the times the
run has; the layers of a whole-model trace sweep averaged, as the table says), then the skipped and
failed points grouped by reason.
"""

import argparse
import sys

import pandas as pd

from analysis.axes import AVERAGED_AXES, swept_axes
from analysis.errors import InputError
from analysis.frames import distinct_values, format_value, markdown_table, numeric, present_columns
from analysis.metrics import ACCURACY_METRICS, TIME_METRICS
from analysis.params import param_table, short_name
from analysis.results import load_run, ok_points, run_identity

# What the tensors are; the summary adds every plan-role parameter (what the sparsity is).
WORKLOAD_HEADLINE = ["phase", "model", "workload", "context_len"]


def status_line(points):
    counts = points["status"].fillna("no status").value_counts().sort_index()
    return f"{len(points)} points: " + ", ".join(f"{count} {status}"
                                                  for status, count in counts.items())


def fixed_line(ok, shown, table):
    """'Fixed: phase=decode, ...' for the headline settings that take one value among ok."""
    plan = [key for key in table.index if table.at[key, "role"] == "plan"]
    fixed = [column for column in dict.fromkeys(WORKLOAD_HEADLINE + plan)
             if column in ok.columns and column not in shown
             and len(distinct_values(ok, column)) == 1]
    if not fixed:
        return None
    return "Fixed: " + ", ".join(f"{c}={format_value(distinct_values(ok, c)[0])}" for c in fixed)


def averaging_line(averaged, group_sizes, ok, table):
    """What the table's means are over, or None when every row is one point."""
    if averaged:
        return "Metrics are means over " + ", ".join(
            f"{short_name(axis, table)} ({len(distinct_values(ok, axis))} values)"
            for axis in averaged) + "."
    if (group_sizes > 1).any():
        return ("Metrics are means over the rows that share these values (up to "
                f"{group_sizes.max()} rows).")
    return None


def ok_table(ok, table, max_rows=None):
    """The markdown lines of the ok points: one row per backend and swept-axis values, the metrics
    averaged over the axes a table does not show (the layers)."""
    axes = swept_axes(ok, table)
    shown = ["backend"] + [axis for axis in axes if axis not in AVERAGED_AXES]
    averaged = [axis for axis in axes if axis in AVERAGED_AXES]
    metrics = present_columns(ok, ACCURACY_METRICS + TIME_METRICS)
    groups = ok.assign(**{metric: numeric(ok, metric) for metric in metrics}).groupby(
        shown, dropna=False, sort=True)
    rows = groups[metrics].mean().reset_index()
    lines = [line for line in (fixed_line(ok, shown, table),
                               averaging_line(averaged, groups.size(), ok, table)) if line]
    lines = [part for line in lines for part in (line, "")]
    shown_rows = rows if max_rows is None else rows.head(max_rows)
    body = [[format_value(value) for value in row]
            for row in shown_rows[shown + metrics].itertuples(index=False)]
    lines.append(markdown_table(shown + metrics, body))
    if len(shown_rows) < len(rows):
        lines.append(f"\n({len(rows) - len(shown_rows)} more ok rows not shown)")
    lines.append("")
    return lines


def not_ok_table(points):
    """The skipped and failed points, counted per (status, reason), most common first."""
    not_ok = points[points["status"] != "ok"]
    if not_ok.empty:
        return []
    reasons = not_ok["reason"] if "reason" in not_ok.columns else None
    counts = (pd.DataFrame({"status": not_ok["status"].fillna(""),
                            "reason": "" if reasons is None else reasons.fillna("")})
              .value_counts().reset_index(name="points")
              .sort_values(["points", "status", "reason"], ascending=[False, True, True]))
    body = [[status, str(count), reason]
            for status, reason, count in counts.itertuples(index=False)]
    return [markdown_table(["status", "points", "reason"], body), ""]


def summarize(run_dir, max_rows=None):
    points = load_run(run_dir)
    if "backend" not in points.columns:
        points = points.assign(backend="")
    ok = ok_points(points)
    sweep, run_id = run_identity(points)
    lines = [f"## {sweep} / {run_id}", "", status_line(points), ""]
    if not ok.empty:
        lines += ok_table(ok, param_table(points), max_rows)
    lines += not_ok_table(points)
    return "\n".join(lines)


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m analysis.summarize",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="results/<sweep>/<run-id>")
    parser.add_argument("--max-rows", type=non_negative, default=None,
                        help="show at most this many ok rows")
    args = parser.parse_args(argv)
    try:
        text = summarize(args.run_dir, args.max_rows)
    except InputError as error:
        print(f"summarize: error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
