"""load_run: points.csv or (for a stopped run) points.jsonl as a typed frame, empty cells NaN,
config.yaml and meta.json in attrs, and every file it cannot read named in the error."""

import math
import os
import tempfile
import unittest

import pandas as pd

from analysis.errors import InputError
from analysis.results import load_run, ok_points, run_identity
from analysis.tests.synthetic_runs import (write_meta, write_points_csv, write_points_jsonl,
                                           write_text)

COLUMNS = ["sweep", "point_id", "status", "reason", "backend", "workload", "page_size",
           "attn_recall", "time_us", "timing.l2_flush", "axis.page_size"]
ROWS = [
    {"sweep": "s", "point_id": 0, "status": "ok", "backend": "cpu", "workload": "none",
     "page_size": 16, "attn_recall": 0.5, "time_us": 12.5, "timing.l2_flush": "false",
     "axis.page_size": 16},
    {"sweep": "s", "point_id": 1, "status": "skipped", "reason": "budget below the page",
     "backend": "cpu", "workload": "none", "page_size": 64, "timing.l2_flush": "false",
     "axis.page_size": 64},
]


class LoadRunTest(unittest.TestCase):
    def test_csv_cells_are_typed_and_empty_cells_are_missing_not_zero(self):
        with tempfile.TemporaryDirectory() as folder:
            points = load_run(write_points_csv(os.path.join(folder, "s", "r1"), ROWS, COLUMNS))
            self.assertEqual(len(points), 2)
            self.assertTrue(pd.api.types.is_integer_dtype(points["page_size"]))
            self.assertTrue(pd.api.types.is_float_dtype(points["attn_recall"]))
            self.assertTrue(math.isnan(points.loc[1, "attn_recall"]))
            self.assertTrue(math.isnan(points.loc[1, "time_us"]))
            self.assertTrue(pd.isna(points.loc[0, "reason"]))
            self.assertEqual(points.loc[0, "workload"], "none")  # a name, not a missing cell
            self.assertEqual(points.attrs["config"], {})
            self.assertEqual(points.attrs["meta"], {})
            self.assertEqual(ok_points(points)["point_id"].tolist(), [0])
            self.assertEqual(run_identity(points), ("s", "r1"))

    def test_rows_come_from_points_jsonl_when_the_csv_has_only_its_header(self):
        with tempfile.TemporaryDirectory() as folder:
            stopped = write_points_csv(os.path.join(folder, "stopped"), [], COLUMNS)
            write_points_jsonl(stopped, [{**row, "reason": row.get("reason"),
                                          "attn_recall": row.get("attn_recall"),
                                          "time_us": row.get("time_us")} for row in ROWS])
            complete = write_points_csv(os.path.join(folder, "complete"), ROWS, COLUMNS)
            from_jsonl, from_csv = load_run(stopped), load_run(complete)
            pd.testing.assert_frame_equal(from_jsonl, from_csv, check_like=True)
            self.assertTrue(math.isnan(from_jsonl.loc[1, "attn_recall"]))  # JSON null

    def test_a_run_that_has_written_no_row_yet_is_empty_not_an_error(self):
        with tempfile.TemporaryDirectory() as folder:
            started = write_points_csv(os.path.join(folder, "started"), [], COLUMNS)
            write_points_jsonl(started, [])
            points = load_run(started)
            self.assertTrue(points.empty)
            self.assertIn("status", points.columns)
            self.assertTrue(ok_points(points).empty)

    def test_a_complete_csv_is_read_as_it_is(self):
        with tempfile.TemporaryDirectory() as run_dir:
            write_points_csv(run_dir, ROWS[:1], COLUMNS)
            write_points_jsonl(run_dir, [{"sweep": "other", "point_id": 7, "status": "ok"}])
            self.assertEqual(load_run(run_dir)["sweep"].tolist(), ["s"])

    def test_config_and_meta_in_attrs(self):
        with tempfile.TemporaryDirectory() as run_dir:
            write_points_csv(run_dir, ROWS, COLUMNS)
            write_text(run_dir, "config.yaml", "name: s\naxes:\n  page_size: [16, 64]\n")
            write_meta(run_dir, {"run_id": "r1", "start_time_utc": "2026-11-28T10:00:00Z"})
            points = load_run(run_dir)
            self.assertEqual(points.attrs["config"]["axes"], {"page_size": [16, 64]})
            self.assertEqual(points.attrs["meta"]["run_id"], "r1")
            self.assertEqual(ok_points(points).attrs["meta"]["run_id"], "r1")


class UnreadableRunTest(unittest.TestCase):
    def assert_error(self, run_dir, *fragments):
        with self.assertRaises(InputError) as raised:
            load_run(run_dir)
        for fragment in fragments:
            self.assertIn(fragment, str(raised.exception))

    def test_each_bad_file_is_named(self):
        with tempfile.TemporaryDirectory() as folder:
            self.assert_error(folder, os.path.join(folder, "points.csv"), "no such file")

            bad_csv = write_text(os.path.join(folder, "bad_csv"), "points.csv",
                                 "sweep,status\ns,ok\ns,ok,extra\n")
            self.assert_error(bad_csv, os.path.join(bad_csv, "points.csv"), "line 3")

            empty = write_text(os.path.join(folder, "empty"), "points.csv", "")
            self.assert_error(empty, "points.csv", "empty file")

            no_status = write_text(os.path.join(folder, "no_status"), "points.csv", "sweep\ns\n")
            self.assert_error(no_status, "points.csv", "'status'")

            bad_jsonl = write_points_csv(os.path.join(folder, "bad_jsonl"), [], COLUMNS)
            write_text(bad_jsonl, "points.jsonl", '{"status": "ok"}\n{"status": \n')
            self.assert_error(bad_jsonl, os.path.join(bad_jsonl, "points.jsonl") + ":2")

            not_objects = write_points_csv(os.path.join(folder, "not_objects"), [], COLUMNS)
            write_text(not_objects, "points.jsonl", "[1, 2]\n")
            self.assert_error(not_objects, "points.jsonl:1", "JSON object")

            bad_yaml = write_points_csv(os.path.join(folder, "bad_yaml"), ROWS, COLUMNS)
            write_text(bad_yaml, "config.yaml", "name: s\naxes: [page_size\n")
            self.assert_error(bad_yaml, os.path.join(bad_yaml, "config.yaml") + ":")

            bad_meta = write_points_csv(os.path.join(folder, "bad_meta"), ROWS, COLUMNS)
            write_text(bad_meta, "meta.json", '{"run_id": "r1",\n')
            self.assert_error(bad_meta, os.path.join(bad_meta, "meta.json") + ":")


if __name__ == "__main__":
    unittest.main()
