/* merge.c — the BPE training loop both trainers share: distinct words with their counts and
 * current symbols, the most frequent adjacent pair (ties: the lexicographically greater pair of
 * symbol strings, compared as bytes), and applying a merge left to right. */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

void slm_words_free(slm_words *ws) {
    for (int i = 0; i < ws->n; i++) free(ws->w[i].bytes), free(ws->w[i].sym);
    free(ws->w), free(ws->slot);
    memset(ws, 0, sizeof *ws);
}

static int grow(slm_words *ws) {
    uint32_t size = ws->mask ? (ws->mask + 1) * 2 : 1024;
    int32_t *t = malloc(sizeof *t * size);
    if (!t) return 0;
    memset(t, 0xff, sizeof *t * size);
    for (int i = 0; i < ws->n; i++) {
        uint32_t h = slm_fnv1a(ws->w[i].bytes, ws->w[i].len) & (size - 1);
        while (t[h] >= 0) h = (h + 1) & (size - 1);
        t[h] = i;
    }
    free(ws->slot);
    ws->slot = t, ws->mask = size - 1;
    return 1;
}

int slm_words_add(slm_words *ws, const char *s, size_t n) {
    if ((!ws->mask || (uint32_t)ws->n * 2 >= ws->mask) && !grow(ws)) return -1;
    uint32_t h = slm_fnv1a(s, n) & ws->mask;
    for (; ws->slot[h] >= 0; h = (h + 1) & ws->mask) {
        slm_word *w = &ws->w[ws->slot[h]];
        if (w->len == n && !memcmp(w->bytes, s, n)) return w->count++, ws->slot[h];
    }
    if (ws->n == ws->cap) {
        int cap = ws->cap ? ws->cap * 2 : 1024;
        slm_word *g = realloc(ws->w, sizeof *g * (size_t)cap);
        if (!g) return -1;
        ws->w = g, ws->cap = cap;
    }
    slm_word *w = &ws->w[ws->n];
    w->bytes = malloc(n ? n : 1), w->sym = malloc(sizeof(int) * (n ? n : 1));
    if (!w->bytes || !w->sym) return free(w->bytes), free(w->sym), -1;
    memcpy(w->bytes, s, n);
    w->len = n, w->count = 1, w->n_sym = 0;
    ws->slot[h] = ws->n;
    return ws->n++;
}

static int cmp_sym(const slm_symbols *s, int a, int b) {
    size_t la = s->len[a], lb = s->len[b], n = la < lb ? la : lb;
    int c = memcmp(s->bytes[a], s->bytes[b], n);
    return c ? c : (la < lb ? -1 : la > lb);
}

int slm_best_pair(const slm_words *ws, const slm_symbols *s, const char *frozen, int *a, int *b, int64_t *count) {
    typedef struct {
        int64_t key, count;
    } slot;
    int64_t M = s->n + 1;
    size_t total = 0, cap = 1 << 16;
    for (int i = 0; i < ws->n; i++) total += (size_t)ws->w[i].n_sym;
    while (cap < total * 2 + 16) cap <<= 1;
    slot *tab = malloc(sizeof *tab * cap);
    if (!tab) return -1;
    for (size_t i = 0; i < cap; i++) tab[i].key = -1;
    for (int i = 0; i < ws->n; i++) {
        const slm_word *w = &ws->w[i];
        for (int j = 0; j + 1 < w->n_sym; j++) {
            int x = w->sym[j], y = w->sym[j + 1];
            if (frozen && (frozen[x] || frozen[y])) continue;
            int64_t key = (int64_t)x * M + y;
            size_t h = (size_t)((uint64_t)key * 0x9E3779B97F4A7C15ULL >> 20) & (cap - 1);
            while (tab[h].key >= 0 && tab[h].key != key) h = (h + 1) & (cap - 1);
            if (tab[h].key < 0) tab[h].key = key, tab[h].count = 0;
            tab[h].count += w->count;
        }
    }
    int64_t best = -1, best_count = 0;
    for (size_t i = 0; i < cap; i++) {
        if (tab[i].key < 0) continue;
        if (tab[i].count > best_count) best = tab[i].key, best_count = tab[i].count;
        else if (tab[i].count == best_count && best >= 0) {
            int c = cmp_sym(s, (int)(tab[i].key / M), (int)(best / M));
            if (c > 0 || (c == 0 && cmp_sym(s, (int)(tab[i].key % M), (int)(best % M)) > 0)) best = tab[i].key;
        }
    }
    free(tab);
    if (best < 0) return 0;
    *a = (int)(best / M), *b = (int)(best % M), *count = best_count;
    return 1;
}

int slm_symbols_add_merge(slm_symbols *s, int a, int b) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 1024;
        char **gb = realloc(s->bytes, sizeof *gb * (size_t)cap);
        if (!gb) return -1;
        s->bytes = gb;
        size_t *gl = realloc(s->len, sizeof *gl * (size_t)cap);
        if (!gl) return -1;
        s->len = gl, s->cap = cap;
    }
    size_t n = s->len[a] + s->len[b];
    char *p = malloc(n);
    if (!p) return -1;
    memcpy(p, s->bytes[a], s->len[a]), memcpy(p + s->len[a], s->bytes[b], s->len[b]);
    s->bytes[s->n] = p, s->len[s->n] = n;
    return s->n++;
}

int slm_symbols_add(slm_symbols *s, const char *bytes, size_t n) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 1024;
        char **gb = realloc(s->bytes, sizeof *gb * (size_t)cap);
        if (!gb) return -1;
        s->bytes = gb;
        size_t *gl = realloc(s->len, sizeof *gl * (size_t)cap);
        if (!gl) return -1;
        s->len = gl, s->cap = cap;
    }
    char *p = malloc(n ? n : 1);
    if (!p) return -1;
    memcpy(p, bytes, n);
    s->bytes[s->n] = p, s->len[s->n] = n;
    return s->n++;
}

void slm_symbols_free(slm_symbols *s) {
    for (int i = 0; i < s->n; i++) free(s->bytes[i]);
    free(s->bytes), free(s->len);
    memset(s, 0, sizeof *s);
}

void slm_words_merge(slm_words *ws, int a, int b, int merged) {
    for (int i = 0; i < ws->n; i++) {
        slm_word *w = &ws->w[i];
        int o = 0;
        for (int j = 0; j < w->n_sym; j++) {
            if (j + 1 < w->n_sym && w->sym[j] == a && w->sym[j + 1] == b) w->sym[o++] = merged, j++;
            else w->sym[o++] = w->sym[j];
        }
        w->n_sym = o;
    }
}
