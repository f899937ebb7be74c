/* merge.h — the BPE training loop the byte-level and SentencePiece-style trainers share. */
#ifndef SLM_TRAIN_MERGE_H
#define SLM_TRAIN_MERGE_H

#include "../core/core.h"

typedef struct slm_word {
    char *bytes;   /* the word */
    size_t len;
    int64_t count; /* occurrences */
    int *sym;      /* (n_sym) its current symbols; the caller sets the first ones */
    int n_sym;
} slm_word;

typedef struct slm_words {
    slm_word *w;
    int n, cap;
    int32_t *slot; /* hash of the words -> index, -1 empty */
    uint32_t mask;
} slm_words;

/* Symbol strings by id (bytes or characters first, then merges). */
typedef struct slm_symbols {
    char **bytes;
    size_t *len;
    int n, cap;
} slm_symbols;

/* Counts one occurrence of word s[0..n) (new words get n_sym = 0); returns its index, or -1 when
 * out of memory. */
int slm_words_add(slm_words *ws, const char *s, size_t n);
void slm_words_free(slm_words *ws);
/* The most frequent adjacent pair over all words, weighted by count; ties go to the
 * lexicographically greater pair of symbol strings. Symbols marked in `frozen` (may be NULL)
 * never pair. Returns 1 and the pair, 0 if there is none, -1 when out of memory. */
int slm_best_pair(const slm_words *ws, const slm_symbols *s, const char *frozen, int *a, int *b, int64_t *count);
/* Replaces every adjacent (a, b), left to right, by `merged`. */
void slm_words_merge(slm_words *ws, int a, int b, int merged);
/* Appends a symbol (a copy of bytes) or the concatenation of two; returns its id or -1. */
int slm_symbols_add(slm_symbols *s, const char *bytes, size_t n);
int slm_symbols_add_merge(slm_symbols *s, int a, int b);
void slm_symbols_free(slm_symbols *s);

#endif
