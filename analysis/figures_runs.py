"""Which committed runs a figure reads, and how its rows are narrowed to one setting per knob.

results/<sweep>/<run-id>/points.csv: when a sweep has several runs, the newest by meta.json
start_time_utc is used (a run without meta.json sorts before any run with one, then by run id).
When a figure's GPU sweeps hold no CUDA rows, it falls back to CPU rows: first those of the same
sweeps, then the committed CPU quick-sweep baseline.
"""

import json
import os
from dataclasses import dataclass, field

from points import AXES, distinct_values, load_rows, number, ok_rows

CPU_BASELINE = os.path.join("baselines", "quick")

# The paper's defaults (DESIGN.md §1): where a figure does not plot a knob, it is pinned to this value
# when the rows hold it, else to the smallest value they hold.
DEFAULT_KNOBS = {
    "page_size": "64",
    "logical_page_size": "16",
    "token_budget": "4096",
    "reuse_interval": "4",
    "gqa_selection": "per_query_head",
    "batch": "1",
    "kv_dtype": "fp16",
    "streaming_fraction": "0.5",
    "local_tokens": "256",
    "block_size": "64",
}


@dataclass
class Source:
    """The ok rows a figure draws, the run directories they come from, and what the title should say
    about them (e.g. that they are CPU rows standing in for a missing GPU run)."""
    rows: list
    run_dirs: list = field(default_factory=list)
    note: str = ""

    def describe(self, results_dir):
        """'results/<sweep>/<run-id>, ...' relative to the folder holding results_dir."""
        base = os.path.dirname(os.path.abspath(results_dir))
        names = [os.path.relpath(os.path.abspath(run_dir), base) for run_dir in self.run_dirs]
        return ", ".join(names) or "no run"


def start_time(run_dir):
    """meta.json start_time_utc (ISO 8601, so it sorts as text), or '' when there is none."""
    try:
        with open(os.path.join(run_dir, "meta.json"), encoding="utf-8") as handle:
            return str(json.load(handle).get("start_time_utc", ""))
    except (OSError, ValueError):
        return ""


def newest_run(results_dir, sweep):
    """The run directory of sweep with the latest start time, or None when the sweep has no run."""
    sweep_dir = os.path.join(results_dir, sweep)
    if not os.path.isdir(sweep_dir):
        return None
    runs = [os.path.join(sweep_dir, name) for name in os.listdir(sweep_dir)
            if os.path.isfile(os.path.join(sweep_dir, name, "points.csv"))]
    if not runs:
        return None
    return max(runs, key=lambda run_dir: (start_time(run_dir), os.path.basename(run_dir)))


def sweeps_named(results_dir, prefix):
    """The sweep folders called prefix or prefix_<suffix> (decode_dense, decode_dense_512k), sorted."""
    if not os.path.isdir(results_dir):
        return []
    return sorted(name for name in os.listdir(results_dir)
                  if name == prefix or name.startswith(prefix + "_"))


def newest_runs(results_dir, prefixes):
    runs = []
    for prefix in prefixes:
        for sweep in sweeps_named(results_dir, prefix):
            run_dir = newest_run(results_dir, sweep)
            if run_dir:
                runs.append(run_dir)
    return runs


def rows_of(run_dirs, keep):
    """(ok rows of run_dirs for which keep(row) holds, the run dirs that gave any)."""
    rows, used = [], []
    for run_dir in run_dirs:
        selected = [row for row in ok_rows(load_rows(run_dir)) if keep(row)]
        if selected:
            rows += selected
            used.append(run_dir)
    return rows, used


def gpu_rows_or_cpu(results_dir, prefixes, phase, gpu_backends=("cuda",)):
    """The ok rows of the newest run of each sweep named by prefixes, for the given phase.

    CUDA rows (plus any other gpu_backends) when there are some; otherwise the CPU rows of those
    runs; otherwise the CPU rows of the committed quick-sweep baseline, with a note saying so.
    """
    runs = newest_runs(results_dir, prefixes)
    sweeps = "/".join(prefixes)

    def of_phase(row):
        return row.get("phase", phase) == phase

    rows, used = rows_of(runs, lambda row: of_phase(row) and row.get("backend") in gpu_backends)
    if any(row.get("backend") == "cuda" for row in rows):
        return Source(rows, used)
    rows, used = rows_of(runs, lambda row: of_phase(row) and row.get("backend") == "cpu")
    if rows:
        return Source(rows, used, f"CPU backend: no GPU rows in {sweeps}")
    baseline = os.path.join(results_dir, CPU_BASELINE)
    if os.path.isfile(os.path.join(baseline, "points.csv")):
        rows, used = rows_of([baseline], lambda row: of_phase(row) and row.get("backend") == "cpu")
        if rows:
            return Source(rows, used, f"CPU quick baseline: no GPU run of {sweeps}")
    return Source([], [], f"no {phase} rows in {sweeps} nor in the CPU baseline")


def same_value(cell, wanted):
    left, right = number(cell), number(wanted)
    if left is not None and right is not None:
        return left == right
    return cell == wanted


# The logical page of hierarchical paging in the paging figures (LServe's 16-token logical pages).
HIERARCHICAL_LOGICAL_PAGE = "16"


def paging_variants(rows):
    """Flat paging (logical page = physical page) and hierarchical paging (16-token logical pages in
    physical pages of at least 16) as (label, rows, line style, marker), the lines the paging
    figures draw."""
    flat = [row for row in rows if same_value(row["logical_page_size"], row["page_size"])]
    hierarchical = [row for row in rows
                    if same_value(row["logical_page_size"], HIERARCHICAL_LOGICAL_PAGE)
                    and number(row["page_size"]) >= number(HIERARCHICAL_LOGICAL_PAGE)]
    return [("flat (logical = physical)", flat, "-", "o"),
            (f"hierarchical (logical {HIERARCHICAL_LOGICAL_PAGE})", hierarchical, "--", "s")]


def pin(rows, column, preferred=None, otherwise="smallest"):
    """(rows holding one value of column, that value). The value is preferred when some row has it,
    else the smallest (or largest) value present. Rows without the column are returned untouched."""
    values = distinct_values(rows, column)
    if not values:
        return rows, None
    chosen = next((v for v in values if preferred is not None and same_value(v, preferred)), None)
    if chosen is None:
        chosen = values[0] if otherwise == "smallest" else values[-1]
    return [row for row in rows if row.get(column, "") == chosen], chosen


def pin_unplotted(rows, plotted, preferred=None):
    """Pins every axis outside plotted that takes several values, to preferred[axis] or else
    DEFAULT_KNOBS[axis] where the rows hold it. Returns (rows, ['axis=value' for each knob pinned])."""
    wanted = {**DEFAULT_KNOBS, **(preferred or {})}
    notes = []
    for axis in AXES:
        if axis in plotted or len(distinct_values(rows, axis)) < 2:
            continue
        rows, value = pin(rows, axis, wanted.get(axis))
        notes.append(f"{axis}={value}")
    return rows, notes


def mean_by(rows, keys, metric):
    """{tuple of the keys' cells: mean of metric} over rows where metric is a number."""
    sums = {}
    for row in rows:
        value = number(row.get(metric))
        if value is None:
            continue
        cell = sums.setdefault(tuple(row.get(key, "") for key in keys), [0.0, 0])
        cell[0] += value
        cell[1] += 1
    return {key: total / count for key, (total, count) in sums.items()}


def report(letter, message):
    print(f"figure ({letter}): {message}")
