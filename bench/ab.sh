#!/bin/bash
# ab.sh — decode speed of several slm builds (or settings) on one model, run alternately, so that
# this VM's drift in memory bandwidth falls on every variant alike; prints the median, mean, min and
# max tok/s of each. The experiments in docs/benchmarks.md ("tried, not kept") were measured so.
#
#   bench/ab.sh MODEL VARIANT...
#     VARIANT: the path of an slm binary (e.g. a copy of build/slm made before a change), or
#              NAME=VALUE settings for build/slm's environment (e.g. SLM_KERNELS=avx2), or
#              both, joined by commas: /tmp/slm-old,SLM_KERNELS=avx2
#   ROUNDS (default 10), THREADS (default 2), NGEN (tokens, default 128): from the environment.
#
# Example: cp build/slm /tmp/slm-before; (change, make); bench/ab.sh FILE.gguf /tmp/slm-before build/slm
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
model=$1; shift
[ -f "$model" ] || { echo "ab.sh: $model: no such file" >&2; exit 1; }
rounds=${ROUNDS:-10} threads=${THREADS:-2} ngen=${NGEN:-128}
declare -A runs
for ((r = 0; r < rounds; r++)); do
  for v in "$@"; do
    bin=build/slm; envs=()
    IFS=, read -ra parts <<< "$v"
    for p in "${parts[@]}"; do
      if [[ $p == *=* ]]; then envs+=("$p"); else bin=$p; fi
    done
    [ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 1; }
    out=$(env "${envs[@]}" "$bin" generate -m "$model" -n "$ngen" --temp 0 -t "$threads" 2>&1 >/dev/null) || {
      echo "ab.sh: $v failed: $out" >&2; exit 1; }
    tok=$(echo "$out" | sed -nE 's/.*generated: [0-9]+ tokens, ([0-9.]+) tok\/s.*/\1/p')
    [ -n "$tok" ] || { echo "ab.sh: $v printed no generation speed" >&2; exit 1; }
    runs[$v]="${runs[$v]:-} $tok"
  done
done
echo "$model, $threads thread(s), $ngen tokens, $rounds alternating rounds (tok/s)"
for v in "$@"; do
  echo "${runs[$v]}" | tr ' ' '\n' | grep . | sort -g |
    awk -v name="$v" '{a[NR] = $1; s += $1}
      END {m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
           printf "  %-40s median %8.1f  mean %8.1f  min %8.1f  max %8.1f\n", name, m, s / NR, a[1], a[NR]}'
done
