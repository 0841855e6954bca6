"""A small synthetic decode run (fixed seed) over page x logical x budget on two backends, with
skipped points and empty cells, and a whole-model trace run over layers."""

import os
import random

from analysis.tests.synthetic_runs import write_points_csv

COLUMNS = ["sweep", "point_id", "status", "reason", "phase", "backend", "mode", "page_size",
           "logical_page_size", "token_budget", "reuse_interval", "gqa_selection",
           "out_rel_l2_mean", "attn_recall", "page_recall", "needle_hit", "time_us", "time_us_min",
           "time_us_max"]
ODD_AXES = ["page_size", "logical_page_size", "token_budget"]


def write_odd_run(folder, with_time=True, extra_axis=None):
    """results/odd/20260101-000000/points.csv over page x logical x budget, two backends; with
    extra_axis=(key, values) every point is repeated for each value of one more axis."""
    rng = random.Random(7)
    run_dir = os.path.join(folder, "odd", "20260101-000000")
    extra_key, extra_values = extra_axis or (None, [None])
    axes = ODD_AXES + ([extra_key] if extra_key else [])
    columns = COLUMNS + ([extra_key] if extra_key else []) + ["axis." + axis for axis in axes]
    rows = []
    point_id = 0
    for backend in ["cpu", "cuda"]:
        for page in [7, 16, 64]:
            for logical in [7, 16]:
                for budget in [448, 1024]:
                    for extra in extra_values:
                        row = dict(sweep="odd", point_id=point_id, phase="decode", backend=backend,
                                   mode="static+dynamic", page_size=page, logical_page_size=logical,
                                   token_budget=budget, reuse_interval=4,
                                   gqa_selection="per_query_head")
                        if extra_key:
                            row[extra_key] = extra
                        row.update({"axis." + axis: row[axis] for axis in axes})
                        point_id += 1
                        if logical > page or budget % page:
                            row.update(status="skipped", reason="logical_page_size > page_size, "
                                       "or a budget that is not a multiple of page_size")
                        else:
                            row.update(status="ok",
                                       out_rel_l2_mean=f"{rng.uniform(1e-4, 1e-2):.6g}",
                                       attn_recall=f"{rng.uniform(0.8, 1.0):.6g}",
                                       page_recall=("" if backend == "cuda"
                                                    else f"{rng.uniform(0.5, 1):.4g}"))
                            if with_time:
                                median = rng.uniform(10, 100)
                                row.update(time_us=f"{median:.4g}",
                                           time_us_min=f"{median * 0.9:.4g}",
                                           time_us_max=f"{median * 1.2:.4g}")
                        rows.append(row)
    return write_points_csv(run_dir, rows, columns)
