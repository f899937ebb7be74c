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

#include "slm.h"

/* The tokenizer: one vocabulary, encoded either SentencePiece-style (scores, byte fallback) or
 * byte-level BPE (merge ranks over GPT-2's byte-to-unicode alphabet; `bpe` not NULL). */
enum { TYPE_NORMAL = 0, TYPE_CONTROL = 1, TYPE_BYTE = 2, TYPE_UNKNOWN = 3, TYPE_USER = 4 };

struct slm_tokenizer {
    int vocab_size;
    int max_token_length;
    char **pieces;       /* (vocab) NUL-terminated */
    int *lengths;        /* (vocab) */
    float *scores;       /* (vocab) */
    unsigned char *types;/* (vocab) */
    int byte_id[256];    /* -1 where the vocabulary has no <0xXX> token */
    char byte_chars[256];/* byte_chars[b] == b: what a byte token decodes to */
    int32_t *table;      /* (table_size) open-addressing hash of normal pieces -> id, -1 empty */
    uint32_t table_mask;
    char *storage;       /* all piece bytes */
    int bos, eos, unk;
    int add_dummy_prefix;  /* prepend a space to non-empty text (SentencePiece's default) */
    int remove_extra_ws;   /* drop leading/trailing spaces and collapse runs (off for Llama) */
    struct slm_bpe *bpe;   /* byte-level BPE (GPT-2 style) state, or NULL for SentencePiece BPE */
    char *chat_template;   /* tokenizer.chat_template (Jinja text) or NULL */
    int add_bos;           /* prompts start with BOS (tokenizer.ggml.add_bos_token; SentencePiece: yes) */
    int show_special;      /* decode control tokens as their text instead of nothing */
    int *specials;         /* (n_specials) control tokens matched in text when parse_special is on */
    int n_specials;
};

/* Building blocks of the loaders (spm.c): allocate for count pieces of `bytes` bytes in all, and
 * store piece i at p (with `marker`, U+2581 becomes ' '), classified by its GGUF token type
 * (-1: infer as llama2.c's tokenizer.bin implies); returns the next free storage byte. */
slm_tokenizer *slm_tok_alloc(int count, size_t bytes, int max_len);
char *slm_tok_set(slm_tokenizer *t, int i, char *p, const char *s, size_t len, float score, int gguf_type, int marker);
/* Hugging Face tokenizer.json (hf_json.c; needs cJSON, absent in NO_HF builds). */
int slm_hf_tokenizer_is(const void *data, size_t size);
slm_status slm_hf_tokenizer_load(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                                 slm_error *err);
/* Reads the tokenizer_config.json beside a tokenizer.json, if any (chat template, BOS/EOS). */
void slm_hf_tokenizer_config(slm_tokenizer *t, const char *tokenizer_path);
/* The merge loop both BPE encoders use: symbols in a linked list over the normalized text, and a
 * max-heap of candidate pairs (higher score first, then leftmost; byte-level BPE scores a pair
 * with minus its merge rank, exact in a float below 2^24). Stale entries are skipped on pop. */
typedef struct slm_symbol {
    int start, len; /* bytes of the symbol in the text; len 0 = merged away */
    int prev, next; /* neighbours, -1 at the ends */
} slm_symbol;
typedef struct slm_merge_pair {
    float score;
    int left, right, size;
} slm_merge_pair;
void slm_pair_push(slm_merge_pair *heap, int *n, slm_merge_pair p);
slm_merge_pair slm_pair_pop(slm_merge_pair *heap, int *n);

/* Id of the normal (mergeable) piece s[0..n), or -1. */
int slm_tok_lookup(const slm_tokenizer *t, const char *s, size_t n);

/* Byte-level BPE (bpe.c). `g` is an open GGUF whose tokens are already in t. */
struct gguf_file;
slm_status slm_bpe_load(slm_tokenizer *t, const struct gguf_file *g, const char *name, slm_error *err);
void slm_bpe_free(struct slm_bpe *b);
/* Byte-level BPE from its parts: t already holds the vocabulary (pieces in GPT-2's alphabet);
 * exprs are PCRE2 patterns applied in order; merges are "left right" in rank order. */
slm_status slm_bpe_create(slm_tokenizer *t, const char *name, const char *pre_name, const char *const *exprs, int n_re,
                          const char *const *merges, const size_t *merge_lens, int n_merges, slm_error *err);
int slm_bpe_named_regexes(const char *name, const char **out);
/* The code point GPT-2's byte-level alphabet writes byte b as. */
int slm_gpt2_byte_cp(int b);
slm_status slm_bpe_encode(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos, int32_t *ids,
                          int cap, int *n_ids);
/* For writers: the pre-tokenizer name and the merges ("left right", in rank order). */
const char *slm_bpe_pre(const slm_tokenizer *t);
int slm_bpe_n_merges(const slm_tokenizer *t);
const char *slm_bpe_merge(const slm_tokenizer *t, int i, size_t *len);
/* The bytes a byte-level BPE token stands for (control tokens: empty). */
const char *slm_bpe_piece(const slm_tokenizer *t, int32_t id, size_t *len);

/* The longest piece in bytes (max_token_length). */
int slm_tokenizer_max_piece_len(const slm_tokenizer *tok);
/* For writers: the score of a token, its GGUF token type (1 normal, 2 unknown, 3 control, 6 byte),
 * and the unknown token's id. */
float slm_tokenizer_score(const slm_tokenizer *tok, int32_t id);
int slm_tokenizer_gguf_type(const slm_tokenizer *tok, int32_t id);
int32_t slm_tokenizer_unk(const slm_tokenizer *tok);

#endif
