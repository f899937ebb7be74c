/* bpe_train.c — byte-level BPE training (GPT-2 style). The text is cut at special tokens (which
 * never take part in merges), split by GPT-2's pre-tokenizer regex, and the distinct pieces are
 * counted; then, again and again, the most frequent adjacent pair of symbols (ties: the
 * lexicographically greater pair of byte strings) becomes a new symbol, until the vocabulary has
 * its size. Vocabulary order: special tokens, the 256 bytes in GPT-2's alphabet order, merges. */
#ifndef SLM_NO_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "train.h"

#ifndef SLM_NO_PCRE2

static const char PAT[] = "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct {
    char *bytes;  /* the piece */
    size_t len;
    int64_t count;
    int *sym;     /* (n_sym) current symbols */
    int n_sym;
} word;

typedef struct {
    word *w;
    int n, cap;
    int32_t *table; /* hash of pieces -> index, -1 empty */
    uint32_t mask;
} words;

static uint32_t fnv(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int grow_table(words *ws) {
    uint32_t size = ws->mask ? (ws->mask + 1) * 2 : 1024;
    int32_t *t = malloc(sizeof *t * size);
    if (!t) return 0;
    memset(t, 0xff, sizeof *t * size);
    for (int i = 0; i < ws->n; i++) {
        uint32_t h = fnv(ws->w[i].bytes, ws->w[i].len) & (size - 1);
        while (t[h] >= 0) h = (h + 1) & (size - 1);
        t[h] = i;
    }
    free(ws->table);
    ws->table = t, ws->mask = size - 1;
    return 1;
}

static int add_word(words *ws, const char *s, size_t n) {
    if (!ws->mask || (uint32_t)ws->n * 2 >= ws->mask) {
        if (!grow_table(ws)) return 0;
    }
    uint32_t h = fnv(s, n) & ws->mask;
    for (; ws->table[h] >= 0; h = (h + 1) & ws->mask) {
        word *w = &ws->w[ws->table[h]];
        if (w->len == n && !memcmp(w->bytes, s, n)) return w->count++, 1;
    }
    if (ws->n == ws->cap) {
        int cap = ws->cap ? ws->cap * 2 : 1024;
        word *g = realloc(ws->w, sizeof *g * (size_t)cap);
        if (!g) return 0;
        ws->w = g, ws->cap = cap;
    }
    word *w = &ws->w[ws->n];
    w->bytes = malloc(n), w->sym = malloc(sizeof(int) * n);
    if (!w->bytes || !w->sym) return free(w->bytes), free(w->sym), 0;
    memcpy(w->bytes, s, n);
    w->len = n, w->count = 1, w->n_sym = (int)n;
    for (size_t i = 0; i < n; i++) w->sym[i] = (unsigned char)s[i];
    ws->table[h] = ws->n++;
    return 1;
}

/* Compares symbol byte strings as Python compares bytes objects. */
static int cmp_bytes(const slm_bpe_vocab *v, int a, int b) {
    size_t la = v->sym_len[a], lb = v->sym_len[b], n = la < lb ? la : lb;
    int c = memcmp(v->sym_bytes[a], v->sym_bytes[b], n);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    if (vocab_size < 256 + n_specials || vocab_size > (1 << 20) || n_specials < 0)
        return slm_fail(err, SLM_ERR_ARG, "vocab %d must be at least 256 + %d specials", vocab_size, n_specials);
    int code;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)PAT, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &eoff, NULL);
    pcre2_match_data *md = re ? pcre2_match_data_create(4, NULL) : NULL;
    words ws = {0};
    slm_status st = SLM_OK;
    if (!re || !md) {
        st = slm_fail(err, SLM_ERR_NOMEM, "cannot compile the pre-tokenizer");
        goto done;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    /* count the pieces of the text between special tokens */
    for (size_t from = 0; from < len;) {
        size_t end = len, skip = 0;
        for (int k = 0; k < n_specials; k++) {
            size_t sl = strlen(specials[k]);
            for (size_t i = from; sl && i + sl <= end; i++)
                if (!memcmp(text + i, specials[k], sl)) {
                    end = i, skip = sl;
                    break;
                }
        }
        size_t pos = from;
        while (pos < end) {
            int rc = pcre2_match(re, (PCRE2_SPTR)text, end, pos, 0, md, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            if (ov[1] == ov[0]) {
                pos = ov[0] + 1;
                continue;
            }
            if (!add_word(&ws, text + ov[0], ov[1] - ov[0])) {
                st = slm_fail(err, SLM_ERR_NOMEM, "out of memory counting words");
                goto done;
            }
            pos = ov[1];
        }
        from = end + skip;
    }
    /* symbols 0..255 are the bytes; merges follow */
    int n_sym = 256, max_sym = vocab_size - n_specials;
    char **sb = calloc((size_t)max_sym, sizeof *sb);
    size_t *sl = calloc((size_t)max_sym, sizeof *sl);
    out->merge_a = calloc((size_t)max_sym, sizeof *out->merge_a);
    out->merge_b = calloc((size_t)max_sym, sizeof *out->merge_b);
    out->special = calloc((size_t)n_specials + 1, sizeof *out->special);
    out->sym_bytes = sb, out->sym_len = sl;
    if (!sb || !sl || !out->merge_a || !out->merge_b || !out->special) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_specials; k++) {
        size_t l = strlen(specials[k]);
        if ((out->special[k] = malloc(l + 1))) memcpy(out->special[k], specials[k], l + 1);
        out->n_special = k + 1;
    }
    for (int b = 0; b < 256; b++) {
        if (!(sb[b] = malloc(1))) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
        sb[b][0] = (char)b, sl[b] = 1, out->n_sym = b + 1;
    }
    int n_merges = 0;
    while (n_sym < max_sym) {
        /* count pairs (a, b) over all words, weighted by frequency, in a hash keyed a * max_sym + b */
        typedef struct { int64_t key, count; } slot;
        size_t tcap = 1 << 16;
        size_t total = 0;
        for (int i = 0; i < ws.n; i++) total += (size_t)ws.w[i].n_sym;
        while (tcap < total * 2 + 16) tcap <<= 1;
        slot *tab = malloc(sizeof *tab * tcap);
        if (!tab) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < tcap; i++) tab[i].key = -1;
        int64_t best_key = -1, best_count = 0;
        for (int i = 0; i < ws.n; i++) {
            word *w = &ws.w[i];
            for (int j = 0; j + 1 < w->n_sym; j++) {
                int64_t key = (int64_t)w->sym[j] * max_sym + w->sym[j + 1];
                size_t h = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 20) & (tcap - 1);
                while (tab[h].key >= 0 && tab[h].key != key) h = (h + 1) & (tcap - 1);
                if (tab[h].key < 0) tab[h].key = key, tab[h].count = 0;
                tab[h].count += w->count;
            }
        }
        for (size_t i = 0; i < tcap; i++) {
            if (tab[i].key < 0) continue;
            int64_t c = tab[i].count;
            if (c > best_count) best_count = c, best_key = tab[i].key;
            else if (c == best_count && best_key >= 0) {
                int a = (int)(tab[i].key / max_sym), b = (int)(tab[i].key % max_sym);
                int ba = (int)(best_key / max_sym), bb = (int)(best_key % max_sym);
                int c1 = cmp_bytes(out, a, ba);
                if (c1 > 0 || (c1 == 0 && cmp_bytes(out, b, bb) > 0)) best_key = tab[i].key;
            }
        }
        free(tab);
        if (best_key < 0) break; /* nothing left to merge */
        int a = (int)(best_key / max_sym), b = (int)(best_key % max_sym), s = n_sym;
        sl[s] = sl[a] + sl[b];
        if (!(sb[s] = malloc(sl[s]))) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            break;
        }
        out->n_sym = ++n_sym;
        memcpy(sb[s], sb[a], sl[a]);
        memcpy(sb[s] + sl[a], sb[b], sl[b]);
        out->merge_a[n_merges] = a, out->merge_b[n_merges] = b;
        out->n_merges = ++n_merges;
        for (int i = 0; i < ws.n; i++) { /* apply left to right */
            word *w = &ws.w[i];
            int o = 0;
            for (int j = 0; j < w->n_sym; j++) {
                if (j + 1 < w->n_sym && w->sym[j] == a && w->sym[j + 1] == b) w->sym[o++] = s, j++;
                else w->sym[o++] = w->sym[j];
            }
            w->n_sym = o;
        }
    }
    out->n_merges = n_merges;
    out->n = n_specials + 256 + n_merges;
done:
    for (int i = 0; i < ws.n; i++) free(ws.w[i].bytes), free(ws.w[i].sym);
    free(ws.w), free(ws.table);
    if (md) pcre2_match_data_free(md);
    if (re) pcre2_code_free(re);
    return st;
}

#else
slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err) {
    (void)text, (void)len, (void)specials, (void)n_specials, (void)vocab_size;
    memset(out, 0, sizeof *out);
    return slm_fail(err, SLM_ERR_UNSUPPORTED, "byte-level BPE training needs PCRE2 (built with NO_PCRE2=1)");
}
#endif

void slm_bpe_vocab_free(slm_bpe_vocab *v) {
    for (int i = 0; i < v->n_special; i++) free(v->special[i]);
    for (int i = 0; i < v->n_sym; i++) free(v->sym_bytes[i]);
    free(v->special), free(v->merge_a), free(v->merge_b), free(v->sym_bytes), free(v->sym_len);
    memset(v, 0, sizeof *v);
}
