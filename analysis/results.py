"""A run directory results/<sweep>/<run-id>/ as a pandas DataFrame, one row per (point, backend).

The rows come from points.csv, or from points.jsonl when the sweep was stopped before it rebuilt
the CSV (a time limit, a kill: the CSV then holds only its header). Empty cells mean "does not
apply" and are NaN, never 0; numeric columns are numeric. df.attrs["config"] is the resolved config.yaml,
df.attrs["meta"] the run's meta.json ({} for a file the run does not have).
"""

import io
import json
import os

import pandas as pd
import yaml

from analysis.errors import InputError

POINTS_CSV = "points.csv"
POINTS_JSONL = "points.jsonl"
CONFIG_YAML = "config.yaml"
META_JSON = "meta.json"


def load_run(run_dir):
    """Every row of the run in run_dir; raises InputError naming the file that cannot be read."""
    csv_path = os.path.join(run_dir, POINTS_CSV)
    if not os.path.isfile(csv_path):
        raise InputError(f"{csv_path}: no such file (not a run directory)")
    points = read_points_csv(csv_path)
    jsonl_path = os.path.join(run_dir, POINTS_JSONL)
    source = csv_path
    if points.empty and os.path.isfile(jsonl_path):
        # A stopped run's rows are in points.jsonl; a run that has written none yet keeps the
        # header's columns (no rows, nothing to draw).
        from_jsonl = read_points_jsonl(jsonl_path)
        if not from_jsonl.empty:
            points, source = from_jsonl, jsonl_path
    if "status" not in points.columns:
        raise InputError(f"{source}: no 'status' column")
    points.attrs["run_dir"] = run_dir
    points.attrs["config"] = read_config(run_dir)
    points.attrs["meta"] = read_meta(run_dir)
    return points


def read_points_csv(path, text=None):
    """points.csv (or the same text) as a frame: only an empty cell is missing, so that a name such
    as 'none' or 'NA' stays a name."""
    try:
        return pd.read_csv(io.StringIO(text) if text is not None else path,
                           keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty file, no header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: {str(error).strip()}") from None


def read_points_jsonl(path):
    """points.jsonl, one JSON object per line, typed exactly as the same rows in points.csv would be
    (the rows go through the CSV reader)."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path}:{line_number}: not JSON: {error.msg}") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{line_number}: expected a JSON object, got "
                                 f"{type(record).__name__}")
            records.append(record)
    if not records:
        return pd.DataFrame()
    return read_points_csv(path, pd.DataFrame.from_records(records).to_csv(index=False))


def read_meta(run_dir):
    """meta.json as a dict; {} when the run has none."""
    path = os.path.join(run_dir, META_JSON)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{error.lineno}: not JSON: {error.msg}") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(meta).__name__}")
    return meta


def read_config(run_dir):
    """config.yaml (the resolved sweep) as a dict; {} when the run has none."""
    path = os.path.join(run_dir, CONFIG_YAML)
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else "?"
        raise InputError(f"{path}:{line}: not YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not YAML: {error}") from None
    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a mapping, got {type(config).__name__}")
    return config


def ok_points(points):
    """The rows whose status is ok (the attrs go along)."""
    return points[points["status"] == "ok"]


def run_identity(points):
    """(sweep name, run id) of a frame load_run read from results/<sweep>/<run-id>/."""
    run_dir = os.path.normpath(points.attrs.get("run_dir", ""))
    sweeps = points["sweep"].dropna().unique() if "sweep" in points.columns else []
    sweep = sweeps[0] if len(sweeps) == 1 else os.path.basename(os.path.dirname(run_dir))
    return str(sweep), os.path.basename(run_dir)
