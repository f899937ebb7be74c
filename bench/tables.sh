#!/usr/bin/env bash
# bench/tables.sh — decode speed of each kernel table this CPU runs, side by side on the same files.
#
#   bench/tables.sh MODEL.gguf...            (after `make`; models from `make bench` or `slm init`)
#
# For every model and thread count, `slm generate -n NGEN --temp 0 --kernels TABLE` runs for each
# table in turn, REPS rounds interleaved (A B A B ...), so drift on a shared machine hits every table
# alike; a row gives each table's median generated tok/s and its runs. Tables the CPU or build lacks
# are left out with a note. Environment: TABLES (default "avx2 avx512"), THREADS (default "1 2"),
# REPS (default 3), NGEN (default 128), SLM (default build/slm).
set -u
TABLES=${TABLES:-avx2 avx512}
THREADS=${THREADS:-1 2}
REPS=${REPS:-3}
NGEN=${NGEN:-128}
SLM=${SLM:-build/slm}
[ $# -ge 1 ] || { echo "usage: bench/tables.sh MODEL.gguf... (env TABLES THREADS REPS NGEN SLM)" >&2; exit 2; }
[ -x "$SLM" ] || { echo "bench/tables.sh: $SLM is missing; run make first" >&2; exit 1; }

decode() { # model table threads -> tok/s or empty
  "$SLM" generate -m "$1" -n "$NGEN" --temp 0 -t "$3" --kernels "$2" 2>&1 >/dev/null |
    sed -nE 's/.*generated: [0-9]+ tokens, ([0-9.]+) tok\/s.*/\1/p' | tail -1
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

first=${1}
RUN=""
for t in $TABLES; do
  if [ -n "$(decode "$first" "$t" 1 2>/dev/null)" ]; then RUN="$RUN $t"; else echo "note: table $t is not available here (or $first did not run)" >&2; fi
done
[ -n "$RUN" ] || { echo "bench/tables.sh: no table ran" >&2; exit 1; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'), slm $(git rev-parse --short HEAD 2>/dev/null || echo unknown), -n $NGEN, $REPS interleaved rounds"
printf '| model | threads |'; for t in $RUN; do printf ' %s tok/s (runs) |' "$t"; done; echo
printf '|---|---|'; for t in $RUN; do printf -- '---|'; done; echo
for m in "$@"; do
  for th in $THREADS; do
    declare -A vals=()
    for ((r = 0; r < REPS; r++)); do
      for t in $RUN; do vals[$t]="${vals[$t]:-} $(decode "$m" "$t" "$th")"; done
    done
    printf '| %s | %s |' "$(basename "$m")" "$th"
    for t in $RUN; do printf ' %s (%s) |' "$(echo "${vals[$t]}" | median)" "$(echo ${vals[$t]} | tr ' ' '/')"; done
    echo
    unset vals
  done
done
