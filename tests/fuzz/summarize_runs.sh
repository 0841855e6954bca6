#!/usr/bin/env bash
# One line per fuzz target from the last_run.log files run_fuzzer.sh leaves under FUZZ_DIR/<target>/:
# executions, seconds, corpus size and coverage at the end, and any finding written.
#
#   summarize_runs.sh BUILD_DIR/tests/fuzz
set -euo pipefail
for log in "$1"/*/last_run.log; do
  target=$(basename "$(dirname "$log")")
  executions=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
  # "Done 123 runs in 45 second(s)" ends a run that reached -max_total_time.
  seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1 || true)
  findings=$(ls "$(dirname "$log")" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
  echo "fuzz $target: ${executions:-?} executions in ${seconds:-?} s; ${coverage:-no coverage line}; findings: ${findings:-none}"
done
