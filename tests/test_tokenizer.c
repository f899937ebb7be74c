/* test_tokenizer.c — SentencePiece-exact encoding, decoding, speed sanity. */
#include <time.h>

#include "test.h"
#include "tests.h"

static slm_tokenizer *llama_tokenizer(void) {
    const char *p = shared_path("models/tokenizer.bin");
    slm_tokenizer *t = NULL;
    slm_error err;
    if (p && slm_tokenizer_load_file(p, 32000, &t, &err) != SLM_OK) fprintf(stderr, "%s\n", err.msg);
    return t;
}

static int hexval(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

/* Compares encode(text) with the expected ids; prints the first mismatch. */
static int expect_ids(const slm_tokenizer *t, const char *text, size_t len, const char *expected, const char *label) {
    int cap = (int)(3 * len + 3), n;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    slm_tokenizer_encode(t, text, len, 0, 0, ids, cap, &n);
    int ok = 1, i = 0;
    const char *p = expected;
    for (;; i++) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n') break;
        long v = strtol(p, (char **)&p, 10);
        if (i >= n || ids[i] != v) ok = 0;
    }
    if (i != n) ok = 0;
    if (!ok) {
        fprintf(stderr, "    %s: expected [%.*s] got [", label, (int)strcspn(expected, "\n"), expected);
        for (int k = 0; k < n; k++) fprintf(stderr, "%s%d", k ? " " : "", ids[k]);
        fprintf(stderr, "]\n");
    }
    free(ids);
    return ok;
}

static void spm_corpus(slm_tokenizer *t, const char *what);

void tokenizer_spm_exact_on_corpus(void) {
    slm_tokenizer *t = llama_tokenizer(), *m = NULL;
    const char *mp = shared_path("models/tokenizer.model");
    slm_error err;
    if (!t || !mp) {
        slm_tokenizer_free(t);
        SKIP("../shared/models/tokenizer.bin or tokenizer.model is missing");
    }
    spm_corpus(t, "tokenizer.bin");
    /* the SentencePiece model itself (protobuf), read directly */
    CHECK(slm_tokenizer_load_file(mp, 32000, &m, &err) == SLM_OK, "%s", err.msg);
    if (m) spm_corpus(m, "tokenizer.model");
    slm_tokenizer_free(m);
    /* a cut protobuf is refused with a message, wherever it is cut */
    size_t len;
    char *raw = read_all(mp, &len);
    const size_t cuts[] = {5, 1000, len / 2, len - 1};
    for (int i = 0; i < 4; i++) {
        m = NULL;
        CHECK(slm_tokenizer_load_memory(raw, cuts[i], "cut.model", 0, &m, &err) != SLM_OK && !m, "cut at %zu accepted", cuts[i]);
        CHECK(strstr(err.msg, "cut.model") && strstr(err.msg, "malformed"), "cut at %zu: %s", cuts[i], err.msg);
        slm_tokenizer_free(m);
    }
    free(raw);
    slm_tokenizer_free(t);
}

static void spm_corpus(slm_tokenizer *t, const char *what) {
    size_t len;
    char *cases = read_all("tests/data/spm_llama2_cases.txt", &len);
    CHECK(cases != NULL, "tests/data/spm_llama2_cases.txt must be readable (run from the repository root)");
    int n_cases = 0, n_ok = 0;
    for (char *line = cases; cases && *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        if (line[0] != '#' && strchr(line, '\t')) {
            char *tab = strchr(line, '\t');
            size_t hl = (size_t)(tab - line);
            char *text = malloc(hl / 2 + 1);
            for (size_t i = 0; i < hl / 2; i++) text[i] = (char)(hexval(line[2 * i]) * 16 + hexval(line[2 * i + 1]));
            char label[32];
            snprintf(label, sizeof label, "case %d", n_cases);
            n_ok += expect_ids(t, text, hl / 2, tab + 1, label);
            n_cases++;
            free(text);
        }
        if (!end) break;
        line = end + 1;
    }
    printf("    %d/%d SentencePiece cases identical (%s)\n", n_ok, n_cases, what);
    CHECK(n_cases >= 100 && n_ok == n_cases);
    free(cases);
}

static void llama_spm_vectors(slm_tokenizer *t, const char *ip, const char *op, const char *label);

/* llama.cpp's vocabulary test files for NAME under ../shared (the GGUF, its inputs, its expected ids);
 * 0 when any is missing. */
static int vocab_test_files(const char *name, const char **gp, const char **ip, const char **op) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/tokenizer-tests/ggml-vocab-%s.gguf", name);
    *gp = shared_path(rel);
    snprintf(rel, sizeof rel, "data/tokenizer-tests/ggml-vocab-%s.gguf.inp", name);
    *ip = shared_path(rel);
    snprintf(rel, sizeof rel, "data/tokenizer-tests/ggml-vocab-%s.gguf.out", name);
    *op = shared_path(rel);
    return *gp && *ip && *op;
}

void tokenizer_llama_spm_vectors(void) {
    const char *gp, *ip, *op;
    int have = vocab_test_files("llama-spm", &gp, &ip, &op);
    slm_tokenizer *t = llama_tokenizer(), *g = NULL;
    slm_error err;
    if (!have || !t) {
        slm_tokenizer_free(t);
        SKIP("../shared/data/tokenizer-tests/ggml-vocab-llama-spm.gguf(.inp/.out) or tokenizer.bin is missing");
    }
    llama_spm_vectors(t, ip, op, "tokenizer.bin");
    /* the same vocabulary read from the GGUF's metadata */
    CHECK(slm_tokenizer_load_file(gp, 32000, &g, &err) == SLM_OK, "%s", err.msg);
    if (g) llama_spm_vectors(g, ip, op, "GGUF vocab");
    slm_tokenizer_free(g);
    slm_tokenizer_free(t);
}

static void llama_spm_vectors(slm_tokenizer *t, const char *ip, const char *op, const char *what) {
    size_t il, ol;
    char *inp = read_all(ip, &il), *out = read_all(op, &ol);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *o = out;
    int n = 0, ok = 0;
    while (p && *p) {
        char *e = strstr(p, sep);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char label[32];
        snprintf(label, sizeof label, "vector %d", n);
        ok += expect_ids(t, p, len, o, label);
        n++;
        o = strchr(o, '\n');
        if (!o || !e) break;
        o++;
        p = e + strlen(sep);
    }
    printf("    %d/%d vectors identical (%s)\n", ok, n, what);
    CHECK(n > 20 && ok == n);
    free(inp), free(out);
}

/* Byte-level BPE vocabularies with llama.cpp's test vectors, read from their GGUF files. */
void tokenizer_bpe_vectors(void) {
    const char *names[] = {"gpt-2", "starcoder", "mpt", "refact", "falcon", "phi-3"};
    int ran = 0;
    for (int k = 0; k < 6; k++) {
        const char *gp, *ip, *op;
        if (!vocab_test_files(names[k], &gp, &ip, &op)) continue;
        slm_tokenizer *t = NULL;
        slm_error err;
        slm_status st = slm_tokenizer_load_file(gp, 0, &t, &err);
#ifdef SLM_NO_PCRE2
        if (st != SLM_OK) { /* a byte-level vocabulary: refused, naming the reason (phi-3's SPM one loads) */
            CHECK(!t && strstr(err.msg, "PCRE2"), "%s", err.msg);
            ran++;
            continue;
        }
#endif
        CHECK(st == SLM_OK, "%s", err.msg);
        if (t) llama_spm_vectors(t, ip, op, names[k]);
        /* decoding gives the text back, byte for byte */
        if (t) {
            const char *text = "Hello world!\n\tcafé 🍕  123456 ";
            CHECK(test_round_trip(t, text, strlen(text), 0, NULL), "%s decode", names[k]);
        }
        /* control tokens are hidden in decoded text unless asked for */
        if (t && k == 0) {
            int32_t eot[2] = {15496, 50256};
            char txt[64];
            size_t tl;
            slm_tokenizer_decode(t, eot, 2, txt, sizeof txt, &tl);
            CHECK(tl == 5 && !memcmp(txt, "Hello", 5), "[%s]", txt);
            slm_tokenizer_show_special(t, 1);
            slm_tokenizer_decode(t, eot, 2, txt, sizeof txt, &tl);
            CHECK(!strcmp(txt, "Hello<|endoftext|>"), "[%s]", txt);
            slm_tokenizer_show_special(t, 0);
            CHECK(slm_tokenizer_add_bos(t) == 0, "GPT-2 prompts do not start with BOS");
            /* control tokens in text: ordinary text by default, their ids with parse_special */
            int32_t got[16];
            int gn;
            slm_tokenizer_encode(t, "Hi<|endoftext|>there", 20, 0, 0, got, 16, &gn);
            CHECK(gn == 9 && got[1] != 50256, "%d tokens", gn);
            slm_tokenizer_parse_special(t, 1);
            slm_tokenizer_encode(t, "Hi<|endoftext|>there", 20, 0, 0, got, 16, &gn);
            CHECK(gn == 3 && got[0] == 17250 && got[1] == 50256 && got[2] == 8117, "%d tokens", gn);
            slm_tokenizer_parse_special(t, 0);
        }
        /* embedded by slm's GGUF writer and read back, the vocabulary encodes the same */
        if (t && k == 0) {
            slm_config c = {16, 32, 1, 1, 2, 2, 8, slm_tokenizer_vocab_size(t), 16, 1, 1e-5f, 10000.0f, 0};
            slm_model *m;
            slm_tokenizer *back = NULL;
            CHECK(slm_model_init_random(&c, 1, 0.02f, &m, &err) == SLM_OK);
            CHECK(slm_model_save_with_tokenizer(m, t, tmp_path("bpe.gguf"), SLM_SAVE_GGUF_F16, 0, &err) == SLM_OK, "%s", err.msg);
            CHECK(slm_tokenizer_load_file(tmp_path("bpe.gguf"), c.vocab_size, &back, &err) == SLM_OK, "%s", err.msg);
            if (back) llama_spm_vectors(back, ip, op, "gpt-2 written by slm");
            slm_tokenizer_free(back);
            slm_model_free(m);
        }
        slm_tokenizer_free(t);
        ran++;
    }
    if (!ran) SKIP("../shared/data/tokenizer-tests gpt-2 / starcoder vectors are missing");
}

void tokenizer_roundtrip_and_decode(void) {
    slm_tokenizer *t = llama_tokenizer();
    if (!t) SKIP("../shared/models/tokenizer.bin is missing");
    const char *texts[] = {"Hello world", "  two leading spaces", "tab\there\nnewline", "naïve café 東京 🍕",
                           "trailing  ", "x"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t ids[256];
        int n;
        CHECK(slm_tokenizer_encode(t, texts[i], strlen(texts[i]), 1, 0, ids, 256, &n) == SLM_OK);
        CHECK(ids[0] == 1, "BOS first");
        char out[512];
        size_t len;
        CHECK(slm_tokenizer_decode(t, ids, n, out, sizeof out, &len) == SLM_OK);
        CHECK(len == strlen(texts[i]) && memcmp(out, texts[i], len) == 0, "roundtrip '%s' -> '%s'", texts[i], out);
    }
    /* too small a buffer reports the needed count */
    int32_t small[2];
    int n;
    CHECK(slm_tokenizer_encode(t, "Hello world again", 17, 1, 1, small, 2, &n) == SLM_ERR_NOMEM && n == 5, "n %d", n);
    CHECK(small[0] == 1);
    /* empty text is just BOS */
    CHECK(slm_tokenizer_encode(t, "", 0, 1, 0, small, 2, &n) == SLM_OK && n == 1 && small[0] == 1);
    size_t len;
    const char *piece = slm_tokenizer_piece(t, 1, 15043, &len); /* "▁Hello" after BOS: no space */
    CHECK(piece && len == 5 && !memcmp(piece, "Hello", 5));
    piece = slm_tokenizer_piece(t, 100, 15043, &len);
    CHECK(piece && len == 6 && !memcmp(piece, " Hello", 6));
    piece = slm_tokenizer_piece(t, 100, 13, &len); /* <0x0A> */
    CHECK(piece && len == 1 && piece[0] == '\n');
    CHECK(slm_tokenizer_piece(t, 1, 32000, &len) == NULL);
    slm_tokenizer_free(t);
}

void tokenizer_100kb_prompt(void) {
    slm_tokenizer *t = llama_tokenizer();
    const char *wp = shared_path("data/text/war-and-peace.txt");
    if (!t || !wp) {
        slm_tokenizer_free(t);
        SKIP("../shared/models/tokenizer.bin or data/text/war-and-peace.txt is missing");
    }
    size_t len;
    char *text = read_all(wp, &len);
    if (len > 100000) len = 100000;
    int32_t *ids = malloc(sizeof(int32_t) * (3 * len + 3));
    int n;
    clock_t c0 = clock();
    CHECK(slm_tokenizer_encode(t, text, len, 1, 0, ids, (int)(3 * len + 3), &n) == SLM_OK);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    printf("    100 KB of text -> %d tokens in %.3f s (CPU time; informational)\n", n, secs);
    CHECK(n > 15000 && n < 40000);
    /* a pathological input: one 100 KB run of a single letter still finishes (no quadratic loop) */
    memset(text, 'a', len);
    CHECK(slm_tokenizer_encode(t, text, len, 0, 0, ids, (int)(3 * len + 3), &n) == SLM_OK);
    free(ids), free(text);
    slm_tokenizer_free(t);
}

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>

#include "../src/tokenizer/tokenizer.h"

/* Writes a tokenizer.json for a byte-level BPE vocabulary read from GGUF: vocab, merges (strings,
 * or [a, b] pairs), control tokens as special added tokens, and the pre-tokenizer. */
static void write_tokenizer_json(const slm_tokenizer *t, const char *path, int pairs, int digits) {
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model"), *vocab, *merges, *added;
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddFalseToObject(model, "byte_fallback");
    vocab = cJSON_AddObjectToObject(model, "vocab");
    added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int i = 0; i < t->vocab_size; i++) {
        if (t->types[i] == TYPE_CONTROL) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", i);
            cJSON_AddStringToObject(a, "content", t->pieces[i]);
            cJSON_AddTrueToObject(a, "special");
            cJSON_AddItemToArray(added, a);
        } else
            cJSON_AddNumberToObject(vocab, t->pieces[i], i);
    }
    merges = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < slm_bpe_n_merges(t); i++) {
        size_t len;
        const char *m = slm_bpe_merge(t, i, &len);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, m);
        if (!pairs) cJSON_AddItemToArray(merges, cJSON_CreateString(buf));
        else {
            char *sp = strchr(buf, ' ');
            *sp = '\0';
            cJSON *pr = cJSON_CreateArray();
            cJSON_AddItemToArray(pr, cJSON_CreateString(buf));
            cJSON_AddItemToArray(pr, cJSON_CreateString(sp + 1));
            cJSON_AddItemToArray(merges, pr);
        }
    }
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers"), *d, *bl;
    if (digits) {
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "Digits");
        cJSON_AddTrueToObject(d, "individual_digits");
        cJSON_AddItemToArray(list, d);
    }
    bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddFalseToObject(bl, "add_prefix_space");
    cJSON_AddTrueToObject(bl, "use_regex");
    cJSON_AddItemToArray(list, bl);
    char *text = cJSON_PrintUnformatted(root);
    write_all(path, text, strlen(text));
    free(text);
    cJSON_Delete(root);
}

void tokenizer_json_byte_level(void) {
    const char *names[2] = {"gpt-2", "starcoder"};
    int ran = 0;
    for (int k = 0; k < 2; k++) {
        const char *gp, *ip, *op;
        if (!vocab_test_files(names[k], &gp, &ip, &op)) continue;
        slm_tokenizer *t = NULL, *j = NULL;
        slm_error err;
        CHECK(slm_tokenizer_load_file(gp, 0, &t, &err) == SLM_OK);
        if (!t) continue;
        write_tokenizer_json(t, tmp_path("tokenizer.json"), k == 1, k == 1);
        const char *cfg = "{\"add_bos_token\": false, \"eos_token\": {\"content\": \"<|endoftext|>\"}, "
                          "\"chat_template\": \"{% for m in messages %}<|im_start|>{{ m.role }}...\"}";
        write_all(tmp_path("tokenizer_config.json"), cfg, strlen(cfg));
        const char *gen = "{\"bos_token_id\": 1, \"eos_token_id\": [0, 50256]}";
        write_all(tmp_path("generation_config.json"), gen, strlen(gen));
        CHECK(slm_tokenizer_load_file(tmp_path("tokenizer.json"), slm_tokenizer_vocab_size(t), &j, &err) == SLM_OK, "%s", err.msg);
        char label[64];
        snprintf(label, sizeof label, "%s as tokenizer.json", names[k]);
        if (j) llama_spm_vectors(j, ip, op, label);
        if (j) { /* tokenizer_config.json beside it gives the chat template and EOS */
            CHECK(slm_tokenizer_chat_template(j) && !strcmp(slm_chat_template_guess(slm_tokenizer_chat_template(j)), "chatml"));
            CHECK(slm_tokenizer_eos(j) == 0 && slm_tokenizer_bos(j) == 1 && !slm_tokenizer_add_bos(j),
                  "generation_config.json ids: bos %d eos %d", slm_tokenizer_bos(j), slm_tokenizer_eos(j));
        }
        slm_tokenizer_free(j), slm_tokenizer_free(t);
        ran++;
    }
    if (!ran) SKIP("../shared/data/tokenizer-tests gpt-2 / starcoder files are missing");
    /* refusals */
    slm_tokenizer *t = NULL;
    slm_error err;
    const char *bf = "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {}, \"merges\": []}}";
    CHECK(slm_tokenizer_load_memory(bf, strlen(bf), "sp.json", 0, &t, &err) == SLM_ERR_UNSUPPORTED && strstr(err.msg, "U+2581"), "%s", err.msg);
    const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
    CHECK(slm_tokenizer_load_memory(wp, strlen(wp), "wp.json", 0, &t, &err) == SLM_ERR_UNSUPPORTED && strstr(err.msg, "WordPiece"));
    const char *nfkc = "{\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, "
                       "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    CHECK(slm_tokenizer_load_memory(nfkc, strlen(nfkc), "nfkc.json", 0, &t, &err) == SLM_ERR_UNSUPPORTED && strstr(err.msg, "NFKC"),
          "%s", err.msg);
    const char *bad = "{\"model\": {\"type\": \"BPE\", \"vocab\": ";
    CHECK(slm_tokenizer_load_memory(bad, strlen(bad), "bad.json", 0, &t, &err) == SLM_ERR_FORMAT && strstr(err.msg, "not valid JSON"));
}
typedef struct {
    float score;
    int id, l, r;
} merge_rec;

static int by_score(const void *a, const void *b) {
    const merge_rec *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->id != y->id) return x->id - y->id;
    if (x->l != y->l) return x->l - y->l;
    return x->r - y->r;
}

/* Writes the Llama 2 vocabulary as a SentencePiece-style tokenizer.json, its merges made the way
 * Hugging Face's converter makes them: every split of a piece into two pieces, ordered by the
 * merged piece's score. */
static void write_spm_tokenizer_json(const slm_tokenizer *t, const char *path) {
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddTrueToObject(model, "byte_fallback");
    cJSON_AddStringToObject(model, "unk_token", "<unk>");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *added = cJSON_AddArrayToObject(root, "added_tokens");
    char buf[512];
    for (int i = 0; i < t->vocab_size; i++) {
        const char *p = i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : t->pieces[i];
        size_t o = 0;
        for (const char *q = p; *q && o + 4 < sizeof buf; q++) {
            if (*q == ' ') memcpy(buf + o, "\xe2\x96\x81", 3), o += 3;
            else buf[o++] = *q;
        }
        buf[o] = '\0';
        cJSON_AddNumberToObject(vocab, buf, i);
        if (i < 3) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", i);
            cJSON_AddStringToObject(a, "content", buf);
            cJSON_AddTrueToObject(a, "special");
            cJSON_AddItemToArray(added, a);
        }
    }
    int cap = 1 << 18, n = 0;
    merge_rec *m = malloc(sizeof *m * (size_t)cap);
    for (int i = 3; i < t->vocab_size; i++) {
        if (t->types[i] != TYPE_NORMAL) continue;
        const char *p = t->pieces[i];
        int len = t->lengths[i];
        for (int k = 1; k < len; k++) {
            if (((unsigned char)p[k] & 0xC0) == 0x80) continue; /* split at character boundaries */
            int l = slm_tok_lookup(t, p, (size_t)k), r = slm_tok_lookup(t, p + k, (size_t)(len - k));
            if (l >= 0 && r >= 0 && n < cap) m[n++] = (merge_rec){t->scores[i], i, l, r};
        }
    }
    qsort(m, (size_t)n, sizeof *m, by_score);
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < n; i++) {
        char a[256], b[256];
        size_t o = 0;
        for (const char *q = t->pieces[m[i].l]; *q; q++) {
            if (*q == ' ') memcpy(a + o, "\xe2\x96\x81", 3), o += 3;
            else a[o++] = *q;
        }
        a[o] = '\0', o = 0;
        for (const char *q = t->pieces[m[i].r]; *q; q++) {
            if (*q == ' ') memcpy(b + o, "\xe2\x96\x81", 3), o += 3;
            else b[o++] = *q;
        }
        b[o] = '\0';
        snprintf(buf, sizeof buf, "%s %s", a, b);
        cJSON_AddItemToArray(merges, cJSON_CreateString(buf));
    }
    free(m);
    cJSON *norm = cJSON_AddObjectToObject(root, "normalizer"), *list, *x;
    cJSON_AddStringToObject(norm, "type", "Sequence");
    list = cJSON_AddArrayToObject(norm, "normalizers");
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "type", "Prepend");
    cJSON_AddStringToObject(x, "prepend", "\xe2\x96\x81");
    cJSON_AddItemToArray(list, x);
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "type", "Replace");
    cJSON_AddItemToArray(list, x);
    cJSON_AddNullToObject(root, "pre_tokenizer");
    char *text = cJSON_PrintUnformatted(root);
    write_all(path, text, strlen(text));
    free(text);
    cJSON_Delete(root);
}

void tokenizer_json_sentencepiece_style(void) {
    slm_tokenizer *t = llama_tokenizer(), *j = NULL;
    const char *gp, *ip, *op;
    if (!vocab_test_files("llama-spm", &gp, &ip, &op) || !t) {
        slm_tokenizer_free(t);
        SKIP("../shared/models/tokenizer.bin or the llama-spm vectors are missing");
    }
    slm_error err;
    write_spm_tokenizer_json(t, tmp_path("spm-tokenizer.json"));
    CHECK(slm_tokenizer_load_file(tmp_path("spm-tokenizer.json"), 32000, &j, &err) == SLM_OK, "%s", err.msg);
    if (j) {
        spm_corpus(j, "Llama 2 as tokenizer.json");
        llama_spm_vectors(j, ip, op, "Llama 2 as tokenizer.json");
    }
    slm_tokenizer_free(j);
    slm_tokenizer_free(t);
}
#else
void tokenizer_json_byte_level(void) { SKIP("built with NO_HF=1"); }
void tokenizer_json_sentencepiece_style(void) { SKIP("built with NO_HF=1"); }
#endif
