/* merge.h — what the byte-level and SentencePiece-style trainers share: the table of distinct
 * words (pre-tokens) with their counts, the symbol strings, and the BPE merge loop. */
#ifndef SLM_TRAIN_MERGE_H
#define SLM_TRAIN_MERGE_H

#include "../core/core.h"

/* One distinct word. */
typedef struct slm_word {
    size_t off, len; /* its bytes: words->bytes[off .. off + len) */
    int64_t count;   /* occurrences */
    uint32_t hash;   /* slm_fnv1a of its bytes */
} slm_word;

/* Distinct words in order of first appearance; the bytes of all words live in one buffer and
 * an open-addressing hash table finds a word by its bytes. */
typedef struct slm_words {
    slm_word *w; /* (n) */
    int n, cap;
    char *bytes; /* (n_bytes) every word's bytes, back to back */
    size_t n_bytes, bytes_cap;
    int32_t *slot; /* (mask + 1) word index by hash, -1 empty; at most half full */
    uint32_t mask;
} slm_words;

/* Adds `count` occurrences of word s[0..n), whose slm_fnv1a is `hash` (a new word goes last);
 * returns its index, or -1 when out of memory. */
int slm_words_add(slm_words *ws, const char *s, size_t n, uint32_t hash, int64_t count);
void slm_words_clear(slm_words *ws); /* no words, memory kept */
void slm_words_free(slm_words *ws);

/* Symbol strings by id (bytes or characters first, then merges). */
typedef struct slm_symbols {
    char **bytes; /* (n) */
    size_t *len;  /* (n) */
    int n, cap;
} slm_symbols;

/* Appends a symbol (a copy of bytes) or the concatenation of two; returns its id or -1. */
int slm_symbols_add(slm_symbols *s, const char *bytes, size_t n);
int slm_symbols_add_merge(slm_symbols *s, int a, int b);
void slm_symbols_free(slm_symbols *s);

/* The BPE merge loop. Every word holds its current symbols. Pair counts are counted once, then
 * kept up to date: a merge visits only the words listed under its pair and re-counts just their
 * pairs, so it costs work in proportion to the words it touches. The best pair comes from a
 * max-heap of (count, pair) entries pushed whenever a count changes; an entry whose count is no
 * longer the pair's is stale and dropped when it reaches the top.
 *
 * The best pair is the most frequent adjacent pair over all words, weighted by word counts; ties
 * go to the lexicographically greater pair of symbol strings (first strings, then second, compared
 * as bytes), then to the lower symbol ids (two symbols can spell the same string). */
typedef struct slm_pair {
    int a, b;        /* the symbols, in order */
    int64_t count;   /* adjacent occurrences over all words, weighted by word counts */
    int64_t before;  /* count when the current merge first changed it (valid while `dirty`) */
    int *words;      /* (n_words) words that contain or once contained the pair, maybe repeated;
                      * freed once the count is 0, which is for good: a pair that was not there
                      * can only appear with a new symbol in it */
    int n_words, cap_words;
    int dirty;       /* changed by the current merge */
} slm_pair;

typedef struct slm_pair_entry {
    int64_t count; /* the pair's count when pushed */
    int pair;
} slm_pair_entry;

typedef struct slm_merger {
    const slm_words *ws;
    const slm_symbols *sy; /* the strings, for ties; grows as merges are added */
    const char *frozen;    /* (n_frozen) symbols marked here never pair; NULL: none */
    int n_frozen;
    int *sym;              /* (ws->n_bytes) word i's current symbols: sym[ws->w[i].off ..] */
    int *n_sym;            /* (ws->n) how many */
    int *visited;          /* (ws->n) the last merge that visited word i */
    slm_pair *pair;        /* (n_pairs) every pair ever seen */
    int n_pairs, cap_pairs;
    int32_t *slot;         /* (mask + 1) pair index by (a, b), -1 empty; at most half full */
    uint32_t mask;
    slm_pair_entry *heap;  /* (n_heap) max-heap by count, then the tie order above */
    int n_heap, cap_heap;
    int *dirty;            /* (n_dirty) pairs the current merge changed */
    int n_dirty, cap_dirty;
    int n_merges;
} slm_merger;

/* Prepares a merger over ws: sym and n_sym are allocated for the caller to fill with each word's
 * first symbols (at most one per byte) before slm_merger_count. Returns 0 when out of memory. */
int slm_merger_init(slm_merger *m, const slm_words *ws, const slm_symbols *sy);
/* Counts every adjacent pair but those with a symbol marked in frozen[0..n_frozen) (may be NULL);
 * returns 0 when out of memory. */
int slm_merger_count(slm_merger *m, const char *frozen, int n_frozen);
/* The best pair (see above): returns 1 with it and its count, or 0 when no pair is left. */
int slm_merger_best(slm_merger *m, int *a, int *b, int64_t *count);
/* Replaces every adjacent (a, b), left to right in each word, by symbol `merged` (a new id, not
 * frozen) and updates the counts. Returns 0 when out of memory. */
int slm_merger_merge(slm_merger *m, int a, int b, int merged);
void slm_merger_free(slm_merger *m);

#endif
