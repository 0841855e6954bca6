"""Writing small run directories the way the C++ writes them: points.csv (an empty cell where a
metric does not apply), and optionally points.jsonl, meta.json and config.yaml."""

import csv
import json
import os


def write_points_csv(run_dir, rows, columns):
    """points.csv with columns, one line per row (a dict; missing keys are empty cells)."""
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "points.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**dict.fromkeys(columns, ""), **row})
    return run_dir


def write_points_jsonl(run_dir, rows):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "points.jsonl"), "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return run_dir


def write_meta(run_dir, meta):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "meta.json"), "w", encoding="utf-8") as handle:
        json.dump(meta, handle)
    return run_dir


def write_text(run_dir, name, text):
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, name), "w", encoding="utf-8") as handle:
        handle.write(text)
    return run_dir
