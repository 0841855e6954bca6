"""The C++ parameter table (framework/config/params.cpp) as a DataFrame indexed by key: each sweep
parameter's role (workload, plan, evaluation, timing, model), figure label with units, legend short
name, value kind and description. Figures and tables label parameters from it, never from a list of
their own.

Where the table comes from, first found: the run's meta.json ("params", in every run made since the
table has roles); what a built `unisparse list --params --json` prints (build*/bin/unisparse, and
make run's build/<kind>/bin/unisparse, newest first); the committed configs/params.json, which
`make params` writes from the same command.
"""

import functools
import glob
import json
import os
import subprocess

import pandas as pd

from analysis.errors import InputError
from analysis.metrics import METRIC_LABELS
from analysis.results import META_JSON, read_meta

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED_TABLE = os.path.join(REPO_ROOT, "configs", "params.json")
ENTRY_FIELDS = ["key", "role", "label", "short", "kind", "description"]
LIST_PARAMS = ["list", "--params", "--json"]


def param_table(source=None):
    """The table for source: a frame from load_run, a run directory, or None (no run)."""
    if isinstance(source, pd.DataFrame):
        meta = source.attrs.get("meta", {})
        meta_path = os.path.join(source.attrs.get("run_dir", "?"), META_JSON)
    elif source is not None:
        meta, meta_path = read_meta(source), os.path.join(source, META_JSON)
    else:
        meta, meta_path = {}, None
    if "params" in meta:
        return table_frame(meta["params"], f"{meta_path}: params")
    built = built_table(REPO_ROOT)
    if built is not None:
        return built
    return committed_table(COMMITTED_TABLE)


def label(key, table):
    """The figure label of a parameter (with units) or of a metric; the key itself otherwise."""
    if key in table.index:
        return table.at[key, "label"]
    return METRIC_LABELS.get(key, key)


def short_name(key, table):
    """The legend name of a parameter; the key itself otherwise."""
    return table.at[key, "short"] if key in table.index else key


def table_frame(entries, origin):
    """[{key, role, label, short, kind, description}, ...] as a frame indexed by key, in table
    order; attrs["origin"] says where it was read. Raises InputError naming origin and the entry."""
    if not isinstance(entries, list):
        raise InputError(f"{origin}: expected a list of parameter entries, got "
                         f"{type(entries).__name__}")
    for index, entry in enumerate(entries):
        where = f"{origin}: entry {index}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: expected an object, got {type(entry).__name__}")
        for field in ENTRY_FIELDS:
            if not isinstance(entry.get(field), str):
                raise InputError(f"{where} ({entry.get('key', '?')}): field '{field}' missing or "
                                 "not a string")
    table = pd.DataFrame(entries, columns=ENTRY_FIELDS)
    duplicated = table["key"][table["key"].duplicated()].tolist()
    if duplicated:
        raise InputError(f"{origin}: key '{duplicated[0]}' appears twice")
    table = table.set_index("key")
    table.attrs["origin"] = origin
    return table


def committed_table(path):
    try:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
    except OSError as error:
        raise InputError(f"{path}: {error.strerror} (make params writes it)") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}:{error.lineno}: not JSON: {error.msg}") from None
    return table_frame(entries, path)


def built_binaries(root):
    """The unisparse binaries built under root, newest first."""
    paths = (glob.glob(os.path.join(root, "build*", "bin", "unisparse")) +
             glob.glob(os.path.join(root, "build*", "*", "bin", "unisparse")))
    return sorted((path for path in paths if os.access(path, os.X_OK)), key=os.path.getmtime,
                  reverse=True)


@functools.lru_cache(maxsize=None)
def built_table(root):
    """The table the newest binary under root prints, or None when none does (a binary built before
    the table had `list --params` answers with an error and is passed over)."""
    for binary in built_binaries(root):
        try:
            answer = subprocess.run([binary] + LIST_PARAMS, capture_output=True, text=True,
                                    timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if answer.returncode != 0:
            continue
        origin = f"{binary} {' '.join(LIST_PARAMS)}"
        try:
            entries = json.loads(answer.stdout)
        except json.JSONDecodeError as error:
            raise InputError(f"{origin}: line {error.lineno}: not JSON: {error.msg}") from None
        return table_frame(entries, origin)
    return None
