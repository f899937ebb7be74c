/* spm_train.c — SentencePiece-style BPE training with byte fallback (what Llama 2 and tinyllamas
 * tokenizers are): text is split into words at spaces and line ends, each word starting with the
 * meta space (stored as ' '); the characters covering 99.95% of the text form the alphabet (rarer
 * ones are left to the 256 byte tokens and never merge); then the shared BPE loop (merge.c) joins
 * the most frequent pairs. Output: <unk>, <s>, </s>, <0x00>..<0xFF>, the merged pieces (score =
 * -order), then the alphabet's characters — written as a llama2.c tokenizer.bin that slm's
 * SentencePiece encoder uses. */
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

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static slm_status write_entry(slm_file_writer *fw, float score, const char *text, size_t len, slm_error *err) {
    int32_t n = (int32_t)len;
    slm_status st = slm_writer_write(fw, &score, 4, err);
    if (st == SLM_OK) st = slm_writer_write(fw, &n, 4, err);
    if (st == SLM_OK) st = slm_writer_write(fw, text, len, err);
    return st;
}

slm_status slm_spm_train(const char *text, size_t len, int vocab_size, const char *out_path, slm_error *err) {
    if (vocab_size < 259 + 1 || vocab_size > 65536)
        return slm_fail(err, SLM_ERR_ARG, "vocab %d is out of range [260, 65536] (3 specials + 256 bytes + pieces)", vocab_size);
    slm_status st = SLM_OK;
    slm_words ws = {0}, chars = {0};
    slm_symbols sy = {0};
    int64_t *ccount = NULL;
    int ccap = 0;
    char_count *cc = NULL;
    char *frozen = NULL;
    int *merged = NULL, n_merged = 0;
    /* words: runs between spaces and line ends, each with the meta space in front */
    char buf[4096];
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(text[i])) i++;
        size_t s = i;
        while (i < len && !is_space(text[i])) i++;
        if (i == s) break;
        size_t n = i - s < sizeof buf - 1 ? i - s : sizeof buf - 1;
        buf[0] = ' ';
        memcpy(buf + 1, text + s, n);
        if (slm_words_add(&ws, buf, n + 1) < 0) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    /* characters: symbol ids in order of first appearance, counts weighted by word counts */
    int64_t total = 0;
    for (int k = 0; k < ws.n; k++) {
        slm_word *w = &ws.w[k];
        for (size_t j = 0; j < w->len;) {
            int cl = slm_utf8_char_len((const unsigned char *)w->bytes + j, w->len - j);
            if (!cl) cl = 1; /* an invalid byte stands alone: it is never frequent enough to keep */
            int id = slm_words_add(&chars, w->bytes + j, (size_t)cl);
            if (id < 0 || (id == sy.n && slm_symbols_add(&sy, w->bytes + j, (size_t)cl) < 0)) {
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
            w->sym[w->n_sym++] = id;
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
    while (n_merged < room - n_keep) {
        int a, b, r;
        int64_t count;
        if ((r = slm_best_pair(&ws, &sy, frozen, &a, &b, &count)) < 0) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (!r || count < 2) break; /* nothing worth merging */
        int s = slm_symbols_add_merge(&sy, a, b);
        if (s < 0) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
        merged[n_merged++] = s;
        slm_words_merge(&ws, a, b, s);
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
    slm_words_free(&ws), slm_words_free(&chars), slm_symbols_free(&sy);
    free(ccount), free(cc), free(frozen), free(merged);
    return st;
}
