"""Tests of the analysis package on small synthetic runs (fixed seeds): python -m unittest discover
--start-directory analysis/tests --top-level-directory . (make test-analysis)."""
