#!/usr/bin/env bash
# Runs one libFuzzer target from its committed seed corpus and fails on any finding.
#
#   run_fuzzer.sh FUZZER SEED_CORPUS WORK_DIR [DICTIONARY]
#
# FUZZ_SECONDS (default 45) bounds the run. Inputs that reach new code are kept in
# WORK_DIR/corpus (in the build folder, never among the committed seeds) and seed the next run;
# a crashing, leaking, hanging or over-allocating input is written to WORK_DIR/crash-*, leak-*,
# timeout-* or oom-*, and its path and bytes are in the output, which is also kept in
# WORK_DIR/last_run.log (summarize_runs.sh reads it).
set -euo pipefail
fuzzer=$1
seeds=$2
work=$3
dictionary=${4:-}

mkdir -p "$work/corpus"
# Sanitizer reports end the run with a stack trace; UBSan's included.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
options=(
  -max_total_time="${FUZZ_SECONDS:-45}"
  -timeout=25            # one input taking longer is a hang (inputs take milliseconds)
  -rss_limit_mb=2048     # and so is a process, or one allocation, beyond 2 GiB
  -print_final_stats=1
  -artifact_prefix="$work/"
)
if [ -n "$dictionary" ]; then options+=(-dict="$dictionary"); fi
"$fuzzer" "${options[@]}" "$work/corpus" "$seeds" 2>&1 | tee "$work/last_run.log"
