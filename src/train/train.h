/* train.h — training: tokenizers now; the model trainer comes with the training issue. */
#ifndef SLM_TRAIN_H
#define SLM_TRAIN_H

#include "../core/core.h"

/* A trained byte-level BPE vocabulary. Symbols 0..255 are the bytes; symbol 256 + i is merge i. */
typedef struct slm_bpe_vocab {
    char **sym_bytes;     /* (n_sym) each symbol's bytes */
    size_t *sym_len;
    int n_sym;
    int *merge_a, *merge_b; /* (n_merges) the symbols each merge joins, in order */
    int n_merges;
    char **special;       /* (n_special) special tokens, first in the vocabulary */
    int n_special;
    int n;                /* vocabulary size: n_special + 256 + n_merges */
} slm_bpe_vocab;

/* Trains on text[0..len): merges until the vocabulary has vocab_size entries (or nothing is left
 * to merge). Deterministic. */
slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err);
void slm_bpe_vocab_free(slm_bpe_vocab *v);
/* Writes the vocabulary as a Hugging Face tokenizer.json (byte-level BPE), which slm loads. */
slm_status slm_bpe_vocab_write_json(const slm_bpe_vocab *v, const char *path, slm_error *err);

/* SentencePiece-style BPE with byte fallback, written as a llama2.c tokenizer.bin of exactly
 * vocab_size entries (fewer merges if the text runs out of pairs: the rest are not padded). */
slm_status slm_spm_train(const char *text, size_t len, int vocab_size, const char *out_path, slm_error *err);

/* Token files (data.c). */
typedef struct slm_data_info {
    int token_bytes, vocab_size;
    uint64_t train_tokens, val_tokens, train_docs, val_docs, checksum;
} slm_data_info;

struct slm_tokenizer;
/* A checksum of a tokenizer's vocabulary (pieces, scores, types): token files record it. */
uint64_t slm_tokenizer_checksum(const struct slm_tokenizer *t);
/* How far slm_data_prepare has come, after each chunk of input. */
typedef struct slm_data_progress {
    int input;                /* index of the input being read */
    uint64_t bytes_read;      /* over all inputs so far */
    uint64_t docs, tokens;    /* written so far, train and validation together */
    double seconds;           /* since the start */
} slm_data_progress;

typedef struct slm_data_options {
    double val_fraction;      /* share of documents for validation, in [0, 1) */
    int n_threads;            /* encoding threads, 1..1024 (0: 1) */
    size_t chunk_bytes;       /* inputs are read this much at a time (0: 4 MiB); the file does not depend on it */
    size_t max_doc_bytes;     /* longer documents are cut into pieces (0: 256 KiB, else >= 64); the file does */
    void (*progress)(const slm_data_progress *p, void *user); /* called after each chunk, or NULL */
    void *progress_user;
} slm_data_options;

/* Encodes the documents of the inputs and writes the token file atomically (see data.c). The file
 * is the same for any n_threads and chunk_bytes. Memory does not grow with the inputs: a chunk and
 * its tokens, and per thread the encoder's scratch for one document of up to max_doc_bytes (the
 * SentencePiece encoder's is about 70 bytes per text byte); tokens go to the file (and scratch files
 * beside it) as they come. */
slm_status slm_data_prepare(const struct slm_tokenizer *tok, const char *const *inputs, int n_inputs,
                            const slm_data_options *opt, const char *out_path, slm_data_info *info, slm_error *err);
/* Validates a token file's header against its size and, when tok is given, against the tokenizer
 * (a different one is SLM_ERR_MISMATCH). */
slm_status slm_data_check(const char *path, const struct slm_tokenizer *tok, slm_data_info *info, slm_error *err);

#endif
