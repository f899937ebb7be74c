#!/usr/bin/env bash
# bench/full.sh — the whole comparison on one table: slm's decode and prefill speed and peak memory
# beside llama.cpp (llama-bench tg128 / pp512) and llama2.c (run.c built as runfast and runomp,
# runq.c as runq), for every model x weight type x thread count, with the memory-bandwidth floor.
#
#   make bench                                             (everything; builds slm first)
#   REPS=1 MODELS="stories260K bundled" bench/full.sh      (a quick look)
#   REPS=5 MODELS="stories110M" TYPES="q4_0" bench/full.sh
#
# Environment (all optional):
#   MODELS    subset of: stories260K bundled stories15M stories110M smollm135M smollm360M (default:
#             all; rows always come in this order)
#   TYPES     subset of: f32 q8_0 q4_0 q4_k_m q5_k_m (default: f32 q8_0 q4_0); q4_k_m and q5_k_m are
#             llama.cpp's mixes, made by its llama-quantize from the f32 file (the files people
#             download: at widths that are not whole 256s they hold Q5_0 / Q5_1 matrices)
#   THREADS   thread counts (default "1 2")
#   REPS      repetitions of every measurement; the median is reported (default 3)
#   SHARED    the shared data folder (default ../shared): stories260K.bin, tok512.bin, the Llama 2
#             tokenizer.bin and the TinyStories validation text the prefill prompt is cut from
#   LLAMACPP  llama.cpp checkout with its binaries in build/bin, or the binaries' folder itself
#             (default ../baselines/llama.cpp)
#   LLAMA2C   llama2.c checkout with run.c and runq.c (default ../baselines/llama2.c)
#
# Models: stories260K (llama2.c fp32 from SHARED), bundled (models/tinystories-slm.gguf) and
# random-weight models that `slm init` makes with the shapes of stories15M, stories110M,
# SmolLM-135M and SmolLM-360M. Each becomes a GGUF f32 file, quantized to q8_0 and q4_0 with
# `slm quantize`; slm and llama.cpp both run these same GGUF files. llama2.c runs the fp32 (v0)
# checkpoint and its Q8_0 (version 2) export.
#
# Output: a header (machine, commits, bandwidth), one markdown table row per model x type x threads,
# the bandwidth measured again after the table, and notes; on stdout and in
# build/bench-full/results.md, kept as results-YYYYMMDD-HHMM.md (its start, UTC) as well:
# bench/targets.sh checks the targets on one table or several. Progress goes to stderr. Every
# generated file (models, prompts, llama2.c and bandwidth binaries) lives in build/bench-full/ and
# is reused when present (remade when its source is newer): delete the folder to start over, e.g.
# after changing slm's quantizer.
# A missing baseline or shared folder gives "-" cells and a note, never an aborted table.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_MODELS="stories260K bundled stories15M stories110M smollm135M smollm360M"
ALL_TYPES="f32 q8_0 q4_0 q4_k_m q5_k_m"
MODELS=${MODELS:-$ALL_MODELS}
TYPES=${TYPES:-f32 q8_0 q4_0}
THREADS=${THREADS:-1 2}
REPS=${REPS:-3}
SHARED=${SHARED:-../shared}
LLAMACPP=${LLAMACPP:-../baselines/llama.cpp}
LLAMA2C=${LLAMA2C:-../baselines/llama2.c}
OUT=build/bench-full
SLM=build/slm
L2C_SHORT_REPS=15 # llama2.c runs for files it decodes in under 100 ms (l2c_run)
NGEN=128     # generated tokens (slm -n, llama-bench -n, llama2.c -n)
NPROMPT=512  # prefill prompt tokens, BOS included (slm -f, llama-bench -p)
BUNDLED=models/tinystories-slm.gguf
TOK32=$SHARED/models/tokenizer.bin
TOK512=$SHARED/models/tok512.bin
ST260=$SHARED/models/stories260K.bin
TEXT=$SHARED/data/tinystories/valid-head-794KB.txt

case $REPS in '' | *[!0-9]* | 0) echo "bench/full.sh: REPS must be a positive integer" >&2; exit 2 ;; esac
mkdir -p "$OUT"
[ -x "$SLM" ] || make -j2 all >&2

say() { echo "[bench/full.sh] $*" >&2; }
NOTES=()
note() { NOTES+=("$*"); say "note: $*"; }
# does the space-separated list $2 hold the word $1?
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
# median of the numbers on stdin, one decimal ("-" when there are none)
median() {
  sort -g | awk 'NF {a[++n] = $1} END {
    if (!n) { print "-"; exit }
    printf "%.1f\n", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'
}
# tok/s figures -> the harmonic mean of all but the slowest and the fastest (all of them when fewer
# than 3): the tok/s of their total time. With 3 figures it is the median.
trimmed_hmean() {
  sort -g | awk 'NF {a[++n] = $1} END {
    if (!n) { print "-"; exit }
    lo = n >= 3 ? 2 : 1; hi = n >= 3 ? n - 1 : n
    for (i = lo; i <= hi; i++) { if (a[i] <= 0) { print "-"; exit } s += 1 / a[i] }
    printf "%.1f\n", (hi - lo + 1) / s }'
}
fsize() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }

for m in $MODELS; do has "$m" "$ALL_MODELS" || note "MODELS: unknown model '$m' ignored (known: $ALL_MODELS)"; done
for t in $TYPES; do has "$t" "$ALL_TYPES" || note "TYPES: unknown type '$t' ignored (known: $ALL_TYPES)"; done

# ---------------------------------------------------------------- machine
L3_BYTES=0
L3_TEXT="unknown"
if [ -r /sys/devices/system/cpu/cpu0/cache/index3/size ]; then
  L3_TEXT=$(cat /sys/devices/system/cpu/cpu0/cache/index3/size)
else
  L3_TEXT=$(lscpu 2>/dev/null | sed -nE 's/^L3 cache:[[:space:]]*//p' | head -1)
  L3_TEXT=${L3_TEXT:-unknown}
fi
L3_BYTES=$(echo "$L3_TEXT" | awk '{
  if (match($0, /[0-9.]+/)) { n = substr($0, RSTART, RLENGTH); u = toupper(substr($0, RSTART + RLENGTH)) }
  else { print 0; exit }
  gsub(/^[ \t]+/, "", u); m = 1
  if (u ~ /^K/) m = 1024; else if (u ~ /^M/) m = 1048576; else if (u ~ /^G/) m = 1073741824
  printf "%.0f\n", n * m }')
if [ "$L3_BYTES" -gt 0 ] 2>/dev/null; then L3_TEXT=$(mib "$L3_BYTES" | sed 's/\.0$//')" MiB"
else L3_BYTES=0; note "L3 size unknown: no cell is marked (fits L3)"; fi
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//') || CPU=""
[ -n "$CPU" ] || CPU=$(lscpu 2>/dev/null | sed -nE 's/^Model name:[[:space:]]*//p' | head -1) || true
MAXT=1
for t in $THREADS; do
  case $t in '' | *[!0-9]* | 0) echo "bench/full.sh: THREADS must hold positive integers" >&2; exit 2 ;; esac
  if [ "$t" -gt "$MAXT" ]; then MAXT=$t; fi
done

commit_of() { # dir -> short commit, or why there is none
  if [ ! -d "$1" ]; then echo "missing ($1)"; return; fi
  git -C "$1" rev-parse --short HEAD 2>/dev/null || echo "unknown ($1 is not a git checkout)"
}
SLM_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git diff --quiet HEAD 2>/dev/null; then SLM_COMMIT="$SLM_COMMIT (dirty: uncommitted changes to tracked files)"
else SLM_COMMIT="$SLM_COMMIT (clean)"; fi

# ---------------------------------------------------------------- bandwidth (the floor)
BWBIN=$OUT/bandwidth
if [ ! -x "$BWBIN" ] || [ bench/bandwidth.c -nt "$BWBIN" ]; then
  cc -O2 -mavx2 -pthread bench/bandwidth.c -o "$BWBIN" 2>"$OUT/bandwidth.log" ||
    { rm -f "$BWBIN"; note "bench/bandwidth.c did not build (see $OUT/bandwidth.log): no floor"; }
fi
measure_bw() { [ -x "$BWBIN" ] && "$BWBIN" "${1:-$MAXT}" 2>/dev/null || true; } # threads 1..$1 (default MAXT)
bw_at() { # bandwidth lines, threads -> GB/s or empty
  echo "$1" | sed -nE "s/^read bandwidth, $2 threads?: ([0-9.]+) GB.*/\1/p" | head -1
}

# ---------------------------------------------------------------- llama.cpp
LLAMA_BENCH=""
for c in "$LLAMACPP/build/bin/llama-bench" "$LLAMACPP/llama-bench"; do
  if [ -x "$c" ]; then LLAMA_BENCH=$c; break; fi
done
[ -n "$LLAMA_BENCH" ] || note "llama.cpp: no llama-bench in $LLAMACPP/build/bin (set LLAMACPP): its columns show -"
LLAMA_QUANTIZE=""
[ -n "$LLAMA_BENCH" ] && [ -x "$(dirname "$LLAMA_BENCH")/llama-quantize" ] && LLAMA_QUANTIZE=$(dirname "$LLAMA_BENCH")/llama-quantize
LLAMACPP_COMMIT=$(commit_of "$LLAMACPP")

# ---------------------------------------------------------------- llama2.c
L2C_CC=gcc
command -v gcc >/dev/null || L2C_CC=cc
build_l2c() { # name source flags...
  local name=$1 src=$LLAMA2C/$2
  shift 2
  [ -f "$src" ] || return 0
  if [ ! -x "$OUT/$name" ] || [ "$src" -nt "$OUT/$name" ]; then
    say "building $name from $src"
    "$L2C_CC" "$@" "$src" -lm -o "$OUT/$name" 2>"$OUT/$name.log" ||
      { rm -f "$OUT/$name"; note "llama2.c: $name did not build (see $OUT/$name.log): its column shows -"; }
  fi
}
if [ -f "$LLAMA2C/run.c" ] && [ -f "$LLAMA2C/runq.c" ]; then
  build_l2c runfast run.c -Ofast -march=native
  build_l2c runomp run.c -Ofast -march=native -fopenmp
  build_l2c runq runq.c -Ofast -march=native -fopenmp
else
  note "llama2.c: no run.c/runq.c in $LLAMA2C (set LLAMA2C): its columns show -"
fi
LLAMA2C_COMMIT=$(commit_of "$LLAMA2C")

# ---------------------------------------------------------------- inputs
if [ ! -d "$SHARED" ]; then
  note "$SHARED is missing: stories260K and the random-weight models (they need its tokenizer.bin) are skipped"
fi
if [ -f "$TEXT" ]; then
  PROMPT_SRC=$TEXT
  PROMPT_TAG=""
else
  PROMPT_SRC=$OUT/fallback-text.txt
  PROMPT_TAG="-fallback"
  if [ ! -f "$PROMPT_SRC" ]; then
    for _ in $(seq 400); do printf 'Once upon a time, a little girl named Lily found a shiny red ball in the park. '; done \
      >"$PROMPT_SRC"
  fi
  note "prefill prompts are cut from a repeated sentence: $TEXT is missing"
fi

# llama2.c tokenizer.bin padded with never-matched pieces <padN> (score -1e9) to $3 tokens
pad_tokenizer() { # in out vocab
  command -v python3 >/dev/null || return 1
  python3 - "$1" "$2.tmp" "$3" <<'PY' && mv -f "$2.tmp" "$2"
import struct, sys
src, dst, vocab = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
(max_len,) = struct.unpack_from("<i", data, 0)
off, count = 4, 0
while off < len(data):
    _, n = struct.unpack_from("<fi", data, off)
    off += 8 + n
    count += 1
if off != len(data) or count > vocab:
    sys.exit("%s: not a tokenizer.bin of at most %d tokens" % (src, vocab))
pads = [("<pad%d>" % i).encode() for i in range(count, vocab)]
out = bytearray(struct.pack("<i", max([max_len] + [len(p) for p in pads])))
out += data[4:]
for p in pads:
    out += struct.pack("<fi", -1e9, len(p)) + p
open(dst, "wb").write(out)
PY
}

# prompt file with exactly $2 tokens (BOS included) under tokenizer $1: the shortest byte prefix of
# PROMPT_SRC with that many, found by binary search, then stepping on where BPE skipped the count
count_tokens() { head -c "$2" "$PROMPT_SRC" | "$SLM" tokenize -z "$1" -f /dev/stdin 2>/dev/null | wc -w; }
make_prompt() { # tokenizer ntokens -> sets PROMPT ("" when impossible)
  local tok=$1 want=$2 name lo hi mid c size
  name=$(basename "$tok"); name=${name%.*}
  PROMPT=$OUT/prompt-$name-$want$PROMPT_TAG.txt
  [ -s "$PROMPT" ] && return 0
  size=$(fsize "$PROMPT_SRC")
  hi=256
  while c=$(count_tokens "$tok" "$hi") && [ "$c" -lt "$want" ] && [ "$hi" -lt "$size" ]; do hi=$((hi * 2)); done
  if [ "$hi" -gt "$size" ]; then hi=$size; fi
  c=$(count_tokens "$tok" "$hi") || c=0
  if [ "$c" -lt "$want" ]; then PROMPT=""; return 0; fi
  lo=1
  while [ "$lo" -lt "$hi" ]; do
    mid=$(((lo + hi) / 2))
    if [ "$(count_tokens "$tok" "$mid")" -ge "$want" ]; then hi=$mid; else lo=$((mid + 1)); fi
  done
  for ((mid = lo; mid < lo + 64 && mid <= size; mid++)); do
    if [ "$(count_tokens "$tok" "$mid")" -eq "$want" ]; then lo=$mid; break; fi
  done
  head -c "$lo" "$PROMPT_SRC" >"$PROMPT.tmp" && mv -f "$PROMPT.tmp" "$PROMPT"
}

# ---------------------------------------------------------------- model files
# name dim hidden layers heads kv_heads vocab seq
shape_of() {
  case $1 in
    stories15M) echo "288 768 6 6 6 32000 1024" ;;
    stories110M) echo "768 2048 12 12 12 32000 1024" ;;
    smollm135M) echo "576 1536 30 9 3 49152 2048" ;;
    smollm360M) echo "960 2560 32 15 5 49152 2048" ;;
  esac
}

# sets V0 (llama2.c fp32 checkpoint), TOK (tokenizer for the GGUF and prompts), L2C_TOK (llama2.c's
# tokenizer.bin, "" if none) and makes the f32 GGUF; returns 1 (after a note) when the model is skipped
prepare_model() {
  local m=$1 dim hidden layers heads kv vocab seq
  V0="" TOK="" L2C_TOK=""
  case $m in
    stories260K)
      if [ ! -f "$ST260" ] || [ ! -f "$TOK512" ]; then note "stories260K skipped: $ST260 or $TOK512 is missing"; return 1; fi
      V0=$ST260 TOK=$TOK512 L2C_TOK=$TOK512
      ;;
    bundled)
      if [ ! -f "$BUNDLED" ]; then note "bundled skipped: $BUNDLED is missing"; return 1; fi
      TOK=$BUNDLED
      ;;
    *)
      if [ ! -f "$TOK32" ]; then note "$m skipped: $TOK32 is missing"; return 1; fi
      read -r dim hidden layers heads kv vocab seq <<<"$(shape_of "$m")"
      TOK=$TOK32
      if [ "$vocab" != 32000 ]; then
        TOK=$OUT/tok$vocab.bin
        if [ ! -f "$TOK" ] && ! pad_tokenizer "$TOK32" "$TOK" "$vocab"; then
          note "$m skipped: could not write $TOK (python3 pads $TOK32)"
          return 1
        fi
      fi
      L2C_TOK=$TOK
      V0=$OUT/$m.v0.bin
      if [ ! -f "$V0" ]; then
        say "making $V0 (random weights)"
        "$SLM" init -o "$OUT/$m.tmp.bin" --dim "$dim" --hidden-dim "$hidden" --n-layers "$layers" --n-heads "$heads" \
          --n-kv-heads "$kv" --vocab "$vocab" --seq-len "$seq" --to llama2c-v0 --seed 1 >&2 &&
          mv -f "$OUT/$m.tmp.bin" "$V0" || { note "$m skipped: slm init failed"; return 1; }
      fi
      ;;
  esac
  if [ ! -f "$OUT/$m.f32.gguf" ] || [ "${V0:-$BUNDLED}" -nt "$OUT/$m.f32.gguf" ]; then
    say "making $OUT/$m.f32.gguf"
    if [ "$m" = bundled ]; then
      "$SLM" convert "$BUNDLED" "$OUT/$m.f32.gguf" --to gguf-f32 >&2 || { note "$m skipped: slm convert failed"; return 1; }
    else
      "$SLM" convert "$V0" "$OUT/$m.f32.gguf" --to gguf-f32 -z "$TOK" >&2 || { note "$m skipped: slm convert failed"; return 1; }
    fi
  fi
}

make_gguf() { # model type -> sets GGUF (made if missing; "" on failure)
  GGUF=$OUT/$1.$2.gguf
  if [ ! -f "$GGUF" ] || [ "$OUT/$1.f32.gguf" -nt "$GGUF" ]; then
    say "making $GGUF"
    case $2 in
      q4_k_m | q5_k_m) # llama.cpp's own mixes, by its quantizer
        if [ -z "$LLAMA_QUANTIZE" ]; then
          note "$1 $2 skipped: no llama-quantize beside llama-bench"; GGUF=""
        elif "$LLAMA_QUANTIZE" "$OUT/$1.f32.gguf" "$OUT/$1.$2.tmp.gguf" "$(echo "$2" | tr a-z A-Z)" >"$OUT/llama-quantize.log" 2>&1; then
          mv -f "$OUT/$1.$2.tmp.gguf" "$GGUF"
        else
          note "$1 $2 skipped: llama-quantize failed (see $OUT/llama-quantize.log)"; GGUF=""
        fi ;;
      *)
        "$SLM" quantize "$OUT/$1.f32.gguf" "$OUT/$1.$2.tmp.gguf" --type "$2" -q >&2 && mv -f "$OUT/$1.$2.tmp.gguf" "$GGUF" ||
          { note "$1 $2 skipped: slm quantize failed"; GGUF=""; } ;;
    esac
  fi
  return 0
}

make_l2c() { # model type -> sets L2C, llama2.c's checkpoint for that type (made if missing; "" if none)
  L2C=""
  [ -n "$V0" ] && [ -n "$L2C_TOK" ] || return 0
  case $2 in
    f32) L2C=$V0 ;;
    q8_0)
      L2C=$OUT/$1.q80.bin
      if [ ! -f "$L2C" ] || [ "$V0" -nt "$L2C" ]; then
        say "making $L2C"
        "$SLM" convert "$V0" "$L2C" --to llama2c-q80 >&2 || { note "$1: slm convert --to llama2c-q80 failed"; L2C=""; }
      fi
      ;;
  esac
  return 0
}

# ---------------------------------------------------------------- measurements
# slm decode from BOS: sets DEC (median tok/s, with the fewest tokens made if a run stopped early at
# end of text) and RSS (largest peak memory, MiB); each run is followed by a llama-bench tg run, and
# LTG is their median (the two tools alternate, so the VM's drift falls on both alike)
# With a third argument (the file's size in bytes) each run is paired with the read bandwidth
# measured just before it: sets BWS (those GB/s figures) and PCTS (each run's tok/s as a percentage
# of the floor from its own bandwidth).
slm_decode() { # gguf threads [bytes]
  local line vals="" gen min_gen=$NGEN r bw="" v ltg=""
  RSS="-" BWS="" PCTS="" LB_FAILED=""
  for ((r = 0; r < REPS; r++)); do
    [ -n "${3:-}" ] && bw=$(bw_at "$(measure_bw "$2")" "$2")
    line=$("$SLM" generate -m "$1" -n "$NGEN" --temp 0 -t "$2" 2>&1 >/dev/null | grep '^\[slm\] prompt:' | tail -1) || line=""
    [ -n "$line" ] || continue
    v=$(echo "$line" | sed -nE 's/.*generated: [0-9]+ tokens, ([0-9.]+) tok\/s.*/\1/p')
    vals+="$v"$'\n'
    llamacpp_once "$1" "$2" tg
    [ -n "$LBV" ] && ltg+="$LBV"$'\n'
    if [ -n "$bw" ] && [ -n "$v" ]; then
      BWS+="$bw"$'\n'
      PCTS+="$(awk -v a="$v" -v g="$bw" -v b="$3" 'BEGIN {printf "%.1f", 100 * a * b / (g * 1e9)}')"$'\n'
    fi
    gen=$(echo "$line" | sed -nE 's/.*generated: ([0-9]+) tokens.*/\1/p')
    [ -n "$gen" ] && [ "$gen" -lt "$min_gen" ] && min_gen=$gen
    RSS=$(echo "$line" | sed -nE 's/.*peak memory ([0-9.]+) MiB.*/\1/p' |
      awk -v r="$RSS" '{if (r == "-" || $1 > r + 0) r = $1} END {print r}')
  done
  DEC=$(printf '%s' "$vals" | median)
  LTG=$(printf '%s' "$ltg" | median)
  [ "$DEC" != "-" ] && [ "$min_gen" -lt "$NGEN" ] && DEC="$DEC ($min_gen tok)"
  return 0
}

# slm prefill: sets PRE (median prompt tok/s; the prompt's token count added when it is not NPROMPT);
# with a fourth argument each run follows a llama-bench pp run, and LPP is their median
slm_prefill() { # gguf threads prompt [llama.cpp too: 1]
  local line vals="" n="" r lpp=""
  PRE="-"
  for ((r = 0; r < REPS; r++)); do
    if [ -n "${4:-}" ]; then
      llamacpp_once "$1" "$2" pp
      [ -n "$LBV" ] && lpp+="$LBV"$'\n'
    fi
    [ -n "$3" ] || continue
    line=$("$SLM" generate -m "$1" -f "$3" -n 1 --temp 0 -t "$2" 2>&1 >/dev/null | grep '^\[slm\] prompt:' | tail -1) || line=""
    [ -n "$line" ] || continue
    vals+="$(echo "$line" | sed -nE 's/.*prompt: [0-9]+ tokens, ([0-9.]+) tok\/s.*/\1/p')"$'\n'
    n=$(echo "$line" | sed -nE 's/.*prompt: ([0-9]+) tokens.*/\1/p')
  done
  PRE=$(printf '%s' "$vals" | median)
  [ -n "${4:-}" ] && LPP=$(printf '%s' "$lpp" | median)
  [ "$PRE" != "-" ] && [ -n "$n" ] && [ "$n" != "$NPROMPT" ] && PRE="$PRE ($n tok)"
  return 0
}

# llama-bench, one measured run (after its warm-up) of one test: pp (NPROMPT prompt tokens) or tg
# (NGEN generated). Sets LBV to its tok/s, "" when it failed (noted once per cell: LB_FAILED).
llamacpp_once() { # gguf threads pp|tg
  LBV=""
  [ -n "$LLAMA_BENCH" ] || return 0
  local csv p=0 n=0
  if [ "$3" = pp ]; then p=$NPROMPT; else n=$NGEN; fi
  if ! csv=$("$LLAMA_BENCH" -m "$1" -p "$p" -n "$n" -t "$2" -r 1 -o csv 2>"$OUT/llama-bench.err"); then
    [ -n "$LB_FAILED" ] || note "llama-bench failed on $1 -t $2: $(grep -v '^$' "$OUT/llama-bench.err" | tail -1)"
    LB_FAILED=1
    return 0
  fi
  LBV=$(echo "$csv" | awk '
    NR == 1 { gsub(/"/, ""); n = split($0, h, ","); for (i = 1; i <= n; i++) col[h[i]] = i; next }
    { s = $0; sub(/^"/, "", s); sub(/"$/, "", s); split(s, f, /","/); printf "%.1f\n", f[col["avg_ts"]] }' | tail -1)
}

l2c_once() { # binary model tokenizer threads -> the run's "achieved tok/s" (nothing on failure)
  OMP_NUM_THREADS=$4 "$OUT/$1" "$2" -z "$3" -t 0 -n "$NGEN" 2>&1 >/dev/null | sed -nE 's/^achieved tok\/s: ([0-9.]+).*/\1/p' || true
}
l2c_run() { # binary model tokenizer threads -> achieved tok/s (see the legend) or "-"
  local r vals
  [ -x "$OUT/$1" ] && [ -n "$2" ] && [ -n "$3" ] || { echo "-"; return 0; }
  vals=$(for ((r = 0; r < REPS; r++)); do l2c_once "$@"; done)
  # llama2.c times its run in whole milliseconds (start and end each truncated): a run under 100 ms
  # reads up to a few percent off, so such files get L2C_SHORT_REPS runs in all
  if [ -n "$vals" ] && awk -v v="$(printf '%s\n' "$vals" | median)" -v n="$NGEN" 'BEGIN {exit !(v * 0.1 > n - 1)}'; then
    vals=$(printf '%s\n' "$vals"; for ((r = REPS; r < L2C_SHORT_REPS; r++)); do l2c_once "$@"; done)
  fi
  printf '%s\n' "$vals" | trimmed_hmean
}

# ---------------------------------------------------------------- the table
main() {
  local BW_BEFORE BW_AFTER m ty t gguf size l2c big floor pct bw seq want prompt_n
  say "measuring memory bandwidth"
  BW_BEFORE=$(measure_bw)
  [ -n "$BW_BEFORE" ] || note "no bandwidth measurement: floor columns show -"

  echo "# slm vs llama.cpp vs llama2.c: decode, prefill, memory"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- CPU: ${CPU:-unknown}, $(nproc) cores, L3 $L3_TEXT"
  echo "- slm: $SLM_COMMIT"
  echo "- llama.cpp: $LLAMACPP_COMMIT"
  echo "- llama2.c: $LLAMA2C_COMMIT"
  echo "- repetitions: $REPS (medians; llama.cpp: $REPS llama-bench runs of one repetition each, alternating with slm's)"
  echo "- bandwidth before the table:"
  [ -n "$BW_BEFORE" ] && echo "$BW_BEFORE" | sed 's/^/    /' || echo "    (not measured)"
  echo
  echo "| model | type | threads | weight MiB | slm decode tok/s | slm prefill tok/s | slm peak RSS MiB | llama.cpp tg$NGEN | llama.cpp pp$NPROMPT | runfast | runomp | runq | floor tok/s | slm decode % of floor |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

  for m in $ALL_MODELS; do
    has "$m" "$MODELS" || continue
    prepare_model "$m" || continue
    # the prompt: NPROMPT tokens, or the model's whole context when that is shorter
    seq=$("$SLM" info "$OUT/$m.f32.gguf" 2>/dev/null | awk '$1 == "seq_len:" {print $2}') || seq=""
    want=$NPROMPT
    if [ -n "$seq" ] && [ "$seq" -lt "$want" ]; then
      want=$seq
      note "$m: its context is $seq tokens, so slm's prefill prompt has $want (llama-bench's pp$NPROMPT runs past it)"
    fi
    make_prompt "$TOK" "$want"
    [ -n "$PROMPT" ] || note "$m: no $want-token prompt could be cut: prefill shows -"
    for ty in $ALL_TYPES; do
      has "$ty" "$TYPES" || continue
      make_gguf "$m" "$ty"
      gguf=$GGUF
      [ -n "$gguf" ] || continue
      size=$(fsize "$gguf")
      make_l2c "$m" "$ty"
      l2c=$L2C
      for t in $THREADS; do
        say "$m $ty, $t thread(s)"
        # the floor of a file larger than L3: each decode run is paired with the bandwidth measured
        # just before it (a few seconds), since this VM's bandwidth drifts by tens of percent within
        # a minute; the cell shows the median floor, the bandwidths' range and the median of the
        # runs' percentages
        big=""
        [ "$size" -ge "$L3_BYTES" ] && [ -n "$BW_BEFORE" ] && big=$size
        LPP="-"
        slm_decode "$gguf" "$t" $big
        slm_prefill "$gguf" "$t" "$PROMPT" 1
        if [ "$PRE" = "-" ] && [ -n "$PROMPT" ] && [ "$want" = "$seq" ]; then
          # a prompt that fills the context exactly may be refused: one token less
          prompt_n=$PROMPT
          make_prompt "$TOK" $((want - 1))
          slm_prefill "$gguf" "$t" "$PROMPT"
          [ "$PRE" != "-" ] && note "$m $ty -t $t: the $want-token prompt failed; prefill used $((want - 1)) tokens"
          PROMPT=$prompt_n
        fi
        RF="-" RO="-" RQ="-"
        case $ty in
          f32)
            [ "$t" = 1 ] && RF=$(l2c_run runfast "$l2c" "$L2C_TOK" 1)
            RO=$(l2c_run runomp "$l2c" "$L2C_TOK" "$t")
            ;;
          q8_0) RQ=$(l2c_run runq "$l2c" "$L2C_TOK" "$t") ;;
        esac
        floor="-" pct="-" bw=""
        if [ -n "$big" ]; then [ -n "$BWS" ] && bw=$(printf '%s' "$BWS" | median)
        else bw=$(bw_at "$BW_BEFORE" "$t"); fi
        if [ -n "$bw" ]; then
          floor=$(awk -v g="$bw" -v b="$size" 'BEGIN {printf "%.0f", g * 1e9 / b}')
          if [ -n "$big" ]; then
            floor="$floor ($(printf '%s' "$BWS" | sort -g | head -1)–$(printf '%s' "$BWS" | sort -g | tail -1) GB/s)"
            pct="$(printf '%s' "$PCTS" | median | awk '{printf "%.0f%%", $1}')"
          elif [ "$size" -lt "$L3_BYTES" ]; then pct="(fits L3)"
          fi
        fi
        echo "| $m | $ty | $t | $(mib "$size") | $DEC | $PRE | $RSS | $LTG | $LPP | $RF | $RO | $RQ | $floor | $pct |"
      done
    done
  done

  echo
  say "measuring memory bandwidth again"
  BW_AFTER=$(measure_bw)
  echo "- bandwidth after the table:"
  [ -n "$BW_AFTER" ] && echo "$BW_AFTER" | sed 's/^/    /' || echo "    (not measured)"
  echo
  echo "Notes:"
  echo "- slm and llama.cpp run the same GGUF files (build/bench-full/MODEL.TYPE.gguf); weight MiB is the GGUF's size."
  echo "  q8_0 and q4_0 come from \`slm quantize\`, which keeps a tied token embedding (the classifier) at q8_0"
  echo "  in q4_0 files; norms stay f32; matrices whose rows are not whole 32-value blocks (stories260K's"
  echo "  hidden size 172) stay f16. q4_k_m and q5_k_m (when TYPES asks for them) come from llama.cpp's"
  echo "  llama-quantize: its own mixes, with Q5_0 / Q5_1 where rows are not whole 256-value blocks."
  echo "- slm decode: \`slm generate -n $NGEN --temp 0\` from BOS, the generated tok/s of its last stderr line,"
  echo "  median of $REPS; \"(N tok)\" when a run stopped early at end of text (N: the fewest tokens made)."
  echo "- slm prefill: \`slm generate -f PROMPT -n 1\`, the prompt tok/s; prompts are the shortest prefix of"
  echo "  the TinyStories validation text with $NPROMPT tokens (BOS included) under the model's tokenizer"
  echo "  (build/bench-full/prompt-*.txt); \"(N tok)\" when the prompt had N tokens instead."
  echo "- slm peak RSS: the largest \"peak memory\" of the decode runs."
  echo "- llama.cpp: llama-bench -n $NGEN -p 0 -r 1 after each slm decode run and -p $NPROMPT -n 0 -r 1 before each slm"
  echo "  prefill run (each after llama-bench's warm-up), the median of the $REPS (its pp test feeds random tokens)."
  echo "- runfast (gcc -Ofast -march=native run.c), runomp (the same with -fopenmp, OMP_NUM_THREADS=threads)"
  echo "  and runq (runq.c, -Ofast -march=native -fopenmp) decode $NGEN steps from BOS at temperature 0:"
  echo "  the harmonic mean of their \"achieved tok/s\" (the tok/s of their total time) without the slowest and"
  echo "  the fastest run; of $REPS runs that is the median. llama2.c times a run in whole milliseconds, so where"
  echo "  its median run took under 100 ms (stories260K's took about 5 ms in docs/benchmarks.md) it runs $L2C_SHORT_REPS times."
  echo "  runfast is single-threaded: - on rows with more threads."
  echo "  f32 rows run the fp32 (v0) checkpoint, q8_0 rows runq on \`slm convert --to llama2c-q80\` with its"
  echo "  default group size (the largest <= 64 dividing dim and hidden_dim: stories260K 4, stories15M 48,"
  echo "  the others 64); llama2.c has no 4-bit format: - on q4_0 rows."
  if has bundled "$MODELS"; then
    echo "- bundled has no llama2.c cells: llama2.c needs a tokenizer.bin of the model's 1024 tokens, the"
    echo "  model keeps its tokenizer only inside the GGUF, and slm cannot write it out as a tokenizer.bin."
  fi
  echo "- floor tok/s = read bandwidth at that thread count / bytes read per token. For files larger than L3 the"
  echo "  bandwidth is measured again just before each of slm's $REPS decode runs: the cell shows the median of those"
  echo "  floors with the bandwidths' range in brackets, and the median of each run's tok/s as a percentage of"
  echo "  the floor from its own measurement. Smaller files use the bandwidth measured before the table; bytes taken"
  echo "  as the GGUF file size (all models here tie the classifier to the embedding, which every token"
  echo "  reads whole). \"(fits L3)\": the file is smaller than the L3 cache, so DRAM bandwidth bounds nothing."
  echo "- random-weight models (\`slm init --seed 1\`, llama2.c v0): stories15M (seq_len 1024, so a $NPROMPT"
  echo "  prompt fits), stories110M, smollm135M, smollm360M; the 49152-token ones use the Llama 2 tokenizer"
  echo "  padded with unused <padN> pieces (build/bench-full/tok49152.bin)."
  local n
  for n in ${NOTES[@]+"${NOTES[@]}"}; do echo "- $n"; done
}

STARTED=$(date -u +%Y%m%d-%H%M)
main | tee "$OUT/results.md"
# each run's table is kept too, for bench/targets.sh over several runs
cp "$OUT/results.md" "$OUT/results-$STARTED.md"
