"""The real-trace versions of figures (a), (b) and (f) on tiny real_tradeoff_* runs: each writes its
files beside the synthetic one, reads one line per trace, keeps Quest and the oracle apart, and the
Pareto front of (f-real) is over modelled bytes and Quest rows only."""

import os
import random
import tempfile
import unittest

from analysis import figures_accuracy, figures_pareto, figures_runs
from analysis.tests.figure_results import COLUMNS, names, quietly, write_run

REAL_COLUMNS = COLUMNS + ["selector", "gqa_selection", "layer", "bytes_model", "workload.trace"]
REAL_AXES = ("layer", "mode", "selector", "page_size", "logical_page_size", "token_budget",
             "reuse_interval")
TRACES = {"real_tradeoff_passkey": "build/traces/passkey/passkey_c4096_d050_s0.safetensors",
          "real_tradeoff_prose": "build/traces/prose/prose_c4096.safetensors"}


def real_rows(trace, oracle_recall=0.99, rng=None):
    """Two layers x mode x selector x page 16/64 x logical 16/page x budget 256/1024 x reuse 1/4;
    the oracle's recall is oracle_recall everywhere, Quest's a little lower and random."""
    rng = rng or random.Random(5)
    rows = []
    for layer in [0, 1]:
        for mode in ["dynamic", "static+dynamic"]:
            for selector in ["quest", "oracle"]:
                for page in [16, 64]:
                    for logical in sorted({16, page}):
                        for budget in [256, 1024]:
                            for reuse in [1, 4]:
                                recall = (oracle_recall if selector == "oracle"
                                          else oracle_recall - rng.uniform(0.01, 0.1))
                                rows.append(dict(
                                    phase="decode", backend="cpu", mode=mode, context_len=4096,
                                    batch=1, page_size=page, logical_page_size=logical,
                                    token_budget=budget, reuse_interval=reuse, selector=selector,
                                    gqa_selection="per_query_head", layer=layer,
                                    attn_recall=recall, out_rel_l2_mean=1 - recall,
                                    bytes_model=budget * 128 * (0.5 if mode == "dynamic" else 0.3),
                                    **{"workload.trace": trace}))
    return rows


def write_real_runs(results):
    for sweep, trace in TRACES.items():
        write_run(results, sweep, "cpu-a", real_rows(trace), "2026-12-02T01:00:00Z",
                  columns=REAL_COLUMNS, axes=REAL_AXES)


class RealTraceFiguresTest(unittest.TestCase):
    def test_each_real_figure_beside_no_synthetic_run(self):
        with tempfile.TemporaryDirectory() as results:
            write_real_runs(results)
            out = os.path.join(results, "figures")
            os.makedirs(out)
            written = []
            for figure in (figures_accuracy.plot_page_size_accuracy,
                           figures_accuracy.plot_reuse_accuracy, figures_pareto.plot_pareto):
                paths, printed = quietly(figure, results, out)
                written += paths
                self.assertIn("skipped", printed)  # the synthetic version has no decode_tradeoff
            self.assertEqual(names(written), sorted(
                [f"{stem}.{extension}" for stem in ["a_real_accuracy_vs_page_size",
                                                    "b_real_accuracy_vs_reuse_interval",
                                                    "f_real_pareto_accuracy_bytes"]
                 for extension in ["png", "pdf"]] + ["real_paging_table.md"]))
            for path in written:
                self.assertGreater(os.path.getsize(path), 0, path)

    def test_paging_table_splits_the_loss(self):
        with tempfile.TemporaryDirectory() as results:
            write_real_runs(results)
            source = figures_runs.real_trace_source(results)
            path = figures_accuracy.write_real_paging_table(
                source, results, os.path.join(results, "table.md"))
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        points = source.points
        quest = points[(points["selector"] == "quest") & (points["mode"] == "dynamic")
                       & (points["reuse_interval"] == 1) & (points["token_budget"] == 1024)
                       & (points["trace"] == "prose_c4096")]

        def recall(page, logical):
            rows = quest[(quest["page_size"] == page) & (quest["logical_page_size"] == logical)]
            return rows["attn_recall"].mean()

        loss = recall(16, 16) - recall(64, 64)
        recovered = (recall(64, 16) - recall(64, 64)) / loss
        split = next(line for line in lines if line.startswith("| prose_c4096 | 1024 | 64 |"))
        cells = [cell.strip() for cell in split.strip("|").split("|")]
        # The oracle's recall is the same at every page size: no granularity loss.
        self.assertEqual(cells[4], "0")
        self.assertAlmostEqual(float(cells[3]), loss, places=3)
        self.assertAlmostEqual(float(cells[7]), recovered, places=2)
        self.assertTrue(any(line.startswith("| passkey_c4096_d050_s0 | 1 |") for line in lines))

    def test_source_names_each_trace(self):
        with tempfile.TemporaryDirectory() as results:
            write_real_runs(results)
            write_run(results, "decode_tradeoff", "gpu-a", [], "2026-12-02T01:00:00Z")
            source = figures_runs.real_trace_source(results)
            self.assertEqual(sorted(source.points["trace"].unique()),
                             ["passkey_c4096_d050_s0", "prose_c4096"])
            self.assertEqual(len(source.run_dirs), 2)

    def test_no_real_run_is_a_skip_with_a_reason(self):
        with tempfile.TemporaryDirectory() as results:
            source = figures_runs.real_trace_source(results)
            self.assertTrue(source.points.empty)
            self.assertIn("real_tradeoff", source.note)

    def test_selector_variants_keep_quest_and_oracle_apart(self):
        with tempfile.TemporaryDirectory() as results:
            write_real_runs(results)
            points = figures_runs.real_trace_source(results).points
        variants = {name: rows for name, rows, _, _ in figures_accuracy.selector_variants(points)}
        oracle = next(rows for name, rows in variants.items() if name.startswith("oracle"))
        self.assertEqual(set(oracle["selector"]), {"oracle"})
        self.assertTrue((oracle["logical_page_size"] == oracle["page_size"]).all())
        for name, rows in variants.items():
            if name.startswith("Quest"):
                self.assertEqual(set(rows["selector"]), {"quest"}, name)
        hierarchical = next(rows for name, rows in variants.items() if "logical 16" in name)
        self.assertEqual(set(hierarchical["logical_page_size"]), {16})

    def test_real_front_reads_quest_rows_only(self):
        with tempfile.TemporaryDirectory() as results:
            write_real_runs(results)
            out = os.path.join(results, "figures")
            os.makedirs(out)
            _, printed = quietly(figures_pareto.plot_real_pareto, results, out)
        # Quest settings per trace: mode 2 x (page 16: 1, page 64: 2 logical) x budget 2 x reuse 2.
        self.assertIn("passkey_c4096_d050_s0: ", printed)
        self.assertIn(" of 24 settings optimal", printed)
        self.assertNotIn(" of 48 settings", printed)


if __name__ == "__main__":
    unittest.main()
