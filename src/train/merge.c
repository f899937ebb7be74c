/* merge.c — the BPE training loop both trainers share: distinct words with their counts, symbol
 * strings, and the merger (merge.h): pair counts kept up to date, the best pair from a lazy heap. */
#include <stdlib.h>
#include <string.h>

#include "merge.h"

/* Returns p (room for *cap elements of `size` bytes) grown to hold n + 1 of them, maybe moved;
 * NULL when out of memory (p is then untouched). */
static void *room_for(void *p, int *cap, int n, size_t size) {
    if (n < *cap) return p;
    if (*cap > (1 << 29)) return NULL;
    int c = *cap ? *cap * 2 : 16;
    void *g = realloc(p, size * (size_t)c);
    if (g) *cap = c;
    return g;
}

/* ---- words */

static int words_rehash(slm_words *ws, uint32_t size) {
    int32_t *t = malloc(sizeof *t * size);
    if (!t) return 0;
    memset(t, 0xff, sizeof *t * size);
    for (int i = 0; i < ws->n; i++) {
        uint32_t h = ws->w[i].hash & (size - 1);
        while (t[h] >= 0) h = (h + 1) & (size - 1);
        t[h] = i;
    }
    free(ws->slot);
    ws->slot = t, ws->mask = size - 1;
    return 1;
}

int slm_words_add(slm_words *ws, const char *s, size_t n, uint32_t hash, int64_t count) {
    if (!ws->slot || (uint32_t)ws->n >= ws->mask / 2) {
        if (ws->mask >= (1u << 30) || !words_rehash(ws, ws->slot ? (ws->mask + 1) * 2 : 1024)) return -1;
    }
    uint32_t h = hash & ws->mask;
    for (; ws->slot[h] >= 0; h = (h + 1) & ws->mask) {
        slm_word *w = &ws->w[ws->slot[h]];
        if (w->hash == hash && w->len == n && !memcmp(ws->bytes + w->off, s, n)) return w->count += count, ws->slot[h];
    }
    slm_word *g = room_for(ws->w, &ws->cap, ws->n, sizeof *ws->w);
    if (!g) return -1;
    ws->w = g;
    size_t need;
    if (!slm_add_size(ws->n_bytes, n, &need)) return -1;
    if (need > ws->bytes_cap || !ws->bytes) {
        size_t cap = ws->bytes_cap > need / 2 ? ws->bytes_cap * 2 : need + 4096;
        char *b = cap > ws->bytes_cap ? realloc(ws->bytes, cap) : NULL;
        if (!b) return -1;
        ws->bytes = b, ws->bytes_cap = cap;
    }
    memcpy(ws->bytes + ws->n_bytes, s, n);
    ws->w[ws->n] = (slm_word){ws->n_bytes, n, count, hash};
    ws->n_bytes += n;
    ws->slot[h] = ws->n;
    return ws->n++;
}

void slm_words_clear(slm_words *ws) {
    if (ws->slot) memset(ws->slot, 0xff, sizeof *ws->slot * ((size_t)ws->mask + 1));
    ws->n = 0, ws->n_bytes = 0;
}

void slm_words_free(slm_words *ws) {
    free(ws->w), free(ws->bytes), free(ws->slot);
    memset(ws, 0, sizeof *ws);
}

/* ---- symbols */

int slm_symbols_add(slm_symbols *s, const char *bytes, size_t n) {
    int cap = s->cap;
    char **gb = room_for(s->bytes, &cap, s->n, sizeof *s->bytes);
    if (!gb) return -1;
    s->bytes = gb, cap = s->cap;
    size_t *gl = room_for(s->len, &cap, s->n, sizeof *s->len);
    if (!gl) return -1;
    s->len = gl, s->cap = cap;
    char *p = malloc(n ? n : 1);
    if (!p) return -1;
    memcpy(p, bytes, n);
    s->bytes[s->n] = p, s->len[s->n] = n;
    return s->n++;
}

int slm_symbols_add_merge(slm_symbols *s, int a, int b) {
    size_t la = s->len[a], lb = s->len[b];
    char *p = malloc(la + lb);
    if (!p) return -1;
    memcpy(p, s->bytes[a], la), memcpy(p + la, s->bytes[b], lb);
    int id = slm_symbols_add(s, p, la + lb);
    free(p);
    return id;
}

void slm_symbols_free(slm_symbols *s) {
    for (int i = 0; i < s->n; i++) free(s->bytes[i]);
    free(s->bytes), free(s->len);
    memset(s, 0, sizeof *s);
}

/* ---- the merger: pairs */

static int is_frozen(const slm_merger *m, int x) { return m->frozen && x < m->n_frozen && m->frozen[x]; }

static uint32_t pair_hash(int a, int b) {
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    return (uint32_t)((k * 0x9E3779B97F4A7C15ULL) >> 32);
}

/* The index of pair (a, b), or -1 if it was never seen. */
static int pair_find(const slm_merger *m, int a, int b) {
    if (!m->slot) return -1;
    for (uint32_t h = pair_hash(a, b) & m->mask; m->slot[h] >= 0; h = (h + 1) & m->mask)
        if (m->pair[m->slot[h]].a == a && m->pair[m->slot[h]].b == b) return m->slot[h];
    return -1;
}

/* The index of pair (a, b), added with count 0 if new; -1 when out of memory. */
static int pair_index(slm_merger *m, int a, int b) {
    int i = pair_find(m, a, b);
    if (i >= 0) return i;
    if (!m->slot || (uint32_t)m->n_pairs >= m->mask / 2) { /* grow the table */
        uint32_t size = m->slot ? (m->mask + 1) * 2 : 4096;
        int32_t *t = m->mask < (1u << 30) ? malloc(sizeof *t * size) : NULL;
        if (!t) return -1;
        memset(t, 0xff, sizeof *t * size);
        for (int k = 0; k < m->n_pairs; k++) {
            uint32_t h = pair_hash(m->pair[k].a, m->pair[k].b) & (size - 1);
            while (t[h] >= 0) h = (h + 1) & (size - 1);
            t[h] = k;
        }
        free(m->slot);
        m->slot = t, m->mask = size - 1;
    }
    slm_pair *g = room_for(m->pair, &m->cap_pairs, m->n_pairs, sizeof *m->pair);
    if (!g) return -1;
    m->pair = g;
    uint32_t h = pair_hash(a, b) & m->mask;
    while (m->slot[h] >= 0) h = (h + 1) & m->mask;
    m->slot[h] = m->n_pairs;
    m->pair[m->n_pairs] = (slm_pair){.a = a, .b = b};
    return m->n_pairs++;
}

/* Adds delta to the count of (a, b) unless a symbol is frozen, and lists `word` under it (word <
 * 0: not). Returns 0 when out of memory. */
static int pair_add(slm_merger *m, int a, int b, int64_t delta, int word) {
    if (is_frozen(m, a) || is_frozen(m, b)) return 1;
    int i = pair_index(m, a, b);
    if (i < 0) return 0;
    slm_pair *p = &m->pair[i];
    if (!p->dirty) {
        int *d = room_for(m->dirty, &m->cap_dirty, m->n_dirty, sizeof *m->dirty);
        if (!d) return 0;
        m->dirty = d, m->dirty[m->n_dirty++] = i;
        p->dirty = 1, p->before = p->count;
    }
    p->count += delta;
    if (word >= 0 && (p->n_words == 0 || p->words[p->n_words - 1] != word)) {
        int *w = room_for(p->words, &p->cap_words, p->n_words, sizeof *p->words);
        if (!w) return 0;
        p->words = w, p->words[p->n_words++] = word;
    }
    return 1;
}

/* ---- the merger: the heap */

static int cmp_sym(const slm_symbols *s, int a, int b) {
    size_t la = s->len[a], lb = s->len[b], n = la < lb ? la : lb;
    int c = memcmp(s->bytes[a], s->bytes[b], n);
    return c ? c : (la < lb ? -1 : la > lb);
}

/* Whether x comes out of the heap before y: the greater count, then the tie order of merge.h. */
static int comes_first(const slm_merger *m, slm_pair_entry x, slm_pair_entry y) {
    if (x.count != y.count) return x.count > y.count;
    if (x.pair == y.pair) return 0;
    const slm_pair *p = &m->pair[x.pair], *q = &m->pair[y.pair];
    int c = cmp_sym(m->sy, p->a, q->a);
    if (!c) c = cmp_sym(m->sy, p->b, q->b);
    if (c) return c > 0;
    return p->a != q->a ? p->a < q->a : p->b < q->b;
}

static void sift_down(slm_merger *m, int i) {
    slm_pair_entry *h = m->heap;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, top = i;
        if (l < m->n_heap && comes_first(m, h[l], h[top])) top = l;
        if (r < m->n_heap && comes_first(m, h[r], h[top])) top = r;
        if (top == i) return;
        slm_pair_entry t = h[i];
        h[i] = h[top], h[top] = t, i = top;
    }
}

static int heap_push(slm_merger *m, slm_pair_entry e) {
    slm_pair_entry *g = room_for(m->heap, &m->cap_heap, m->n_heap, sizeof *m->heap);
    if (!g) return 0;
    m->heap = g;
    int i = m->n_heap++;
    for (; i > 0 && comes_first(m, e, g[(i - 1) / 2]); i = (i - 1) / 2) g[i] = g[(i - 1) / 2];
    g[i] = e;
    return 1;
}

/* One entry per pair with a count, in heap order: drops the stale entries. */
static void heap_rebuild(slm_merger *m) {
    m->n_heap = 0;
    for (int i = 0; i < m->n_pairs; i++)
        if (m->pair[i].count > 0) m->heap[m->n_heap++] = (slm_pair_entry){m->pair[i].count, i};
    for (int i = m->n_heap / 2 - 1; i >= 0; i--) sift_down(m, i);
}

/* Ends a round of count changes: pushes each changed pair with its new count, frees the word
 * lists of pairs that are gone. Returns 0 when out of memory. */
static int flush_dirty(slm_merger *m) {
    for (int k = 0; k < m->n_dirty; k++) {
        slm_pair *p = &m->pair[m->dirty[k]];
        p->dirty = 0;
        if (p->count == p->before) continue;
        if (p->count > 0) {
            if (!heap_push(m, (slm_pair_entry){p->count, m->dirty[k]})) return 0;
        } else {
            free(p->words);
            p->words = NULL, p->n_words = p->cap_words = 0;
        }
    }
    m->n_dirty = 0;
    if (m->n_heap > 2 * m->n_pairs + 4096) heap_rebuild(m);
    return 1;
}

/* ---- the merger */

int slm_merger_init(slm_merger *m, const slm_words *ws, const slm_symbols *sy) {
    memset(m, 0, sizeof *m);
    m->ws = ws, m->sy = sy;
    size_t sym_size;
    if (!slm_mul_size(ws->n_bytes + 1, sizeof *m->sym, &sym_size)) return 0;
    m->sym = malloc(sym_size);
    m->n_sym = calloc((size_t)ws->n + 1, sizeof *m->n_sym);
    m->visited = malloc(sizeof *m->visited * ((size_t)ws->n + 1));
    if (!m->sym || !m->n_sym || !m->visited) return 0;
    memset(m->visited, 0xff, sizeof *m->visited * ((size_t)ws->n + 1));
    return 1;
}

int slm_merger_count(slm_merger *m, const char *frozen, int n_frozen) {
    m->frozen = frozen, m->n_frozen = n_frozen;
    for (int i = 0; i < m->ws->n; i++) {
        const int *s = m->sym + m->ws->w[i].off;
        for (int j = 0; j + 1 < m->n_sym[i]; j++)
            if (!pair_add(m, s[j], s[j + 1], m->ws->w[i].count, i)) return 0;
    }
    return flush_dirty(m);
}

int slm_merger_best(slm_merger *m, int *a, int *b, int64_t *count) {
    while (m->n_heap > 0) {
        slm_pair_entry top = m->heap[0];
        const slm_pair *p = &m->pair[top.pair];
        if (top.count == p->count && top.count > 0) {
            *a = p->a, *b = p->b, *count = p->count;
            return 1;
        }
        m->heap[0] = m->heap[--m->n_heap]; /* stale: drop it */
        sift_down(m, 0);
    }
    return 0;
}

int slm_merger_merge(slm_merger *m, int a, int b, int merged) {
    int stamp = m->n_merges++, p = pair_find(m, a, b);
    if (p < 0) return 1;
    /* the list stays put: only pairs with `merged` in them gain words */
    const int *list = m->pair[p].words;
    int n_list = m->pair[p].n_words;
    for (int k = 0; k < n_list; k++) {
        int w = list[k], n = m->n_sym[w], has = 0;
        if (m->visited[w] == stamp) continue;
        m->visited[w] = stamp;
        int *s = m->sym + m->ws->w[w].off;
        int64_t c = m->ws->w[w].count;
        for (int j = 0; j + 1 < n && !has; j++) has = s[j] == a && s[j + 1] == b;
        if (!has) continue; /* it lost the pair to an earlier merge */
        /* take the word's pairs out, merge left to right, put its new pairs in */
        for (int j = 0; j + 1 < n; j++)
            if (!pair_add(m, s[j], s[j + 1], -c, -1)) return 0;
        int o = 0;
        for (int j = 0; j < n; j++) {
            if (j + 1 < n && s[j] == a && s[j + 1] == b) s[o++] = merged, j++;
            else s[o++] = s[j];
        }
        m->n_sym[w] = n = o;
        for (int j = 0; j + 1 < n; j++)
            if (!pair_add(m, s[j], s[j + 1], c, s[j] == merged || s[j + 1] == merged ? w : -1)) return 0;
    }
    return flush_dirty(m);
}

void slm_merger_free(slm_merger *m) {
    for (int i = 0; i < m->n_pairs; i++) free(m->pair[i].words);
    free(m->sym), free(m->n_sym), free(m->visited), free(m->pair), free(m->slot), free(m->heap), free(m->dirty);
    memset(m, 0, sizeof *m);
}
