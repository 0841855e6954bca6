"""The KV-quantization figures (g)-(i) on tiny synthetic results folders: speedups over fp16, the
device ceiling, the page size table's ratios, the quant_paging_cpu fallback, skip reasons."""

import os
import tempfile
import unittest

import pandas as pd

from analysis import figures, figures_quant
from analysis.errors import InputError
from analysis.tests.figure_results import (COLUMNS, H200, names, ok_points_of, quant_decode_rows,
                                           quant_page_rows, quant_page_time, quant_paging_rows,
                                           quant_results, quietly, write_run)


class QuantFiguresTest(unittest.TestCase):
    def test_decode_speedup_figure_and_values(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "quant_decode_dense", "gpu-a", quant_decode_rows(),
                      "2026-11-28T10:00:00Z")
            written, printed = quietly(figures_quant.plot_quant_decode_speedup, results, results)
            self.assertEqual(names(written), ["g_quant_decode_speedup.pdf",
                                              "g_quant_decode_speedup.png"])
            self.assertIn("quant_decode_dense/gpu-a", printed)
            self.assertNotIn("CPU", printed)
            rows = ok_points_of(os.path.join(results, "quant_decode_dense", "gpu-a"))
            speedups = figures_quant.speedups_over_fp16(rows)
            self.assertAlmostEqual(speedups["fp16"], 1.0)
            self.assertAlmostEqual(speedups["int4"], 2400.0 / 750.0)  # the failed row is not read
            self.assertAlmostEqual(speedups["int8"], 2400.0 / 1300.0)
            self.assertEqual(figures_quant.speedups_over_fp16(rows[rows["kv_dtype"] != "fp16"]), {})

    def test_device_ceiling_from_the_devices_folder(self):
        with tempfile.TemporaryDirectory() as devices:
            with open(os.path.join(devices, "h200.yaml"), "w") as handle:
                handle.write("# measured\nhbm_gbps: 4100.5\ntensor_tflops: 700\n")
            with open(os.path.join(devices, "cpu.yaml"), "w") as handle:
                handle.write("hbm_gbps: 0\ntensor_tflops: 0\n")
            def ceiling(*devices_column):
                points = pd.DataFrame({"device": list(devices_column)})
                return figures_quant.hbm_ceiling_gbps(points, devices)

            self.assertEqual(ceiling(H200), 4100.5)
            self.assertIsNone(ceiling("cpu (2 threads)"))  # 0 = unknown
            self.assertIsNone(ceiling("NVIDIA H100"))
            self.assertIsNone(ceiling(H200, "other"))
            self.assertIsNone(ceiling(float("nan")))
            with open(os.path.join(devices, "h200.yaml"), "w") as handle:
                handle.write("hbm_gbps: [4100\n")
            with self.assertRaisesRegex(InputError, "h200.yaml"):
                ceiling(H200)

    def test_page_size_figure_and_table_ratio(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "quant_page_size", "gpu-a", quant_page_rows(),
                      "2026-11-28T10:00:00Z")
            written, _ = quietly(figures_quant.plot_quant_latency_vs_page_size, results, results)
            self.assertEqual(names(written), ["h_quant_latency_vs_page_size.pdf",
                                              "h_quant_latency_vs_page_size.png",
                                              "quant_page_table.md"])
            with open(os.path.join(results, "quant_page_table.md"), encoding="utf-8") as handle:
                table = handle.read()
            self.assertIn("| context | KV dtype | page 16 | page 32 | page 64 | page 128 | "
                          "page 16 / page 128 |", table)
            self.assertIn("batch 5", table)
            lines = [line for line in table.splitlines() if line.startswith(("| 3000", "| 12288"))]
            self.assertEqual(len(lines), 2 * 4)  # context x kv_dtype; no line for the skipped bf16
            self.assertEqual([line.split(" | ")[1] for line in lines[:4]],
                             ["fp16", "int8", "int4", "fp8"])
            for context in [3000, 12288]:
                for dtype in ["fp16", "int4"]:
                    line = next(line for line in lines
                                if line.startswith(f"| {context} | {dtype} |"))
                    cells = [cell.strip() for cell in line.strip("|").split("|")]
                    ratio = (quant_page_time(context, 16, dtype) /
                             quant_page_time(context, 128, dtype))
                    self.assertEqual(cells[-1], f"{ratio:.2f}")  # the failed 1e9 row is not read
                    self.assertEqual(cells[2], f"{quant_page_time(context, 16, dtype):.4g}")

    def test_paging_figure_prefers_the_gpu_sweep(self):
        with tempfile.TemporaryDirectory() as results:
            quant_results(results)  # quant_paging_cpu is newer but is not the same sweep
            written, printed = quietly(figures_quant.plot_quant_paging_accuracy, results, results)
            self.assertEqual(names(written), ["i_quant_paging_accuracy.pdf",
                                              "i_quant_paging_accuracy.png"])
            self.assertIn("quant_paging/gpu-a", printed)
            self.assertNotIn("quant_paging_cpu", printed)
            rows = ok_points_of(os.path.join(results, "quant_paging", "gpu-a"))
            self.assertEqual(figures_quant.paging_panels(rows),
                             ["out_rel_l2_mean", "needle_hit", "time_us"])

    def test_paging_figure_falls_back_to_the_cpu_sweep(self):
        with tempfile.TemporaryDirectory() as results:
            write_run(results, "quant_paging_cpu", "cpu-a",
                      quant_paging_rows("cpu", ("fp16", "int8", "int4", "fp8")),
                      "2026-11-28T11:00:00Z")
            written, printed = quietly(figures_quant.plot_quant_paging_accuracy, results, results)
            self.assertIn("i_quant_paging_accuracy.png", names(written))
            self.assertIn("CPU backend (quant_paging_cpu): no GPU run of quant_paging", printed)
            rows = ok_points_of(os.path.join(results, "quant_paging_cpu", "cpu-a"))
            self.assertEqual(figures_quant.paging_panels(rows), ["out_rel_l2_mean", "needle_hit"])

    def test_missing_quant_data_is_skipped_with_a_reason(self):
        with tempfile.TemporaryDirectory() as results:
            out = os.path.join(results, "f")
            os.makedirs(out)
            for function in [figures_quant.plot_quant_decode_speedup,
                             figures_quant.plot_quant_latency_vs_page_size,
                             figures_quant.plot_quant_paging_accuracy]:
                self.assertEqual(quietly(function, results, out)[0], [])
            _, printed = quietly(figures.make_figures, results, out)
            self.assertIn("figure (g): skipped: no run of quant_decode_dense", printed)
            self.assertIn("figure (h): skipped: no run of quant_page_size", printed)
            self.assertIn("figure (i): skipped: no run of quant_paging nor quant_paging_cpu",
                          printed)

            # Every point skipped by the backend (a kernel not there yet): nothing to draw.
            skipped = [dict(row, status="skipped", reason="kv_dtype int8 is not implemented")
                       for row in quant_decode_rows()]
            write_run(results, "quant_decode_dense", "gpu-a", skipped, "2026-11-28T10:00:00Z")
            # Rows without a time: no latency to draw.
            write_run(results, "quant_page_size", "gpu-a", quant_page_rows(),
                      "2026-11-28T10:00:00Z",
                      columns=[c for c in COLUMNS if c != "time_us"])
            # Only kv dtypes (i) does not draw.
            write_run(results, "quant_paging", "gpu-a", quant_paging_rows(dtypes=("int8",)),
                      "2026-11-28T10:00:00Z")
            written, printed = quietly(figures.make_figures, results, out)
            self.assertFalse([path for path in written
                              if os.path.basename(path).startswith(("g_", "h_", "i_", "quant_"))])
            self.assertIn("figure (g): skipped: no ok cuda or cpu rows in quant_decode_dense",
                          printed)
            self.assertIn("figure (h): skipped: no rows with a time_us", printed)
            self.assertIn("figure (i): skipped: no rows with kv_dtype fp16 or int4", printed)


if __name__ == "__main__":
    unittest.main()
