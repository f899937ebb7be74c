/* spm_train.c — SentencePiece-style BPE training with byte fallback (what Llama 2 and tinyllamas
 * tokenizers are): text is split into words at spaces and line ends, each word starting with the
 * meta space (stored as ' '); the characters covering 99.95% of the text form the alphabet (rarer
 * ones are left to the 256 byte tokens); then the most frequent adjacent pair of symbols (ties: the
 * lexicographically greater pair of strings) merges into a new piece, again and again. Output:
 * <unk>, <s>, </s>, <0x00>..<0xFF>, the merged pieces (score = -order), then the alphabet's
 * characters — written as a llama2.c tokenizer.bin that slm's SentencePiece encoder uses. */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "train.h"

typedef struct {
    char *s;
    size_t n;
} str;

typedef struct {
    char *bytes;
    size_t len;
    int64_t count;
    int *sym;
    int n_sym;
} sword;

/* an open-addressing string -> index table */
typedef struct {
    int32_t *slot;
    uint32_t mask;
} table;

static uint32_t hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int cmp_str(const str *a, const str *b) {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    return c ? c : (a->n < b->n ? -1 : a->n > b->n);
}

typedef struct {
    int64_t count;
    int id;
} char_count;

static int by_count(const void *a, const void *b) {
    const char_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->id - y->id;
}

slm_status slm_spm_train(const char *text, size_t len, int vocab_size, const char *out_path, slm_error *err) {
    if (vocab_size < 259 + 1 || vocab_size > 65536)
        return slm_fail(err, SLM_ERR_ARG, "vocab %d is out of range [260, 65536] (3 specials + 256 bytes + pieces)", vocab_size);
    slm_status st = SLM_OK;
    sword *w = NULL;
    int nw = 0, cw = 0;
    table wt = {NULL, 0}, ct = {NULL, 0};
    str *sym = NULL;         /* (n_sym) symbol strings */
    int n_sym = 0, cap_sym = 0;
    char_count *cc = NULL;
    int64_t *ccount = NULL;
    int *merged = NULL, n_merged = 0;
    /* words: "▁"-prefixed (stored as ' ') runs between spaces / line ends */
    uint32_t wsize = 1 << 16;
    wt.slot = malloc(sizeof(int32_t) * wsize), wt.mask = wsize - 1;
    if (!wt.slot) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    memset(wt.slot, 0xff, sizeof(int32_t) * wsize);
    char buf[4096];
    for (size_t i = 0; i < len;) {
        while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
        size_t s = i;
        while (i < len && !(text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) i++;
        if (i == s) break;
        size_t n = i - s < sizeof buf - 1 ? i - s : sizeof buf - 1;
        buf[0] = ' ';
        memcpy(buf + 1, text + s, n);
        n++;
        if ((uint32_t)nw * 2 >= wt.mask) { /* grow */
            uint32_t size = (wt.mask + 1) * 2;
            int32_t *t = malloc(sizeof(int32_t) * size);
            if (!t) { st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
            memset(t, 0xff, sizeof(int32_t) * size);
            for (int k = 0; k < nw; k++) {
                uint32_t h = hash(w[k].bytes, w[k].len) & (size - 1);
                while (t[h] >= 0) h = (h + 1) & (size - 1);
                t[h] = k;
            }
            free(wt.slot), wt.slot = t, wt.mask = size - 1;
        }
        uint32_t h = hash(buf, n) & wt.mask;
        int found = -1;
        for (; wt.slot[h] >= 0; h = (h + 1) & wt.mask)
            if (w[wt.slot[h]].len == n && !memcmp(w[wt.slot[h]].bytes, buf, n)) { found = wt.slot[h]; break; }
        if (found >= 0) { w[found].count++; continue; }
        if (nw == cw) {
            cw = cw ? cw * 2 : 4096;
            sword *g = realloc(w, sizeof *g * (size_t)cw);
            if (!g) { st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
            w = g;
        }
        w[nw].bytes = malloc(n), w[nw].len = n, w[nw].count = 1, w[nw].sym = malloc(sizeof(int) * n), w[nw].n_sym = 0;
        if (!w[nw].bytes || !w[nw].sym) { st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
        memcpy(w[nw].bytes, buf, n);
        wt.slot[h] = nw++;
    }
    /* the alphabet: characters by frequency until 99.95% of all characters are covered */
    uint32_t csize = 1 << 14;
    ct.slot = malloc(sizeof(int32_t) * csize), ct.mask = csize - 1;
    if (!ct.slot) { st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
    memset(ct.slot, 0xff, sizeof(int32_t) * csize);
    int64_t total = 0;
    for (int k = 0; k < nw; k++) {
        for (size_t j = 0; j < w[k].len;) {
            int cl = slm_utf8_char_len((const unsigned char *)w[k].bytes + j, w[k].len - j);
            if (!cl) cl = 1; /* an invalid byte stands alone; it is never in the alphabet below */
            uint32_t h = hash(w[k].bytes + j, (size_t)cl) & ct.mask;
            int id = -1;
            for (; ct.slot[h] >= 0; h = (h + 1) & ct.mask)
                if (sym[ct.slot[h]].n == (size_t)cl && !memcmp(sym[ct.slot[h]].s, w[k].bytes + j, (size_t)cl)) { id = ct.slot[h]; break; }
            if (id < 0) {
                if ((uint32_t)n_sym * 2 >= ct.mask) { st = slm_fail(err, SLM_ERR_UNSUPPORTED, "more than %u distinct characters", ct.mask / 2); goto done; }
                if (n_sym == cap_sym) {
                    cap_sym = cap_sym ? cap_sym * 2 : 1024;
                    str *g = realloc(sym, sizeof *g * (size_t)cap_sym);
                    int64_t *gc = realloc(ccount, sizeof *gc * (size_t)cap_sym);
                    if (!g || !gc) { free(g == sym ? NULL : g); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
                    sym = g, ccount = gc;
                }
                sym[n_sym].s = malloc((size_t)cl), sym[n_sym].n = (size_t)cl;
                if (!sym[n_sym].s) { st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
                memcpy(sym[n_sym].s, w[k].bytes + j, (size_t)cl);
                ccount[n_sym] = 0;
                id = n_sym++;
                ct.slot[h] = id;
            }
            ccount[id] += w[k].count;
            total += w[k].count;
            w[k].sym[w[k].n_sym++] = id;
            j += (size_t)cl;
        }
    }
    int n_chars = n_sym;
    cc = malloc(sizeof *cc * (size_t)(n_chars + 1));
    char *keep = calloc((size_t)n_chars + 1, 1);
    if (!cc || !keep) { free(keep); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
    for (int k = 0; k < n_chars; k++) cc[k] = (char_count){ccount[k], k};
    qsort(cc, (size_t)n_chars, sizeof *cc, by_count);
    int64_t covered = 0;
    int n_keep = 0, room = vocab_size - 259;
    for (int k = 0; k < n_chars && n_keep < room; k++) {
        if ((double)covered >= 0.9995 * (double)total && n_keep > 0) break;
        keep[cc[k].id] = 1, covered += cc[k].count, n_keep++;
    }
    /* merges until the vocabulary is full: 3 + 256 + merges + kept characters */
    int target = room - n_keep;
    merged = malloc(sizeof(int) * (size_t)(target + 1));
    if (!merged) { free(keep); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
    while (n_merged < target) {
        size_t tcap = 1 << 16, nsyms = 0;
        for (int k = 0; k < nw; k++) nsyms += (size_t)w[k].n_sym;
        while (tcap < nsyms * 2 + 16) tcap <<= 1;
        typedef struct { int64_t key, count; } slot;
        slot *tab = malloc(sizeof *tab * tcap);
        if (!tab) { free(keep); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
        for (size_t i = 0; i < tcap; i++) tab[i].key = -1;
        int64_t best = -1, best_count = 0, M = (int64_t)n_chars + target + 1;
        for (int k = 0; k < nw; k++)
            for (int j = 0; j + 1 < w[k].n_sym; j++) {
                int a = w[k].sym[j], b = w[k].sym[j + 1];
                if ((a < n_chars && !keep[a]) || (b < n_chars && !keep[b])) continue; /* rare characters never merge */
                int64_t key = (int64_t)a * M + b;
                size_t h = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 20) & (tcap - 1);
                while (tab[h].key >= 0 && tab[h].key != key) h = (h + 1) & (tcap - 1);
                if (tab[h].key < 0) tab[h].key = key, tab[h].count = 0;
                tab[h].count += w[k].count;
            }
        for (size_t i = 0; i < tcap; i++) {
            if (tab[i].key < 0) continue;
            if (tab[i].count > best_count) best = tab[i].key, best_count = tab[i].count;
            else if (tab[i].count == best_count && best >= 0) {
                int c1 = cmp_str(&sym[tab[i].key / M], &sym[best / M]);
                if (c1 > 0 || (c1 == 0 && cmp_str(&sym[tab[i].key % M], &sym[best % M]) > 0)) best = tab[i].key;
            }
        }
        free(tab);
        if (best < 0 || best_count < 2) break; /* nothing worth merging */
        int a = (int)(best / M), b = (int)(best % M);
        if (n_sym == cap_sym) {
            cap_sym *= 2;
            str *g = realloc(sym, sizeof *g * (size_t)cap_sym);
            if (!g) { free(keep); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
            sym = g;
        }
        int s = n_sym;
        sym[s].n = sym[a].n + sym[b].n;
        if (!(sym[s].s = malloc(sym[s].n))) { free(keep); st = slm_fail(err, SLM_ERR_NOMEM, "out of memory"); goto done; }
        memcpy(sym[s].s, sym[a].s, sym[a].n), memcpy(sym[s].s + sym[a].n, sym[b].s, sym[b].n);
        n_sym++;
        merged[n_merged++] = s;
        for (int k = 0; k < nw; k++) {
            int o = 0;
            for (int j = 0; j < w[k].n_sym; j++) {
                if (j + 1 < w[k].n_sym && w[k].sym[j] == a && w[k].sym[j + 1] == b) w[k].sym[o++] = s, j++;
                else w[k].sym[o++] = w[k].sym[j];
            }
            w[k].n_sym = o;
        }
    }
    /* write tokenizer.bin: int32 max_len; per token float score, int32 len, bytes */
    {
        slm_file_writer *fw;
        if ((st = slm_writer_open(out_path, &fw, err)) != SLM_OK) { free(keep); goto done; }
        int32_t max_len = 8;
        for (int k = 0; k < n_merged; k++) max_len = (int32_t)sym[merged[k]].n > max_len ? (int32_t)sym[merged[k]].n : max_len;
        slm_writer_write(fw, &max_len, 4, err);
#define ENTRY(score_, text_, len_)                                              \
    do {                                                                        \
        float sc_ = (score_);                                                   \
        int32_t ln_ = (int32_t)(len_);                                          \
        if (st == SLM_OK) st = slm_writer_write(fw, &sc_, 4, err);              \
        if (st == SLM_OK) st = slm_writer_write(fw, &ln_, 4, err);              \
        if (st == SLM_OK) st = slm_writer_write(fw, (text_), (size_t)ln_, err); \
    } while (0)
        ENTRY(0.0f, "<unk>", 5);
        ENTRY(0.0f, "<s>", 3);
        ENTRY(0.0f, "</s>", 4);
        for (int b = 0; b < 256; b++) {
            char hex[8];
            static const char digits[] = "0123456789ABCDEF";
            memcpy(hex, "<0x", 3), hex[3] = digits[b >> 4], hex[4] = digits[b & 15], hex[5] = '>';
            ENTRY(0.0f, hex, 6);
        }
        for (int k = 0; k < n_merged; k++) ENTRY(-(float)k, sym[merged[k]].s, sym[merged[k]].n);
        int written = 0;
        for (int k = 0; k < n_chars; k++) /* the alphabet, most frequent first */
            if (keep[cc[k].id]) ENTRY(-(float)(n_merged + written++), sym[cc[k].id].s, sym[cc[k].id].n);
#undef ENTRY
        free(keep);
        if (st == SLM_OK) st = slm_writer_commit(fw, err);
        else slm_writer_abort(fw);
    }
done:
    for (int k = 0; k < nw; k++) free(w[k].bytes), free(w[k].sym);
    for (int k = 0; k < n_sym; k++) free(sym[k].s);
    free(w), free(wt.slot), free(ct.slot), free(sym), free(cc), free(ccount), free(merged);
    return st;
}
