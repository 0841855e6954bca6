"""Fits the synthetic generator's knobs to captured attention: `unisparse attention-stats` measures
every (layer, query head) of each trace and every head of a generated candidate, and a coordinate
search moves the knobs until the candidate's statistics are distributed over heads as the traces'
are.

    python -m analysis.fit_workload --trace A.safetensors [--trace B.safetensors ...] \\
        --out-dir results/workload_fit/RUN_ID [--write-workload configs/workloads/fitted.yaml]

Objective: for each trace and each statistic of FIT_STATISTICS, the distance between the trace's
per-head values and the candidate's, taken as the mean absolute difference of their quantiles at
QUANTILES (the 1-Wasserstein distance of the two head distributions, on a grid); the objective is
the mean of these distances over (trace, statistic). needle_mass and needle_mass_peak count
only for traces with needle positions. A candidate is one knob set for every trace, generated per trace at the trace's
context length, decode steps and GQA group, with --kv-heads KV heads (many, so that the head
distribution has many samples) and the generator seed --seed. Not fitted (FIXED_KNOBS and the
needle): a single sink token, since the traces' mass on their first token equals that on their
first 4 (`attention-stats --sink-tokens 1,4`); one needle as long as the first passkey trace's
needle (its digit tokens) at its depth; the start workload's other knobs.

Search: coordinates scaled to [0, 1] (log scale for scales and counts), from the start workload's
values; each pass tries +step and -step on every knob in FIT_KNOBS order and keeps what lowers the
objective; a pass without a gain halves the step; at most --max-evaluations candidates. The
generator seed is fixed, so the search is deterministic.

Output in --out-dir: fit.jsonl (every candidate: knobs, objective, distance per trace and
statistic), stats/<trace>.json, stats/<workload>-<trace>.json (the start workload and the fitted
one at each trace's settings), gap_table.md, fit.json (the best knobs and the command), and with
--write-workload the fitted workload file.
"""

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.params import built_binaries, table_frame

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIT_STATISTICS = ["sink_mass_4", "local_mass", "sink_local_mass_64", "top_mass_0.01",
                  "top_mass_0.1", "page_efficiency_16", "page_efficiency_64", "oracle_overlap_1",
                  "reuse_retention_4", "needle_mass", "needle_mass_peak"]
QUANTILES = np.linspace(0.05, 0.95, 10)
FIXED_KNOBS = {"num_sink_tokens": 1}
# Heads that look like streaming heads (the window of the real-model heads' description) and
# heads that retrieve the needle: shares shown in the gap table next to the statistics.
STREAMING_LIKE = ("sink_local_mass_64", 0.95)
RETRIEVING = ("needle_mass_peak", 0.4)


@dataclass(frozen=True)
class Knob:
    """A fitted generator knob: its range and whether it moves on a log scale or in integers."""
    name: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def value(self, unit):
        """The knob value at unit coordinate u in [0, 1]."""
        unit = min(max(unit, 0.0), 1.0)
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        return int(round(value)) if self.integer else round(value, 4)

    def unit(self, value):
        """The unit coordinate of a knob value (clipped into the range)."""
        value = min(max(float(value), self.low), self.high)
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)


FIT_KNOBS = [
    Knob("sink_strength", 0.0, 14.0),
    Knob("recency_strength", 0.0, 10.0),
    Knob("recency_scale", 4.0, 2048.0, log=True),
    Knob("topic_strength", 0.0, 12.0),
    Knob("segment_length_mean", 1.0, 1024.0, log=True),
    Knob("num_topics", 2, 512, log=True, integer=True),
    Knob("needle_strength", 0.0, 16.0),
    Knob("streaming_sink_strength", 0.0, 14.0),
    Knob("streaming_local_strength", 0.0, 14.0),
    Knob("streaming_type_fraction", 0.0, 1.0),
    Knob("strength_spread", 0.0, 1.5),
    Knob("query_drift", 0.0, 1.0),
    Knob("jump_probability", 0.0, 1.0),
    Knob("key_noise", 0.25, 3.0),
]


def quantile_distance(real, synthetic):
    """Mean |quantile difference| of two samples at QUANTILES; NaN when either is empty."""
    real, synthetic = pd.Series(real).dropna(), pd.Series(synthetic).dropna()
    if real.empty or synthetic.empty:
        return math.nan
    return float(np.mean(np.abs(np.quantile(real, QUANTILES) - np.quantile(synthetic, QUANTILES))))


def comparable(trace_heads, heads, stat):
    """A generated workload's values of stat, to compare with the trace's. A workload none of whose
    queries seeks a needle has no needle tokens (needle_mass null); against a trace with a needle
    it counts as 0, the mass its queries put on a needle they do not seek (about 1 / n)."""
    values = heads.get(stat, pd.Series(dtype=float))
    trace_has_needle = trace_heads.get(stat, pd.Series(dtype=float)).notna().any()
    if stat.startswith("needle_mass") and trace_has_needle and values.isna().all():
        return pd.Series(0.0, index=heads.index)
    return values


def distances(trace_heads, candidate_heads):
    """{statistic: distance} between two head frames over FIT_STATISTICS (NaN where one lacks it)."""
    return {stat: quantile_distance(trace_heads.get(stat, []),
                                    comparable(trace_heads, candidate_heads, stat))
            for stat in FIT_STATISTICS}


def objective(per_trace):
    """Mean of the finite distances of {trace: {statistic: distance}}."""
    values = [d for by_stat in per_trace.values() for d in by_stat.values() if not math.isnan(d)]
    return float(np.mean(values)) if values else math.inf


def coordinate_search(evaluate, start, max_evaluations, step=0.25, min_step=1 / 64):
    """Minimises evaluate(unit vector) from start by compass steps per coordinate. Returns (best
    unit vector, best value, evaluations made). A repeated point is not evaluated again."""
    seen = {}

    def value_at(point):
        key = tuple(round(u, 6) for u in point)
        if key not in seen:
            seen[key] = evaluate(list(point))
        return seen[key]

    best = [min(max(u, 0.0), 1.0) for u in start]
    best_value = value_at(best)
    while step >= min_step and len(seen) < max_evaluations:
        improved = False
        for index in range(len(best)):
            for direction in (+1, -1):
                if len(seen) >= max_evaluations:
                    break
                trial = list(best)
                trial[index] = min(max(trial[index] + direction * step, 0.0), 1.0)
                if trial[index] == best[index]:
                    continue
                trial_value = value_at(trial)
                if trial_value < best_value:
                    best, best_value, improved = trial, trial_value, True
                    break
        if not improved:
            step /= 2
    return best, best_value, len(seen)


class Unisparse:
    """The C++ command line: attention-stats runs and the parameter table."""

    def __init__(self, binary):
        self.binary = binary

    def run(self, args):
        command = [self.binary] + args
        answer = subprocess.run(command, capture_output=True, text=True, check=False)
        if answer.returncode != 0:
            raise InputError(f"{' '.join(command)}: exit {answer.returncode}: "
                             f"{answer.stderr.strip()}")
        return answer.stdout

    def stats(self, args):
        return json.loads(self.run(["attention-stats", "--json"] + args))

    def param_table(self):
        origin = f"{self.binary} list --params --json"
        return table_frame(json.loads(self.run(["list", "--params", "--json"])), origin)


def find_binary():
    """The newest built unisparse that has attention-stats."""
    for binary in built_binaries(REPO_ROOT):
        probe = subprocess.run([binary, "attention-stats", "--help"], capture_output=True,
                               check=False)
        if probe.returncode == 0:
            return binary
    raise InputError("no built unisparse with attention-stats under build*/bin: build it or "
                     "pass --unisparse")


def heads_frame(stats):
    return pd.DataFrame(stats["heads"])


@dataclass
class TraceTarget:
    """A trace's statistics and the shape a candidate is generated with for it."""
    name: str
    path: str
    prompt_kind: str
    stats: dict
    shape_sets: list  # --set values: the trace's context, decode steps and GQA group
    needle_knobs: dict  # a passkey trace's needle as knobs ({} without one)

    @property
    def heads(self):
        return heads_frame(self.stats)


def trace_target(unisparse, path, kv_heads):
    stats = unisparse.stats(["--trace", path])
    heads = heads_frame(stats)
    source = stats["source"]
    group = (heads["q_head"].max() + 1) // (heads["kv_head"].max() + 1)
    context_len, steps = int(heads["context_len"].iloc[0]), int(heads["decode_steps"].iloc[0])
    shape = [f"context_len={context_len}", f"decode_steps={steps}", f"num_kv_heads={kv_heads}",
             f"num_q_heads={kv_heads * group}"]
    needles = sorted(source.get("needle_tokens", []))
    # The passkey's digit tokens: one needle of that many tokens where the first one sits.
    needle = ({"needle_depths": [round(needles[0] / context_len, 4)],
               "needle_tokens": len(needles)} if needles else {})
    name = os.path.splitext(os.path.basename(path))[0]
    return TraceTarget(name, path, source.get("prompt_kind", ""), stats, shape, needle)


def fixed_knobs(targets):
    """FIXED_KNOBS and the needle of the first trace that has one (none when no trace has)."""
    needle = next((t.needle_knobs for t in targets if t.needle_knobs), {"needle_depths": []})
    return {**FIXED_KNOBS, **needle}


def knob_text(value):
    return "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value)


def generated_stats(unisparse, model, workload, target, knobs, seed):
    """attention-stats of `workload` at the target's shape with knobs ({name: value}) set on it."""
    sets = target.shape_sets + [f"workload.{name}={knob_text(value)}"
                                for name, value in knobs.items()]
    return unisparse.stats(["--model", model, "--workload", workload, f"--set=seed={seed}"] +
                           [f"--set={text}" for text in sets])


def start_knobs(unisparse, model, workload, seed):
    """The start workload's values of FIT_KNOBS, as the C++ resolves them (streaming_type_fraction
    `layout` starts at the point's streaming_fraction)."""
    params = unisparse.stats(["--model", model, "--workload", workload, "--set=decode_steps=1",
                              "--set=context_len=64", f"--set=seed={seed}"])["source"]["params"]
    knobs = {}
    for knob in FIT_KNOBS:
        text = params[f"workload.{knob.name}"]
        knobs[knob.name] = float(params["streaming_fraction"] if text == "layout" else text)
    return knobs


def share_above(heads, column, threshold):
    if column not in heads or heads[column].dropna().empty:
        return math.nan
    return float((heads[column].dropna() > threshold).mean())


def gap_rows(target, workloads):
    """One row per statistic: the trace's mean over heads, each workload's mean and its distance."""
    real = target.heads
    rows = []
    measures = [(stat, "mean", lambda frame, s=stat: comparable(real, frame, s).mean())
                for stat in FIT_STATISTICS]
    for column, threshold in (STREAMING_LIKE, RETRIEVING):
        measures.append((f"share of heads with {column} > {threshold}", "share",
                         lambda frame, c=column, t=threshold: share_above(
                             frame.assign(**{c: comparable(real, frame, c)}), c, t)))
    for label, kind, measure in measures:
        row = {"trace": target.name, "statistic": label, "real": measure(real)}
        for name, heads in workloads.items():
            row[name] = measure(heads)
            if kind == "mean":
                row[f"{name} distance"] = quantile_distance(real[label],
                                                            comparable(real, heads, label))
        rows.append(row)
    return rows


def format_cell(value):
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def gap_table_markdown(rows, workload_names):
    frame = pd.DataFrame(rows)
    lines = []
    for trace, part in frame.groupby("trace", sort=False):
        columns = ["real"] + [c for n in workload_names for c in (n, f"{n} distance")]
        lines += [f"### {trace}", "",
                  "| statistic | " + " | ".join(columns) + " |",
                  "| --- |" + " --- |" * len(columns)]
        for _, row in part.iterrows():
            if all(math.isnan(row[c]) for c in ["real"] + list(workload_names)):
                continue  # needle_mass of a trace without a needle
            lines.append(f"| {row['statistic']} | " +
                         " | ".join(format_cell(row.get(c)) for c in columns) + " |")
        lines.append("")
    return "\n".join(lines)


def workload_yaml(params, table, header_lines, description):
    """The fitted workload file: header comments, then every knob of params (a candidate's resolved
    workload parameters, as attention-stats reports them) with its description from the table."""
    lines = [f"# {line}" if line else "#" for line in header_lines]
    lines += ["name: fitted",
              "description: >-",
              f"  {description}",
              "knobs:"]
    for key, text in params.items():
        if not key.startswith("workload.") or text == "":
            continue
        lines.append(f"  # {table.at[key, 'description']}")
        lines.append(f"  {key[len('workload.'):]}: {text}")
    return "\n".join(lines) + "\n"


def git_sha():
    """HEAD of the checkout, short ("unknown" outside git)."""
    answer = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False)
    return answer.stdout.strip() or "unknown"


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=1)
        handle.write("\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m analysis.fit_workload",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", action="append", required=True,
                        help="a captured trace with decode steps (repeatable)")
    parser.add_argument("--out-dir", required=True, help="where the fit's output goes")
    parser.add_argument("--model", default="smollm2-135m", help="model of the candidates")
    parser.add_argument("--start", default="needle", help="workload the search starts from")
    parser.add_argument("--kv-heads", type=int, default=20,
                        help="KV heads of each candidate (query heads: the trace's group times this)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed of every candidate")
    parser.add_argument("--max-evaluations", type=int, default=60,
                        help="candidates the search may evaluate (the start included)")
    parser.add_argument("--write-workload", help="also write the fitted workload file here")
    parser.add_argument("--unisparse", help="the unisparse binary (default: the newest built one)")
    args = parser.parse_args(argv)
    if args.kv_heads < 1 or args.max_evaluations < 1:
        parser.error("--kv-heads and --max-evaluations must be >= 1")
    for path in args.trace:
        if not os.path.isfile(path):
            parser.error(f"--trace {path}: no such file")
    return args


def fit(args, argv):
    code = git_sha()  # the checkout the fit starts from
    unisparse = Unisparse(args.unisparse or find_binary())
    table = unisparse.param_table()
    stats_dir = os.path.join(args.out_dir, "stats")
    os.makedirs(stats_dir, exist_ok=True)
    targets = [trace_target(unisparse, path, args.kv_heads) for path in args.trace]
    for target in targets:
        write_json(os.path.join(stats_dir, f"{target.name}.json"), target.stats)
        print(f"fit_workload: {target.name}: {len(target.heads)} heads measured", file=sys.stderr)
    fixed = fixed_knobs(targets)

    def candidate(knobs, target):
        return generated_stats(unisparse, args.model, args.start, target, {**fixed, **knobs},
                               args.seed)

    evaluations = []
    with open(os.path.join(args.out_dir, "fit.jsonl"), "w", encoding="utf-8") as log:
        def evaluate(unit):
            knobs = {knob.name: knob.value(u) for knob, u in zip(FIT_KNOBS, unit)}
            per_trace = {t.name: distances(t.heads, heads_frame(candidate(knobs, t)))
                         for t in targets}
            value = objective(per_trace)
            evaluations.append(value)
            log.write(json.dumps({"knobs": knobs, "objective": value, "distances": per_trace}) +
                      "\n")
            log.flush()
            print(f"fit_workload: candidate {len(evaluations)}: objective {value:.4f}",
                  file=sys.stderr)
            return value

        start = start_knobs(unisparse, args.model, args.start, args.seed)
        best_unit, best_value, count = coordinate_search(
            evaluate, [knob.unit(start[knob.name]) for knob in FIT_KNOBS], args.max_evaluations)
    best = {knob.name: knob.value(u) for knob, u in zip(FIT_KNOBS, best_unit)}

    rows, fitted_params = [], None
    names = [args.start, "fitted"]
    for target in targets:
        workloads = {}
        for name, stats in ((args.start, generated_stats(unisparse, args.model, args.start, target,
                                                         {}, args.seed)),
                            ("fitted", candidate(best, target))):
            write_json(os.path.join(stats_dir, f"{name}-{target.name}.json"), stats)
            workloads[name] = heads_frame(stats)
            if name == "fitted":
                fitted_params = stats["source"]["params"]
        rows += gap_rows(target, workloads)
    trace_list = ", ".join(f"{t.name} ({t.prompt_kind or 'unknown kind'})" for t in targets)
    with open(os.path.join(args.out_dir, "gap_table.md"), "w", encoding="utf-8") as handle:
        handle.write(f"Per-head attention statistics of {trace_list} against the `{args.start}` "
                     f"workload and the fitted one, each generated at the trace's context, decode "
                     f"steps and GQA group with {args.kv_heads} KV heads (seed {args.seed}). "
                     f"Columns: the mean over heads; `distance`: the mean absolute difference of "
                     f"the quantiles at 0.05 .. 0.95 over heads, what the fit minimises.\n\n")
        handle.write(gap_table_markdown(rows, names))

    command = "python -m analysis.fit_workload " + " ".join(argv)
    summary = {"command": command, "code": code, "binary": unisparse.binary, "traces": args.trace, "start": args.start,
               "start_objective": evaluations[0], "objective": best_value, "evaluations": count,
               "knobs": best, "fixed_knobs": fixed, "statistics": FIT_STATISTICS,
               "quantiles": QUANTILES.tolist(), "seed": args.seed, "kv_heads": args.kv_heads}
    write_json(os.path.join(args.out_dir, "fit.json"), summary)
    if args.write_workload:
        header = [f"Fitted by `{command}`",
                  f"(code {summary['code']}, {datetime.date.today().isoformat()}) to {trace_list}.",
                  f"Objective (mean quantile distance over traces and statistics): "
                  f"{best_value:.4f}, from {evaluations[0]:.4f} for {args.start}; "
                  f"{count} candidates. Gap table: {os.path.join(args.out_dir, 'gap_table.md')}.",
                  "Not fitted: " + ", ".join(f"{k} {knob_text(v)}" for k, v in fixed.items()) +
                  f" (see analysis/fit_workload.py); the other knobs not in its FIT_KNOBS are "
                  f"{args.start}'s."]
        description = (f"Fitted to the decode attention of {trace_list} by analysis/fit_workload.py: "
                       f"per-head statistics matched in distribution over heads")
        with open(args.write_workload, "w", encoding="utf-8") as handle:
            handle.write(workload_yaml(fitted_params, table, header, description))
    print(json.dumps({"objective": best_value, "start_objective": evaluations[0], "knobs": best}))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        fit(args, argv)
    except InputError as error:
        print(f"fit_workload: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
