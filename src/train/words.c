/* words.c — counting the words (pre-tokens) of a text stream for tokenizer training.
 *
 * The text arrives in pieces of any size and gathers in a buffer of about chunk_bytes per thread.
 * A full buffer is counted up to its last cut — a place no word can span — and the rest waits for
 * more text (a buffer without a cut grows), so memory holds the buffer and the table of distinct
 * words, never the whole text. The counted stretch is split at cuts into one part per thread;
 * each thread counts its part into its own table, and the tables are added to the total in part
 * order. Words therefore keep their order of first appearance in the stream, and the total is the
 * same for any thread count, chunk size and feeding.
 *
 * Where a cut may fall, before text[p]:
 *   spaces  text[p] is a space, tab or line end: words are the runs between those.
 *   GPT-2   the same, the character ending at text[p-1] is valid UTF-8 and not white space, and no
 *           special token spans p. GPT-2's regex holds white space only in runs of it and as the
 *           optional space in front of a word, so no match holds text[p-1] and text[p] together;
 *           its one look-ahead, \s+(?!\S), looks from white space, which p is not preceded by;
 *           so the matches of the text are those of the text up to p and those from p on. The
 *           special tokens cut each side as they cut the whole: each side finds the same first
 *           occurrences, up to the cut. */
#ifndef SLM_NO_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "merge.h"
#include "train.h"

#define NONE SIZE_MAX

typedef struct part {
    const char *text; /* (len) this thread's share of the batch */
    size_t len;
    slm_words words;  /* its words, in order of first appearance */
    size_t *next;     /* (n_specials) where each special token occurs next in text, NONE if not */
#ifndef SLM_NO_PCRE2
    pcre2_match_data *match;
#endif
    int failed;       /* out of memory */
} part;

struct slm_word_counter {
    slm_split split;
    const char *const *specials; /* (n_specials) the caller's, byte-level only */
    size_t *special_len;         /* (n_specials) */
    int n_specials;
    size_t lookahead; /* bytes a cut must see past itself to rule out a special token: longest - 1 */
    int n_threads;
    slm_pool *pool;   /* NULL with one thread */
    part *parts;      /* (n_threads) */
#ifndef SLM_NO_PCRE2
    pcre2_code *re;   /* GPT-2's pre-tokenizer */
    int jit;          /* compiled to machine code: pcre2_jit_match, the fast path, can run it */
#endif
    char *buf;        /* (cap) text not counted yet: len bytes, starting at a cut */
    size_t len, cap;
    slm_words total;  /* every word so far, in order of first appearance */
};

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Code points that PCRE2 (or a later Unicode) may count as white space beyond ASCII: kept
 * generous, since a wrong "no" only costs a cut. */
static int maybe_unicode_space(uint32_t c) {
    return c == 0x85 || c == 0xA0 || c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200D) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF;
}

/* Whether the character ending at t[p-1] (p >= 1; t[0] starts a character) is valid UTF-8 and
 * not white space. */
static int ends_visible_char(const unsigned char *t, size_t p) {
    if (t[p - 1] >= 0x21 && t[p - 1] <= 0x7E) return 1;
    if ((t[p - 1] & 0xC0) != 0x80) return 0; /* other ASCII, or a lead byte */
    for (size_t k = 2; k <= 4 && k <= p; k++) {
        const unsigned char *s = t + p - k;
        if ((s[0] & 0xC0) == 0x80) continue;
        if (slm_utf8_char_len(s, k) != (int)k) return 0;
        uint32_t c = s[0] & (0x7F >> k);
        for (size_t i = 1; i < k; i++) c = c << 6 | (s[i] & 0x3F);
        return !maybe_unicode_space(c);
    }
    return 0;
}

/* Whether the stream may be cut before text[p] (see the top), 0 < p < avail, where text[0..avail)
 * is all the text there is up to p + lookahead. */
static int is_cut(const slm_word_counter *wc, const char *text, size_t avail, size_t p) {
    if (!is_space(text[p])) return 0;
    if (wc->split == SLM_SPLIT_SPACES) return 1;
    if (!ends_visible_char((const unsigned char *)text, p)) return 0;
    for (int k = 0; k < wc->n_specials; k++) {
        size_t sl = wc->special_len[k];
        for (size_t i = p + 1 >= sl ? p + 1 - sl : 0; sl && i < p && i + sl <= avail; i++)
            if (!memcmp(text + i, wc->specials[k], sl)) return 0;
    }
    return 1;
}

static int count_spaces(part *pt) {
    const char *text = pt->text;
    size_t len = pt->len;
    char word[4096]; /* the meta space and at most 4095 bytes of the word */
    for (size_t i = 0; i < len;) {
        while (i < len && is_space(text[i])) i++;
        size_t s = i;
        while (i < len && !is_space(text[i])) i++;
        if (i == s) break;
        size_t n = i - s < sizeof word - 1 ? i - s : sizeof word - 1;
        word[0] = ' ';
        memcpy(word + 1, text + s, n);
        if (slm_words_add(&pt->words, word, n + 1, slm_fnv1a(word, n + 1), 1) < 0) return 0;
    }
    return 1;
}

#ifndef SLM_NO_PCRE2
/* The first occurrence of s[0..sl) in text[from..len), or NONE (always for sl = 0). */
static size_t find(const char *text, size_t len, size_t from, const char *s, size_t sl) {
    while (sl && from + sl <= len) {
        const char *q = memchr(text + from, s[0], len - sl + 1 - from);
        if (!q) break;
        from = (size_t)(q - text);
        if (!memcmp(q, s, sl)) return from;
        from++;
    }
    return NONE;
}

static const char GPT2_PATTERN[] = "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* The text between special tokens, split by the regex. The next special token is the first
 * occurrence of the first special token (in the caller's order), unless a later one fits
 * entirely before it (then that one, and so on). */
static int count_gpt2(const slm_word_counter *wc, part *pt) {
    const char *text = pt->text;
    size_t len = pt->len;
    for (int k = 0; k < wc->n_specials; k++) pt->next[k] = find(text, len, 0, wc->specials[k], wc->special_len[k]);
    for (size_t from = 0; from < len;) {
        size_t end = len, skip = 0;
        for (int k = 0; k < wc->n_specials; k++) {
            size_t sl = wc->special_len[k];
            if (!sl) continue;
            if (pt->next[k] < from) pt->next[k] = find(text, len, from, wc->specials[k], sl);
            if (pt->next[k] != NONE && pt->next[k] + sl <= end) end = pt->next[k], skip = sl;
        }
        for (size_t pos = from; pos < end;) {
            int rc = wc->jit ? pcre2_jit_match(wc->re, (PCRE2_SPTR)text, end, pos, 0, pt->match, NULL)
                             : pcre2_match(wc->re, (PCRE2_SPTR)text, end, pos, 0, pt->match, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(pt->match);
            if (ov[1] == ov[0]) {
                pos = ov[0] + 1;
                continue;
            }
            if (slm_words_add(&pt->words, text + ov[0], ov[1] - ov[0], slm_fnv1a(text + ov[0], ov[1] - ov[0]), 1) < 0)
                return 0;
            pos = ov[1];
        }
        from = end + skip;
    }
    return 1;
}
#endif

/* A pool job: thread t counts part t. */
static void count_part(void *arg, int t, int n_threads) {
    slm_word_counter *wc = arg;
    part *pt = &wc->parts[t];
    (void)n_threads;
    slm_words_clear(&pt->words);
#ifndef SLM_NO_PCRE2
    if (wc->split == SLM_SPLIT_GPT2) {
        pt->failed = !count_gpt2(wc, pt);
        return;
    }
#endif
    pt->failed = !count_spaces(pt);
}

/* Counts buf[0..n) (n is a cut or the end of the text; buf holds len bytes). */
static slm_status count_batch(slm_word_counter *wc, size_t n, slm_error *err) {
    size_t start = 0;
    for (int t = 0; t < wc->n_threads; t++) {
        size_t p = t + 1 == wc->n_threads ? n : n / (size_t)wc->n_threads * (size_t)(t + 1);
        if (p < start) p = start;
        while (p > 0 && p < n && !is_cut(wc, wc->buf, wc->len, p)) p++;
        wc->parts[t].text = wc->buf + start, wc->parts[t].len = p - start;
        start = p;
    }
    if (n >= 64 << 10) slm_pool_run(wc->pool, count_part, wc);
    else /* waking threads would cost more than counting: the same parts, one after another */
        for (int t = 0; t < wc->n_threads; t++) count_part(wc, t, wc->n_threads);
    for (int t = 0; t < wc->n_threads; t++) {
        const slm_words *ws = &wc->parts[t].words;
        if (wc->parts[t].failed) return slm_fail(err, SLM_ERR_NOMEM, "out of memory counting words");
        for (int i = 0; i < ws->n; i++) {
            const slm_word *w = &ws->w[i];
            if (slm_words_add(&wc->total, ws->bytes + w->off, w->len, w->hash, w->count) < 0)
                return slm_fail(err, SLM_ERR_NOMEM, "out of memory counting words");
        }
    }
    return SLM_OK;
}

slm_status slm_word_counter_create(slm_split split, const char *const *specials, int n_specials, int n_threads,
                                   size_t chunk_bytes, slm_word_counter **out, slm_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024) return slm_fail(err, SLM_ERR_ARG, "thread count %d is out of range [1, 1024]", n_threads);
    if (n_specials < 0 || (n_specials > 0 && split != SLM_SPLIT_GPT2))
        return slm_fail(err, SLM_ERR_ARG, "special tokens are for byte-level BPE only");
#ifdef SLM_NO_PCRE2
    if (split == SLM_SPLIT_GPT2)
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "byte-level BPE training needs PCRE2 (built with NO_PCRE2=1)");
#endif
    size_t cap;
    if (!slm_mul_size(chunk_bytes ? chunk_bytes : (size_t)4 << 20, (size_t)n_threads, &cap))
        return slm_fail(err, SLM_ERR_ARG, "chunk of %zu bytes is too large", chunk_bytes);
    slm_word_counter *wc = calloc(1, sizeof *wc);
    if (!wc) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    wc->split = split, wc->specials = specials, wc->n_specials = n_specials, wc->n_threads = n_threads;
    wc->cap = cap < 16 ? 16 : cap;
    wc->buf = malloc(wc->cap);
    wc->parts = calloc((size_t)n_threads, sizeof *wc->parts);
    wc->special_len = calloc((size_t)n_specials + 1, sizeof *wc->special_len);
    int ok = wc->buf && wc->parts && wc->special_len;
    for (int k = 0; ok && k < n_specials; k++) {
        wc->special_len[k] = strlen(specials[k]);
        if (wc->special_len[k] > wc->lookahead + 1) wc->lookahead = wc->special_len[k] - 1;
    }
    for (int t = 0; ok && t < n_threads; t++) ok = (wc->parts[t].next = malloc(sizeof(size_t) * ((size_t)n_specials + 1))) != NULL;
#ifndef SLM_NO_PCRE2
    if (ok && split == SLM_SPLIT_GPT2) {
        int code;
        PCRE2_SIZE eoff;
        wc->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                               &code, &eoff, NULL);
        ok = wc->re != NULL;
        if (ok) wc->jit = pcre2_jit_compile(wc->re, PCRE2_JIT_COMPLETE) == 0;
        for (int t = 0; ok && t < n_threads; t++) ok = (wc->parts[t].match = pcre2_match_data_create(4, NULL)) != NULL;
    }
#endif
    slm_status st = ok ? SLM_OK : slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK && n_threads > 1) st = slm_pool_create(n_threads, &wc->pool, err);
    if (st != SLM_OK) {
        slm_word_counter_free(wc);
        return st;
    }
    *out = wc;
    return SLM_OK;
}

slm_status slm_word_counter_feed(slm_word_counter *wc, const char *data, size_t len, slm_error *err) {
    while (len > 0) {
        size_t take = wc->cap - wc->len < len ? wc->cap - wc->len : len;
        memcpy(wc->buf + wc->len, data, take);
        wc->len += take, data += take, len -= take;
        if (wc->len < wc->cap) break;
        /* full: count up to the last cut whose look-ahead is all here */
        size_t keep = wc->lookahead > 1 ? wc->lookahead : 1, cut = wc->len > keep ? wc->len - keep : 0;
        while (cut > 0 && !is_cut(wc, wc->buf, wc->len, cut)) cut--;
        if (cut == 0) { /* no cut yet: a longer buffer */
            char *g = wc->cap <= SIZE_MAX / 2 ? realloc(wc->buf, wc->cap * 2) : NULL;
            if (!g) return slm_fail(err, SLM_ERR_NOMEM, "out of memory: %zu bytes of text without a place to cut", wc->len);
            wc->buf = g, wc->cap *= 2;
            continue;
        }
        slm_status st = count_batch(wc, cut, err);
        if (st != SLM_OK) return st;
        memmove(wc->buf, wc->buf + cut, wc->len - cut);
        wc->len -= cut;
    }
    return SLM_OK;
}

slm_status slm_word_counter_finish(slm_word_counter *wc, const slm_words **words, slm_error *err) {
    slm_status st = count_batch(wc, wc->len, err);
    wc->len = 0;
    *words = &wc->total;
    return st;
}

void slm_word_counter_free(slm_word_counter *wc) {
    if (!wc) return;
    slm_pool_free(wc->pool);
    for (int t = 0; wc->parts && t < wc->n_threads; t++) {
        slm_words_free(&wc->parts[t].words);
        free(wc->parts[t].next);
#ifndef SLM_NO_PCRE2
        if (wc->parts[t].match) pcre2_match_data_free(wc->parts[t].match);
#endif
    }
#ifndef SLM_NO_PCRE2
    if (wc->re) pcre2_code_free(wc->re);
#endif
    slm_words_free(&wc->total);
    free(wc->parts), free(wc->special_len), free(wc->buf), free(wc);
}
