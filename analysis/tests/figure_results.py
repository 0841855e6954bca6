"""Tiny synthetic results folders for the figures' tests (fixed seeds): the decode trade-off,
decode and prefill latency, torch peers and KV-quantization sweeps, written as the C++ writes
them."""

import contextlib
import io
import os
import random
from dataclasses import dataclass
from unittest import mock

from analysis import figures_latency, style
from analysis.results import load_run, ok_points
from analysis.tests.synthetic_runs import write_meta, write_points_csv

COLUMNS = ["sweep", "point_id", "status", "reason", "phase", "backend", "mode", "context_len",
           "batch", "page_size", "logical_page_size", "token_budget", "reuse_interval", "streaming_fraction",
           "local_tokens", "block_size", "kv_dtype", "out_rel_l2_mean", "attn_recall",
           "page_recall", "needle_hit", "time_us", "time_us_min", "time_us_max", "achieved_gbps",
           "device"] + figures_latency.PHASES
H200 = "NVIDIA H200, 132 SMs, sm 1980 MHz / mem 3201 MHz, L2 60 MB"
# Step time in µs per KV dtype of the synthetic quant_decode_dense run.
QUANT_STEP_US = {"fp16": 2400.0, "int8": 1300.0, "int4": 750.0, "fp8": 1250.0}


def write_run(results_dir, sweep, run_id, rows, start_time=None, columns=COLUMNS, axes=()):
    """A run of sweep whose rows are ok unless they say otherwise; axes are written as axis.<key>
    columns too, as the C++ does."""
    run_dir = os.path.join(results_dir, sweep, run_id)
    os.makedirs(run_dir)
    write_points_csv(run_dir, [{"sweep": sweep, "point_id": point_id, "status": "ok", **row,
                                **{"axis." + axis: row.get(axis, "") for axis in axes}}
                               for point_id, row in enumerate(rows)],
                     list(columns) + ["axis." + axis for axis in axes])
    if start_time:
        write_meta(run_dir, {"run_id": run_id, "start_time_utc": start_time})
    return run_dir


def ok_points_of(run_dir):
    return ok_points(load_run(run_dir))


TRADEOFF_AXES = ("context_len", "page_size", "logical_page_size", "token_budget", "reuse_interval")


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
                            row.update(attn_recall=rng.uniform(0.5, 1),
                                       needle_hit=rng.uniform(0, 1),
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
    write_run(results_dir, "decode_tradeoff", "gpu-a", tradeoff_rows(), "2026-11-28T10:00:00Z",
              axes=TRADEOFF_AXES)
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


@dataclass
class Drawing:
    """What a figure shows: its title, its legend's labels, and the points of each labelled line
    or marker set ({label: [(x, y), ...]}, over every panel)."""
    title: str
    labels: list
    points: dict


def drawn(function, results_dir):
    """([Drawing of each figure function(results_dir, results_dir) saved], what it printed); the
    figures are read instead of written."""
    drawings = []

    def keep(figure, path_without_extension, formats=("png", "pdf")):
        drawings.append(drawing_of(figure))
        style.plt.close(figure)
        return [f"{path_without_extension}.{extension}" for extension in formats]

    with mock.patch.object(style, "save", keep):
        _, printed = quietly(function, results_dir, results_dir)
    return drawings, printed


def drawing_of(figure):
    """The Drawing of a matplotlib figure."""
    points = {}
    for axes in figure.axes:
        for line in axes.get_lines():
            points.setdefault(line.get_label(), []).extend(zip(line.get_xdata(), line.get_ydata()))
        for collection in axes.collections:
            points.setdefault(collection.get_label(), []).extend(
                tuple(offset) for offset in collection.get_offsets())
    labels = [text.get_text() for legend in figure.legends for text in legend.get_texts()]
    return Drawing(figure.get_suptitle(), labels, points)


def quietly(function, *args):
    """(function's result, what it printed)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = function(*args)
    return result, printed.getvalue()


def names(paths):
    return sorted(os.path.basename(path) for path in paths)
