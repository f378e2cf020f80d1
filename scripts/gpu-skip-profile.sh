#!/usr/bin/env bash
# Where a CUDA-graph decode step goes, without a profiler: times `dsinfer bench` decode with each kernel class
# left out (DSINFER_CUDA_SKIP_KERNELS, see kernels/common/launch.cuh) and prints the step time of each variant
# beside the full step. The difference is that class's share of the replayed step, gaps included. Results
# are numerically wrong while anything is skipped: this only times.
#
#   scripts/gpu-skip-profile.sh OUT_FILE [dsinfer bench arguments...]
# Binaries from BIN_DIR (default .carry/bin). Default arguments: V2-Lite shape, dummy weights, batch 1,
# decode over a 1K cache.
set -uo pipefail
OUT_FILE=${1:?usage: scripts/gpu-skip-profile.sh OUT_FILE [bench arguments]}
shift
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${BIN_DIR:-$REPO/.carry/bin}
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--model "$REPO/testdata/configs/deepseek-v2-lite" --load-format dummy --batch-size 1
  --input-len 1024 --output-len 64 --skip-prefill)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Names are prefixes: "skinny_gemm_kernel" leaves out every form, "skinny_gemm_kernel (grouped)" the routed
# experts (with the shared experts beside them), "(batched)" the absorbed MLA products, "(plain)" the rest.
VARIANTS=("" "skinny_gemm_kernel" "skinny_gemm_kernel (plain)" "skinny_gemm_kernel (grouped)"
  "skinny_gemm_kernel (batched)" "rms_norm_kernel (add)" "rms_norm_kernel" "mla_cache_write_kernel"
  "mla_decode_tiled_kernel" "mla_decode_combine_kernel" "moe_combine_kernel" ${EXTRA_VARIANTS:-})
for skip in "${VARIANTS[@]}"; do
  step=$(DSINFER_CUDA_SKIP_KERNELS="$skip" timeout 120 "$BIN_DIR/dsinfer" bench "${ARGS[@]}" 2>&1 |
    awk -F'|' '/^\| *[0-9]+ *\|/ {print $0}' | head -3 | tr '\n' ' ')
  echo "skip [${skip:-nothing}]: $step" | tee -a "$OUT_FILE"
done
