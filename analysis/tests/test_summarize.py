"""summarize on small synthetic runs: the ok table, the reasons of the others, layers averaged
(said so), bad input refused with exit code 2."""

import contextlib
import io
import os
import tempfile
import unittest

from analysis import summarize
from analysis.results import load_run, ok_points
from analysis.tests.odd_run import write_odd_run


def table_lines(text, first_cells):
    return [line for line in text.splitlines() if line.startswith(tuple(first_cells))]


class SummarizeTest(unittest.TestCase):
    def test_table_of_ok_rows_and_reasons(self):
        with tempfile.TemporaryDirectory() as folder:
            text = summarize.summarize(write_odd_run(folder))
            self.assertIn("## odd / 20260101-000000", text)
            self.assertIn("24 points: 18 ok, 6 skipped", text)
            self.assertIn("Fixed: phase=decode, mode=static+dynamic, reuse_interval=4", text)
            header = next(line for line in text.splitlines() if line.startswith("| backend"))
            self.assertIn("| backend | page_size | logical_page_size | token_budget |", header)
            self.assertIn("time_us", header)
            self.assertNotIn("needle_hit", header)  # empty in every row
            self.assertEqual(len(table_lines(text, ["| cpu", "| cuda"])), 18)
            self.assertIn("| skipped | 6 |", text)
            self.assertNotIn("means over", text)

    def test_max_rows(self):
        with tempfile.TemporaryDirectory() as folder:
            text = summarize.summarize(write_odd_run(folder), max_rows=5)
            self.assertEqual(len(table_lines(text, ["| cpu", "| cuda"])), 5)
            self.assertIn("(13 more ok rows not shown)", text)

    def test_layers_are_averaged_and_said_so(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_odd_run(folder, extra_axis=("layer", [0, 1, 2]))
            text = summarize.summarize(run_dir)
            self.assertIn("Metrics are means over layer (3 values).", text)
            lines = table_lines(text, ["| cpu", "| cuda"])
            self.assertEqual(len(lines), 18)
            ok = ok_points(load_run(run_dir))
            one_point = ok[(ok["backend"] == "cpu") & (ok["page_size"] == 16)
                           & (ok["logical_page_size"] == 7) & (ok["token_budget"] == 448)]
            self.assertEqual(len(one_point), 3)
            line = next(line for line in lines if line.startswith("| cpu | 16 | 7 | 448 |"))
            self.assertIn(f"| {one_point['attn_recall'].mean():.4g} |", line)

    def test_rows_that_share_every_shown_value_are_averaged_and_said_so(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_odd_run(folder)
            path = os.path.join(run_dir, "points.csv")
            with open(path, encoding="utf-8") as handle:
                header, *body = handle.read().splitlines()
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join([header] + body + body[:3]) + "\n")
            text = summarize.summarize(run_dir)
            self.assertIn("Metrics are means over the rows that share these values (up to 2 rows).",
                          text)
            self.assertEqual(len(table_lines(text, ["| cpu", "| cuda"])), 18)

    def test_bad_input_exits_2(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_odd_run(folder)
            with open(os.path.join(run_dir, "meta.json"), "w", encoding="utf-8") as handle:
                handle.write("{")
            printed, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(out):
                self.assertEqual(summarize.main([run_dir]), 2)
            self.assertIn(os.path.join(run_dir, "meta.json"), printed.getvalue())
            self.assertEqual(out.getvalue(), "")
            with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as exit:
                summarize.main([run_dir, "--max-rows", "-1"])
            self.assertEqual(exit.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
