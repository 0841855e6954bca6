#!/usr/bin/env python3
"""Paper-style figures from the committed results, newest run of each sweep.

    python -m analysis.figures [--results results] [--out results/figures]

Writes PNG and PDF of each figure into OUT, plus OUT/reuse_table.md, OUT/quant_page_table.md and
OUT/real_paging_table.md:
  (a) a_accuracy_vs_page_size        flat vs hierarchical pages at one budget (decode_tradeoff,
                                     synthetic workload)
      a_real_accuracy_vs_page_size   the same on real traces (real_tradeoff_*, every layer), Quest
                                     flat, Quest logical 16 and the oracle
  (b) b_accuracy_vs_reuse_interval   accuracy vs reuse interval at two budgets (decode_tradeoff)
      b_real_accuracy_vs_reuse_interval  the same on real traces
  (c) c_decode_latency_vs_context    decode step time per mode, batch panels, torch SDPA reference
  (d) d_prefill_latency_vs_context   dense and streaming prefill beside SDPA flash/cuDNN and Flex
  (e) e_decode_latency_breakdown     stacked per-phase decode step time per mode and context
  (f) f_pareto_accuracy_latency      accuracy-latency Pareto front over the trade-off knobs
      f_real_pareto_accuracy_bytes   real-trace accuracy against the modelled bytes per step
  (g) g_quant_decode_speedup         dense decode step time per KV dtype, speedup over fp16, GB/s
  (h) h_quant_latency_vs_page_size   step time vs page size per KV dtype and context (LServe Table 1)
  (i) i_quant_paging_accuracy        flat vs hierarchical paging with fp16 and int4 KV (quant_paging,
                                     else the CPU run quant_paging_cpu)
  (j) j_needle_map                   passkey accuracy over context x depth with the plan in the model
  (k) k_model_vs_budget              passkey accuracy and perplexity KL vs budget per page layout
                                     (analysis/figures_model.py)
A figure whose GPU runs are missing is drawn from CPU rows (the title says so); one whose data is
missing altogether is skipped with a printed reason. Prints which run each figure used and the
files written.
"""

import argparse
import os
import sys

from analysis.errors import InputError
from analysis.figures_accuracy import plot_page_size_accuracy, plot_reuse_accuracy
from analysis.figures_model import plot_model_vs_budget, plot_needle_map
from analysis.figures_latency import (plot_decode_breakdown, plot_decode_latency,
                                      plot_prefill_latency)
from analysis.figures_pareto import plot_pareto
from analysis.figures_quant import (plot_quant_decode_speedup, plot_quant_latency_vs_page_size,
                                    plot_quant_paging_accuracy)
from analysis.figures_runs import runs_read
from analysis.results import load_run

FIGURES = [plot_page_size_accuracy, plot_reuse_accuracy, plot_decode_latency, plot_prefill_latency,
           plot_decode_breakdown, plot_pareto, plot_quant_decode_speedup,
           plot_quant_latency_vs_page_size, plot_quant_paging_accuracy, plot_needle_map,
           plot_model_vs_budget]


def make_figures(results_dir, out_dir):
    """Draws every figure it has data for; returns the paths written. Every run a figure may read is
    loaded first, so that a file that cannot be read stops it (InputError) before anything is
    written."""
    for run_dir in runs_read(results_dir):
        load_run(run_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for figure_function in FIGURES:
        written += figure_function(results_dir, out_dir)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m analysis.figures",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results", help="folder of <sweep>/<run-id>/ runs")
    parser.add_argument("--out", default=None, help="output folder (default RESULTS/figures)")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.results):
        parser.error(f"{args.results} is not a folder")
    try:
        written = make_figures(args.results, args.out or os.path.join(args.results, "figures"))
    except InputError as error:
        print(f"figures: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
