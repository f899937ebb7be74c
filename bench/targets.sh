#!/bin/bash
# targets.sh — issue 5's speed targets checked on tables written by bench/full.sh (make bench):
#   decode >= llama.cpp tg128 in every cell;
#   stories260K: decode >= 3x llama.cpp in every cell, >= 2x runfast (f32, one thread);
#   prefill >= llama.cpp pp512 for stories110M, smollm135M and smollm360M;
#   decode within 1.3x of the bandwidth floor (>= 76.9% of it) in every cell larger than L3.
#
#   bench/targets.sh RESULTS.md...
#
# For each table: the cells that miss, and how many of each target's cells are met. Given several
# tables (runs of the same code), also each cell's median over them, and the cells whose median
# misses: on this VM, whose memory bandwidth and vCPU placement drift from one minute to the next,
# a single run misses a few cells that pass in the others. Each table's line names its slm commit:
# compare tables of the same code.
set -euo pipefail
if [ $# -lt 1 ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
for f in "$@"; do [ -f "$f" ] || { echo "targets.sh: $f: no such file" >&2; exit 1; }; done

awk -v nfiles=$# '
function num(s) { gsub(/^ +| +$/, "", s); return s ~ /^[0-9.]+/ ? s + 0 : -1 }
function name(s) { gsub(/^ +| +$/, "", s); return s }
# one value of one cell: the ratio to its target (>= 1 meets it)
function put(target, cell, ratio, shown) {
  key = target SUBSEP cell
  if (!(key in seen)) { seen[key] = 1; order[++ncells] = key }
  vals[key, ++nv[key]] = ratio
  total[FILENAME, target]++
  if (ratio >= 1) met[FILENAME, target]++
  else misses[FILENAME] = misses[FILENAME] "    " target ": " cell " " shown "\n"
}
FNR == 1 { files[++nf] = FILENAME }
/^- (slm|date): / { sub(/^- /, ""); about[FILENAME] = about[FILENAME] (about[FILENAME] ? ", " : "") $0 }
/^\| (stories260K|bundled|stories15M|stories110M|smollm135M|smollm360M) \|/ {
  split($0, c, "|")
  m = name(c[2]); ty = name(c[3]); t = name(c[4]); cell = m " " ty " " t "t"
  dec = num(c[6]); pre = num(c[7]); ltg = num(c[9]); lpp = num(c[10]); rf = num(c[11]); pct = num(c[15])
  if (dec > 0 && ltg > 0) put("decode >= llama.cpp", cell, dec / ltg, sprintf("%.1f against %.1f", dec, ltg))
  if (m == "stories260K" && dec > 0 && ltg > 0)
    put("stories260K >= 3x llama.cpp", cell, dec / ltg / 3, sprintf("%.2fx", dec / ltg))
  if (m == "stories260K" && ty == "f32" && t == 1 && dec > 0 && rf > 0)
    put("stories260K >= 2x runfast", cell, dec / rf / 2, sprintf("%.2fx (%.0f against %.0f)", dec / rf, dec, rf))
  if ((m == "stories110M" || m == "smollm135M" || m == "smollm360M") && pre > 0 && lpp > 0)
    put("prefill >= llama.cpp", cell, pre / lpp, sprintf("%.1f against %.1f", pre, lpp))
  if (c[15] ~ /%/ && pct >= 0) put("floor within 1.3x", cell, pct / 100 * 1.3, sprintf("%d%%", pct))
}
END {
  ntargets = split("decode >= llama.cpp|stories260K >= 3x llama.cpp|stories260K >= 2x runfast|prefill >= llama.cpp|floor within 1.3x", tg, "|")
  all_runs = 0
  for (i = 1; i <= nf; i++) {
    f = files[i]; line = ""; ok = 1
    for (j = 1; j <= ntargets; j++) {
      n = total[f, tg[j]] + 0; k = met[f, tg[j]] + 0
      line = line sprintf("%s%s %d/%d", j > 1 ? "; " : "", tg[j], k, n)
      if (k < n) ok = 0
    }
    all_runs += ok
    printf "%s (%s): %s\n", f, about[f], line
    if (f in misses) printf "  missed:\n%s", misses[f]
  }
  if (nfiles < 2) exit 0
  printf "\neach cell'"'"'s median over the %d tables:\n", nfiles
  bad = 0
  for (j = 1; j <= ntargets; j++) {
    n = 0; k = 0; worst = ""; wv = 1e9
    for (i = 1; i <= ncells; i++) {
      key = order[i]; split(key, kk, SUBSEP)
      if (kk[1] != tg[j]) continue
      cnt = nv[key]
      for (a = 1; a <= cnt; a++) s[a] = vals[key, a]
      for (a = 2; a <= cnt; a++) for (b = a; b > 1 && s[b - 1] > s[b]; b--) { x = s[b]; s[b] = s[b - 1]; s[b - 1] = x }
      med = cnt % 2 ? s[(cnt + 1) / 2] : (s[cnt / 2] + s[cnt / 2 + 1]) / 2
      n++
      if (med >= 1) k++
      else { bad++; printf "    median misses: %s: %s (%.3f of the target, %d tables)\n", tg[j], kk[2], med, cnt }
      if (med < wv) { wv = med; worst = kk[2] }
    }
    if (n) printf "  %s: %d/%d cells; the closest %s at %.3f of the target\n", tg[j], k, n, worst, wv
  }
  printf "tables meeting every target: %d of %d; cells whose median misses: %d\n", all_runs, nfiles, bad
}' "$@"
