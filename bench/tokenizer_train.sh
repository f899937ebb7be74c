#!/usr/bin/env bash
# bench/tokenizer_train.sh — tokenizer training time and compression: slm beside SentencePiece's
# spm_train (Debian package sentencepiece: apt-get install sentencepiece).
#
#   bench/tokenizer_train.sh [REPS]     (default 3 repetitions, interleaved; the median is reported)
#
# Trains a 4096-token SentencePiece-style BPE with byte fallback on war-and-peace.txt +
# TinyStories train-head-2MiB.txt with slm (-t 1 and -t 2) and spm_train, then counts the tokens
# each makes of TinyStories valid-head-794KB.txt. Environment: SHARED=dir (default ../shared),
# OUT=dir for the tokenizers (default build/bench-tok).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
SHARED=${SHARED:-../shared}
OUT=${OUT:-build/bench-tok}
SLM=build/slm
TRAIN="$SHARED/data/text/war-and-peace.txt $SHARED/data/tinystories/train-head-2MiB.txt"
VALID=$SHARED/data/tinystories/valid-head-794KB.txt
mkdir -p "$OUT"
[ -x "$SLM" ] || make -j2 >/dev/null
command -v spm_train >/dev/null || { echo "spm_train is missing: apt-get install sentencepiece"; exit 1; }

# wall seconds of a command (its output discarded)
seconds() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "load before: $(uptime)"
: >"$OUT/times"
for r in $(seq "$REPS"); do
  for t in 1 2; do
    echo "slm-t$t $(seconds $SLM tokenizer train --quiet --vocab 4096 --byte-fallback -t $t -o "$OUT/slm-t$t.bin" $TRAIN)" >>"$OUT/times"
  done
  echo "spm_train $(seconds spm_train --input="${TRAIN// /,}" --model_prefix="$OUT/spm" --vocab_size=4096 --model_type=bpe \
    --byte_fallback=true --character_coverage=0.9995 --normalization_rule_name=identity --remove_extra_whitespaces=false)" >>"$OUT/times"
done
echo "load after:  $(uptime)"
cmp "$OUT/slm-t1.bin" "$OUT/slm-t2.bin" && echo "slm -t 1 and -t 2 wrote the same tokenizer"
echo
echo "| trainer | runs (s) | median (s) |"
echo "|---|---|---|"
for name in slm-t1 slm-t2 spm_train; do
  runs=$(awk -v n=$name '$1 == n { print $2 }' "$OUT/times")
  echo "| $name | $(echo $runs) | $(echo "$runs" | tr ' ' '\n' | median) |"
done

bytes=$(wc -c <"$VALID")
$SLM tokenize -z "$OUT/slm-t1.bin" -f "$VALID" --no-bos | tr ' ' '\n' | grep . >"$OUT/slm.ids"
slm_tokens=$(wc -l <"$OUT/slm.ids")
newlines=$(grep -cx 13 "$OUT/slm.ids" || true) # <0x0A>: id 3 + 10
spm_tokens=$(spm_encode --model="$OUT/spm.model" --output_format=id <"$VALID" | wc -w)
echo
echo "valid-head-794KB.txt: $bytes bytes"
awk -v b="$bytes" -v s="$slm_tokens" -v p="$spm_tokens" -v l="$newlines" 'BEGIN {
  printf "slm: %d tokens, %.3f bytes per token; %d of them are line ends (<0x0A>)\n", s, b / s, l
  printf "spm: %d tokens, %.3f bytes per token (spm_encode encodes line by line, without line ends)\n", p, b / p
  printf "slm / spm tokens: %.4f; without slm line-end tokens: %.4f\n", s / p, (s - l) / p }'
