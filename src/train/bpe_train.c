/* bpe_train.c — byte-level BPE training (GPT-2 style). The words come from GPT-2's pre-tokenizer
 * regex between special tokens, which never take part in merges (words.c counts them); then,
 * again and again, the most frequent adjacent pair of symbols (ties: the lexicographically
 * greater pair of byte strings) becomes a new symbol (merge.c), until the vocabulary has its
 * size. Vocabulary order: special tokens, the 256 bytes in GPT-2's alphabet order, merges. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "train.h"

slm_status slm_train_check_vocab(slm_split split, int vocab_size, int n_specials, slm_error *err) {
    if (split == SLM_SPLIT_SPACES && (vocab_size < 260 || vocab_size > 65536))
        return slm_fail(err, SLM_ERR_ARG, "vocab %d is out of range [260, 65536] (3 specials + 256 bytes + pieces)", vocab_size);
    if (split == SLM_SPLIT_GPT2 && (n_specials < 0 || vocab_size < 256 + n_specials || vocab_size > (1 << 20)))
        return slm_fail(err, SLM_ERR_ARG, "vocab %d must be at least 256 + %d specials (and at most 2^20)", vocab_size, n_specials);
    return SLM_OK;
}

slm_status slm_bpe_train_words(const slm_words *ws, const char *const *specials, int n_specials, int vocab_size,
                               slm_train_progress progress, void *user, slm_bpe_vocab *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    slm_status st = slm_train_check_vocab(SLM_SPLIT_GPT2, vocab_size, n_specials, err);
    if (st != SLM_OK) return st;
    slm_symbols sy = {0};
    slm_merger m;
    int ok = slm_merger_init(&m, ws, &sy), max_merges = vocab_size - n_specials - 256;
    /* symbols 0..255 are the bytes; merges follow */
    for (int b = 0; ok && b < 256; b++) {
        char c = (char)b;
        ok = slm_symbols_add(&sy, &c, 1) >= 0;
    }
    out->merge_a = calloc((size_t)max_merges + 1, sizeof *out->merge_a);
    out->merge_b = calloc((size_t)max_merges + 1, sizeof *out->merge_b);
    out->special = calloc((size_t)n_specials + 1, sizeof *out->special);
    ok = ok && out->merge_a && out->merge_b && out->special;
    for (int k = 0; ok && k < n_specials; k++) {
        size_t l = strlen(specials[k]);
        ok = (out->special[k] = malloc(l + 1)) != NULL;
        if (ok) memcpy(out->special[k], specials[k], l + 1), out->n_special = k + 1;
    }
    for (int i = 0; ok && i < ws->n; i++) { /* each word starts as its bytes */
        const slm_word *w = &ws->w[i];
        if (w->len > INT_MAX) {
            st = slm_fail(err, SLM_ERR_ARG, "a word of %zu bytes is too long", w->len), ok = 0;
            break;
        }
        for (size_t k = 0; k < w->len; k++) m.sym[w->off + k] = (unsigned char)ws->bytes[w->off + k];
        m.n_sym[i] = (int)w->len;
    }
    ok = ok && slm_merger_count(&m, NULL, 0);
    while (ok && out->n_merges < max_merges) {
        int a, b, s;
        int64_t count;
        if (!slm_merger_best(&m, &a, &b, &count)) break; /* nothing left to merge */
        if (!(ok = (s = slm_symbols_add_merge(&sy, a, b)) >= 0 && slm_merger_merge(&m, a, b, s))) break;
        out->merge_a[out->n_merges] = a, out->merge_b[out->n_merges++] = b;
        if (progress) progress(user, out->n_merges, max_merges);
    }
    if (!ok && st == SLM_OK) st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    out->n = n_specials + 256 + out->n_merges;
    /* the vocabulary keeps the symbol strings */
    out->sym_bytes = sy.bytes, out->sym_len = sy.len, out->n_sym = sy.n;
    slm_merger_free(&m);
    return st;
}

slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    slm_word_counter *wc;
    const slm_words *ws;
    slm_status st = slm_train_check_vocab(SLM_SPLIT_GPT2, vocab_size, n_specials, err);
    if (st != SLM_OK || (st = slm_word_counter_create(SLM_SPLIT_GPT2, specials, n_specials, 1, 0, &wc, err)) != SLM_OK) return st;
    if ((st = slm_word_counter_feed(wc, text, len, err)) == SLM_OK && (st = slm_word_counter_finish(wc, &ws, err)) == SLM_OK)
        st = slm_bpe_train_words(ws, specials, n_specials, vocab_size, NULL, NULL, out, err);
    slm_word_counter_free(wc);
    return st;
}

void slm_bpe_vocab_free(slm_bpe_vocab *v) {
    for (int i = 0; i < v->n_special; i++) free(v->special[i]);
    for (int i = 0; i < v->n_sym; i++) free(v->sym_bytes[i]);
    free(v->special), free(v->merge_a), free(v->merge_b), free(v->sym_bytes), free(v->sym_len);
    memset(v, 0, sizeof *v);
}
