#!/usr/bin/env bash
# One pass on an H200 machine: environment check, GPU tests, compute-sanitizer memcheck, kernel tables and
# `dsinfer bench`; logs and a short summary table go to OUT_DIR (at most 8 files, flat: a device run returns
# no more).
#
#   scripts/gpu-run.sh OUT_DIR
#
# Binaries come from BIN_DIR (default .carry/bin: built and stripped on a build machine by
# scripts/gpu-stage.sh); without them the script builds here (needs the build dependencies). STAGES picks
# what runs (default below, most important first: a lease that runs out still leaves the early results); each
# stage has a time limit so a hang cannot eat the whole lease. Everything fits in about 7 minutes on an H200.
set -uo pipefail
OUT_DIR=${1:?usage: scripts/gpu-run.sh OUT_DIR}
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$REPO/.carry/bin}
STAGES=${STAGES:-env tests model bench logits kernels profile sanitizer ncu}
# The benchmarks of bench/RESULTS.md: V2-Lite-shaped BF16 (decode at batch 1-128, prefill 1K and 8K) and
# DeepSeek-V3 FP8 as rank 0 of TP8 (decode at 2K context), then comparisons (no CUDA graphs; no programmatic
# dependent launch). One per line: name=[VARIABLE=value~]args, '~' standing for spaces.
DEFAULT_BENCH_SPECS="v2lite=--model~testdata/configs/deepseek-v2-lite~--load-format~dummy~--batch-size~1,8,32,128~--input-len~1024~--output-len~16
v3-tp8=--model~testdata/configs/deepseek-v3~--load-format~dummy~--tp-size~8~--simulate-rank~0~--batch-size~1,32,128~--input-len~2048~--output-len~16~--skip-prefill
v2lite-8k=--model~testdata/configs/deepseek-v2-lite~--load-format~dummy~--batch-size~1~--input-len~8192~--output-len~8
v2lite-eager=--model~testdata/configs/deepseek-v2-lite~--load-format~dummy~--batch-size~1,32~--input-len~1024~--output-len~16~--skip-prefill~--disable-cuda-graph
v2lite-no-pdl=DSINFER_CUDA_PDL=0~--model~testdata/configs/deepseek-v2-lite~--load-format~dummy~--batch-size~1,32~--input-len~1024~--output-len~16~--skip-prefill"
# Memcheck leaves out the cases whose time goes to host-side reference work or to long sequences (their kernels
# run in the smaller cases too), so the stage fits its limit.
DEFAULT_SANITIZER_FILTER='-NcclCommunicator.*:*t33_n2112*:*t2_n7168*:*h7168*:*i2048_t150*:*h2048_i1408*:*SameIdsAsTheCpuTwin*:*TiledFp8*:*F32Activations/0:*F32Activations/1:*F32Activations/2'
BENCH_SPECS=${BENCH_SPECS:-$DEFAULT_BENCH_SPECS}
mkdir -p "$OUT_DIR"
SUMMARY=$OUT_DIR/summary.md
echo "# dsinfer GPU run $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" >"$SUMMARY"
echo "| stage | result | seconds |" >>"$SUMMARY"
echo "|---|---|---|" >>"$SUMMARY"

# Shared libraries: CUDA 13.0's lib64 and, where present, the Python venv's NVIDIA wheels (NCCL, cuBLAS).
LIBRARY_DIRS=/usr/local/cuda/lib64
for dir in $(find / -maxdepth 8 -type d -path '*site-packages/nvidia/*/lib' 2>/dev/null | sort); do
  LIBRARY_DIRS=$LIBRARY_DIRS:$dir
done
export LD_LIBRARY_PATH=$LIBRARY_DIRS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Multicast NVLink stays off on shared hosts (see the machine notes).
export NCCL_NVLS_ENABLE=0

# The test binaries look for testdata where they were built (/work/main/testdata).
if [ ! -d /work/main/testdata ] && [ "$REPO" != /work/main ]; then
  mkdir -p /work && ln -sfn "$REPO" /work/main
fi

if [ ! -x "$BIN_DIR/dsinfer_tests_cuda" ]; then
  echo "no binaries in $BIN_DIR: building for sm_90a here"
  cmake -S "$REPO" -B "$REPO/build-gpu" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$OUT_DIR/build.log" 2>&1 &&
    cmake --build "$REPO/build-gpu" -j "$(nproc)" >>"$OUT_DIR/build.log" 2>&1 || { echo "build failed"; tail -30 "$OUT_DIR/build.log"; }
  BIN_DIR=$REPO/build-gpu/bin
  mkdir -p "$BIN_DIR"
  find "$REPO/build-gpu" -type f -executable \( -name 'dsinfer*' \) -exec cp {} "$BIN_DIR" \;
fi

# run_stage NAME LIMIT_SECONDS LOG COMMAND...: runs with a timeout, records pass/fail and the time.
run_stage() {
  local name=$1 limit=$2 log=$3
  shift 3
  local start=$SECONDS
  timeout --signal=KILL "$limit" "$@" >>"$log" 2>&1
  local status=$?
  local result="ok"
  [ $status -eq 0 ] || result="FAILED (exit $status)"
  [ $status -eq 137 ] && result="TIMED OUT after ${limit}s"
  echo "| $name | $result | $((SECONDS - start)) |" >>"$SUMMARY"
  echo "== $name: $result ($((SECONDS - start)) s)"
  return 0
}

wants() { [[ " $STAGES " == *" $1 "* ]]; }

if wants env; then
  {
    echo "## nvidia-smi"; nvidia-smi
    echo "## nvcc"; nvcc --version 2>&1 || /usr/local/cuda/bin/nvcc --version
    echo "## LD_LIBRARY_PATH"; echo "$LD_LIBRARY_PATH" | tr : '\n'
    echo "## libraries"; for lib in libcudart.so.13 libcublasLt.so.13 libcublas.so.13 libnccl.so.2; do
      echo "$lib: $(find / -name "$lib" 2>/dev/null | tr '\n' ' ')"; done
    echo "## ldd"; for binary in "$BIN_DIR"/dsinfer*; do echo "$binary"; ldd "$binary"; done
    echo "## compute-sanitizer"; compute-sanitizer --version 2>&1 | head -3
    echo "## os"; cat /etc/os-release | head -2; nproc; free -g
  } >"$OUT_DIR/env.log" 2>&1
  echo "| env | see env.log ($(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null)) | 0 |" >>"$SUMMARY"
fi

if wants tests; then
  run_stage "GPU op tests" 240 "$OUT_DIR/tests.log" "$BIN_DIR/dsinfer_tests_cuda" --gtest_color=no
  grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$OUT_DIR/tests.log" | sort | uniq -c | sed 's/^/    /' >>"$SUMMARY"
  grep -E "^\[  FAILED  \]" "$OUT_DIR/tests.log" | head -20 | sed 's/^/    /' >>"$SUMMARY"
fi

if wants model && [ -x "$BIN_DIR/dsinfer_tests_cuda_model" ]; then
  # Appended to tests.log (a device run returns at most 8 files); the summary reads only this binary's part.
  first_line=$(($(wc -l <"$OUT_DIR/tests.log" 2>/dev/null || echo 0) + 1))
  run_stage "GPU model tests (fixtures)" 150 "$OUT_DIR/tests.log" "$BIN_DIR/dsinfer_tests_cuda_model" --gtest_color=no
  tail -n +"$first_line" "$OUT_DIR/tests.log" >/tmp/model_tests.log
  grep -E "^\[  (PASSED|FAILED) " /tmp/model_tests.log | sort | uniq -c | sed 's/^/    /' >>"$SUMMARY"
  grep -E "^\[  FAILED  \]" /tmp/model_tests.log | head -20 | sed 's/^/    /' >>"$SUMMARY"
  # The FP8 fixture's largest medians against logits_w8a8, in each mode (F32 activations: the fixture test; BF16:
  # the serving path, printed for the record).
  for mode in "dsv3-tiny-fp8 " "dsv3-tiny-fp8, BF16"; do
    grep -F "$mode" /tmp/model_tests.log | awk '{for (i = 1; i < NF; ++i) if ($i == "median") print $(i + 1), $0}' |
      sort -g -r | head -2 | cut -d' ' -f2- | sed 's/^/    /' >>"$SUMMARY"
  done
fi

if wants profile && [ -x "$BIN_DIR/dsinfer" ]; then
  # Device time per op of eager decode steps (DSINFER_CUDA_OP_TIMING; graphs off so every op is timed).
  cd "$REPO"
  for spec in ${PROFILE_SPECS:-v2lite=--model~testdata/configs/deepseek-v2-lite~--load-format~dummy~--batch-size~1~--input-len~1024~--output-len~32~--skip-prefill~--disable-cuda-graph v3-tp8=--model~testdata/configs/deepseek-v3~--load-format~dummy~--tp-size~8~--simulate-rank~0~--batch-size~1~--input-len~2048~--output-len~32~--skip-prefill~--disable-cuda-graph}; do
    name=${spec%%=*}
    args=${spec#*=}
    echo "### profile $name: DSINFER_CUDA_OP_TIMING=1 dsinfer bench ${args//\~/ }" >>"$OUT_DIR/bench.log"
    DSINFER_CUDA_OP_TIMING=1 run_stage "op profile $name" 60 "$OUT_DIR/bench.log" "$BIN_DIR/dsinfer" bench ${args//\~/ }
  done
fi

if wants ncu && [ -x "$BIN_DIR/dsinfer" ]; then
  # GPU time per kernel of eager V2-Lite batch-1 decode steps (Nsight Compute, clocks left alone; dummy-weight
  # fills excluded by name), summed by kernel and divided by the steps: where a decode step's device time goes.
  cd "$REPO"
  steps=3
  timeout --signal=KILL "${NCU_LIMIT:-100}" ncu --clock-control none --metrics gpu__time_duration.sum --csv \
    --kernel-name 'regex:^(?!fill_random).*' "$BIN_DIR/dsinfer" bench --model testdata/configs/deepseek-v2-lite \
    --load-format dummy --batch-size 1 --input-len 1024 --output-len $steps --skip-prefill --disable-cuda-graph \
    >/tmp/ncu.csv 2>/tmp/ncu.err
  echo "### ncu: V2-Lite batch-1 decode, GPU time per kernel per step (status $?)" >>"$OUT_DIR/bench.log"
  python3 - "$steps" >>"$OUT_DIR/bench.log" 2>&1 <<'PYTHON'
import csv, collections, sys
steps = int(sys.argv[1])
totals, counts = collections.defaultdict(float), collections.Counter()
rows = [line for line in open("/tmp/ncu.csv") if line.startswith('"')]
for row in csv.DictReader(rows):
    if row.get("Metric Name") != "gpu__time_duration.sum": continue
    name = row["Kernel Name"].split("(")[0][:80]
    value = float(row["Metric Value"].replace(",", ""))
    scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3}.get(row.get("Metric Unit", "nsecond"), 1e-3)
    totals[name] += value * scale
    counts[name] += 1
all_us = sum(totals.values())
print("| kernel | us per step | launches per step | share |\n|---|---|---|---|")
for name, total in sorted(totals.items(), key=lambda item: -item[1])[:25]:
    print("| %s | %.1f | %.1f | %.1f%% |" % (name, total / steps, counts[name] / steps, 100 * total / max(all_us, 1e-9)))
print("total GPU time per step: %.0f us over %.0f kernels" % (all_us / steps, sum(counts.values()) / steps))
PYTHON
  tail -3 /tmp/ncu.err >>"$OUT_DIR/bench.log"
  echo "| ncu kernel breakdown | see bench.log | - |" >>"$SUMMARY"
fi

if wants sanitizer; then
  # Every tensor its own cudaMalloc, so memcheck sees allocation bounds (the pool would hide them).
  # SANITIZER_BINARY picks the suite (op tests by default; the model tests cover the CUDA graph path).
  DSINFER_CUDA_DIRECT_ALLOC=1 run_stage "compute-sanitizer memcheck (${SANITIZER_BINARY:-dsinfer_tests_cuda})" \
    "${SANITIZER_LIMIT:-150}" "$OUT_DIR/sanitizer.log" compute-sanitizer --tool memcheck --leak-check no \
    --error-exitcode 99 "$BIN_DIR/${SANITIZER_BINARY:-dsinfer_tests_cuda}" --gtest_color=no \
    --gtest_filter="${SANITIZER_FILTER:-$DEFAULT_SANITIZER_FILTER}"
  grep -E "ERROR SUMMARY|Invalid|out of bounds" "$OUT_DIR/sanitizer.log" | sort | uniq -c | head -10 | sed 's/^/    /' >>"$SUMMARY"
fi

if wants logits && [ -x "$BIN_DIR/dsinfer" ]; then
  # `dsinfer logits --device cuda` against --device cpu on a fixture: same format, rows within the BF16 bound.
  ids=3,17,42,99,7,256,11,400,5,63,128,31,77
  {
    for device in cpu cuda; do
      "$BIN_DIR/dsinfer" logits --model "$REPO/testdata/fixtures/dsv3-tiny-bf16" --ids $ids --device $device \
        --out "/tmp/logits-$device.safetensors" --chunk 4 || echo "dsinfer logits --device $device failed"
    done
    python3 - <<'PYTHON'
import numpy as np
from safetensors.numpy import load_file
cpu = load_file("/tmp/logits-cpu.safetensors")["logits"]
gpu = load_file("/tmp/logits-cuda.safetensors")["logits"]
errors = np.linalg.norm(gpu - cpu, axis=1) / np.linalg.norm(cpu, axis=1)
print("dsinfer logits cuda vs cpu:", gpu.shape, gpu.dtype, "median row error %.2e, max %.2e" % (np.median(errors), errors.max()))
assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype and np.median(errors) <= 2e-2
PYTHON
  } >>"$OUT_DIR/bench.log" 2>&1
  status=$?
  echo "| dsinfer logits --device cuda | $([ $status -eq 0 ] && echo ok || echo FAILED) ($(grep 'logits cuda vs cpu' "$OUT_DIR/bench.log" | tail -1)) | 0 |" >>"$SUMMARY"
fi

if wants kernels; then
  run_stage "kernel tables" 120 "$OUT_DIR/kernels.log" "$BIN_DIR/dsinfer_cuda_kernel_bench" --json "$OUT_DIR/kernels.json"
  grep -E "^copy bandwidth" "$OUT_DIR/kernels.log" | sed 's/^/    /' >>"$SUMMARY"
fi

if wants bench && [ -x "$BIN_DIR/dsinfer" ]; then
  # Each run's JSON report becomes one line of bench.jsonl (keeps the number of files coming back small).
  scratch=$(mktemp -d)
  cd "$REPO"
  for spec in $BENCH_SPECS; do
    name=${spec%%=*}
    args=${spec#*=}
    environment=()
    if [[ $args =~ ^[A-Z_]+=[^~]*~ ]]; then  # a leading VARIABLE=value for this run
      environment=("${args%%~*}")
      args=${args#*~}
    fi
    echo "### $name: ${environment[*]} dsinfer bench ${args//\~/ }" >>"$OUT_DIR/bench.log"
    run_stage "bench $name" "${BENCH_LIMIT:-90}" "$OUT_DIR/bench.log" env "${environment[@]}" "$BIN_DIR/dsinfer" bench \
      ${args//\~/ } --json "$scratch/$name.json"
    [ -f "$scratch/$name.json" ] && tr -d '\n' <"$scratch/$name.json" >>"$OUT_DIR/bench.jsonl" && echo >>"$OUT_DIR/bench.jsonl"
  done
  grep -E "^\|" "$OUT_DIR/bench.log" | head -60 >>"$SUMMARY"
fi

echo
cat "$SUMMARY"
