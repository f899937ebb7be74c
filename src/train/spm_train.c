/* spm_train.c — SentencePiece-style BPE training with byte fallback (what Llama 2 and tinyllamas
 * tokenizers are): text is split into words at spaces and line ends, each word starting with the
 * meta space (stored as ' '); the characters covering 99.95% of the text form the alphabet (rarer
 * ones are left to the 256 byte tokens and never merge); then the shared BPE loop (merge.c) joins
 * the most frequent pairs. Output: <unk>, <s>, </s>, <0x00>..<0xFF>, the merged pieces (score =
 * -order), then the alphabet's characters — written as a llama2.c tokenizer.bin that slm's
 * SentencePiece encoder uses. The words are counted by words.c (SLM_SPLIT_SPACES). */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "merge.h"
#include "train.h"

typedef struct {
    int64_t count;
    int id;
} char_count;

static int by_count(const void *a, const void *b) {
    const char_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->id - y->id;
}

static slm_status write_entry(slm_file_writer *fw, float score, const char *text, size_t len, slm_error *err) {
    int32_t n = (int32_t)len;
    slm_status st = slm_writer_write(fw, &score, 4, err);
    if (st == SLM_OK) st = slm_writer_write(fw, &n, 4, err);
    if (st == SLM_OK) st = slm_writer_write(fw, text, len, err);
    return st;
}

slm_status slm_spm_train_words(const slm_words *ws, int vocab_size, slm_train_progress progress, void *user,
                               const char *out_path, slm_error *err) {
    slm_status st = slm_train_check_vocab(SLM_SPLIT_SPACES, vocab_size, 0, err);
    if (st != SLM_OK) return st;
    slm_words chars = {0};
    slm_symbols sy = {0};
    slm_merger m;
    int64_t *ccount = NULL;
    int ccap = 0;
    char_count *cc = NULL;
    char *frozen = NULL;
    int *merged = NULL, n_merged = 0;
    if (!slm_merger_init(&m, ws, &sy)) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* characters: symbol ids in order of first appearance, counts weighted by word counts; each
     * word starts as its characters */
    int64_t total = 0;
    for (int k = 0; k < ws->n; k++) {
        const slm_word *w = &ws->w[k];
        const char *bytes = ws->bytes + w->off;
        for (size_t j = 0; j < w->len;) {
            int cl = slm_utf8_char_len((const unsigned char *)bytes + j, w->len - j);
            if (!cl) cl = 1; /* an invalid byte stands alone: it is never frequent enough to keep */
            int id = slm_words_add(&chars, bytes + j, (size_t)cl, slm_fnv1a(bytes + j, (size_t)cl), 1);
            if (id < 0 || (id == sy.n && slm_symbols_add(&sy, bytes + j, (size_t)cl) < 0)) {
                st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (id >= ccap) { /* grow the weighted counts with the characters */
                int cap = ccap ? ccap * 2 : 1024;
                int64_t *g = realloc(ccount, sizeof *g * (size_t)cap);
                if (!g) {
                    st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
                    goto done;
                }
                memset(g + ccap, 0, sizeof *g * (size_t)(cap - ccap));
                ccount = g, ccap = cap;
            }
            ccount[id] += w->count;
            total += w->count;
            m.sym[w->off + (size_t)m.n_sym[k]++] = id;
            j += (size_t)cl;
        }
    }
    int n_chars = sy.n, room = vocab_size - 259, n_keep = 0;
    /* the alphabet: characters by frequency until 99.95% of all characters are covered */
    cc = malloc(sizeof *cc * (size_t)(n_chars + 1));
    frozen = calloc((size_t)(n_chars + room + 1), 1);
    merged = malloc(sizeof *merged * (size_t)(room + 1));
    if (!cc || !frozen || !merged) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_chars; k++) cc[k] = (char_count){ccount[k], k}, frozen[k] = 1;
    qsort(cc, (size_t)n_chars, sizeof *cc, by_count);
    int64_t covered = 0;
    for (int k = 0; k < n_chars && n_keep < room; k++) {
        if ((double)covered >= 0.9995 * (double)total && n_keep > 0) break;
        frozen[cc[k].id] = 0, covered += cc[k].count, n_keep++;
    }
    /* merges until the vocabulary is full: 3 + 256 + merges + kept characters */
    if (!slm_merger_count(&m, frozen, n_chars)) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    while (n_merged < room - n_keep) {
        int a, b;
        int64_t count;
        if (!slm_merger_best(&m, &a, &b, &count) || count < 2) break; /* nothing worth merging */
        int s = slm_symbols_add_merge(&sy, a, b);
        if (s < 0 || !slm_merger_merge(&m, a, b, s)) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
        merged[n_merged++] = s;
        if (progress) progress(user, n_merged, room - n_keep);
    }
    /* tokenizer.bin: int32 max_len; per token float score, int32 len, bytes */
    slm_file_writer *fw;
    if ((st = slm_writer_open(out_path, &fw, err)) != SLM_OK) goto done;
    int32_t max_len = 8;
    for (int k = 0; k < n_merged; k++) max_len = (int32_t)sy.len[merged[k]] > max_len ? (int32_t)sy.len[merged[k]] : max_len;
    st = slm_writer_write(fw, &max_len, 4, err);
    static const char *const specials[3] = {"<unk>", "<s>", "</s>"};
    for (int k = 0; k < 3 && st == SLM_OK; k++) st = write_entry(fw, 0.0f, specials[k], strlen(specials[k]), err);
    for (int b = 0; b < 256 && st == SLM_OK; b++) {
        static const char digits[] = "0123456789ABCDEF";
        char hex[6] = {'<', '0', 'x', digits[b >> 4], digits[b & 15], '>'};
        st = write_entry(fw, 0.0f, hex, 6, err);
    }
    for (int k = 0; k < n_merged && st == SLM_OK; k++) st = write_entry(fw, -(float)k, sy.bytes[merged[k]], sy.len[merged[k]], err);
    for (int k = 0, written = 0; k < n_chars && st == SLM_OK; k++) /* the alphabet, most frequent first */
        if (!frozen[cc[k].id]) st = write_entry(fw, -(float)(n_merged + written++), sy.bytes[cc[k].id], sy.len[cc[k].id], err);
    if (st == SLM_OK) st = slm_writer_commit(fw, err);
    else slm_writer_abort(fw);
done:
    slm_merger_free(&m), slm_words_free(&chars), slm_symbols_free(&sy);
    free(ccount), free(cc), free(frozen), free(merged);
    return st;
}

slm_status slm_spm_train(const char *text, size_t len, int vocab_size, const char *out_path, slm_error *err) {
    slm_word_counter *wc;
    const slm_words *ws;
    slm_status st = slm_train_check_vocab(SLM_SPLIT_SPACES, vocab_size, 0, err);
    if (st != SLM_OK || (st = slm_word_counter_create(SLM_SPLIT_SPACES, NULL, 0, 1, 0, &wc, err)) != SLM_OK) return st;
    if ((st = slm_word_counter_feed(wc, text, len, err)) == SLM_OK && (st = slm_word_counter_finish(wc, &ws, err)) == SLM_OK)
        st = slm_spm_train_words(ws, vocab_size, NULL, NULL, out_path, err);
    slm_word_counter_free(wc);
    return st;
}
