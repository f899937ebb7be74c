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
#include "merge.h"
#include "train.h"

#ifndef SLM_NO_PCRE2

static const char PAT[] = "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    if (vocab_size < 256 + n_specials || vocab_size > (1 << 20) || n_specials < 0)
        return slm_fail(err, SLM_ERR_ARG, "vocab %d must be at least 256 + %d specials", vocab_size, n_specials);
    int code;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)PAT, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &eoff, NULL);
    pcre2_match_data *md = re ? pcre2_match_data_create(4, NULL) : NULL;
    slm_words ws = {0};
    slm_symbols sy = {0};
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
            if (slm_words_add(&ws, text + ov[0], ov[1] - ov[0]) < 0) {
                st = slm_fail(err, SLM_ERR_NOMEM, "out of memory counting words");
                goto done;
            }
            pos = ov[1];
        }
        from = end + skip;
    }
    /* symbols 0..255 are the bytes; merges follow */
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (slm_symbols_add(&sy, &c, 1) < 0) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    for (int i = 0; i < ws.n; i++) {
        slm_word *w = &ws.w[i];
        for (size_t k = 0; k < w->len; k++) w->sym[k] = (unsigned char)w->bytes[k];
        w->n_sym = (int)w->len;
    }
    int max_merges = vocab_size - n_specials - 256;
    out->merge_a = calloc((size_t)max_merges + 1, sizeof *out->merge_a);
    out->merge_b = calloc((size_t)max_merges + 1, sizeof *out->merge_b);
    out->special = calloc((size_t)n_specials + 1, sizeof *out->special);
    if (!out->merge_a || !out->merge_b || !out->special) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_specials; k++) {
        size_t l = strlen(specials[k]);
        if ((out->special[k] = malloc(l + 1))) memcpy(out->special[k], specials[k], l + 1);
        out->n_special = k + 1;
    }
    while (out->n_merges < max_merges) {
        int a, b, r;
        int64_t count;
        if ((r = slm_best_pair(&ws, &sy, NULL, &a, &b, &count)) <= 0) {
            if (r < 0) st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            break; /* or nothing left to merge */
        }
        int s = slm_symbols_add_merge(&sy, a, b);
        if (s < 0) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            break;
        }
        out->merge_a[out->n_merges] = a, out->merge_b[out->n_merges++] = b;
        slm_words_merge(&ws, a, b, s);
    }
    out->n = n_specials + 256 + out->n_merges;
done:
    /* the vocabulary keeps the symbol strings */
    out->sym_bytes = sy.bytes, out->sym_len = sy.len, out->n_sym = sy.n;
    slm_words_free(&ws);
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
