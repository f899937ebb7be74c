#!/usr/bin/env bash
# bench/llamacpp_check.sh — GGUF interoperability with llama.cpp, both directions, on stories260K.
#   LLAMACPP=../baselines/llama.cpp/build/bin bench/llamacpp_check.sh
# 1. slm writes stories260K as GGUF (f32 and q8_0... where rows allow; tokenizer embedded);
#    llama.cpp's llama-cli generates greedily from it; the text must equal the golden story.
# 2. llama.cpp's llama-convert-llama2c-to-ggml writes stories260K as GGUF; slm generates from it.
set -euo pipefail
cd "$(dirname "$0")/.."
L=${LLAMACPP:-../baselines/llama.cpp/build/bin}
S=${SHARED:-../shared}/models
OUT=${OUT:-build/llamacpp}
mkdir -p "$OUT"
[ -x build/slm ] || make -j2 >/dev/null
golden=$S/stories260K.greedy.txt
same_prefix() { python3 -c "
import sys; a=open(sys.argv[1],'rb').read().lstrip(b' '); g=open(sys.argv[2],'rb').read()
n=0
while n<min(len(a),len(g)) and a[n]==g[n]: n+=1
print(f'{n} identical bytes of {len(g)} (output {len(a)} bytes)')" "$1" "$golden"; }

for t in f32 f16; do
  build/slm convert "$S/stories260K.bin" "$OUT/s260K.$t.gguf" --to gguf-$t 2>/dev/null
  "$L/llama-cli" -m "$OUT/s260K.$t.gguf" -p "" -n 400 --temp 0 -c 512 -no-cnv --no-warmup --no-display-prompt \
    </dev/null >"$OUT/llamacpp.$t.txt" 2>/dev/null
  build/slm generate -m "$OUT/s260K.$t.gguf" --temp 0 -n 1000 >"$OUT/slm.$t.txt" 2>/dev/null
  echo "slm-written GGUF $t -> llama.cpp: $(same_prefix "$OUT/llamacpp.$t.txt")"
  echo "slm-written GGUF $t -> slm:       $(same_prefix "$OUT/slm.$t.txt")"
done
"$L/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$S/tok512.bin" --llama2c-model "$S/stories260K.bin" \
  --llama2c-output-model "$OUT/s260K.llamacpp.gguf" >/dev/null 2>&1
build/slm generate -m "$OUT/s260K.llamacpp.gguf" --temp 0 -n 1000 >"$OUT/slm.llamacpp.txt" 2>/dev/null || true
echo "llama.cpp-written GGUF -> slm:     $(same_prefix "$OUT/slm.llamacpp.txt") (its context_length is 128)"

# 3. a random Qwen2-style model (q/k/v biases, half-split RoPE, GQA): same greedy text in both
cc -O1 -Iinclude bench/make_qwen2.c build/libslm.a -lm -lpthread -lcjson -o "$OUT/make_qwen2"
"$OUT/make_qwen2" "$S/tok512.bin" "$OUT/qwen2.gguf"
"$L/llama-cli" -m "$OUT/qwen2.gguf" -p "Once upon a time" -n 40 --temp 0 -c 128 -no-cnv --no-warmup --no-display-prompt \
  </dev/null >"$OUT/qwen2.llamacpp.txt" 2>/dev/null
build/slm generate -m "$OUT/qwen2.gguf" -p "Once upon a time" -n 40 --temp 0 >"$OUT/qwen2.slm.txt" 2>/dev/null
python3 -c "
import sys
def slm_view(raw):  # slm prints each byte that does not start a valid UTF-8 character as U+FFFD
    out, i = [], 0
    while i < len(raw):
        for n in (1, 2, 3, 4):
            try:
                out.append(raw[i:i + n].decode('utf-8')); i += n; break
            except UnicodeDecodeError:
                pass
        else:
            out.append(chr(0xfffd)); i += 1
    return ''.join(out).strip()
a = slm_view(open(sys.argv[1],'rb').read()); b = open(sys.argv[2],'rb').read().decode('utf-8').strip()
print('random qwen2 GGUF: slm and llama.cpp texts are', 'identical' if a == b else 'DIFFERENT', f'({len(b)} characters;',
      'invalid UTF-8 shown as U+FFFD as slm prints it)')" \
  "$OUT/qwen2.llamacpp.txt" "$OUT/qwen2.slm.txt"

# 4. the bundled model, trained by slm train (GGUF with slm's own tokenizer): same greedy story in both
if [ -f models/tinystories-slm.gguf ]; then
  "$L/llama-cli" -m models/tinystories-slm.gguf -p "Once upon a time" -n 120 --temp 0 -c 256 -no-cnv --no-warmup \
    --no-display-prompt </dev/null >"$OUT/bundled.llamacpp.txt" 2>/dev/null
  build/slm generate -m models/tinystories-slm.gguf -p "Once upon a time" -n 120 --temp 0 >"$OUT/bundled.slm.txt" 2>/dev/null
  python3 -c "
import sys
a = open(sys.argv[1], 'rb').read().strip(); b = open(sys.argv[2], 'rb').read().strip()
print('bundled model (trained by slm): slm and llama.cpp greedy texts are', 'identical' if a == b else 'DIFFERENT', f'({len(a)} bytes)')" \
    "$OUT/bundled.llamacpp.txt" "$OUT/bundled.slm.txt"
fi
