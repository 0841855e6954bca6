"""Reading a run directory's points.csv: rows as dicts of strings, the sweep axes and their values.

Empty cells mean "does not apply" and are never read as zero.
"""

import csv
import json
import math
import os

# Columns a sweep can vary, in the order plots and tables list them.
AXES = [
    "page_size", "logical_page_size", "token_budget", "reuse_interval", "context_len", "batch",
    "streaming_fraction", "gqa_selection", "kv_dtype", "local_tokens", "block_size", "mode",
]

ACCURACY_METRICS = ["out_rel_l2_mean", "attn_recall", "page_recall", "needle_hit"]

# Axis labels with units.
LABELS = {
    "page_size": "physical page size (tokens)",
    "logical_page_size": "logical page size (tokens)",
    "token_budget": "token budget (tokens)",
    "reuse_interval": "reuse interval (decode steps)",
    "context_len": "context length (tokens)",
    "batch": "batch (sequences)",
    "streaming_fraction": "streaming heads (share of KV heads)",
    "gqa_selection": "GQA selection",
    "kv_dtype": "KV cache dtype",
    "local_tokens": "local window (tokens)",
    "block_size": "prefill block size (tokens)",
    "mode": "sparsity mode",
    "out_rel_l2_mean": "output error, mean relative L2",
    "attn_recall": "attention recall (share of mass)",
    "page_recall": "page recall (share of oracle pages)",
    "needle_hit": "needle hit rate (share of step×head)",
    "time_us": "time (µs, median)",
}

# Short names for legends.
SHORT = {
    "page_size": "page",
    "logical_page_size": "logical",
    "token_budget": "budget",
    "reuse_interval": "reuse",
    "context_len": "context",
    "streaming_fraction": "streaming",
    "gqa_selection": "gqa",
    "local_tokens": "local",
    "block_size": "block",
}


def load_rows(run_dir):
    """Every row of RUN_DIR/points.csv as a dict of strings. A sweep stopped before its end (a time
    limit, a kill) has written its rows to points.jsonl only, and points.csv holds just the header:
    the rows then come from points.jsonl, rendered as the CSV would render them."""
    with open(os.path.join(run_dir, "points.csv"), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    jsonl = os.path.join(run_dir, "points.jsonl")
    if rows or not os.path.isfile(jsonl):
        return rows
    with open(jsonl, encoding="utf-8") as handle:
        return [{key: csv_cell(value) for key, value in json.loads(line).items()}
                for line in handle if line.strip()]


def csv_cell(value):
    """A JSON value as the results CSV writes it: null empty, booleans lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ok_rows(rows):
    return [row for row in rows if row.get("status") == "ok"]


def number(text):
    """The cell as a float, or None when it is empty, not a number, or not finite."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_numeric_column(rows, column):
    cells = [row.get(column, "") for row in rows if row.get(column, "") != ""]
    return bool(cells) and all(number(cell) is not None for cell in cells)


def distinct_values(rows, column):
    """The non-empty values the column takes, numerically sorted when every one is a number."""
    cells = {row.get(column, "") for row in rows} - {""}
    if is_numeric_column(rows, column):
        return sorted(cells, key=float)
    return sorted(cells)


def swept_axes(rows):
    """The axes that take more than one value among rows, in AXES order."""
    return [axis for axis in AXES if len(distinct_values(rows, axis)) > 1]


def present_columns(rows, columns):
    """Those of columns that have at least one numeric cell among rows."""
    return [c for c in columns if any(number(row.get(c)) is not None for row in rows)]


def run_identity(run_dir, rows):
    """(sweep name, run id) of a run directory results/<sweep>/<run-id>/."""
    run_id = os.path.basename(os.path.normpath(run_dir))
    sweeps = {row.get("sweep", "") for row in rows} - {""}
    if len(sweeps) == 1:
        return sweeps.pop(), run_id
    return os.path.basename(os.path.dirname(os.path.normpath(run_dir))), run_id


def format_value(text):
    """A cell for display: integers without a decimal point, other numbers to 4 significant digits."""
    value = number(text)
    if value is None:
        return text or ""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"
