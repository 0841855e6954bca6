"""The model-level figures' grouping (analysis/figures_model.py): what (j) puts in each panel and
which rows (k) averages into each line, on rows made here."""

import itertools
import unittest

import numpy as np
import pandas as pd

from analysis.figures_model import budget_lines, settings


def budget_rows(selectors=("quest", "oracle"), kv_dtypes=("fp32",), seed=0):
    """One row per (selector, kv_dtype, layout, budget, depth) with a random accuracy."""
    generator = np.random.default_rng(seed)
    rows = []
    for selector, kv_dtype, (page, logical), budget, depth in itertools.product(
            selectors, kv_dtypes, [(16, 16), (64, 16)], [128, 256, 512], [0.5, 0.9]):
        rows.append(dict(selector=selector, kv_dtype=kv_dtype, page_size=page,
                         logical_page_size=logical, token_budget=budget, passkey_depth=depth,
                         accuracy=float(generator.integers(0, 2))))
    return pd.DataFrame(rows)


class BudgetLinesTest(unittest.TestCase):
    def test_a_swept_selector_gets_lines_of_its_own(self):
        rows = budget_rows()
        lines = budget_lines(rows, "accuracy")
        self.assertEqual(len(lines), 2 * 2)  # layouts x selectors
        for line in lines:
            selector = "oracle" if "selector oracle" in line.name else "quest"
            page = 16 if line.name.startswith("page 16 ") else 64
            own = rows[(rows.selector == selector) & (rows.page_size == page)]
            expected = own.groupby("token_budget")["accuracy"].mean()
            np.testing.assert_allclose(line.values.to_numpy(), expected.to_numpy())
            self.assertEqual(line.variant_index, 0 if selector == "quest" else 1)

    def test_a_single_kv_format_and_selector_split_nothing(self):
        rows = budget_rows(selectors=("quest",))
        lines = budget_lines(rows, "accuracy")
        self.assertEqual([line.layout_index for line in lines], [0, 1])
        self.assertTrue(all("selector" not in line.name and "KV" not in line.name for line in lines))
        self.assertTrue(all(line.variant_index == 0 for line in lines))

    def test_kv_formats_split_in_the_runs_order(self):
        rows = budget_rows(selectors=("quest",), kv_dtypes=("fp32", "int4"))
        lines = budget_lines(rows, "accuracy")
        self.assertEqual(len(lines), 2 * 2)
        for line in lines:
            self.assertEqual(line.variant_index, 1 if line.name.endswith("KV int4") else 0)


class NeedlePanelsTest(unittest.TestCase):
    def test_dense_is_one_panel_and_each_sparse_budget_another(self):
        rows = []
        for mode, budget, context, depth in itertools.product(
                ["dense", "static+dynamic"], [1024, 128], [1024, 2048, 4096], [0.1, 0.9]):
            rows.append(dict(mode=mode, token_budget=budget, context_len=context,
                             passkey_depth=depth, page_size=64, logical_page_size=16,
                             reuse_interval=4, streaming_fraction=0.5, head_selection="calibrated",
                             accuracy=1.0))
        panels = settings(pd.DataFrame(rows))
        self.assertEqual([title.split(",")[0] for title, _ in panels],
                         ["dense", "static+dynamic", "static+dynamic"])
        self.assertIn("budget 1024", panels[1][0])
        self.assertIn("budget 128", panels[2][0])
        # The dense panel holds one budget (the budget does not apply to dense points): one row
        # per context x depth, every context of every run.
        self.assertEqual(len(panels[0][1]), 3 * 2)
        self.assertEqual(sorted(panels[0][1]["context_len"].unique()), [1024, 2048, 4096])


if __name__ == "__main__":
    unittest.main()
