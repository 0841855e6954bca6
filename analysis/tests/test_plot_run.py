"""plot_run on small synthetic runs: figures per swept axis, means over non-empty cells, series
choice, every averaged axis named in the title (layers always averaged), bad input refused."""

import contextlib
import io
import os
import tempfile
import unittest
from unittest import mock

import pandas as pd

from analysis import plot_run
from analysis.params import param_table
from analysis.tests.odd_run import ODD_AXES, write_odd_run


def suptitles_of(run_dir):
    """{figure file stem: its title} of the figures plot_run draws for run_dir (not saved)."""
    titles = {}

    def recording_save(figure, path_without_extension):
        titles[os.path.basename(path_without_extension)] = figure.get_suptitle()
        plot_run.style.plt.close(figure)
        return [path_without_extension]

    with mock.patch.object(plot_run.style, "save", side_effect=recording_save):
        plot_run.plot_run(run_dir)
    return titles


class PlotRunTest(unittest.TestCase):
    def test_writes_accuracy_and_latency_figures_per_swept_axis(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_odd_run(folder)
            written = plot_run.plot_run(run_dir)
            names = sorted(os.path.basename(path) for path in written)
            expected = sorted(f"{kind}_vs_{axis}.{extension}"
                              for kind in ["accuracy", "latency"] for axis in ODD_AXES
                              for extension in ["png", "pdf"])
            self.assertEqual(names, expected)
            for path in written:
                self.assertTrue(path.startswith(os.path.join(run_dir, "figures")))
                self.assertGreater(os.path.getsize(path), 1000)

    def test_no_latency_figure_without_times(self):
        with tempfile.TemporaryDirectory() as folder:
            written = plot_run.plot_run(write_odd_run(folder, with_time=False))
            self.assertTrue(written)
            self.assertFalse([p for p in written if "latency" in p])

    def test_means_skip_empty_cells(self):
        points = pd.DataFrame({"backend": ["cpu"] * 3, "page_size": [16, 16, 32],
                               "attn_recall": [0.5, 1.0, float("nan")]})
        means = plot_run.line_means(points, "page_size", None, "attn_recall")
        self.assertEqual(means.loc["cpu"].dropna().to_dict(), {16: 0.75})

    def test_series_prefers_the_paired_page_axis(self):
        axes = ["page_size", "logical_page_size", "token_budget"]
        self.assertEqual(plot_run.series_axis("page_size", axes), "logical_page_size")
        self.assertEqual(plot_run.series_axis("token_budget", axes), "page_size")
        self.assertEqual(plot_run.series_axis("page_size", ["page_size"]), None)
        self.assertEqual(plot_run.series_axis("batch", ["batch", "kv_dtype"]), "kv_dtype")
        self.assertEqual(plot_run.series_axis("page_size", ["page_size", "layer"]), None)

    def test_every_averaged_axis_is_named_in_the_title(self):
        with tempfile.TemporaryDirectory() as folder:
            # sink_tokens was missing from the old list of plotted axes: it was averaged silently.
            titles = suptitles_of(write_odd_run(folder, extra_axis=("sink_tokens", [64, 128])))
            table = param_table(None)
            self.assertIn("latency_vs_sink_tokens", titles)
            self.assertIn("mean over budget, " + table.at["sink_tokens", "short"],
                          titles["accuracy_vs_page_size"])
            self.assertIn("mean over logical, budget", titles["accuracy_vs_sink_tokens"])

    def test_layers_are_averaged_never_drawn(self):
        with tempfile.TemporaryDirectory() as folder:
            titles = suptitles_of(write_odd_run(folder, extra_axis=("layer", [0, 1, 2])))
            self.assertEqual(sorted(titles), sorted(f"{kind}_vs_{axis}" for axis in ODD_AXES
                                                    for kind in ["accuracy", "latency"]))
            self.assertIn("mean over budget, layer", titles["accuracy_vs_page_size"])

    def test_bad_input_exits_2_and_writes_nothing(self):
        with tempfile.TemporaryDirectory() as folder:
            run_dir = write_odd_run(folder)
            with open(os.path.join(run_dir, "points.csv"), "a", encoding="utf-8") as handle:
                handle.write("odd,99,ok,,decode,cpu,static+dynamic,16,16,448,4\n"
                             "odd,100,ok,too,many,cells" + ",x" * 30 + "\n")
            printed = io.StringIO()
            with contextlib.redirect_stderr(printed):
                self.assertEqual(plot_run.main([run_dir]), 2)
            self.assertIn(os.path.join(run_dir, "points.csv"), printed.getvalue())
            self.assertIn("line", printed.getvalue())
            self.assertFalse(os.path.exists(os.path.join(run_dir, "figures")))
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(plot_run.main([os.path.join(folder, "absent")]), 2)


if __name__ == "__main__":
    unittest.main()
