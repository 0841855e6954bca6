#!/usr/bin/env bash
# The GPU sessions that produced the committed H200 results. Run on the H200 machine from the
# repository root with the stripped binaries in $BIN (default build-lead/gpu: unisparse, test_gpu,
# unisparse_calibrate, libbenchmark.so.1debian), in parts that fit one device call each:
#   bash results/h200_run.sh decode     GPU tests, compute-sanitizer, decode sweeps, decode peers
#   bash results/h200_run.sh prefill    prefill sweeps, prefill peers, the decode/prefill trade-offs
#   bash results/h200_run.sh final      after the workload and kernel changes: tests (falling back to
#                                       $FALLBACK_BIN when they fail), calibration, decode sweeps and
#                                       peers, trade-offs, an ncu profile of one phase, prefill
#   bash results/h200_run.sh quant      quantized KV: GPU tests, compute-sanitizer on the quantized
#                                       cases, the quant sweeps, the plan-export check
#   bash results/h200_run.sh cache      after the prefill writes the decode cache and the tensor-core
#                                       quantized decode: GPU tests, sanitizers on the new cases, the
#                                       quant sweeps, the prefill-then-decode sweep
#   bash results/h200_run.sh tradeoff   the 128k slice of prefill_tradeoff
#   bash results/h200_run.sh last       after the transposed-output quantized decode: tests (falling
#                                       back to $FALLBACK_BIN when they fail), sanitizers, the quant
#                                       sweeps, the 128k slice of prefill_tradeoff
#   bash results/h200_run.sh decode_dev after the decode kernel rework (copy rings, split planner,
#                                       step graphs), under 3 minutes: the GPU decode tests, memcheck
#                                       on small decode cases, the dense and static+dynamic decode
#                                       benchmarks at 128k b1 / b16 and 512k b1 ($BIN/unisparse_bench)
#   bash results/h200_run.sh decode_final  the same kernels, one call under 9 minutes: GPU tests,
#                                       memcheck / racecheck on small cases, calibration, every decode
#                                       sweep (quant_page_size trimmed to 32k/128k x pages 16/64/128),
#                                       the decode peers, ncu on the fp16 and int4 dense decode
#                                       attention at 128k b16
#   bash results/h200_run.sh hopper_dev the sm90 (wgmma + TMA) prefill, first look (< 3 min): the
#                                       prefill tests on both kernel paths, the 32k benchmark of both
#   bash results/h200_run.sh hopper     the sm90 prefill (< 9 min): prefill tests on both paths,
#                                       sanitizers on small sm90 cases, the prefill sweeps and peers,
#                                       the sm80 path at dense 32k, an ncu profile of dense 32k, then
#                                       prefill_tradeoff in the time left
#   bash results/h200_run.sh hopper_tradeoff   the rest of that prefill_tradeoff run: resumes the
#                                       run directory carried in as $RESUME_DIR
# Every step has its own time limit so one slow step cannot eat the call; every log and run
# directory lands under $OUT/results; the device command tars it into one file afterwards:
#   timeout 585 bash results/h200_run.sh PART; tar -C $OUT -czf $OUT/results-PART.tgz results
set -u
part=$1
bin=${BIN:-build-lead/gpu}
run_id=${RUN_ID:-h200-20261128}
out=${OUT:-/tmp/out}/results
logs=$out/logs/$part
mkdir -p "$logs"
export LD_LIBRARY_PATH=$PWD/$bin:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log, record the exit status
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  echo "\$ $*" > "$logs/$name.log"
  timeout "$limit" "$@" >> "$logs/$name.log" 2>&1
  local status=$?
  echo "$name: exit $status, $((SECONDS - start)) s" | tee -a "$logs/steps.txt"
}

sweep() {  # sweep NAME SECONDS [overrides...]
  local name=$1 limit=$2
  shift 2
  step "sweep_$name" "$limit" "$bin/unisparse" run "sweeps/$name.yaml" --results "$out" \
    --run-id "$run_id" "$@"
}

nvidia-smi > "$logs/nvidia-smi.txt" 2>&1
git rev-parse HEAD > "$logs/git-sha.txt" 2>/dev/null || true
case $part in
  decode)
    step test_gpu 120 "$bin/test_gpu"
    step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*static_ctx300*:*grows_past_budget:*dynamic_budget_one_page:*T63_d64_block64_bf16:*T63_d128_block128_fp16'
    step racecheck 45 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*T63_d128_block128_fp16:*T1000_d64_block64_bf16'
    sweep decode_dense 80
    sweep decode_dense_512k 40
    sweep decode_sparse 80
    sweep decode_sparse_512k 40
    sweep decode_gqa 50
    step peers_decode 70 python3 analysis/peers.py "$out/peers_decode/$run_id" --iters 30 --warmup 5
    ;;
  prefill)
    sweep prefill_dense 80
    sweep prefill_streaming 80
    step peers_prefill 100 python3 analysis/peers_prefill.py --out "$out/peers_prefill/$run_id"
    sweep decode_tradeoff 130
    sweep prefill_tradeoff 90
    ;;
  final)
    step test_gpu 60 "$bin/test_gpu"
    if ! grep -q "PASSED" "$logs/test_gpu.log" || grep -q "FAILED" "$logs/test_gpu.log"; then
      echo "GPU tests failed with $bin: the run uses $FALLBACK_BIN" | tee -a "$logs/steps.txt"
      bin=$FALLBACK_BIN
      export UNISPARSE_GIT_SHA=${FALLBACK_SHA:-unknown}
      step test_gpu_fallback 60 "$bin/test_gpu"
    fi
    echo "binaries: $bin (commit ${UNISPARSE_GIT_SHA:-unknown})" >> "$logs/steps.txt"
    step memcheck 40 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*static_ctx300*:*grows_past_budget:*dynamic_budget_one_page:*T63_d64_block64_bf16:*T63_d128_block128_fp16'
    step racecheck 40 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*T63_d128_block128_fp16:*T1000_d64_block64_bf16'
    sweep decode_dense 60
    sweep decode_dense_512k 30
    sweep decode_sparse 80
    sweep decode_sparse_512k 30
    sweep decode_gqa 30
    step peers_decode 40 python3 analysis/peers.py "$out/peers_decode/$run_id" --iters 30 --warmup 5
    sweep decode_tradeoff 110
    sweep prefill_dense 40
    sweep prefill_streaming 70
    step peers_prefill 70 python3 analysis/peers_prefill.py --out "$out/peers_prefill/$run_id"
    cublas_dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null)
    step calibrate 40 env LD_LIBRARY_PATH="$cublas_dir:$LD_LIBRARY_PATH" "$bin/../gpu-new/unisparse_calibrate" \
      --out "$out/devices/h200.yaml"
    # Plans dumped from small GPU sweeps, fed to FlexAttention as README.md shows.
    step dump_plans_decode 30 "$bin/unisparse" run sweeps/quick.yaml --backend cuda -a page_size=[16,64] \
      -a logical_page_size=[16] -a token_budget=[256] -a reuse_interval=[4] --dump-plans --quiet \
      --results "$out/plan_export" --run-id "$run_id"
    step dump_plans_prefill 30 "$bin/unisparse" run sweeps/prefill_streaming.yaml -a context_len=[1000] \
      -a streaming_fraction=[0.5] -a local_tokens=[200] --set sink_tokens=37 --set block_size=64 \
      --dump-plans --quiet --results "$out/plan_export" --run-id "$run_id"
    step check_plan_export 60 python3 analysis/check_plan_export.py "$out/plan_export"
    # One phase of one point under Nsight Compute, selected by its NVTX range (CUPTI is off in
    # profiling mode, so ncu can subscribe).
    step ncu_attention 60 ncu --clock-control none --nvtx --nvtx-include "decode_sparse.0.attention/" \
      --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis \
      "$bin/unisparse" run sweeps/decode_sparse.yaml -a mode=[static+dynamic] -a context_len=[131072] \
      -a batch=[16] --profile --quiet --results "$out/profile" --run-id "$run_id"
    # What time is left: the 128k slice of the prefill trade-off (the 8k/32k points ran earlier).
    sweep prefill_tradeoff 120 -a context_len=[131072]
    ;;
  quant)
    step test_gpu 150 "$bin/test_gpu"
    quant_cases='*KvStorage*d64:*int4_static_ctx300*:*int8_dense_ctx4099*:*int4_dense_ctx1000*:*fp8_dense*'
    step memcheck 70 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter="$quant_cases"
    step racecheck 40 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*int4_static_ctx300*:*int4_dense_ctx1000*'
    sweep quant_decode_dense 60
    sweep quant_paging 80
    step dump_plans_decode 25 "$bin/unisparse" run sweeps/quick.yaml --backend cuda -a page_size=[16,64] \
      -a logical_page_size=[16] -a token_budget=[256] -a reuse_interval=[4] --dump-plans --quiet \
      --results "$out/plan_export" --run-id "$run_id"
    step check_plan_export 40 python3 analysis/check_plan_export.py "$out/plan_export"
    sweep quant_page_size 220
    ;;
  cache)
    step test_gpu 100 "$bin/test_gpu"
    new_cases='*KvStorage*d64:*int4_static_ctx300*:*int8_dense_ctx4099*:*fp8_dense*:*CacheWriteFromDevice*T63:*PrefillThenDecode*ctx63*'
    step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter="$new_cases"
    step racecheck 30 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*int4_static_ctx300*:*CacheWriteFromDevice*int4_fp16_streaming*T63'
    sweep quant_decode_dense 40
    sweep prefill_decode 90
    sweep quant_paging 20
    sweep quant_page_size 200
    ;;
  tradeoff)
    sweep prefill_tradeoff 560 -a context_len=[131072]
    ;;
  hopper_dev)
    # A first call for the sm90 prefill, cheap enough to shake out bugs: a hang or a wrong result
    # shows in test_gpu.log (the last test started) before anything long runs.
    step test_kernels_host 30 "$bin/test_kernels_host"
    step test_gpu_prefill 120 "$bin/test_gpu" --gtest_filter='*Prefill*'
    step bench_prefill_32k 45 "$bin/unisparse_bench" --benchmark_filter='BM_Prefill/context:32768/block:128/'
    ;;
  hopper)
    # The sweeps run the automatic kernel path (sm90 on an H200; the benchmark labels each row with the
    # path that ran). Expected: tests 60 s, sanitizers 30 s, benchmark 20 s, prefill_dense 25 s,
    # prefill_streaming 50 s, peers 60 s, sm80 dense 32k 15 s, ncu 45 s; prefill_tradeoff then gets
    # the rest of the 530 s (its 90 points need about 400 s: 8k and 32k about 2 s a point, 128k about
    # 10 s, mostly workload generation and the fp64 reference), so it usually ends inside the 128k
    # slice and hopper_tradeoff finishes it.
    echo "kernel path: UNISPARSE_PREFILL_KERNEL=${UNISPARSE_PREFILL_KERNEL:-auto}" >> "$logs/steps.txt"
    step test_kernels_host 30 "$bin/test_kernels_host"
    step test_gpu_prefill 150 "$bin/test_gpu" --gtest_filter='*Prefill*'
    sm90_small='*PrefillKernelPaths*/sm90_T63_*:*PrefillKernelPaths*/sm90_T1000_d128_block128_bf16:*PrefillKernelChoice*'
    step memcheck 60 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter="$sm90_small"
    # racecheck sees shared-memory accesses made by threads. On the sm90 path the K/V/Q tiles are
    # written by TMA and read by wgmma, neither of which it attributes to a thread (the async proxy),
    # so there it checks only the generic accesses around them; the sm80 case is the full check.
    step racecheck 45 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*PrefillKernelPaths*/sm90_T63_d128_block128_bf16:*PrefillKernelPaths*/sm90_T1000_d64_block64_fp16:*PrefillKernelPaths*/sm80_T63_d128_block128_fp16'
    # synccheck: the named barriers of the two math warpgroups' alternation and the mbarrier waits.
    step synccheck 45 compute-sanitizer --tool synccheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*PrefillKernelPaths*/sm90_T63_*:*PrefillKernelPaths*/sm90_T1000_d128_block128_bf16'
    # Both kernel paths x four masks at 32k: about 7 s a row (the first device call cut it at 45 s).
    step bench_prefill_32k 75 "$bin/unisparse_bench" --benchmark_filter='BM_Prefill/context:32768/block:128/'
    sweep prefill_dense 60
    sweep prefill_streaming 90
    step peers_prefill 90 python3 analysis/peers_prefill.py --out "$out/peers_prefill/$run_id"
    # The sm80 kernel on the same machine in the same call.
    step sweep_prefill_dense_sm80 45 env UNISPARSE_PREFILL_KERNEL=sm80 "$bin/unisparse" run \
      sweeps/prefill_dense.yaml -a context_len=[32768] --results "$out" --run-id "$run_id-sm80"
    # Dense causal 32k, block 128, under Nsight Compute, selected by its NVTX range (profiling mode:
    # CUPTI off). The tensor-pipe metrics are asked for by the names this ncu knows.
    step ncu_metric_names 20 ncu --query-metrics
    tensor_metrics=$(grep -oE '^sm__pipe_tensor[a-z_]*cycles_active' "$logs/ncu_metric_names.log" | sort -u |
      sed 's/$/.avg.pct_of_peak_sustained_active/' | paste -sd, -)
    step ncu_prefill_dense_32k 90 ncu --clock-control none --nvtx --nvtx-include "prefill_dense.0.attention/" \
      --launch-count 1 --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats \
      --section SchedulerStats --section Occupancy --section LaunchStats ${tensor_metrics:+--metrics "$tensor_metrics"} \
      "$bin/unisparse" run sweeps/prefill_dense.yaml -a context_len=[32768] -a block_size=[128] \
      --profile --quiet --results "$out/profile" --run-id "$run_id"
    left=$((530 - SECONDS))
    if [ "$left" -gt 10 ]; then sweep prefill_tradeoff "$left"; fi
    ;;
  hopper_tradeoff)
    # RESUME_DIR: the prefill_tradeoff run directory the hopper call left (copied back from its
    # results); resumed under $OUT so that the completed run comes back.
    mkdir -p "$out/prefill_tradeoff"
    cp -r "${RESUME_DIR:?set RESUME_DIR to the prefill_tradeoff run directory}" "$out/prefill_tradeoff/"
    step sweep_prefill_tradeoff_resume 560 "$bin/unisparse" run sweeps/prefill_tradeoff.yaml \
      --resume "$out/prefill_tradeoff/$(basename "$RESUME_DIR")"
    ;;
  decode_dev)
    decode_tests='*Decode*:*CudaBackend*:*PageScoresKernel*:*TopkKernel*:*SplitPlan*:*StepLaunches*:*PrefillThenDecode*'
    step test_gpu_decode 50 "$bin/test_gpu" --gtest_filter="$decode_tests"
    step memcheck_decode 35 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*grows_past_budget:*int4_static_ctx300*:*DecodeGraph*ctx63*:*PageScoresKernel*one_page'
    step bench_decode 90 "$bin/unisparse_bench" \
      --benchmark_filter='BM_(Dense|StaticDynamic)Decode/context:(131072/batch:(1|16)|524288/batch:1)/' \
      --benchmark_counters_tabular=true --benchmark_out="$out/bench_decode.json" --benchmark_out_format=json
    ;;
  decode_final)
    # Expected from the earlier logs: tests and sanitizers ~40 s, sweeps ~400 s (quant_page_size
    # trimmed from 48 to 24 points: it alone took 180-206 s and hit its limit twice), peers 10 s,
    # calibration 1 s, two ncu profiles ~40 s. Limits leave room; the least needed steps come last.
    step test_gpu 45 "$bin/test_gpu"
    small_cases='*dense_ctx63_page16:*static_ctx300*:*grows_past_budget:*dynamic_budget_one_page:*int4_static_ctx300*:*int4_dense_ctx1000*:*DecodeGraph*ctx63*:*PageScoresKernel*d64*'
    step memcheck 30 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter="$small_cases"
    step racecheck 25 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*dense_ctx63_page16:*int4_static_ctx300*:*int4_dense_ctx1000*:*DecodeGraph*ctx63*'
    cublas_dir=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(nvidia.cublas.__path__[0], "lib"))' 2>/dev/null)
    step calibrate 15 env LD_LIBRARY_PATH="$cublas_dir:$LD_LIBRARY_PATH" "$bin/unisparse_calibrate" \
      --out "$out/devices/h200.yaml"
    sweep decode_dense 35
    sweep decode_dense_512k 18
    sweep decode_sparse 80
    sweep decode_sparse_512k 18
    # Where a batch-1 static+dynamic step goes: every kernel's duration over ten steps (skipping the
    # warm-up), at 128k and 512k.
    for context in 131072 524288; do
      step "ncu_step_kernels_$context" 30 ncu --clock-control none --print-summary per-kernel \
        --metrics gpu__time_duration.sum --launch-skip 100 --launch-count 70 "$bin/unisparse_bench" \
        --benchmark_filter="BM_StaticDynamicDecode/context:$context/batch:1/"
    done
    sweep quant_decode_dense 35
    step peers_decode 20 python3 analysis/peers.py "$out/peers_decode/$run_id" --iters 30 --warmup 5
    sweep prefill_decode 45
    sweep decode_gqa 20
    sweep quant_paging 20
    # Nsight Compute on the dense decode attention at 128k b16, fp16 and int4, by NVTX range (CUPTI
    # is off in profiling mode, so ncu can subscribe): bandwidth, occupancy and registers.
    for kv in fp16 int4; do
      step "ncu_dense_$kv" 30 ncu --clock-control none --nvtx --nvtx-include "quant_decode_dense.0.attention/" \
        --launch-count 1 --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy \
        --section LaunchStats "$bin/unisparse" run sweeps/quant_decode_dense.yaml -a "kv_dtype=[$kv]" \
        --profile --quiet --results "$out/profile_$kv" --run-id "$run_id"
    done
    sweep decode_tradeoff 100
    sweep quant_page_size 85 -a context_len=[32768,131072] -a page_size=[16,64,128]
    ;;
  last)
    step test_gpu 60 "$bin/test_gpu"
    if ! grep -q "PASSED" "$logs/test_gpu.log" || grep -q "FAILED" "$logs/test_gpu.log"; then
      echo "GPU tests failed with $bin: the run uses $FALLBACK_BIN" | tee -a "$logs/steps.txt"
      bin=$FALLBACK_BIN
      export UNISPARSE_GIT_SHA=${FALLBACK_SHA:-unknown}
    fi
    echo "binaries: $bin (commit ${UNISPARSE_GIT_SHA:-unknown})" >> "$logs/steps.txt"
    step memcheck 40 compute-sanitizer --tool memcheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*KvStorage*d64:*int4_static_ctx300*:*int8_dense_ctx4099*:*int4_dense_ctx1000*:*fp8_dense*'
    step racecheck 30 compute-sanitizer --tool racecheck --error-exitcode 1 "$bin/test_gpu" \
      --gtest_filter='*int4_static_ctx300*:*int4_dense_ctx1000*'
    sweep quant_decode_dense 40
    sweep quant_paging 20
    sweep prefill_tradeoff 200 -a context_len=[131072]
    sweep quant_page_size 180
    ;;
esac
