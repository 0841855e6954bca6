"""plot_run.py and summarize.py on a small synthetic run (fixed seed): figures written, averages right,
empty and skipped cells left out."""

import csv
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plot_run  # noqa: E402
import summarize  # noqa: E402
from points import distinct_values, load_rows, number, ok_rows, swept_axes  # noqa: E402

COLUMNS = ["sweep", "point_id", "status", "reason", "phase", "backend", "mode", "page_size",
           "logical_page_size", "token_budget", "reuse_interval", "gqa_selection", "out_rel_l2_mean",
           "attn_recall", "page_recall", "needle_hit", "time_us", "time_us_min", "time_us_max"]


def write_run(folder, with_time=True):
    """results/odd/20260101-000000/points.csv over page x logical x budget, two backends."""
    rng = random.Random(7)
    run_dir = os.path.join(folder, "odd", "20260101-000000")
    os.makedirs(run_dir)
    rows = []
    point_id = 0
    for backend in ["cpu", "cuda"]:
        for page in [7, 16, 64]:
            for logical in [7, 16]:
                for budget in [448, 1024]:
                    row = dict.fromkeys(COLUMNS, "")
                    row.update(sweep="odd", point_id=str(point_id), phase="decode", backend=backend,
                               mode="static+dynamic", page_size=str(page),
                               logical_page_size=str(logical), token_budget=str(budget),
                               reuse_interval="4", gqa_selection="per_query_head")
                    point_id += 1
                    if logical > page or budget % page:
                        row.update(status="skipped", reason="logical_page_size > page_size, or a "
                                   "budget that is not a multiple of page_size")
                    else:
                        row.update(status="ok", out_rel_l2_mean=f"{rng.uniform(1e-4, 1e-2):.6g}",
                                   attn_recall=f"{rng.uniform(0.8, 1.0):.6g}",
                                   page_recall="" if backend == "cuda" else f"{rng.uniform(0.5, 1):.4g}")
                        if with_time:
                            median = rng.uniform(10, 100)
                            row.update(time_us=f"{median:.4g}", time_us_min=f"{median * 0.9:.4g}",
                                       time_us_max=f"{median * 1.2:.4g}")
                    rows.append(row)
    with open(os.path.join(run_dir, "points.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return run_dir


class PointsTest(unittest.TestCase):
    def test_swept_axes_come_from_ok_rows_only(self):
        with tempfile.TemporaryDirectory() as folder:
            rows = ok_rows(load_rows(write_run(folder)))
            self.assertEqual(swept_axes(rows), ["page_size", "logical_page_size", "token_budget"])
            self.assertEqual(distinct_values(rows, "page_size"), ["7", "16", "64"])
            self.assertIsNone(number(""))
            self.assertIsNone(number("nan"))

    def test_means_skip_empty_cells(self):
        rows = [{"backend": "cpu", "page_size": "16", "attn_recall": "0.5"},
                {"backend": "cpu", "page_size": "16", "attn_recall": "1.0"},
                {"backend": "cpu", "page_size": "16", "attn_recall": ""}]
        means = plot_run.grouped_means(rows, "page_size", None, "attn_recall")
        self.assertEqual(means, {("cpu", ""): {"16": 0.75}})


class StoppedRunTest(unittest.TestCase):
    def test_rows_come_from_points_jsonl_when_the_csv_has_only_its_header(self):
        with tempfile.TemporaryDirectory() as run_dir:
            with open(os.path.join(run_dir, "points.csv"), "w", encoding="utf-8") as handle:
                handle.write("sweep,point_id,status,time_us\n")
            with open(os.path.join(run_dir, "points.jsonl"), "w", encoding="utf-8") as handle:
                handle.write('{"sweep": "s", "point_id": 0, "status": "ok", "time_us": 12.5, "reason": null}\n')
                handle.write('{"sweep": "s", "point_id": 1, "status": "failed", "time_us": null, "flag": true}\n')
            rows = load_rows(run_dir)
            self.assertEqual(len(rows), 2)
            self.assertEqual(rows[0]["time_us"], "12.5")
            self.assertEqual(rows[0]["reason"], "")
            self.assertEqual(rows[1]["flag"], "true")
            self.assertEqual([row["point_id"] for row in ok_rows(rows)], ["0"])

    def test_a_complete_csv_is_read_as_it_is(self):
        with tempfile.TemporaryDirectory() as run_dir:
            with open(os.path.join(run_dir, "points.csv"), "w", encoding="utf-8") as handle:
                handle.write("sweep,point_id,status\ns,0,ok\n")
            with open(os.path.join(run_dir, "points.jsonl"), "w", encoding="utf-8") as handle:
                handle.write('{"sweep": "other", "point_id": 7, "status": "ok"}\n')
            self.assertEqual([row["sweep"] for row in load_rows(run_dir)], ["s"])


class PlotRunTest(unittest.TestCase):
    def test_writes_accuracy_and_latency_figures_per_swept_axis(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_run(folder)
            written = plot_run.plot_run(run_dir)
            names = sorted(os.path.basename(path) for path in written)
            expected = sorted(f"{kind}_vs_{axis}.{extension}"
                              for kind in ["accuracy", "latency"]
                              for axis in ["page_size", "logical_page_size", "token_budget"]
                              for extension in ["png", "pdf"])
            self.assertEqual(names, expected)
            for path in written:
                self.assertTrue(path.startswith(os.path.join(run_dir, "figures")))
                self.assertGreater(os.path.getsize(path), 1000)

    def test_no_latency_figure_without_times(self):
        with tempfile.TemporaryDirectory() as folder:
            written = plot_run.plot_run(write_run(folder, with_time=False))
            self.assertTrue(written)
            self.assertFalse([p for p in written if "latency" in p])

    def test_series_prefers_the_paired_page_axis(self):
        axes = ["page_size", "logical_page_size", "token_budget"]
        self.assertEqual(plot_run.series_axis("page_size", axes), "logical_page_size")
        self.assertEqual(plot_run.series_axis("token_budget", axes), "page_size")
        self.assertEqual(plot_run.series_axis("page_size", ["page_size"]), None)
        self.assertEqual(plot_run.series_axis("batch", ["batch", "kv_dtype"]), "kv_dtype")


class SummarizeTest(unittest.TestCase):
    def test_table_of_ok_rows_and_reasons(self):
        with tempfile.TemporaryDirectory() as folder:
            text = summarize.summarize(write_run(folder))
            self.assertIn("## odd / 20260101-000000", text)
            self.assertIn("24 points: 18 ok, 6 skipped", text)
            header = next(line for line in text.splitlines() if line.startswith("| backend"))
            self.assertIn("page_size", header)
            self.assertIn("time_us", header)
            self.assertNotIn("needle_hit", header)  # empty in every row
            table_rows = [line for line in text.splitlines() if line.startswith("| cpu")
                          or line.startswith("| cuda")]
            self.assertEqual(len(table_rows), 18)
            self.assertIn("| skipped | 6 |", text)


if __name__ == "__main__":
    unittest.main()
