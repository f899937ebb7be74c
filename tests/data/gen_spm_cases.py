#!/usr/bin/python3
"""Generate tests/data/spm_llama2_cases.txt: reference SentencePiece ids for
the Llama 2 tokenizer (32000-piece BPE, byte_fallback) on a corpus of test
texts written for slm.

Each non-comment line of the output is

    <lowercase hex of the input bytes>\t<space-separated ids>

(empty hex for the empty input; empty id list only for the empty input).
Ids are exactly what SentencePiece's Encode() returns for the raw input
bytes: no BOS, no EOS, no sampling.  They equal `spm_encode
--model=tokenizer.model --output_format=id` for every input without a '\n'
(spm_encode is line based, so it cannot take inputs containing newlines);
this script checks that agreement on every newline-free case each run.
Lines starting with '#' are comments.

Requirements (Debian 12): apt-get install -y sentencepiece python3-sentencepiece
Run with the system python (the Debian binding lives there):

    /usr/bin/python3 tests/data/gen_spm_cases.py \
        [--model /work/shared/models/tokenizer.model] \
        [--out tests/data/spm_llama2_cases.txt] [--check]

--check regenerates in memory and exits non-zero if the file on disk differs.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.environ.get("SLM_SPM_MODEL",
                               "/work/shared/models/tokenizer.model")
DEFAULT_OUT = os.path.join(HERE, "spm_llama2_cases.txt")


def u(s):
    return s.encode("utf-8")


LONG_PARAGRAPH = (
    "The lighthouse keeper on the northern cape kept two logbooks. In the "
    "first, bound in green cloth, he wrote the weather every four hours: wind "
    "from the west-southwest at 18 knots, visibility 6 nautical miles, "
    "barometer falling slowly from 1013 to 1007 hPa. In the second, a cheap "
    "spiral notebook with a coffee stain shaped like Portugal, he wrote "
    "everything else. He noted the ferry that was late on Tuesdays (always "
    "Tuesdays, never Mondays), the gulls that quarrelled over a single "
    "sardine, and the day in March when a container of rubber ducks washed "
    "up on the shingle beach below the tower. \"Nobody believes the ducks,\" "
    "he told the inspector, who had come to check the lamp and the fuel "
    "accounts. The inspector, a patient woman named Ingrid, counted the ducks "
    "herself: 1,214 yellow ones, 37 blue ones, and one green frog that had "
    "clearly joined them by mistake. She added a line to her report - "
    "'station in good order; keeper reliable; ducks confirmed' - and stayed "
    "for tea. Over the next decade the notebooks multiplied until they filled "
    "three shelves, then the cupboard under the stairs, then a trunk in the "
    "oil store. When the light was finally automated in 2009, a museum in the "
    "town asked for the green logbooks, which were tidy and useful, and left "
    "the spiral notebooks behind. The keeper's niece read them one winter, "
    "page after page, and found that they were the better record: not of the "
    "weather, which anyone could look up, but of how a small place changes "
    "slowly and then all at once. She typed them up, corrected nothing, and "
    "printed forty copies for the people who were still in them. The ferry "
    "is still late on Tuesdays. Nobody knows why; it's simply tradition now, "
    "like the frog, which sits on the windowsill of the café by the harbour "
    "and has become, against all odds, a minor celebrity with its own "
    "postcard (price: €1.50, or two for €2.50). Visitors ask whether it "
    "is the original frog; the owner always says yes."
)
assert 1900 <= len(u(LONG_PARAGRAPH)) <= 2300, len(u(LONG_PARAGRAPH))

# (description, input bytes).  All texts are written for this file.
CASES = [
    # --- trivial -----------------------------------------------------------
    ("empty string", b""),
    ("single ascii char", b"a"),
    ("single uppercase char", b"Z"),
    ("single digit", b"7"),
    ("single punctuation", b"?"),
    ("single non-ascii char", u("é")),
    # --- plain English -----------------------------------------------------
    ("plain sentence", b"Hello world"),
    ("plain sentence with period", b"The quick brown fox jumps over the lazy dog."),
    ("sentence with contractions", b"I can't believe it's already Friday; we'd better hurry!"),
    ("quoted speech", b'She said, "Don\'t forget the umbrella," and left.'),
    ("mixed case words", b"iPhone, eBay, McDonald, NASA, camelCaseIdentifier"),
    ("long word", b"Antidisestablishmentarianism and pneumonoultramicroscopic words"),
    # --- spaces --------------------------------------------------------------
    ("one leading space", b" leading"),
    ("two leading spaces", b"  two leading"),
    ("one trailing space", b"trailing "),
    ("two trailing spaces", b"trailing two  "),
    ("leading and trailing spaces", b"   both sides   "),
    ("double space inside", b"double  space"),
    ("triple space inside", b"triple   space"),
    ("five spaces inside", b"five     spaces"),
    ("many spaces inside", b"a" + b" " * 17 + b"b"),
    ("space only x1", b" "),
    ("space only x2", b"  "),
    ("space only x3", b"   "),
    ("space only x5", b"     "),
    ("space only x16", b" " * 16),
    # --- newlines / tabs / CR -------------------------------------------------
    ("single newline only", b"\n"),
    ("double newline only", b"\n\n"),
    ("newline inside", b"first line\nsecond line"),
    ("double newline paragraph", b"Paragraph one.\n\nParagraph two."),
    ("leading newline", b"\nstarts with a newline"),
    ("trailing newline", b"ends with a newline\n"),
    ("newline then spaces", b"line\n    indented four"),
    ("spaces then newline", b"trailing spaces   \nnext"),
    ("tab inside", b"col1\tcol2\tcol3"),
    ("leading tab", b"\tindented with tab"),
    ("tab only", b"\t"),
    ("tab and spaces", b" \t \t "),
    ("CRLF line endings", b"windows line\r\nsecond line\r\n"),
    ("lone CR", b"carriage\rreturn"),
    ("CR only", b"\r"),
    ("vertical tab form feed", b"a\x0bb\x0cc"),
    # --- digits and numbers --------------------------------------------------
    ("pi", b"3.14159"),
    ("million with commas", b"1,000,000"),
    ("iso date", b"2026-11-27"),
    ("long digit run", b"12345678901234567890"),
    ("numbers in sentence", b"Flight 815 departs at 14:05 from gate B12; fare $299.99 (+7.5% tax)."),
    ("negative and exponent", b"-42 and 6.022e23 and 0x1F and 1e-9"),
    ("phone-like", b"+1 (555) 010-9999 ext. 42"),
    # --- punctuation runs ----------------------------------------------------
    ("exclamation run", b"!!!!!!"),
    ("dot run", b"......"),
    ("interrobang-ish", b"?!?!"),
    ("dash equals run", b"----===="),
    ("paren run", b"(((())))"),
    ("mixed punctuation", b"Wait... what?! No -- really?? #$%&*@^~`|\\/<>{}[]"),
    ("ascii art", b"+---+---+\n| a | b |\n+---+---+"),
    # --- accented Latin, German, Greek, Cyrillic -----------------------------
    ("cafe naive", u("café naïve résumé façade")),
    ("Danish place", u("Ærøskøbing")),
    ("Czech composer", u("Dvořák")),
    ("Polish city", u("Łódź")),
    ("German sharp s", u("Die Straße ist groß, weiß und süß.")),
    ("combining acute", u("cafe\u0301 vs caf\u00e9")),
    ("Greek", u("Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.")),
    ("Cyrillic", u("Съешь же ещё этих мягких французских булок, да выпей чаю.")),
    ("Ukrainian", u("Ґанок і їжак: Україна")),
    # --- CJK -----------------------------------------------------------------
    ("Chinese", u("我们今天去公园散步，天气很好。")),
    ("Japanese kana and kanji", u("ひらがなとカタカナと漢字を混ぜた文です。")),
    ("Japanese halfwidth katakana", u("ｶﾀｶﾅ")),
    ("Korean hangul", u("안녕하세요, 만나서 반갑습니다.")),
    ("fullwidth latin and ideographic space", u("ＡＢＣ　１２３")),
    # --- emoji ---------------------------------------------------------------
    ("simple emoji", u("I love pizza 🍕 and cats 🐈!")),
    ("ZWJ family", u("👨\u200d👩\u200d👧\u200d👦")),
    ("flags", u("🇯🇵🇺🇳🇧🇷")),
    ("skin tones", u("👍🏽 👋🏿 🙏🏻")),
    ("rainbow flag with VS16", u("🏳\ufe0f\u200d🌈")),
    ("emoji only run", u("😀😃😄😁😆")),
    # --- rare chars / byte fallback ------------------------------------------
    ("fraktur", u("𝔘𝔫𝔦𝔠𝔬𝔡𝔢")),
    ("cuneiform", u("𒀀𒀁")),
    ("Linear B", u("𐀀𐀁")),
    ("plane 16 private use near max", u("\U0010fffd")),
    ("U+10FFFF noncharacter", u("x\U0010ffffy")),
    ("BMP private use", u("\ue000\uf8ff")),
    ("U+FFFD replacement char itself", u("bad\ufffdchar")),
    ("zero width space and nbsp", u("zero\u200bwidth and\u00a0nbsp")),
    ("math symbols", u("∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x|")),
    ("arabic and hebrew", u("مرحبا بالعالم שלום עולם")),
    ("devanagari and thai", u("नमस्ते दुनिया สวัสดีชาวโลก")),
    # --- code ----------------------------------------------------------------
    ("C snippet", b"int main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n"),
    ("python snippet", b"def f(x):\n\treturn [i ** 2 for i in range(x) if i % 2 == 0]\n"),
    ("one-line code", b"for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];"),
    ("json", b'{"key": [1, 2.5, null, true], "nested": {"a": "b"}}'),
    ("url and email", b"https://example.com/path?q=1&r=two#frag user.name+tag@example.org"),
    ("shell", b"cat file.txt | grep -v '^#' | sort -u > out.txt && echo $?"),
    # --- mixed ---------------------------------------------------------------
    ("mixed language line", u("Hello, 世界! Привет, мир! こんにちは 🌍 café 123")),
    ("long paragraph ~2KB", u(LONG_PARAGRAPH)),
    # --- invalid UTF-8 -------------------------------------------------------
    ("lone continuation 0x80", b"abc\x80def"),
    ("lone continuation only", b"\x80"),
    ("0xC3 without continuation", b"caf\xc3 au lait"),
    ("0xC3 at end", b"caf\xc3"),
    ("0xFF", b"x\xffy"),
    ("0xFE 0xFF", b"\xfe\xff"),
    ("overlong slash C0 AF", b"a\xc0\xafb"),
    ("truncated 4-byte F0 9F 98", b"smile \xf0\x9f\x98 here"),
    ("truncated 4-byte then valid emoji", u("x") + b"\xf0\x9f\x98" + u("😀")),
    ("surrogate ED A0 80", b"sur\xed\xa0\x80rogate"),
    ("above U+10FFFF F4 90 80 80", b"big\xf4\x90\x80\x80cp"),
    ("truncated 3-byte E2 82 then ascii", b"euro \xe2\x82 sign"),
    ("invalid bytes mixed with text and spaces", b" \x80 \xc3\xa9\xc3 \xff  ok"),
]


def spm_encode_batch(model, inputs):
    """Run spm_encode on newline-free inputs, one per line; return id lists."""
    exe = shutil.which("spm_encode")
    if exe is None:
        return None
    data = b"".join(x + b"\n" for x in inputs)
    out = subprocess.run([exe, "--model", model, "--output_format=id"],
                         input=data, stdout=subprocess.PIPE, check=True).stdout
    lines = out.split(b"\n")
    assert lines[-1] == b"", "spm_encode output not newline terminated"
    lines = lines[:-1]
    assert len(lines) == len(inputs), (len(lines), len(inputs))
    return [[int(t) for t in l.split()] for l in lines]


def spm_version():
    exe = shutil.which("spm_encode")
    if exe is None:
        return "(spm_encode not found)"
    r = subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return r.stdout.decode("utf-8", "replace").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    with open(args.model, "rb") as f:
        model_bytes = f.read()
    sha = hashlib.sha256(model_bytes).hexdigest()
    sp = spm.SentencePieceProcessor(model_file=args.model)
    assert sp.get_piece_size() == 32000

    seen = set()
    for desc, b in CASES:
        assert isinstance(b, bytes), desc
        assert b not in seen, "duplicate case: " + desc
        seen.add(b)

    # Primary reference: Python binding, raw bytes in (no decode step).
    ids = [sp.encode(b) for _, b in CASES]  # add_bos/add_eos default False

    for (desc, b), r in zip(CASES, ids):
        assert (len(r) == 0) == (len(b) == 0), desc
        # Valid UTF-8 inputs: str and bytes paths must agree.
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            s = None
        if s is not None:
            assert sp.encode(s) == r, desc

    # Cross-check with the spm_encode CLI on every newline-free input,
    # including the invalid UTF-8 ones (spm_encode reads raw bytes).
    idx = [i for i, (_, b) in enumerate(CASES) if b"\n" not in b]
    cli = spm_encode_batch(args.model, [CASES[i][1] for i in idx])
    if cli is None:
        print("warning: spm_encode not found; CLI cross-check skipped",
              file=sys.stderr)
        ncli = 0
    else:
        for i, c in zip(idx, cli):
            if c != ids[i]:
                sys.exit("MISMATCH python vs spm_encode on case %r: %r vs %r"
                         % (CASES[i][0], ids[i], c))
        ncli = len(idx)

    hdr = [
        "# SentencePiece reference ids for the Llama 2 tokenizer (no BOS/EOS).",
        "# Format: <lowercase hex of input bytes>\\t<space-separated ids>; '#' lines are comments.",
        "# Generated by tests/data/gen_spm_cases.py (corpus is in that script):",
        "#   /usr/bin/python3 tests/data/gen_spm_cases.py --model /work/shared/models/tokenizer.model",
        "# Tool: Debian sentencepiece / python3-sentencepiece %s (spm_encode --version: %s)"
        % (spm.__version__, spm_version()),
        "# Model: tokenizer.model sha256 %s, %d pieces" % (sha, sp.get_piece_size()),
        "# Ids = SentencePieceProcessor.encode(<raw input bytes>) (python binding);",
        "# identical to `spm_encode --model tokenizer.model --output_format=id` for all",
        "# %d newline-free cases (checked at generation time; spm_encode is line based)." % ncli,
        "# Invalid UTF-8: spm replaces each offending byte by U+FFFD (one per byte)",
        "# before tokenizing; the raw bytes are NOT byte-fallback encoded.",
        "# cases: %d" % len(CASES),
    ]
    lines = list(hdr)
    for n, ((desc, b), r) in enumerate(zip(CASES, ids)):
        lines.append("# %d: %s" % (n, desc))
        lines.append("%s\t%s" % (b.hex(), " ".join(str(i) for i in r)))
    text = "\n".join(lines) + "\n"

    if args.check:
        with open(args.out, "r", encoding="utf-8") as f:
            old = f.read()
        if old != text:
            sys.exit("%s is out of date" % args.out)
        print("ok: %s up to date (%d cases)" % (args.out, len(CASES)))
        return
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print("wrote %s: %d cases (%d cross-checked with spm_encode)"
          % (args.out, len(CASES), ncli))


if __name__ == "__main__":
    main()
