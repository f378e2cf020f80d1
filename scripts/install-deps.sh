#!/usr/bin/env bash
# Installs what building and testing dsinfer needs on a fresh Debian 12 machine (apt packages by name,
# plus the Python packages the end-to-end and differential tests use, in .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config git python3 python3-venv \
  libgtest-dev libgmock-dev libbenchmark-dev \
  nlohmann-json3-dev libcli11-dev libboost-dev libutf8proc-dev >/dev/null

# Python tools for the end-to-end tests (official OpenAI client, run by pytest), the tokenizer differential test
# (Hugging Face tokenizers) and the GPU-numerics emulation (numpy: bench/cuda/emulate_gpu_numerics.py), kept out
# of the system Python.
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check openai==3.57.0 tokenizers==0.23.2 pytest==9.2.0 \
  numpy==2.4.6
