"""unisparse analysis: figures and tables from results/<sweep>/<run-id>/ runs, as pandas DataFrames.

    python -m analysis.plot_run RUN_DIR      accuracy and latency against every swept axis
    python -m analysis.summarize RUN_DIR     a markdown table of the run
    python -m analysis.figures               the paper-style figures from the committed runs

results loads a run (load_run), axes says which axes it sweeps (swept_axes), params reads the C++
parameter table (param_table) that labels them. peers.py, peers_prefill.py and check_plan_export.py
run on the GPU machine as plain scripts with only torch and numpy: they import nothing from here.
"""
