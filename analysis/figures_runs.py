"""Which committed runs a figure reads, and how its points are narrowed to one setting per knob.

results/<sweep>/<run-id>/points.csv: when a sweep has several runs, the newest by meta.json
start_time_utc is used (a run without meta.json sorts before any run with one, then by run id).
A run named <run-id>-<variant> beside the run <run-id> of the same sweep is a variant of it (the
same call with one thing changed, e.g. h200-20261201-sm80: the sm_80 kernel path forced): it is
never the newest run, and a figure that wants it asks for the variants of the run it read.
When a figure's GPU sweeps hold no CUDA rows, it falls back to CPU rows: first those of the same
sweeps, then the committed CPU quick-sweep baseline. The real-trace figures read the newest run of
each real_tradeoff_* sweep (CPU rows over captured traces of the real model).
"""

import os
from dataclasses import dataclass, field

import pandas as pd

from analysis.axes import AVERAGED_AXES, swept_axes
from analysis.frames import distinct_values, format_value, numeric
from analysis.params import param_table, short_name
from analysis.results import load_run, ok_points, read_meta

CPU_BASELINE = os.path.join("baselines", "quick")

# The paper's defaults (LServe: 64-token physical pages, 16-token logical pages, a 4096-token
# budget, reuse interval 4): where a figure does not plot a knob, it is pinned to this value when
# the points hold it, else to the smallest value they hold.
DEFAULT_KNOBS = {
    "page_size": 64,
    "logical_page_size": 16,
    "token_budget": 4096,
    "reuse_interval": 4,
    "gqa_selection": "per_query_head",
    "batch": 1,
    "kv_dtype": "fp16",
    "streaming_fraction": 0.5,
    "local_tokens": 256,
    "block_size": 64,
}


@dataclass
class Source:
    """The ok points a figure draws, the run directories they come from, and what the title should
    say about them (e.g. that they are CPU rows standing in for a missing GPU run)."""
    points: pd.DataFrame
    run_dirs: list = field(default_factory=list)
    note: str = ""

    def describe(self, results_dir):
        """'results/<sweep>/<run-id>, ...' relative to the folder holding results_dir."""
        base = os.path.dirname(os.path.abspath(results_dir))
        names = [os.path.relpath(os.path.abspath(run_dir), base) for run_dir in self.run_dirs]
        return ", ".join(names) or "no run"

    def stopped_notes(self, results_dir):
        """A note for each run read that stopped before its end, so that a reader does not take
        its missing points for skipped ones."""
        base = os.path.dirname(os.path.abspath(results_dir))
        return [f"{os.path.relpath(os.path.abspath(run_dir), base)} stopped before its end "
                "(its finished points only)" for run_dir in self.run_dirs
                if stopped_before_end(run_dir)]


def start_time(run_dir):
    """meta.json start_time_utc (ISO 8601, so it sorts as text), or '' when there is none."""
    return str(read_meta(run_dir).get("start_time_utc", ""))


def runs_of(results_dir, sweep):
    sweep_dir = os.path.join(results_dir, sweep)
    if not os.path.isdir(sweep_dir):
        return []
    return [os.path.join(sweep_dir, name) for name in sorted(os.listdir(sweep_dir))
            if os.path.isfile(os.path.join(sweep_dir, name, "points.csv"))]


def variant_name(run_dir, runs):
    """'sm80' for .../<id>-sm80 when runs hold .../<id> of the same sweep folder; else None."""
    run_id = os.path.basename(run_dir)
    for other in runs:
        other_id = os.path.basename(other)
        if (os.path.dirname(other) == os.path.dirname(run_dir) and other_id != run_id
                and run_id.startswith(other_id + "-")):
            return run_id[len(other_id) + 1:]
    return None


def newest_run(results_dir, sweep):
    """The run directory of sweep with the latest start time, variants left out, or None when the
    sweep has no run."""
    runs = runs_of(results_dir, sweep)
    base_runs = [run_dir for run_dir in runs if variant_name(run_dir, runs) is None]
    if not base_runs:
        return None
    return max(base_runs, key=lambda run_dir: (start_time(run_dir), os.path.basename(run_dir)))


def variant_runs(run_dir):
    """[(variant name, run directory)] of the variants of run_dir, sorted by name."""
    sweep_dir = os.path.dirname(run_dir)
    runs = runs_of(os.path.dirname(sweep_dir), os.path.basename(sweep_dir))
    prefix = os.path.basename(run_dir) + "-"
    return [(os.path.basename(other)[len(prefix):], other) for other in runs
            if os.path.basename(other).startswith(prefix)]


def stopped_before_end(run_dir):
    """Whether the run's meta.json has no end time: the run was stopped (a time limit, a kill) and
    holds only the points it finished. A run without meta.json is not known to have stopped."""
    meta = read_meta(run_dir)
    return bool(meta) and "end_time_utc" not in meta


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


def runs_read(results_dir):
    """Every run a figure may read: the newest run of each sweep folder and its variants, and the
    CPU baseline."""
    if not os.path.isdir(results_dir):
        return []
    runs = []
    for name in sorted(os.listdir(results_dir)):
        newest = newest_run(results_dir, name)
        if newest:
            runs += [newest] + [variant for _, variant in variant_runs(newest)]
    baseline = os.path.join(results_dir, CPU_BASELINE)
    if os.path.isfile(os.path.join(baseline, "points.csv")):
        runs.append(baseline)
    return list(dict.fromkeys(run_dir for run_dir in runs if run_dir))


def points_of(run_dirs, keep):
    """(ok points of run_dirs where keep(points) is true, the run dirs that gave any). keep maps a
    run's ok points to a boolean Series."""
    frames, used = [], []
    for run_dir in run_dirs:
        ok = ok_points(load_run(run_dir))
        selected = ok[keep(ok)]
        if not selected.empty:
            frames.append(selected)
            used.append(run_dir)
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), used


def column_is(points, column, value):
    """Rows whose column equals value (False everywhere when the column is absent)."""
    if column not in points.columns:
        return pd.Series(False, index=points.index)
    return points[column] == value


def of_phase(points, phase):
    """Rows of phase; every row when the run has no phase column (a peers run of one phase)."""
    if "phase" not in points.columns:
        return pd.Series(True, index=points.index)
    return points["phase"] == phase


def gpu_points_or_cpu(results_dir, prefixes, phase, gpu_backends=("cuda",)):
    """The ok points of the newest run of each sweep named by prefixes, for the given phase.

    CUDA rows (plus any other gpu_backends) when there are some; otherwise the CPU rows of those
    runs; otherwise the CPU rows of the committed quick-sweep baseline, with a note saying so.
    """
    runs = newest_runs(results_dir, prefixes)
    sweeps = "/".join(prefixes)

    def gpu(points):
        return of_phase(points, phase) & points["backend"].isin(gpu_backends)

    def cpu(points):
        return of_phase(points, phase) & column_is(points, "backend", "cpu")

    points, used = points_of(runs, gpu)
    if column_is(points, "backend", "cuda").any():
        return Source(points, used)
    points, used = points_of(runs, cpu)
    if not points.empty:
        return Source(points, used, f"CPU backend: no GPU rows in {sweeps}")
    baseline = os.path.join(results_dir, CPU_BASELINE)
    if os.path.isfile(os.path.join(baseline, "points.csv")):
        points, used = points_of([baseline], cpu)
        if not points.empty:
            return Source(points, used, f"CPU quick baseline: no GPU run of {sweeps}")
    return Source(pd.DataFrame(), [], f"no {phase} rows in {sweeps} nor in the CPU baseline")


def same_value(cell, wanted):
    """Equal as numbers when both are numbers (64 and 64.0), else as they are."""
    try:
        return float(cell) == float(wanted)
    except (TypeError, ValueError):
        return cell == wanted


# The logical page of hierarchical paging in the paging figures (LServe's 16-token logical pages).
HIERARCHICAL_LOGICAL_PAGE = 16


def paging_variants(points):
    """Flat paging (logical page = physical page) and hierarchical paging (16-token logical pages in
    physical pages of at least 16) as (label, points, line style, marker), the lines the paging
    figures draw."""
    flat = points[points["logical_page_size"] == points["page_size"]]
    hierarchical = points[(points["logical_page_size"] == HIERARCHICAL_LOGICAL_PAGE)
                          & (points["page_size"] >= HIERARCHICAL_LOGICAL_PAGE)]
    return [("flat (logical = physical)", flat, "-", "o"),
            (f"hierarchical (logical {HIERARCHICAL_LOGICAL_PAGE})", hierarchical, "--", "s")]


def pin(points, column, preferred=None, otherwise="smallest"):
    """(points holding one value of column, that value). The value is preferred when some row has
    it, else the smallest (or largest) value present. Points without the column are returned
    untouched."""
    values = distinct_values(points, column)
    if not values:
        return points, None
    chosen = next((v for v in values if preferred is not None and same_value(v, preferred)), None)
    if chosen is None:
        chosen = values[0] if otherwise == "smallest" else values[-1]
    return points[points[column] == chosen], chosen


def pin_unplotted(points, plotted, preferred=None):
    """Pins every swept axis outside plotted that takes several values, to preferred[axis] or else
    DEFAULT_KNOBS[axis] where the points hold it; the layers of a trace sweep are averaged instead.
    Returns (points, ['axis=value' for each knob pinned, 'mean over <axis>' for each averaged])."""
    wanted = {**DEFAULT_KNOBS, **(preferred or {})}
    notes = []
    if points.empty:
        return points, notes
    for axis in swept_axes(points):
        if axis in plotted or len(distinct_values(points, axis)) < 2:
            continue
        if axis in AVERAGED_AXES:
            notes.append(f"mean over {len(distinct_values(points, axis))} "
                         f"{short_name(axis, param_table(points))} values")
            continue
        points, value = pin(points, axis, wanted.get(axis))
        notes.append(f"{axis}={format_value(value)}")
    return points, notes


def mean_by(points, keys, metric):
    """The mean of metric per combination of the keys' values (a Series indexed by them, empty when
    nothing has a value), over the rows where metric is a number; combinations without one are left
    out."""
    points = points.reindex(columns=list(dict.fromkeys(list(points.columns) + list(keys))))
    return numeric(points, metric).groupby([points[key] for key in keys]).mean().dropna()


def report(letter, message):
    print(f"figure ({letter}): {message}")


# The whole-model decode trade-off sweeps over captured traces of the real model
# (sweeps/real_tradeoff_*.yaml), one sweep per prompt kind.
REAL_TRADEOFF_SWEEPS = ["real_tradeoff"]


def trace_name(path):
    """'prose_c4096' for build/traces/prose/prose_c4096.safetensors; '' for a missing cell."""
    if not isinstance(path, str) or not path:
        return ""
    return os.path.splitext(os.path.basename(path))[0]


def real_trace_source(results_dir, prefixes=tuple(REAL_TRADEOFF_SWEEPS)):
    """The ok decode rows of the newest run of each real-trace sweep named by prefixes, with a
    column `trace` (the trace file's stem) that tells the prompts apart. An empty Source with a note
    when no such run is committed."""
    runs = newest_runs(results_dir, list(prefixes))

    def decode(points):
        has_trace = pd.Series("workload.trace" in points.columns, index=points.index)
        return of_phase(points, "decode") & has_trace

    points, used = points_of(runs, decode)
    if points.empty:
        return Source(pd.DataFrame(), [], f"no run of {'/'.join(prefixes)} with trace rows")
    points = points.assign(trace=points["workload.trace"].map(trace_name))
    return Source(points, used, "CPU backend, every layer of the trace")
