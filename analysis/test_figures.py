"""figures.py on tiny synthetic results folders (fixed seed): each figure writes its files, the newest
run of a sweep is the one read, CPU rows stand in for missing GPU runs, missing columns and rows are
skipped, the Pareto front of a hand-made case, and the KV-quantization figures (speedups, the page
size table's ratios, the quant_paging_cpu fallback, skip reasons)."""

import contextlib
import csv
import io
import json
import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import figures  # noqa: E402
import figures_accuracy  # noqa: E402
import figures_latency  # noqa: E402
import figures_pareto  # noqa: E402
import figures_quant  # noqa: E402
import figures_runs  # noqa: E402

COLUMNS = ["sweep", "point_id", "status", "reason", "phase", "backend", "mode", "context_len", "batch",
           "page_size", "logical_page_size", "token_budget", "reuse_interval", "streaming_fraction",
           "local_tokens", "block_size", "kv_dtype", "out_rel_l2_mean", "attn_recall",
           "page_recall", "needle_hit", "time_us", "time_us_min", "time_us_max", "achieved_gbps",
           "device"] + figures_latency.PHASES
H200 = "NVIDIA H200, 132 SMs, sm 1980 MHz / mem 3201 MHz, L2 60 MB"
# Step time in µs per KV dtype of the synthetic quant_decode_dense run.
QUANT_STEP_US = {"fp16": 2400.0, "int8": 1300.0, "int4": 750.0, "fp8": 1250.0}


def write_run(results_dir, sweep, run_id, rows, start_time=None, columns=COLUMNS):
    run_dir = os.path.join(results_dir, sweep, run_id)
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "points.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for point_id, row in enumerate(rows):
            writer.writerow({**dict.fromkeys(columns, ""), "sweep": sweep, "point_id": point_id,
                             "status": "ok", **row})
    if start_time:
        with open(os.path.join(run_dir, "meta.json"), "w") as handle:
            json.dump({"run_id": run_id, "start_time_utc": start_time}, handle)
    return run_dir


def tradeoff_rows(backend="cuda", rng=None, budgets=(960, 1920)):
    """page 16/32/64 x logical 16/page x budget x reuse 1/3, two odd contexts; some skipped."""
    rng = rng or random.Random(11)
    rows = []
    for context in [5000, 12288]:
        for page in [16, 32, 64]:
            for logical in sorted({16, page, 8}):
                for budget in budgets:
                    for reuse in [1, 3]:
                        row = dict(phase="decode", backend=backend, mode="static+dynamic",
                                   context_len=context, batch=1, page_size=page,
                                   logical_page_size=logical, token_budget=budget,
                                   reuse_interval=reuse)
                        if logical == 8 and page == 64:
                            row.update(status="skipped", reason="synthetic skip")
                        else:
                            row.update(attn_recall=rng.uniform(0.5, 1), needle_hit=rng.uniform(0, 1),
                                       out_rel_l2_mean=rng.uniform(0, 0.2),
                                       page_recall=rng.uniform(0.4, 1),
                                       time_us=rng.uniform(20, 90))
                        rows.append(row)
    return rows


def decode_rows(modes, contexts, batches, backend="cuda"):
    rows = []
    for mode in modes:
        for context in contexts:
            for batch in batches:
                phases = {"time_attention_us": context / 1000 * batch, "time_merge_us": 3.0,
                          "time_stats_us": 1.5}
                if mode in ("dynamic", "static+dynamic"):
                    phases.update(time_selector_us=4.0, time_topk_us=2.5)
                rows.append(dict(phase="decode", backend=backend, mode=mode, context_len=context,
                                 batch=batch, page_size=64, logical_page_size=16, token_budget=4096,
                                 reuse_interval=4, time_us=sum(phases.values()) + 1, **phases))
    return rows


def peer_rows(phase, backends, contexts, **extra):
    return [dict(phase=phase, backend=backend, mode="dense", context_len=context, batch=1,
                 time_us=context / 100 + index, **extra)
            for index, backend in enumerate(backends) for context in contexts]


def prefill_rows():
    rows = [dict(phase="prefill", backend="cuda", mode="dense", context_len=c, batch=1,
                 streaming_fraction=0.5, block_size=b, time_us=c * b / 10)
            for c in [3000, 9000] for b in [64, 128]]
    rows += [dict(phase="prefill", backend="cuda", mode="static", context_len=c, batch=1,
                  streaming_fraction=f, local_tokens=w, block_size=128, time_us=c * f + w)
             for c in [3000, 9000] for f in [0.5, 1.0] for w in [1024, 4096]]
    return rows


def quant_decode_rows(backend="cuda"):
    """quant_decode_dense at one odd shape, plus a failed int4 row that must not be read."""
    rows = [dict(phase="decode", backend=backend, mode="dense", context_len=12288, batch=3,
                 page_size=64, kv_dtype=dtype, time_us=time, achieved_gbps=9.0e6 / time,
                 out_rel_l2_mean=0.01, device=H200)
            for dtype, time in QUANT_STEP_US.items()]
    rows.append(dict(phase="decode", backend=backend, mode="dense", context_len=12288, batch=3,
                     page_size=64, kv_dtype="int4", status="failed", reason="out of memory",
                     time_us=1.0))
    return rows


def quant_page_time(context, page, dtype):
    """Synthetic step time: proportional to the bytes, plus a per-page overhead."""
    width = {"fp16": 2.0, "int8": 1.0, "int4": 0.5, "fp8": 1.0}[dtype]
    return context * width / 50 + 2 * context / page


def quant_page_rows(backend="cuda"):
    """context 3000/12288 x page 16..128 x kv_dtype, with a skipped row and a failed row."""
    rows = [dict(phase="decode", backend=backend, mode="dense", context_len=context, batch=5,
                 page_size=page, kv_dtype=dtype, time_us=quant_page_time(context, page, dtype))
            for context in [3000, 12288] for page in [16, 32, 64, 128]
            for dtype in ["fp16", "int8", "int4", "fp8"]]
    rows.append(dict(phase="decode", backend=backend, mode="dense", context_len=3000, batch=5,
                     page_size=16, kv_dtype="fp16", status="failed", reason="CUDA error",
                     time_us=1e9))
    rows.append(dict(phase="decode", backend=backend, mode="dense", context_len=3000, batch=5,
                     page_size=16, kv_dtype="bf16", status="skipped", reason="not implemented"))
    return rows


def quant_paging_rows(backend="cuda", dtypes=("fp16", "int4"), rng=None):
    """kv_dtype x page 16..128 x logical 16..128 (logical > page skipped), dynamic decode."""
    rng = rng or random.Random(5)
    rows = []
    for dtype in dtypes:
        for page in [16, 32, 64, 128]:
            for logical in [16, 32, 64, 128]:
                row = dict(phase="decode", backend=backend, mode="dynamic", context_len=9000,
                           batch=2, page_size=page, logical_page_size=logical, token_budget=1024,
                           reuse_interval=4, kv_dtype=dtype)
                if logical > page:
                    row.update(status="skipped", reason="logical_page_size > page_size")
                else:
                    row.update(out_rel_l2_mean=rng.uniform(0, 0.5), needle_hit=rng.uniform(0, 1),
                               time_us=rng.uniform(100, 400))
                rows.append(row)
    return rows


def quant_results(results_dir):
    write_run(results_dir, "quant_decode_dense", "gpu-a", quant_decode_rows(),
              "2026-11-28T10:00:00Z")
    write_run(results_dir, "quant_page_size", "gpu-a", quant_page_rows(), "2026-11-28T10:00:00Z")
    write_run(results_dir, "quant_paging", "gpu-a", quant_paging_rows(), "2026-11-28T10:00:00Z")
    write_run(results_dir, "quant_paging_cpu", "cpu-a",
              quant_paging_rows("cpu", ("fp16", "int8", "int4", "fp8")), "2026-11-28T11:00:00Z")


def full_results(results_dir):
    write_run(results_dir, "decode_tradeoff", "gpu-a", tradeoff_rows(), "2026-11-28T10:00:00Z")
    write_run(results_dir, "decode_dense", "gpu-a",
              decode_rows(["dense"], [4000, 16000], [1, 3]), "2026-11-28T10:00:00Z")
    write_run(results_dir, "decode_dense_odd", "gpu-a",
              decode_rows(["dense"], [60000], [1]), "2026-11-28T10:00:00Z")
    write_run(results_dir, "decode_sparse", "gpu-a",
              decode_rows(["static", "dynamic", "static+dynamic"], [4000, 16000], [1, 3]),
              "2026-11-28T10:00:00Z")
    write_run(results_dir, "peers_decode", "gpu-a",
              peer_rows("decode", ["torch_sdpa_flash", "torch_sdpa_cudnn"], [4000, 16000]))
    write_run(results_dir, "prefill_dense", "gpu-a", prefill_rows()[:4], "2026-11-28T10:00:00Z")
    write_run(results_dir, "prefill_streaming", "gpu-a", prefill_rows()[4:], "2026-11-28T10:00:00Z")
    write_run(results_dir, "prefill_tradeoff", "gpu-a", [], "2026-11-28T10:00:00Z")
    peers = peer_rows("prefill", ["torch_sdpa_flash", "torch_sdpa_cudnn", "torch_flex"],
                      [3000, 9000], streaming_fraction=0.0)
    peers += [dict(phase="prefill", backend="torch_flex", mode="static", context_len=c, batch=1,
                   streaming_fraction=1.0, local_tokens=1024, time_us=c / 50) for c in [3000, 9000]]
    peers.append(dict(phase="prefill", backend="torch_sdpa_flash", mode="static", context_len=3000,
                      status="skipped", reason="no block mask"))
    write_run(results_dir, "peers_prefill", "gpu-a", peers)
    quant_results(results_dir)


def quietly(function, *args):
    """(function's result, what it printed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = function(*args)
    return result, printed.getvalue()


def names(paths):
    return sorted(os.path.basename(path) for path in paths)


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
        rows = [{"token_budget": b} for b in ["960", "1920", "4096.0"]]
        self.assertEqual(figures_runs.pin(rows, "token_budget", "4096")[1], "4096.0")
        rows = rows[:2]
        self.assertEqual(figures_runs.pin(rows, "token_budget", "4096", "largest")[1], "1920")
        pinned, notes = figures_runs.pin_unplotted(
            [{"page_size": p, "reuse_interval": r} for p in ["32", "64"] for r in ["1", "5"]],
            {"reuse_interval"})
        self.assertEqual(notes, ["page_size=64"])
        self.assertEqual([row["reuse_interval"] for row in pinned], ["1", "5"])

    def test_two_budgets(self):
        self.assertEqual(figures_accuracy.two_budgets(["1024", "2048", "4096", "8192"]),
                         ["2048", "4096"])
        self.assertEqual(figures_accuracy.two_budgets(["960", "1920"]), ["960", "1920"])
        self.assertEqual(figures_accuracy.two_budgets(["4096", "8192"]), ["4096", "8192"])
        self.assertEqual(figures_accuracy.two_budgets(["512"]), ["512"])


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
            source = figures_runs.gpu_rows_or_cpu(results, ["decode_tradeoff"], "decode")
            self.assertTrue(source.rows)
            self.assertIn("CPU backend", source.note)
            self.assertEqual({row["backend"] for row in source.rows}, {"cpu"})

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

    def test_empty_results_folder_writes_nothing(self):
        with tempfile.TemporaryDirectory() as results:
            written, printed = quietly(figures.make_figures, results, os.path.join(results, "f"))
            self.assertEqual(written, [])
            self.assertEqual(printed.count("skipped"), 9)


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
            rows = figures_runs.rows_of([os.path.join(results, "quant_decode_dense", "gpu-a")],
                                        lambda row: True)[0]
            speedups = figures_quant.speedups_over_fp16(rows)
            self.assertAlmostEqual(speedups["fp16"], 1.0)
            self.assertAlmostEqual(speedups["int4"], 2400.0 / 750.0)  # the failed row is not read
            self.assertAlmostEqual(speedups["int8"], 2400.0 / 1300.0)
            self.assertEqual(figures_quant.speedups_over_fp16(
                [row for row in rows if row["kv_dtype"] != "fp16"]), {})

    def test_device_ceiling_from_the_devices_folder(self):
        with tempfile.TemporaryDirectory() as devices:
            with open(os.path.join(devices, "h200.yaml"), "w") as handle:
                handle.write("# measured\nhbm_gbps: 4100.5\ntensor_tflops: 700\n")
            with open(os.path.join(devices, "cpu.yaml"), "w") as handle:
                handle.write("hbm_gbps: 0\ntensor_tflops: 0\n")
            ceiling = figures_quant.hbm_ceiling_gbps
            self.assertEqual(ceiling([{"device": H200}], devices), 4100.5)
            self.assertIsNone(ceiling([{"device": "cpu (2 threads)"}], devices))  # 0 = unknown
            self.assertIsNone(ceiling([{"device": "NVIDIA H100"}], devices))
            self.assertIsNone(ceiling([{"device": H200}, {"device": "other"}], devices))
            self.assertIsNone(ceiling([{"device": ""}], devices))

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
            rows = figures_runs.rows_of([os.path.join(results, "quant_paging", "gpu-a")],
                                        lambda row: True)[0]
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
            rows = figures_runs.rows_of([os.path.join(results, "quant_paging_cpu", "cpu-a")],
                                        lambda row: True)[0]
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
