#!/usr/bin/env bash
# Builds the GPU binaries on this (build) machine and stages stripped copies in .carry/bin, the folder a
# device run carries (ignored by git). Their ldd shows only the CUDA 13 runtime / cuBLASLt and system
# libraries, which the H200 machine has.
#   scripts/gpu-stage.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build-cuda}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
mkdir -p .carry/bin
# The op tests and kernel tables are required; the CLI and model tests are staged when they build (another
# module being mid-edit must not block a device run).
for target in dsinfer_tests_cuda dsinfer_cuda_kernel_bench dsinfer dsinfer_tests_cuda_model; do
  if ! ninja -C "$BUILD_DIR" -j2 "$target" >"$BUILD_DIR/stage-$target.log" 2>&1; then
    case $target in
      dsinfer_tests_cuda | dsinfer_cuda_kernel_bench) cat "$BUILD_DIR/stage-$target.log"; exit 1 ;;
      *) echo "skipping $target (does not build: $BUILD_DIR/stage-$target.log)"; rm -f ".carry/bin/$target"; continue ;;
    esac
  fi
  binary=$(find "$BUILD_DIR" -type f -name "$target" -perm -u+x | head -1)
  strip -o ".carry/bin/$target" "$binary"
done
du -sh .carry/bin/*
