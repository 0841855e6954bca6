"""fit_workload's pieces: the distance between head distributions, the objective over traces, the
knob scaling and the coordinate search, the gap table, and refused arguments."""

import contextlib
import io
import math
import unittest

import numpy as np

import pandas as pd

from analysis.fit_workload import (Knob, coordinate_search, distances, gap_table_markdown,
                                   objective, parse_args, quantile_distance)


class QuantileDistance(unittest.TestCase):
    def test_equal_samples_are_at_distance_zero(self):
        values = np.linspace(0, 1, 50)
        self.assertEqual(quantile_distance(values, values[::-1]), 0.0)

    def test_a_shift_is_its_size(self):
        values = np.linspace(0, 1, 50)
        self.assertAlmostEqual(quantile_distance(values, values + 0.2), 0.2)

    def test_it_compares_distributions_not_means(self):
        # Same mean, one sample all at 0.5, the other split between 0 and 1: far apart.
        # (np.quantile interpolates between the two halves at the middle quantiles.)
        self.assertAlmostEqual(quantile_distance([0.5] * 10, [0.0] * 5 + [1.0] * 5), 0.5, delta=0.02)

    def test_a_missing_statistic_is_nan(self):
        self.assertTrue(math.isnan(quantile_distance([], [0.1, 0.2])))
        self.assertTrue(math.isnan(quantile_distance([float("nan")], [0.1])))


class NeedleMass(unittest.TestCase):
    def test_a_workload_seeking_no_needle_puts_no_mass_on_the_traces(self):
        trace = pd.DataFrame({"needle_mass": [0.0, 0.0, 0.6, 0.6]})
        unseeking = pd.DataFrame({"needle_mass": [float("nan")] * 3})
        self.assertAlmostEqual(distances(trace, unseeking)["needle_mass"],
                               quantile_distance(trace["needle_mass"], [0.0] * 3))

    def test_a_trace_without_a_needle_does_not_count_it(self):
        trace = pd.DataFrame({"needle_mass": [float("nan")] * 2})
        seeking = pd.DataFrame({"needle_mass": [0.5, 0.7]})
        self.assertTrue(math.isnan(distances(trace, seeking)["needle_mass"]))


class Objective(unittest.TestCase):
    def test_mean_over_traces_and_statistics_without_nan(self):
        per_trace = {"a": {"x": 0.1, "needle_mass": float("nan")}, "b": {"x": 0.3}}
        self.assertAlmostEqual(objective(per_trace), 0.2)

    def test_nothing_to_compare_is_infinitely_bad(self):
        self.assertEqual(objective({"a": {"x": float("nan")}}), math.inf)


class Knobs(unittest.TestCase):
    def test_log_scale_round_trip(self):
        knob = Knob("recency_scale", 4.0, 2048.0, log=True)
        self.assertAlmostEqual(knob.value(knob.unit(256.0)), 256.0, places=3)
        self.assertAlmostEqual(knob.value(0.5), math.sqrt(4.0 * 2048.0), places=3)

    def test_integers_and_clipping(self):
        knob = Knob("num_topics", 2, 512, log=True, integer=True)
        self.assertIsInstance(knob.value(0.3), int)
        self.assertEqual(knob.value(1.7), 512)
        self.assertEqual(knob.unit(10_000), 1.0)


class CoordinateSearch(unittest.TestCase):
    def test_it_finds_the_minimum_of_a_bowl(self):
        target = [0.3, 0.8, 0.55]
        bowl = lambda point: sum((p - t) ** 2 for p, t in zip(point, target))
        best, value, count = coordinate_search(bowl, [0.5, 0.5, 0.5], max_evaluations=400)
        for found, wanted in zip(best, target):
            self.assertAlmostEqual(found, wanted, delta=1 / 64)
        self.assertLess(value, bowl([0.5, 0.5, 0.5]))
        self.assertLessEqual(count, 400)

    def test_the_evaluation_budget_holds_and_the_search_repeats(self):
        calls = []

        def counted(point):
            calls.append(tuple(point))
            return sum(point)

        first = coordinate_search(counted, [0.9, 0.9], max_evaluations=5)
        self.assertEqual(len(calls), 5)
        self.assertEqual(len(set(calls)), 5)  # no point evaluated twice
        self.assertEqual(coordinate_search(counted, [0.9, 0.9], max_evaluations=5), first)


class GapTable(unittest.TestCase):
    def test_rows_without_values_are_left_out(self):
        rows = [{"trace": "prose", "statistic": "local_mass", "real": 0.5, "needle": 0.4,
                 "needle distance": 0.1},
                {"trace": "prose", "statistic": "needle_mass", "real": float("nan"),
                 "needle": float("nan"), "needle distance": float("nan")}]
        table = gap_table_markdown(rows, ["needle"])
        self.assertIn("| local_mass | 0.500 | 0.400 | 0.100 |", table)
        self.assertNotIn("needle_mass", table)


class Arguments(unittest.TestCase):
    def test_a_missing_trace_exits_with_two(self):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            with self.assertRaises(SystemExit) as exit_code:
                parse_args(["--trace", "/nonexistent/trace.safetensors", "--out-dir", "/tmp/x"])
        self.assertEqual(exit_code.exception.code, 2)
        self.assertIn("/nonexistent/trace.safetensors", err.getvalue())

    def test_a_zero_budget_is_refused(self):
        with contextlib.redirect_stderr(io.StringIO()):
            with self.assertRaises(SystemExit) as exit_code:
                parse_args(["--trace", __file__, "--out-dir", "/tmp/x", "--max-evaluations", "0"])
        self.assertEqual(exit_code.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
