"""Which runs the latency figures read and what they draw from them: a variant run of a call
(<run-id>-<variant>) is never a sweep's newest run and is its own line in (d); (d) draws the masks
of prefill_dense and prefill_streaming, not the prefill trade-off grid; (e) marks the replayed step
graph beside the kernel sum; a run that stopped before its end is named in the caption."""

import os
import tempfile
import unittest

from analysis import figures, figures_latency, figures_quant, figures_runs
from analysis.tests.figure_results import (COLUMNS, decode_rows, drawn, full_results, peer_rows,
                                           prefill_rows, quant_decode_rows, quietly, write_run)
from analysis.tests.synthetic_runs import write_meta

STARTED = "2026-12-01T10:00:00Z"
LATER = "2026-12-01T10:05:00Z"


def prefill_results(results):
    """prefill_dense run-a (block 64/128 at 3000 and 9000), its variant run-a-sm80 written later
    (twice as slow, 3000 only), prefill_streaming, a prefill trade-off run and the peers."""
    dense = prefill_rows()[:4]
    write_run(results, "prefill_dense", "run-a", dense, STARTED)
    slower = [dict(row, time_us=2 * row["time_us"]) for row in dense if row["context_len"] == 3000]
    write_run(results, "prefill_dense", "run-a-sm80", slower, LATER)
    write_run(results, "prefill_streaming", "run-a", prefill_rows()[4:], STARTED)
    write_run(results, "prefill_tradeoff", "run-a",
              [dict(row, local_tokens=777) for row in prefill_rows()[4:]], STARTED)
    write_run(results, "peers_prefill", "run-a",
              peer_rows("prefill", ["torch_flex"], [3000, 9000], streaming_fraction=0.0))


class VariantRunTest(unittest.TestCase):
    def test_a_variant_is_never_the_newest_run_and_is_listed_with_its_run(self):
        with tempfile.TemporaryDirectory() as results:
            base = write_run(results, "prefill_dense", "h200-x", [], STARTED)
            variant = write_run(results, "prefill_dense", "h200-x-sm80", [], LATER)
            write_run(results, "prefill_dense", "h200-w", [], "2026-11-30T10:00:00Z")
            self.assertEqual(figures_runs.newest_run(results, "prefill_dense"), base)
            self.assertEqual(figures_runs.variant_runs(base), [("sm80", variant)])
            self.assertEqual(figures_runs.variant_runs(variant), [])
            self.assertIn(variant, figures_runs.runs_read(results))

    def test_a_run_whose_id_only_starts_like_another_is_no_variant(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "decode_dense", "h200-20261128", [], STARTED)
            newer = write_run(results, "decode_dense", "h200-20261128b", [], LATER)
            self.assertEqual(figures_runs.newest_run(results, "decode_dense"), newer)
            self.assertEqual(figures_runs.variant_runs(newer), [])

    def test_prefill_figure_draws_the_variant_beside_its_run_and_leaves_the_tradeoff_out(self):
        with tempfile.TemporaryDirectory() as results:
            prefill_results(results)
            drawings, printed = drawn(figures_latency.plot_prefill_latency, results)
            self.assertEqual(len(drawings), 1)
            lines = drawings[0].points
            ours = lines["unisparse cuda: dense causal"]
            variant = lines["unisparse cuda (sm80): dense causal"]
            # block 128 is pinned: run-a has 3000 -> 38.4 ms and 9000 -> 115.2 ms, the variant
            # twice the first.
            self.assertEqual([(x, round(y, 6)) for x, y in ours], [(3000.0, 38.4), (9000.0, 115.2)])
            self.assertEqual([(x, round(y, 6)) for x, y in variant], [(3000.0, 76.8)])
            self.assertIn("torch_flex: dense causal", lines)
            self.assertFalse(any("local 777" in label for label in lines))
            self.assertNotIn("prefill_tradeoff", printed)
            self.assertIn(os.path.join("prefill_dense", "run-a-sm80"), drawings[0].title)


class StepGraphMarkerTest(unittest.TestCase):
    def test_breakdown_marks_the_replayed_graph_where_it_was_measured(self):
        with tempfile.TemporaryDirectory() as results:
            rows = decode_rows(["dense", "static"], [4000], [1])
            rows[1]["time_step_graph_us"] = 3.25  # the static row only
            write_run(results, "decode_dense", "run-a", rows, STARTED,
                      columns=COLUMNS + ["time_step_graph_us"])
            drawings, _ = drawn(figures_latency.plot_decode_breakdown, results)
            graph_label = next(label for label in drawings[0].labels
                               if label.startswith("time_step_graph_us"))
            self.assertEqual([tuple(p) for p in drawings[0].points[graph_label]], [(1.0, 3.25)])
            kernel_sum = next(label for label in drawings[0].labels
                              if label.startswith("time_us"))
            self.assertEqual([round(y, 6) for _, y in drawings[0].points[kernel_sum]],
                             [round(row["time_us"], 6) for row in rows])

    def test_no_graph_marker_without_the_column(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "decode_dense", "run-a", decode_rows(["dense"], [4000], [1]),
                      STARTED)
            drawings, _ = drawn(figures_latency.plot_decode_breakdown, results)
            self.assertFalse(any(label.startswith("time_step_graph_us")
                                 for label in drawings[0].labels))


class StoppedRunTest(unittest.TestCase):
    def test_a_run_without_an_end_time_is_named_in_the_caption(self):
        with tempfile.TemporaryDirectory() as results:
            run_dir = write_run(results, "quant_decode_dense", "run-a", quant_decode_rows(),
                                STARTED)
            drawings, _ = drawn(figures_quant.plot_quant_decode_speedup, results)
            self.assertIn("stopped before its end", drawings[0].title)
            write_meta(run_dir, {"run_id": "run-a", "start_time_utc": STARTED,
                                 "end_time_utc": LATER})
            drawings, _ = drawn(figures_quant.plot_quant_decode_speedup, results)
            self.assertNotIn("stopped before its end", drawings[0].title)

    def test_a_run_without_meta_is_not_called_stopped(self):
        with tempfile.TemporaryDirectory() as results:
            run_dir = write_run(results, "decode_dense", "run-a", [])
            self.assertFalse(figures_runs.stopped_before_end(run_dir))


class QuantTargetTest(unittest.TestCase):
    def test_every_drawn_dtype_with_a_target_gets_its_tick_and_label(self):
        self.assertEqual(figures_quant.target_label(["fp16", "int8", "int4", "fp8"]),
                         "target: int8 1.85x, int4 3x, fp8 1.9x")
        self.assertEqual(figures_quant.target_label(["fp16", "int4"]), "target: int4 3x")
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "quant_decode_dense", "run-a", quant_decode_rows(), STARTED)
            drawings, _ = drawn(figures_quant.plot_quant_decode_speedup, results)
            self.assertIn("target: int8 1.85x, int4 3x, fp8 1.9x", drawings[0].labels)


class WholeFolderTest(unittest.TestCase):
    def test_every_figure_still_draws_with_a_variant_run_present(self):
        with tempfile.TemporaryDirectory() as results:
            full_results(results)
            write_run(results, "prefill_dense", "gpu-a-sm80", prefill_rows()[:2], LATER)
            written, printed = quietly(figures.make_figures, results, os.path.join(results, "f"))
            self.assertIn("d_prefill_latency_vs_context.png",
                          [os.path.basename(path) for path in written])
            self.assertIn(os.path.join("prefill_dense", "gpu-a-sm80"), printed)


if __name__ == "__main__":
    unittest.main()
