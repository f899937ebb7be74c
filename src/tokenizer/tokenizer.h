/* tokenizer.h — internal helpers shared by the tokenizer and generation. */
#ifndef SLM_TOKENIZER_H
#define SLM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 character at s[0..n) (1..4), or 0 if the bytes there do not start
 * one (bad lead byte, missing continuation, overlong form, surrogate, or > U+10FFFF). */
int slm_utf8_char_len(const unsigned char *s, size_t n);

/* Streams bytes to a sink whole characters at a time: incomplete sequences wait for their next
 * bytes, invalid bytes become U+FFFD, and control bytes other than \t \n \r are dropped. */
typedef struct slm_utf8_stream {
    unsigned char pending[4];
    int n_pending;
} slm_utf8_stream;

/* Feeds len bytes; writes the printable complete text to out (needs 3*(len+4) bytes) and
 * returns its length. */
size_t slm_utf8_stream_feed(slm_utf8_stream *s, const char *bytes, size_t len, char *out);
/* Flushes what is pending (as U+FFFD) into out (needs 12 bytes); returns the length. */
size_t slm_utf8_stream_flush(slm_utf8_stream *s, char *out);

typedef struct slm_tokenizer slm_tokenizer;
/* The longest piece in bytes (max_token_length). */
int slm_tokenizer_max_piece_len(const slm_tokenizer *tok);
/* For writers: the score of a token, its GGUF token type (1 normal, 2 unknown, 3 control, 6 byte),
 * and the unknown token's id. */
float slm_tokenizer_score(const slm_tokenizer *tok, int32_t id);
int slm_tokenizer_gguf_type(const slm_tokenizer *tok, int32_t id);
int32_t slm_tokenizer_unk(const slm_tokenizer *tok);

#endif
