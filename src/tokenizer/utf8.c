/* utf8.c — strict UTF-8 validation and a streaming printer that never splits a character. */
#include <string.h>

#include "tokenizer.h"

int slm_utf8_char_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;       /* no overlongs */
        if (c == 0xED) hi = 0x9F;       /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;       /* <= U+10FFFF */
    } else
        return 0;
    if (n < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

/* Could s[0..n) still grow into a valid character? */
static int utf8_prefix_ok(const unsigned char *s, int n) {
    unsigned char probe[4] = {0};
    memcpy(probe, s, (size_t)n);
    /* complete the sequence with the smallest continuation bytes that could follow */
    unsigned c = s[0];
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    for (int i = n; i < len; i++) probe[i] = (i == 1 && (c == 0xE0)) ? 0xA0 : (i == 1 && c == 0xF0) ? 0x90 : 0x80;
    return slm_utf8_char_len(probe, (size_t)len) == len;
}

static size_t put_char(const unsigned char *c, int len, char *out) {
    if (len == 1 && ((c[0] < 0x20 && c[0] != '\n' && c[0] != '\t' && c[0] != '\r') || c[0] == 0x7F)) return 0;
    memcpy(out, c, (size_t)len);
    return (size_t)len;
}

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

size_t slm_utf8_stream_feed(slm_utf8_stream *s, const char *bytes, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        s->pending[s->n_pending++] = (unsigned char)bytes[i];
        for (;;) {
            int n = s->n_pending;
            if (n == 0) break;
            int cl = slm_utf8_char_len(s->pending, (size_t)n);
            if (cl > 0) { /* a complete character at the front */
                o += put_char(s->pending, cl, out + o);
                memmove(s->pending, s->pending + cl, (size_t)(n - cl));
                s->n_pending -= cl;
                continue;
            }
            unsigned c0 = s->pending[0];
            if (c0 >= 0xC2 && c0 <= 0xF4 && n < 4 && utf8_prefix_ok(s->pending, n)) break; /* wait */
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            memmove(s->pending, s->pending + 1, (size_t)(n - 1));
            s->n_pending--;
        }
    }
    return o;
}

size_t slm_utf8_stream_flush(slm_utf8_stream *s, char *out) {
    size_t o = 0;
    for (int i = 0; i < s->n_pending; i++, o += 3) memcpy(out + o, REPLACEMENT, 3);
    s->n_pending = 0;
    return o;
}
