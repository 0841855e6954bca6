#!/usr/bin/env bash
# A real Slurm cluster on this machine, for `unisparse slurm`: munged, slurmctld and slurmd in the
# foreground of this script (backgrounded, their pids kept), configured by a minimal slurm.conf in
# a temp dir (one node with this machine's CPUs, one partition, no systemd, no cgroups).
#
#   1. The quick sweep as a 4-shard job array plus its merge job (`unisparse slurm --submit`); the
#      merged run must equal an unsharded run of the same sweep point for point (ids, statuses,
#      accuracy values) and pass `unisparse check` against results/baselines/quick.
#   2. The same sweep with --set context_len=32768 (each point ~10x slower, so a task is caught
#      while it runs): one array task is cancelled mid-way (scancel <array>_1); the merge job then
#      fails naming the missing rows; `unisparse slurm --resume RUN_DIR --submit` resubmits that
#      shard alone, and the run completes with every point exactly once.
#
# Slurm comes from Debian's packages (installed here when missing, which needs root). Anything that
# keeps the cluster from starting fails the test with the daemons' logs. Every daemon started here
# is stopped by its pid, and the temp dir removed, on success and on failure.
#
# usage: slurm_cluster_test.sh UNISPARSE_BINARY SOURCE_DIR
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

binary=$(realpath "$1")
source_dir=$(realpath "$2")
wait_limit_s=${UNISPARSE_SLURM_WAIT_S:-150}  # for each wait on the cluster

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# --- Slurm and munge from Debian ---------------------------------------------------------------
packages=(slurm-wlm slurm-client slurmctld slurmd munge)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    fail "Slurm is not installed; as root: apt-get install -y ${missing[*]} (or make deps)"
  fi
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
[ "$(id -u)" -eq 0 ] || fail "slurmd launches jobs as their user and must run as root"

# --- the cluster -------------------------------------------------------------------------------
work=$(mktemp -d /tmp/unisparse-slurm-test.XXXXXX)
chmod 755 "$work"  # munged needs every directory above its socket to be searchable by all
mkdir -p "$work"/{munge-key,munge-socket,state,spool,log,results}
chmod 700 "$work/munge-key"
daemon_pids=()

print_logs() {
  for log in "$work"/log/*; do
    [ -f "$log" ] || continue
    echo "----- $log (last 60 lines)" >&2
    tail -n 60 "$log" >&2
  done
  for log in "$work"/results/*/*/slurm/logs/*; do
    [ -f "$log" ] || continue
    echo "----- $log" >&2
    tail -n 30 "$log" >&2
  done
}

cleanup() {
  local status=$?
  set +e
  if [ "$status" -ne 0 ]; then print_logs; fi
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    # Jobs run under slurmstepd, not under this script: end them through Slurm first.
    jobs=$(squeue -h -o %A 2>/dev/null)
    [ -n "$jobs" ] && scancel $jobs 2>/dev/null
    for _ in $(seq 50); do
      [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  for ((i = ${#daemon_pids[@]} - 1; i >= 0; i--)); do kill "${daemon_pids[i]}" 2>/dev/null; done
  for pid in "${daemon_pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Waits until the command succeeds, at most wait_limit_s seconds.
wait_until() {
  local what=$1
  shift
  local deadline=$((SECONDS + wait_limit_s))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${wait_limit_s}s waiting for $what"
    sleep 0.2
  done
}

free_ports() {
  python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in sockets])'
}

mungekey --create --keyfile="$work/munge-key/munge.key"
munge_socket="$work/munge-socket/munge.socket"
munged --foreground --socket="$munge_socket" --key-file="$work/munge-key/munge.key" \
  --log-file="$work/log/munged.log" --pid-file="$work/munge-key/munged.pid" \
  --seed-file="$work/munge-key/munged.seed" >"$work/log/munged.out" 2>&1 &
daemon_pids+=($!)
wait_until "munged's socket" test -S "$munge_socket"

read -r controller_port node_port < <(free_ports)
cat >"$work/slurm.conf" <<EOF
ClusterName=unisparse-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$controller_port
SlurmdPort=$node_port
AuthType=auth/munge
AuthInfo=socket=$munge_socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=2
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
daemon_pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >"$work/log/slurmd.out" 2>&1 &
daemon_pids+=($!)
node_idle() { [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }
wait_until "the node to be idle" node_idle
echo "cluster up: $(sinfo -h -o '%P %D %T %C')"

# --- jobs and runs ---------------------------------------------------------------------------
# The states of a job's records (one per array task), e.g. "COMPLETED COMPLETED FAILED".
job_states() {
  scontrol -o show job "$1" | sed -n 's/.* JobState=\([A-Z_]*\) .*/\1/p' | tr '\n' ' '
}
job_ended() {
  local states
  states=$(job_states "$1")
  [ -n "$states" ] && ! grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED' <<<"$states"
}
field_of() { sed -n "s/^$1: //p" <<<"$2"; }

quick=(sweeps/quick.yaml --configs "$source_dir/configs" --results "$work/results")
cd "$source_dir"

# --- 1. the quick sweep, 4 shards, against an unsharded run ------------------------------------
"$binary" run "${quick[@]}" --quiet --run-id whole >/dev/null
submitted=$("$binary" slurm "${quick[@]}" --shards 4 --cpus-per-task 1 --run-id sharded --submit)
array_job=$(field_of array_job "$submitted")
merge_job=$(field_of merge_job "$submitted")
[ -n "$array_job" ] && [ -n "$merge_job" ] || fail "no job ids in: $submitted"
grep -q '^#SBATCH --array=0-3$' <<<"$submitted" || fail "the array script is not 0-3"
echo "quick: array job $array_job, merge job $merge_job"
wait_until "merge job $merge_job" job_ended "$merge_job"
[ "$(job_states "$array_job")" = "COMPLETED COMPLETED COMPLETED COMPLETED " ] ||
  fail "array job $array_job: $(job_states "$array_job")"
[ "$(job_states "$merge_job")" = "COMPLETED " ] ||
  fail "merge job $merge_job: $(job_states "$merge_job")"

sharded="$work/results/quick/sharded"
whole="$work/results/quick/whole"
python3 - "$whole/points.jsonl" "$sharded/points.jsonl" "$sharded/meta.json" <<'EOF'
import json, sys
whole = [json.loads(line) for line in open(sys.argv[1])]
merged = [json.loads(line) for line in open(sys.argv[2])]
meta = json.load(open(sys.argv[3]))
assert len(whole) == 72 and len(merged) == len(whole), (len(whole), len(merged))
metrics = ["status", "reason", "attn_recall", "page_recall", "needle_hit", "out_rel_l2_mean",
           "out_rel_l2_p99", "out_rel_l2_max"]
for a, b in zip(whole, merged):
    assert a["point_key"] == b["point_key"], (a["point_key"], b["point_key"])
    for metric in metrics:
        assert a.get(metric) == b.get(metric), (a["point_key"], metric, a.get(metric),
                                                b.get(metric))
shards = {shard["shard"]: shard for shard in meta["shards"]}
assert sorted(shards) == ["0/4", "1/4", "2/4", "3/4"], sorted(shards)
for label, shard in shards.items():
    assert shard["slurm"]["SLURM_ARRAY_TASK_ID"] == label.split("/")[0], shard["slurm"]
    assert "SLURM_JOB_ID" in shard["slurm"] and shard["host"]["name"], shard
assert {row["shard"] for row in merged} == set(shards)
print("quick: merged run equals the unsharded run on", len(merged), "rows")
EOF
"$binary" check "$sharded" --baseline results/baselines/quick
ls "$sharded/slurm/logs/${array_job}"_{0,1,2,3}.log \
  "$sharded/slurm/logs/${merge_job}_merge.log" >/dev/null

# --- 2. a cancelled shard, resubmitted alone ---------------------------------------------------
slow=("${quick[@]}" --set context_len=32768)
submitted=$("$binary" slurm "${slow[@]}" --shards 4 --cpus-per-task 1 --run-id killed --submit)
array_job=$(field_of array_job "$submitted")
merge_job=$(field_of merge_job "$submitted")
run_dir="$work/results/quick/killed"
shard_rows() {
  local points="$run_dir/shards/1-of-4/points.jsonl"
  if [ -f "$points" ]; then wc -l <"$points"; else echo 0; fi
}
has_rows() { (($(shard_rows) >= 1)); }
wait_until "shard 1 to write its first row" has_rows
scancel "${array_job}_1"
echo "slow: cancelled task ${array_job}_1 after $(shard_rows) of its 18 rows"
wait_until "merge job $merge_job" job_ended "$merge_job"
grep -q CANCELLED <<<"$(job_states "${array_job}_1")" ||
  fail "task 1: $(job_states "${array_job}_1")"
(($(shard_rows) < 18)) || fail "shard 1 finished before it was cancelled: make its points slower"
[ "$(job_states "$merge_job")" = "FAILED " ] ||
  fail "merge job after a cancelled shard: $(job_states "$merge_job")"
grep -q "shard 1/4 lacks" "$run_dir/slurm/logs/${merge_job}_merge.log" ||
  fail "the failed merge does not name shard 1's missing rows"
[ ! -f "$run_dir/points.jsonl" ] || fail "a failed merge wrote points.jsonl"

resubmitted=$("$binary" slurm --resume "$run_dir" --configs "$source_dir/configs" --submit)
grep -q '^#SBATCH --array=1$' <<<"$resubmitted" ||
  fail "the resubmission is not shard 1 alone: $resubmitted"
array_job=$(field_of array_job "$resubmitted")
merge_job=$(field_of merge_job "$resubmitted")
wait_until "merge job $merge_job" job_ended "$merge_job"
[ "$(job_states "$merge_job")" = "COMPLETED " ] ||
  fail "merge job $merge_job: $(job_states "$merge_job")"
python3 - "$whole/points.jsonl" "$run_dir/points.jsonl" "$run_dir/shards/1-of-4/meta.json" <<'EOF'
import json, sys
whole = [json.loads(line) for line in open(sys.argv[1])]
merged = [json.loads(line) for line in open(sys.argv[2])]
shard = json.load(open(sys.argv[3]))
keys = [row["point_key"] for row in merged]
assert keys == [row["point_key"] for row in whole], "rows lost, duplicated or out of order"
assert [row["status"] for row in merged] == [row["status"] for row in whole]
assert all(row["context_len"] == 32768 for row in merged)
assert len(shard["resumes"]) == 1 and shard["resumes"][0]["points_kept"] >= 1, shard.get("resumes")
assert shard["resumes"][0]["slurm"]["SLURM_JOB_ID"] != shard["slurm"]["SLURM_JOB_ID"]
print("slow: the resubmitted run holds all", len(keys), "rows once;",
      shard["resumes"][0]["points_kept"], "rows of shard 1 kept from the cancelled task")
EOF
echo "PASS"
