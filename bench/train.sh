#!/usr/bin/env bash
# bench/train.sh — training throughput of slm beside PyTorch (Debian's python3-torch, CPU) on the
# configs of the training issue, same model, same batch, same thread count:
#   (a) stories260K: dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512, seq 512, batch 8
#   (b) stories15M:  dim 288, hidden 768, 6 layers, 6 heads, 6 kv heads, vocab 32000, seq 256, batch 8
#
#   bench/train.sh [THREADS] [PEAK_GFLOPS]     (defaults 2 and 234, this machine's 2-core FP32 peak
#                                              as the issue states it)
# GFLOP/s counts 6 x params x tokens plus attention (see bench/train_speed.c). PyTorch runs only when
# /usr/bin/python3 can import torch (apt-get install python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-2}
PEAK=${2:-234}
make -j2 build/libslm.a >/dev/null
mkdir -p build/bench
cc -O2 -Iinclude bench/train_speed.c build/libslm.a -lm -lpthread -lcjson -lpcre2-8 -o build/bench/train_speed
cc -O2 -Iinclude bench/fma_peak.c build/libslm.a -lm -lpthread -lcjson -lpcre2-8 -o build/bench/fma_peak
# what the cores deliver right now (shared VMs drift): compare runs only with this line beside them
build/bench/fma_peak "$THREADS" | sed 's/^/machine /'
CONFIGS=("stories260K 64 172 5 8 4 512 512 8" "stories15M 288 768 6 6 6 32000 256 8")
STEPS=("20" "5")
for i in 0 1; do
  set -- ${CONFIGS[$i]}
  build/bench/train_speed "$@" "$THREADS" "${STEPS[$i]}" "$PEAK" | sed 's/^/slm     /'
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 bench/train_torch.py "$@" "$THREADS" "${STEPS[$i]}" "$PEAK" | sed 's/^/pytorch /'
  else
    echo "pytorch (skipped: /usr/bin/python3 cannot import torch; apt-get install python3-torch)"
  fi
done
