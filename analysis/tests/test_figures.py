"""analysis.figures on tiny synthetic results folders: each figure writes its files, the newest run
of a sweep is the one read, CPU rows stand in for missing GPU runs, missing columns and rows are
skipped, an unreadable run stops everything, and the Pareto front of a hand-made case."""

import contextlib
import io
import os
import random
import tempfile
import unittest

import pandas as pd

from analysis import figures, figures_accuracy, figures_pareto, figures_runs
from analysis.tests.figure_results import (COLUMNS, decode_rows, full_results, names, quietly,
                                           tradeoff_rows, write_run)
from analysis.tests.synthetic_runs import write_text


class RunSelectionTest(unittest.TestCase):
    def test_newest_run_by_start_time_not_by_name(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "decode_tradeoff", "run-b", [], "2026-11-28T09:00:00Z")
            newest = write_run(results, "decode_tradeoff", "run-a", [], "2026-11-28T10:00:00Z")
            write_run(results, "decode_tradeoff", "run-c", [])  # no meta.json: sorts first
            self.assertEqual(figures_runs.newest_run(results, "decode_tradeoff"), newest)
            self.assertIsNone(figures_runs.newest_run(results, "absent"))

    def test_sweeps_named_takes_suffixed_sweeps_only(self):
        with tempfile.TemporaryDirectory() as results:
            for sweep in ["decode_dense", "decode_dense_512k", "decode_densest"]:
                os.makedirs(os.path.join(results, sweep))
            self.assertEqual(figures_runs.sweeps_named(results, "decode_dense"),
                             ["decode_dense", "decode_dense_512k"])

    def test_pin_prefers_default_then_falls_back(self):
        points = pd.DataFrame({"token_budget": [960.0, 1920.0, 4096.0]})
        self.assertEqual(figures_runs.pin(points, "token_budget", 4096)[1], 4096)
        self.assertEqual(figures_runs.pin(points[:2], "token_budget", 4096, "largest")[1], 1920)
        grid = pd.DataFrame([{"page_size": p, "reuse_interval": r}
                             for p in [32, 64] for r in [1, 5]])
        pinned, notes = figures_runs.pin_unplotted(grid, {"reuse_interval"})
        self.assertEqual(notes, ["page_size=64"])
        self.assertEqual(pinned["reuse_interval"].tolist(), [1, 5])

    def test_pin_unplotted_pins_axes_the_old_list_lacked_and_averages_layers(self):
        grid = pd.DataFrame([{"page_size": 64, "sink_tokens": s, "workload.sink_strength": w,
                              "layer": layer, "axis.sink_tokens": s,
                              "axis.workload.sink_strength": w, "axis.layer": layer}
                             for s in [64, 128] for w in [4.0, 7.0] for layer in [0, 1, 2]])
        pinned, notes = figures_runs.pin_unplotted(grid, {"page_size"})
        self.assertEqual(notes, ["sink_tokens=64", "mean over 3 layer values",
                                 "workload.sink_strength=4"])
        self.assertEqual(pinned["layer"].tolist(), [0, 1, 2])

    def test_two_budgets(self):
        self.assertEqual(figures_accuracy.two_budgets([1024, 2048, 4096, 8192]), [2048, 4096])
        self.assertEqual(figures_accuracy.two_budgets([960, 1920]), [960, 1920])
        self.assertEqual(figures_accuracy.two_budgets([4096, 8192]), [4096, 8192])
        self.assertEqual(figures_accuracy.two_budgets([512]), [512])
        self.assertEqual(figures_accuracy.two_budgets([]), [])


class ParetoTest(unittest.TestCase):
    def test_hand_made_front(self):
        points = [(10.0, 0.5),   # 0 fastest: optimal
                  (12.0, 0.5),   # 1 slower, no better: dominated by 0
                  (12.0, 0.7),   # 2 optimal
                  (15.0, 0.6),   # 3 dominated by 2
                  (20.0, 0.9),   # 4 optimal
                  (20.0, 0.9),   # 5 exact duplicate of an optimal point: optimal
                  (25.0, 0.9),   # 6 as accurate as 4 but slower: dominated
                  (30.0, 0.95),  # 7 optimal (most accurate)
                  (10.0, 0.4)]   # 8 as fast as 0 but less accurate: dominated
        self.assertEqual(figures_pareto.pareto_front(points), [0, 2, 4, 5, 7])
        self.assertEqual(figures_pareto.pareto_front([]), [])
        self.assertEqual(figures_pareto.pareto_front([(1.0, 0.0)]), [0])

    def test_front_matches_brute_force(self):
        rng = random.Random(3)
        points = [(float(rng.randint(1, 20)), float(rng.randint(0, 10))) for _ in range(97)]

        def dominated(p):
            return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)

        expected = sorted(i for i, p in enumerate(points) if not dominated(p))
        self.assertEqual(sorted(figures_pareto.pareto_front(points)), expected)


class FiguresTest(unittest.TestCase):
    def test_every_figure_from_gpu_runs(self):
        with tempfile.TemporaryDirectory() as results:
            full_results(results)
            out = os.path.join(results, "figures")
            written, printed = quietly(figures.make_figures, results, out)
            expected = [f"{name}.{extension}" for name in
                        ["a_accuracy_vs_page_size", "b_accuracy_vs_reuse_interval",
                         "c_decode_latency_vs_context", "d_prefill_latency_vs_context",
                         "e_decode_latency_breakdown", "f_pareto_accuracy_latency",
                         "g_quant_decode_speedup", "h_quant_latency_vs_page_size",
                         "i_quant_paging_accuracy"]
                        for extension in ["png", "pdf"]] + ["reuse_table.md", "quant_page_table.md"]
            self.assertEqual(names(written), sorted(expected))
            for path in written:
                self.assertTrue(path.startswith(out))
                self.assertGreater(os.path.getsize(path), 500)
            self.assertIn("decode_dense_odd", printed)  # suffixed sweeps join (c) and (e)
            self.assertIn("peers_decode", printed)
            self.assertNotIn("CPU", printed)

    def test_reuse_table_rows(self):
        with tempfile.TemporaryDirectory() as results:
            rows = tradeoff_rows()
            write_run(results, "decode_tradeoff", "gpu-a", rows, "2026-11-28T10:00:00Z")
            written, _ = quietly(figures_accuracy.plot_reuse_accuracy, results, results)
            with open(os.path.join(results, "reuse_table.md"), encoding="utf-8") as handle:
                table = handle.read()
            self.assertIn(os.path.join(results, "reuse_table.md"), written)
            self.assertIn("page_size=64, logical_page_size=16", table)
            lines = [line for line in table.splitlines() if line.startswith("| 5000")
                     or line.startswith("| 12288")]
            self.assertEqual(len(lines), 2 * 2 * 2)  # context x budget x reuse
            wanted = next(r for r in rows if r["context_len"] == 5000 and r["page_size"] == 64
                          and r["logical_page_size"] == 16 and r["token_budget"] == 1920
                          and r["reuse_interval"] == 3)
            line = next(line for line in lines if line.startswith("| 5000 | 1920 | 3 |"))
            self.assertIn(f"{wanted['attn_recall']:.4g}", line)

    def test_cpu_baseline_stands_in_for_missing_gpu_runs(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "baselines", "quick",
                      tradeoff_rows(backend="cpu", budgets=(256, 1024)) +
                      decode_rows(["static+dynamic"], [4096], [1], backend="cpu"))
            written, printed = quietly(figures.make_figures, results, os.path.join(results, "f"))
            self.assertIn("a_accuracy_vs_page_size.png", names(written))
            self.assertIn("c_decode_latency_vs_context.png", names(written))
            self.assertIn("e_decode_latency_breakdown.png", names(written))
            self.assertNotIn("d_prefill_latency_vs_context.png", names(written))
            self.assertIn("CPU quick baseline", printed)
            self.assertIn("figure (d): skipped", printed)

    def test_cpu_rows_of_the_same_sweep_come_before_the_baseline(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "decode_tradeoff", "cpu-run", tradeoff_rows(backend="cpu"))
            source = figures_runs.gpu_points_or_cpu(results, ["decode_tradeoff"], "decode")
            self.assertFalse(source.points.empty)
            self.assertIn("CPU backend", source.note)
            self.assertEqual(set(source.points["backend"]), {"cpu"})

    def test_missing_columns_and_rows_are_skipped(self):
        with tempfile.TemporaryDirectory() as results:
            columns = [c for c in COLUMNS if c not in ("needle_hit", "time_us")
                       and not c.startswith("time_")]
            write_run(results, "decode_tradeoff", "gpu-a", tradeoff_rows(),
                      "2026-11-28T10:00:00Z", columns=columns)
            written, printed = quietly(figures.make_figures, results, os.path.join(results, "f"))
            self.assertIn("a_accuracy_vs_page_size.png", names(written))
            self.assertNotIn("f_pareto_accuracy_latency.png", names(written))
            self.assertIn("figure (f): skipped", printed)
            self.assertIn("figure (c): skipped", printed)

    def test_a_paging_variant_without_points_leaves_the_other(self):
        with tempfile.TemporaryDirectory() as results:
            flat_only = [row for row in tradeoff_rows()
                         if row["logical_page_size"] == row["page_size"] != 16]
            write_run(results, "decode_tradeoff", "gpu-a", flat_only, "2026-11-28T10:00:00Z")
            written, _ = quietly(figures_accuracy.plot_page_size_accuracy, results, results)
            self.assertEqual(names(written), ["a_accuracy_vs_page_size.pdf",
                                              "a_accuracy_vs_page_size.png"])

    def test_an_unreadable_run_stops_every_figure(self):
        with tempfile.TemporaryDirectory() as results:
            full_results(results)
            # The newest quant_paging run, stopped before its CSV and with a cut JSONL line.
            broken = write_run(results, "quant_paging", "gpu-z", [], "2026-11-29T10:00:00Z")
            write_text(broken, "points.jsonl", '{"status": "ok"\n')
            out = os.path.join(results, "f")
            printed = io.StringIO()
            with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(figures.main(["--results", results, "--out", out]), 2)
            self.assertIn(os.path.join(broken, "points.jsonl") + ":1", printed.getvalue())
            self.assertFalse(os.path.exists(out))

    def test_empty_results_folder_writes_nothing(self):
        with tempfile.TemporaryDirectory() as results:
            written, printed = quietly(figures.make_figures, results, os.path.join(results, "f"))
            self.assertEqual(written, [])
            self.assertEqual(printed.count("skipped"), 15)  # (a)-(k), (a/b/f-real), (k) twice


if __name__ == "__main__":
    unittest.main()
