#!/usr/bin/env bash
# bench/run.sh — decode speed of slm beside llama2.c (run.c as runfast/runomp, runq.c as runq).
#
#   bench/run.sh [REPS]      (default 5 repetitions; the median is reported)
#
# Models: stories260K (from ../shared) and random-weight models slm creates itself with the shapes
# of stories15M, stories110M and SmolLM-135M (vocab 32000 so llama2.c's tokenizer.bin fits), each
# as fp32 (llama2.c v0) and Q8_0 (llama2.c v2, group 64, or 32 where 64 does not divide dim; stories260K: 4). Greedy decoding of
# from BOS: 128 tokens (-n 128), and for stories260K its whole story (-n 512: it ends at BOS after
# 345 tokens, the run of the golden test). A run that stops at BOS counts what it made.
# Environment: LLAMA2C=dir with runfast/runomp/runq built (default ../baselines/llama2.c),
#              SHARED=dir (default ../shared), OUT=dir for the models (default build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-5}
SHARED=${SHARED:-../shared}
LLAMA2C=${LLAMA2C:-../baselines/llama2.c}
OUT=${OUT:-build/bench}
SLM=build/slm
TOK=$SHARED/models/tokenizer.bin
mkdir -p "$OUT"
[ -x "$SLM" ] || make -j2 >/dev/null

# name dim hidden layers heads kv_heads vocab seq
SHAPES="stories15M 288 768 6 6 6 32000 256
stories110M 768 2048 12 12 12 32000 1024
smollm135M 576 1536 30 9 3 32000 2048"

make_models() {
  if [ -f "$SHARED/models/stories260K.bin" ]; then
    cp -f "$SHARED/models/stories260K.bin" "$OUT/stories260K.f32.bin"
    cp -f "$SHARED/models/tok512.bin" "$OUT/tok512.bin"
    [ -f "$OUT/stories260K.q80.bin" ] || $SLM convert "$OUT/stories260K.f32.bin" "$OUT/stories260K.q80.bin" --to llama2c-q80 2>/dev/null
  fi
  echo "$SHAPES" | while read -r name dim hidden layers heads kv vocab seq; do
    [ -f "$OUT/$name.f32.bin" ] || $SLM init -o "$OUT/$name.f32.bin" --dim "$dim" --hidden-dim "$hidden" --n-layers "$layers" \
      --n-heads "$heads" --n-kv-heads "$kv" --vocab "$vocab" --seq-len "$seq" --to llama2c-v0 --seed 1 2>/dev/null
    gs=64; [ $((dim % 64)) -eq 0 ] && [ $((hidden % 64)) -eq 0 ] || gs=32   # llama2.c export's choice
    [ -f "$OUT/$name.q80.bin" ] || $SLM convert "$OUT/$name.f32.bin" "$OUT/$name.q80.bin" --to llama2c-q80 --group-size $gs 2>/dev/null
  done
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) printf "%.1f", a[int((NR+1)/2)]; else printf "-"}'; }

# slm: prints "tok/s peak_MiB"
run_slm() { # model tokenizer threads
  local tps rss
  tps=$(for i in $(seq "$REPS"); do $SLM generate -m "$1" -z "$2" -n "$STEPS" --temp 0 -t "$3" 2>&1 >/dev/null |
        sed -nE 's/.*generated: [0-9]+ tokens, ([0-9.]+) tok\/s.*/\1/p'; done | median)
  rss=$($SLM generate -m "$1" -z "$2" -n "$STEPS" --temp 0 -t "$3" 2>&1 >/dev/null | sed -nE 's/.*peak memory ([0-9.]+) MiB.*/\1/p')
  echo "$tps $rss"
}

run_l2c() { # binary model tokenizer threads
  local bin=$LLAMA2C/$1 tps rss
  [ -x "$bin" ] || { echo "- -"; return; }
  tps=$(for i in $(seq "$REPS"); do OMP_NUM_THREADS=$4 "$bin" "$2" -z "$3" -t 0 -n "$STEPS" 2>&1 >/dev/null |
        sed -nE 's/achieved tok\/s: ([0-9.]+)/\1/p'; done | median)
  OMP_NUM_THREADS=$4 /usr/bin/time -f "%M" -o "$OUT/rss.txt" "$bin" "$2" -z "$3" -t 0 -n "$STEPS" >/dev/null 2>&1 || true
  rss=$(awk '{printf "%.1f", $1/1024}' "$OUT/rss.txt")
  echo "$tps $rss"
}

make_models
cc -O2 -mavx2 -pthread bench/bandwidth.c -o "$OUT/bandwidth"
BW=$("$OUT/bandwidth" 2)
BW1=$(echo "$BW" | sed -nE 's/read bandwidth, 1 thread: ([0-9.]+) GB.*/\1/p')
BW2=$(echo "$BW" | sed -nE 's/read bandwidth, 2 threads: ([0-9.]+) GB.*/\1/p')
echo "# slm vs llama2.c decode, $(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, reps $REPS (median)"
echo "llama2.c: $(cd "$LLAMA2C" 2>/dev/null && git rev-parse --short HEAD 2>/dev/null || echo missing)"
echo "$BW" | sed 's/^/    /'
echo "(floor tok/s = read bandwidth at that thread count / weight bytes; for models that fit in cache"
echo " the floor is no bound. Bandwidth is measured again after the table: it drifts with outside load.)"
echo
echo "| model | steps | type | threads | weights MiB | slm tok/s | slm GB/s | slm peak MiB | runfast | runomp | runq | llama2.c peak MiB | slm / best llama2.c | floor tok/s | slm % of floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for spec in stories260K:512 stories260K:128 stories15M:128 stories110M:128 smollm135M:128; do
  name=${spec%%:*}; STEPS=${spec##*:}
  for type in f32 q80; do
    model=$OUT/$name.$type.bin
    [ -f "$model" ] || continue
    tok=$TOK; [ "$name" = stories260K ] && tok=$OUT/tok512.bin
    wbytes=$(stat -c %s "$model")
    for t in 1 2; do
      read -r s_tps s_rss < <(run_slm "$model" "$tok" "$t")
      if [ "$type" = f32 ]; then
        if [ "$t" = 1 ]; then read -r f_tps f_rss < <(run_l2c runfast "$model" "$tok" 1); else f_tps="-"; f_rss="-"; fi
        read -r o_tps o_rss < <(run_l2c runomp "$model" "$tok" "$t"); q_tps="-"
        best=$(printf "%s\n%s\n" "$f_tps" "$o_tps" | grep -v -- - | sort -n | tail -1); l_rss=$o_rss
      else
        f_tps="-"; o_tps="-"
        read -r q_tps q_rss < <(run_l2c runq "$model" "$tok" "$t"); best=$q_tps; l_rss=$q_rss
      fi
      gbs=$(awk -v t="$s_tps" -v b="$wbytes" 'BEGIN{printf "%.1f", t*b/1e9}')
      ratio=$(awk -v a="$s_tps" -v b="${best:-0}" 'BEGIN{if (b>0) printf "%.2fx", a/b; else printf "-"}')
      bw=$BW1; [ "$t" = 2 ] && bw=$BW2
      floor=$(awk -v b="$wbytes" -v g="$bw" 'BEGIN{printf "%.0f", g*1e9/b}')
      pct=$(awk -v a="$s_tps" -v f="$floor" 'BEGIN{printf "%.0f%%", 100*a/f}')
      printf "| %s | %s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$STEPS" "$type" "$t" \
        "$(awk -v b="$wbytes" 'BEGIN{print b/1048576}')" "$s_tps" "$gbs" "$s_rss" "$f_tps" "$o_tps" "$q_tps" "$l_rss" "$ratio" \
        "$floor" "$pct"
    done
  done
done
echo
"$OUT/bandwidth" 2 | sed 's/^/    after: /'
