"""param_table: from the run's meta.json, else a built unisparse, else configs/params.json (which
must be what the binary prints); labels and short names come from it."""

import json
import os
import stat
import tempfile
import unittest

from analysis.errors import InputError
from analysis.params import (COMMITTED_TABLE, REPO_ROOT, built_table, committed_table, label,
                             param_table, short_name, table_frame)
from analysis.results import load_run
from analysis.tests.synthetic_runs import write_meta, write_points_csv, write_text

ROLES = {"workload", "plan", "evaluation", "timing", "model"}


def entry(key, role="plan", label_text=None, short=None):
    return {"key": key, "role": role, "label": label_text or f"{key} label", "short": short or key,
            "kind": "integer", "description": f"what {key} does"}


def one_point_run(run_dir, meta):
    write_points_csv(run_dir, [{"sweep": "s", "point_id": 0, "status": "ok"}],
                     ["sweep", "point_id", "status"])
    return write_meta(run_dir, meta)


def executable(path, text, mtime):
    write_text(os.path.dirname(path), os.path.basename(path), text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    os.utime(path, (mtime, mtime))


class ParamTableTest(unittest.TestCase):
    def test_the_runs_own_table_comes_first(self):
        with tempfile.TemporaryDirectory() as run_dir:
            params = [entry("page_size", label_text="physical page (tokens)", short="P"),
                      entry("layer", role="workload")]
            one_point_run(run_dir, {"run_id": "r", "params": params})
            for source in (load_run(run_dir), run_dir):
                table = param_table(source)
                self.assertEqual(list(table.index), ["page_size", "layer"])
                self.assertEqual(label("page_size", table), "physical page (tokens)")
                self.assertEqual(short_name("page_size", table), "P")
                self.assertEqual(table.at["layer", "role"], "workload")
                self.assertIn("meta.json", table.attrs["origin"])

    def test_a_run_without_a_table_gets_the_binarys_or_the_committed_one(self):
        with tempfile.TemporaryDirectory() as run_dir:
            table = param_table(load_run(one_point_run(run_dir, {"run_id": "r"})))
            self.assertEqual(table.attrs["origin"], param_table(None).attrs["origin"])
            self.assertEqual(label("page_size", table), "physical page size (tokens)")
            self.assertEqual(short_name("logical_page_size", table), "logical")
            self.assertIn("sink_tokens", table.index)
            self.assertIn("workload.sink_strength", table.index)

    def test_metrics_and_unknown_keys(self):
        table = param_table(None)
        self.assertEqual(label("attn_recall", table), "attention recall (share of mass)")
        self.assertEqual(label("no_such_column", table), "no_such_column")
        self.assertEqual(short_name("no_such_column", table), "no_such_column")

    def test_committed_table_is_what_the_binary_prints(self):
        committed = committed_table(COMMITTED_TABLE)
        self.assertTrue(committed.index.is_unique)
        self.assertLessEqual(set(committed["role"]), ROLES)
        self.assertTrue((committed["label"] != "").all())
        self.assertTrue((committed["short"] != "").all())
        built = built_table(REPO_ROOT)
        if built is not None:  # make test builds the CLI first; make params rewrites the file
            self.assertEqual(committed.reset_index().to_dict("records"),
                             built.reset_index().to_dict("records"),
                             f"{COMMITTED_TABLE} differs from {built.attrs['origin']}: run "
                             "make params")

    def test_the_newest_binary_that_answers_is_asked(self):
        with tempfile.TemporaryDirectory() as root:
            table = [entry("page_size", short="page")]
            executable(os.path.join(root, "build-a", "bin", "unisparse"),
                       "#!/bin/sh\necho '" + json.dumps(table) + "'\n", 1_000_000)
            executable(os.path.join(root, "build", "cpu", "bin", "unisparse"),
                       "#!/bin/sh\necho \"unknown option '--params'\" >&2\nexit 2\n", 2_000_000)
            found = built_table(root)
            self.assertEqual(list(found.index), ["page_size"])
            self.assertIn(os.path.join("build-a", "bin", "unisparse"), found.attrs["origin"])
            with tempfile.TemporaryDirectory() as empty_root:
                self.assertIsNone(built_table(empty_root))


class BadTableTest(unittest.TestCase):
    def test_mis_shaped_tables_name_where(self):
        with self.assertRaisesRegex(InputError, "origin: expected a list"):
            table_frame({"key": "page_size"}, "origin")
        with self.assertRaisesRegex(InputError, r"origin: entry 1 \(layer\): field 'label'"):
            table_frame([entry("page_size"), {**entry("layer"), "label": None}], "origin")
        with self.assertRaisesRegex(InputError, "origin: key 'page_size' appears twice"):
            table_frame([entry("page_size"), entry("page_size")], "origin")
        with tempfile.TemporaryDirectory() as run_dir:
            one_point_run(run_dir, {"params": [{"key": "page_size"}]})
            with self.assertRaisesRegex(InputError, "meta.json: params: entry 0"):
                param_table(load_run(run_dir))
            write_text(run_dir, "params.json", "[\n{\n")
            with self.assertRaisesRegex(InputError, "params.json:3: not JSON"):
                committed_table(os.path.join(run_dir, "params.json"))
            with self.assertRaisesRegex(InputError, "make params"):
                committed_table(os.path.join(run_dir, "absent.json"))


if __name__ == "__main__":
    unittest.main()
