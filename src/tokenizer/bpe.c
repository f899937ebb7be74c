/* bpe.c — byte-level BPE (GPT-2, StarCoder/SmolLM, ...): text is split by the pre-tokenizer's
 * regular expressions (PCRE2, with Unicode properties), each piece's
 * bytes are written in GPT-2's byte-to-unicode alphabet, and adjacent symbols merge by rank
 * (lowest first, leftmost on ties) until no listed merge applies. */
#include <stdint.h>

/* GPT-2's byte-to-unicode alphabet: printable bytes keep their code point, the others take 256,
 * 257, ... in byte order. */
int slm_gpt2_byte_cp(int b) {
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    if (printable) return b;
    int next = 256;
    for (int c = 0; c < b; c++) next += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255));
    return next;
}

#ifndef SLM_NO_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../formats/gguf.h"
#include "tokenizer.h"

enum { MAX_REGEX = 4 };

struct slm_bpe {
    int32_t *merge_table;  /* open-addressing hash: index of merge -> rank, -1 empty */
    uint32_t merge_mask;
    const char **merges;   /* (n_merges) "left right", pointing into the file copy below */
    size_t *merge_len;
    int n_merges;
    char *merge_text;      /* copies of the merge strings */
    pcre2_code *re[MAX_REGEX];
    int n_re;
    char **decoded;        /* (vocab) bytes each token stands for */
    int *decoded_len;
    char pre[64];          /* tokenizer.ggml.pre, for writers */
    int *user;             /* (n_user) user-defined tokens, matched in the text before anything else */
    int n_user;
    uint16_t byte_to_cp[256];
    int16_t cp_to_byte[324]; /* GPT-2's map only uses code points < 324 */
};


/* GPT-2's printable alphabet: bytes that are printable keep their code point, the others take
 * 256, 257, ... in order. */
static void build_byte_map(struct slm_bpe *b) {
    int next = 256;
    for (int i = 0; i < 324; i++) b->cp_to_byte[i] = -1;
    for (int c = 0; c < 256; c++) {
        int printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
        b->byte_to_cp[c] = (uint16_t)(printable ? c : next++);
        b->cp_to_byte[b->byte_to_cp[c]] = (int16_t)c;
    }
}

static int put_cp(char *out, unsigned cp) {
    if (cp < 0x80) return out[0] = (char)cp, 1;
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 63));
    return 2; /* every code point of the map is < 0x800 */
}

/* Rank of merging symbols a and b, or -1. */
static int merge_rank(const struct slm_bpe *b, const char *a, size_t na, const char *c, size_t nc) {
    char key[512];
    if (na + nc + 1 > sizeof key) return -1;
    memcpy(key, a, na);
    key[na] = ' ';
    memcpy(key + na + 1, c, nc);
    size_t n = na + nc + 1;
    for (uint32_t i = slm_fnv1a(key, n) & b->merge_mask;; i = (i + 1) & b->merge_mask) {
        int r = b->merge_table[i];
        if (r < 0) return -1;
        if (b->merge_len[r] == n && !memcmp(b->merges[r], key, n)) return r;
    }
}

void slm_bpe_free(struct slm_bpe *b) {
    if (!b) return;
    for (int i = 0; i < b->n_re; i++) pcre2_code_free(b->re[i]);
    if (b->decoded) free(b->decoded[0]);
    free(b->decoded), free(b->decoded_len), free(b->user);
    free(b->merge_table), free(b->merges), free(b->merge_len), free(b->merge_text);
    free(b);
}

/* The pre-tokenizer regexes for tokenizer.ggml.pre (applied one after another; what one leaves
 * between its matches is passed on as pieces too). */
static int pre_regexes(const char *pre, size_t n, const char **out) {
    static const char GPT2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
#define IS(name) (n == sizeof name - 1 && !memcmp(pre, name, n))
    if (n == 0 || IS("gpt-2") || IS("default") || IS("mpt") || IS("olmo")) {
        out[0] = GPT2;
        return 1;
    }
    if (IS("starcoder") || IS("smollm") || IS("refact") || IS("codeshell")) {
        out[0] = "\\p{N}"; /* every digit its own piece, then GPT-2's split */
        out[1] = GPT2;
        return 2;
    }
    /* Llama 3 and Qwen2 (their published regexes; llama.cpp's vectors for them exist but their
     * vocabularies are not at hand here, so these two are not yet checked against vectors) */
    if (IS("llama-bpe") || IS("llama3") || IS("smaug-bpe")) {
        out[0] = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?"
                 "[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        return 1;
    }
    if (IS("qwen2") || IS("deepseek-r1-qwen")) {
        out[0] = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?"
                 "[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        return 1;
    }
    if (IS("falcon")) { /* punctuation runs, GPT-2's split, then digits in threes */
        out[0] = "[\\p{P}\\$\\+<=>\\^~\\|`]+";
        out[1] = GPT2;
        out[2] = "[0-9][0-9][0-9]";
        return 3;
    }
#undef IS
    return 0;
}

slm_status slm_bpe_create(slm_tokenizer *t, const char *name, const char *pre_name, const char *const *exprs, int n_re,
                          const char *const *merges, const size_t *merge_lens, int n_merges, slm_error *err) {
    struct slm_bpe *b = calloc(1, sizeof *b);
    if (!b) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
    build_byte_map(b);
    slm_status st = SLM_OK;
    snprintf(b->pre, sizeof b->pre, "%s", pre_name);
    if (n_re < 1 || n_re > MAX_REGEX) {
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: %d pre-tokenizer expressions (1 to %d supported)", name, n_re, MAX_REGEX);
        goto fail;
    }
    for (int i = 0; i < n_re; i++) {
        int code;
        PCRE2_SIZE off;
        b->re[i] = pcre2_compile((PCRE2_SPTR)exprs[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                                 &code, &off, NULL);
        if (!b->re[i]) {
            st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: cannot compile the pre-tokenizer regex %.60s", name, exprs[i]);
            goto fail;
        }
        b->n_re = i + 1;
        pcre2_jit_compile(b->re[i], PCRE2_JIT_COMPLETE); /* optional: plain matching works without */
    }
    /* merges: "left right", rank = position */
    if (n_merges < 0 || n_merges > (1 << 22)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: %d merges", name, n_merges);
        goto fail;
    }
    b->n_merges = n_merges;
    size_t total = 0, len;
    for (int i = 0; i < n_merges; i++) total += merge_lens[i];
    uint32_t size = 1;
    while (size < (uint32_t)b->n_merges * 2 + 2) size <<= 1;
    b->merge_table = malloc(size * sizeof *b->merge_table);
    b->merges = malloc(((size_t)b->n_merges + 1) * sizeof *b->merges);
    b->merge_len = malloc(((size_t)b->n_merges + 1) * sizeof *b->merge_len);
    b->merge_text = malloc(total + 1);
    if (!b->merge_table || !b->merges || !b->merge_len || !b->merge_text) {
        st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    b->merge_mask = size - 1;
    memset(b->merge_table, 0xff, size * sizeof *b->merge_table);
    char *p = b->merge_text;
    for (int i = 0; i < b->n_merges; i++) {
        len = merge_lens[i];
        memcpy(p, merges[i], len);
        b->merges[i] = p, b->merge_len[i] = len;
        p += len;
        uint32_t h = slm_fnv1a(b->merges[i], len) & b->merge_mask;
        int dup = 0;
        for (; b->merge_table[h] >= 0; h = (h + 1) & b->merge_mask)
            if (b->merge_len[b->merge_table[h]] == len && !memcmp(b->merges[b->merge_table[h]], b->merges[i], len)) dup = 1;
        if (!dup) b->merge_table[h] = i; /* the first (lowest rank) of duplicates wins */
    }
    /* what each token stands for, and the special tokens matched before the regexes */
    int n = t->vocab_size;
    b->decoded = malloc((size_t)n * sizeof *b->decoded);
    b->decoded_len = malloc((size_t)n * sizeof *b->decoded_len);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) bytes += (size_t)t->lengths[i] + 1;
    char *store = b->decoded ? malloc(bytes) : NULL;
    if (!b->decoded || !b->decoded_len || !store) {
        free(store);
        if (b->decoded) b->decoded[0] = NULL;
        st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        const unsigned char *s = (const unsigned char *)t->pieces[i];
        int k = 0, ok = 1;
        b->decoded[i] = store;
        for (int j = 0; j < t->lengths[i];) {
            int cl = slm_utf8_char_len(s + j, (size_t)(t->lengths[i] - j)), cp = -1;
            if (cl == 1) cp = s[j];
            else if (cl == 2) cp = (s[j] & 31) << 6 | (s[j + 1] & 63);
            if (cp >= 0 && cp < 324 && b->cp_to_byte[cp] >= 0) store[k++] = (char)b->cp_to_byte[cp];
            else ok = 0;
            j += cl ? cl : 1;
        }
        if (!ok || t->types[i] == TYPE_CONTROL) { /* special or foreign text: shown as itself */
            memcpy(store, s, (size_t)t->lengths[i]);
            k = t->lengths[i];
        }
        b->decoded_len[i] = k;
        store[k] = '\0';
        store += k + 1;
    }
    for (int i = 0; i < n; i++) b->n_user += t->types[i] == TYPE_USER && t->lengths[i] > 0;
    if (b->n_user && !(b->user = malloc(sizeof(int) * (size_t)b->n_user))) {
        st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
        goto fail;
    }
    b->n_user = 0;
    for (int i = 0; i < n; i++)
        if (t->types[i] == TYPE_USER && t->lengths[i] > 0) b->user[b->n_user++] = i;
    t->bpe = b;
    return SLM_OK;
fail:
    slm_bpe_free(b);
    return st;
}

const char *slm_bpe_piece(const slm_tokenizer *t, int32_t id, size_t *len) {
    if (t->types[id] == TYPE_CONTROL) {
        *len = t->show_special ? (size_t)t->lengths[id] : 0;
        return t->show_special ? t->pieces[id] : "";
    }
    *len = (size_t)t->bpe->decoded_len[id];
    return t->bpe->decoded[id];
}

/* ---------------------------------------------------------------- encode */

typedef struct {
    int32_t *ids;
    int cap, n;
} emitter;

static void emit(emitter *e, int32_t id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

static void consider(const struct slm_bpe *b, const char *m, const slm_symbol *s, int l, int r, slm_merge_pair *h, int *nh) {
    if (l < 0 || r < 0) return;
    int rank = merge_rank(b, m + s[l].start, (size_t)s[l].len, m + s[r].start, (size_t)s[r].len);
    if (rank >= 0) slm_pair_push(h, nh, (slm_merge_pair){-(float)rank, l, r, s[l].len + s[r].len});
}

/* BPE over one pre-tokenized word of n bytes: symbols in GPT-2's alphabet, then the merge of
 * lowest rank (leftmost on ties) again and again, with a heap of candidate pairs (O(n log n)). */
static slm_status bpe_word(const slm_tokenizer *t, const unsigned char *w, size_t n, emitter *e) {
    const struct slm_bpe *b = t->bpe;
    char *m = malloc(n * 2);
    slm_symbol *s = malloc(n * sizeof *s);
    slm_merge_pair *h = malloc(3 * n * sizeof *h + sizeof *h);
    if (!m || !s || !h) {
        free(m), free(s), free(h);
        return SLM_ERR_NOMEM;
    }
    int ns = 0, ml = 0, nh = 0;
    for (size_t i = 0; i < n; i++) {
        s[ns] = (slm_symbol){ml, put_cp(m + ml, b->byte_to_cp[w[i]]), ns - 1, (size_t)ns + 1 < n ? ns + 1 : -1};
        ml += s[ns++].len;
    }
    for (int i = 0; i + 1 < ns; i++) consider(b, m, s, i, i + 1, h, &nh);
    while (nh > 0) {
        slm_merge_pair c = slm_pair_pop(h, &nh);
        slm_symbol *l = &s[c.left], *r = &s[c.right];
        if (l->len == 0 || r->len == 0 || l->next != c.right || l->len + r->len != c.size) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = c.left;
        consider(b, m, s, l->prev, c.left, h, &nh);
        consider(b, m, s, c.left, l->next, h, &nh);
    }
    for (int i = 0; i >= 0 && ns > 0; i = s[i].next) {
        int id = slm_tok_lookup(t, m + s[i].start, (size_t)s[i].len);
        if (id >= 0) {
            emit(e, id);
            continue;
        }
        /* not in the vocabulary: its characters one by one (each byte's symbol is a token) */
        for (int k = 0; k < s[i].len;) {
            int cl = (unsigned char)m[s[i].start + k] < 0x80 ? 1 : 2;
            int cid = slm_tok_lookup(t, m + s[i].start + k, (size_t)cl);
            emit(e, cid >= 0 ? cid : t->unk);
            k += cl;
        }
    }
    free(m), free(s), free(h);
    return SLM_OK;
}

/* Splits text[0..n) by regex r (matches and the gaps between them are pieces), passing each piece
 * to the next regex, and the last regex's pieces to BPE. */
static slm_status split(const slm_tokenizer *t, int r, const char *text, size_t n, pcre2_match_data *md, emitter *e) {
    if (n == 0) return SLM_OK;
    if (r == t->bpe->n_re) return bpe_word(t, (const unsigned char *)text, n, e);
    size_t pos = 0, gap = 0;
    slm_status st;
    while (pos < n) {
        int rc = pcre2_match(t->bpe->re[r], (PCRE2_SPTR)text, n, pos, 0, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], end = ov[1];
        if (end == s) { /* empty match: step over one character */
            pos = s + 1;
            while (pos < n && ((unsigned char)text[pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if ((st = split(t, r + 1, text + gap, s - gap, md, e)) != SLM_OK) return st;
        if ((st = split(t, r + 1, text + s, end - s, md, e)) != SLM_OK) return st;
        gap = pos = end;
    }
    return split(t, r + 1, text + gap, n - gap, md, e);
}

/* User-defined tokens (e.g. runs of spaces in MPT's vocabulary) are cut out of the text first,
 * longest match first; control tokens written in the text are not matched (chat templates give
 * them as ids). */
slm_status slm_bpe_encode(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos, int32_t *ids,
                          int cap, int *n_ids) {
    const struct slm_bpe *b = t->bpe;
    emitter e = {ids, cap, 0};
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) return SLM_ERR_NOMEM;
    if (add_bos) emit(&e, t->bos);
    slm_status st = SLM_OK;
    size_t from = 0, i = 0;
    while (b->n_user && i < len && st == SLM_OK) {
        int hit = -1, hit_len = 0;
        for (int k = 0; k < b->n_user; k++) {
            int id = b->user[k], l = t->lengths[id];
            if (l > hit_len && (size_t)l <= len - i && !memcmp(text + i, t->pieces[id], (size_t)l)) hit = id, hit_len = l;
        }
        if (hit < 0) {
            i++;
            continue;
        }
        st = split(t, 0, text + from, i - from, md, &e);
        emit(&e, hit);
        i += (size_t)hit_len;
        from = i;
    }
    if (st == SLM_OK) st = split(t, 0, text + from, len - from, md, &e);
    if (add_eos) emit(&e, t->eos);
    pcre2_match_data_free(md);
    *n_ids = e.n;
    if (st != SLM_OK) return st;
    return e.n <= cap ? SLM_OK : SLM_ERR_NOMEM;
}

const char *slm_bpe_pre(const slm_tokenizer *t) { return t->bpe->pre; }
int slm_bpe_n_merges(const slm_tokenizer *t) { return t->bpe->n_merges; }
const char *slm_bpe_merge(const slm_tokenizer *t, int i, size_t *len) {
    *len = t->bpe->merge_len[i];
    return t->bpe->merges[i];
}

slm_status slm_bpe_load(slm_tokenizer *t, const gguf_file *g, const char *name, slm_error *err) {
    const char *pre = "";
    size_t pre_len = 0;
    slm_status st;
    if (slm_gguf_find(g, "tokenizer.ggml.pre") && (st = slm_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &pre_len, err)))
        return st;
    const char *exprs[MAX_REGEX];
    int n_re = pre_regexes(pre, pre_len, exprs);
    if (!n_re)
        return slm_fail(err, SLM_ERR_UNSUPPORTED,
                        "%s: pre-tokenizer %.*s is not supported (gpt-2, default, mpt, olmo, starcoder, smollm, refact, "
                        "codeshell, falcon, llama-bpe, qwen2)", name, (int)(pre_len > 32 ? 32 : pre_len), pre);
    const gguf_kv *mk = slm_gguf_find(g, "tokenizer.ggml.merges");
    if (!mk || mk->type != GGUF_TYPE_ARRAY || mk->elem_type != GGUF_TYPE_STRING || mk->count > (1 << 22))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: tokenizer.ggml.merges must be an array of strings", name);
    int n = (int)mk->count;
    const char **m = malloc(sizeof *m * ((size_t)n + 1));
    size_t *ml = malloc(sizeof *ml * ((size_t)n + 1));
    if (!m || !ml) {
        free(m), free(ml);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
    }
    const uint8_t *it = mk->value;
    for (int i = 0; i < n; i++) m[i] = slm_gguf_next_str(&it, &ml[i]);
    char pre_name[64];
    snprintf(pre_name, sizeof pre_name, "%.*s", (int)(pre_len < 63 ? pre_len : 63), pre);
    st = slm_bpe_create(t, name, pre_name, exprs, n_re, m, ml, n, err);
    free(m), free(ml);
    return st;
}

/* The regexes of a named pre-tokenizer (for tokenizer.json's ByteLevel: "gpt-2"). */
int slm_bpe_named_regexes(const char *name, const char **out) { return pre_regexes(name, strlen(name), out); }

#else /* SLM_NO_PCRE2: byte-level BPE needs the regular expressions; such vocabularies are refused */
#include "../core/core.h"
#include "../formats/gguf.h"
#include "tokenizer.h"

void slm_bpe_free(struct slm_bpe *b) { (void)b; }
slm_status slm_bpe_create(slm_tokenizer *t, const char *name, const char *pre_name, const char *const *exprs, int n_re,
                          const char *const *merges, const size_t *merge_lens, int n_merges, slm_error *err) {
    (void)t, (void)pre_name, (void)exprs, (void)n_re, (void)merges, (void)merge_lens, (void)n_merges;
    return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: byte-level BPE needs PCRE2 (built with NO_PCRE2=1)", name);
}
slm_status slm_bpe_load(slm_tokenizer *t, const gguf_file *g, const char *name, slm_error *err) {
    (void)g;
    return slm_bpe_create(t, name, "", NULL, 0, NULL, NULL, 0, err);
}
slm_status slm_bpe_encode(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos, int32_t *ids,
                          int cap, int *n_ids) {
    (void)t, (void)text, (void)len, (void)add_bos, (void)add_eos, (void)ids, (void)cap, (void)n_ids;
    return SLM_ERR_UNSUPPORTED;
}
const char *slm_bpe_piece(const slm_tokenizer *t, int32_t id, size_t *len) {
    (void)t, (void)id;
    *len = 0;
    return "";
}
const char *slm_bpe_pre(const slm_tokenizer *t) { (void)t; return ""; }
int slm_bpe_n_merges(const slm_tokenizer *t) { (void)t; return 0; }
const char *slm_bpe_merge(const slm_tokenizer *t, int i, size_t *len) { (void)t, (void)i; *len = 0; return ""; }
int slm_bpe_named_regexes(const char *name, const char **out) { (void)name, (void)out; return 0; }
#endif
