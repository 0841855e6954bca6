"""swept_axes: the axes a run varies come from its axis.* columns (any parameter, also the ones the
old fixed list of plotted axes lacked), in parameter-table order; runs without axis.* columns fall
back to the parameter columns that take several values."""

import itertools
import tempfile
import unittest

from analysis.axes import swept_axes
from analysis.params import param_table
from analysis.results import load_run, ok_points
from analysis.tests.synthetic_runs import write_points_csv

AXES = {"workload.sink_strength": [4.0, 7.0], "sink_tokens": [64, 128], "page_size": [16, 64],
        "reuse_interval": [4]}  # declared with one value: not swept


def sink_sweep(run_dir):
    """A run over sink strength x sink tokens x page size (x one reuse interval), its page-64 points
    skipped, as the C++ writes it: each axis as its own column and as axis.<key>."""
    columns = (["sweep", "point_id", "status", "reason", "backend", "context_len", "attn_recall"] +
               list(AXES) + ["axis." + key for key in AXES])
    rows = []
    for point_id, values in enumerate(itertools.product(*AXES.values())):
        setting = dict(zip(AXES, values))
        row = dict(sweep="sinks", point_id=point_id, backend="cpu", context_len=4096, **setting,
                   **{"axis." + key: value for key, value in setting.items()})
        if setting["page_size"] == 64:
            row.update(status="skipped", reason="synthetic skip")
        else:
            row.update(status="ok", attn_recall=0.5 + point_id / 100)
        rows.append(row)
    return write_points_csv(run_dir, rows, columns)


class SweptAxesTest(unittest.TestCase):
    def test_axes_come_from_the_axis_columns_in_table_order(self):
        with tempfile.TemporaryDirectory() as folder:
            points = load_run(sink_sweep(folder))
            table = param_table(points)
            self.assertEqual(swept_axes(points, table),
                             ["page_size", "sink_tokens", "workload.sink_strength"])
            # Among the ok points page size takes one value, so it is no longer swept.
            self.assertEqual(swept_axes(ok_points(points), table),
                             ["sink_tokens", "workload.sink_strength"])
            self.assertLess(list(table.index).index("sink_tokens"),
                            list(table.index).index("workload.sink_strength"))

    def test_runs_without_axis_columns_fall_back_to_varying_parameters(self):
        with tempfile.TemporaryDirectory() as folder:
            rows = [dict(sweep="peers", point_id=i, status="ok", backend=backend, context_len=c,
                         batch=1, peer_layout="bhsd", time_us=float(c) / 100)
                    for i, (backend, c) in enumerate(itertools.product(
                        ["torch_sdpa_flash", "torch_sdpa_cudnn"], [4096, 8192]))]
            points = load_run(write_points_csv(folder, rows, list(rows[0])))
            # backend and peer_layout are no parameters; batch takes one value.
            self.assertEqual(swept_axes(points), ["context_len"])

    def test_an_axis_the_table_lacks_comes_last(self):
        with tempfile.TemporaryDirectory() as folder:
            rows = [dict(sweep="s", point_id=i, status="ok", backend="cpu", page_size=p,
                         future_knob=k, **{"axis.future_knob": k, "axis.page_size": p})
                    for i, (k, p) in enumerate(itertools.product([1, 2], [16, 32]))]
            points = load_run(write_points_csv(folder, rows, list(rows[0])))
            self.assertEqual(swept_axes(points), ["page_size", "future_knob"])


if __name__ == "__main__":
    unittest.main()
