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

/* ---- counting words (words.c): the first step of both trainers */

/* How text splits into words: GPT-2's pre-tokenizer regex between special tokens (byte-level
 * BPE), or the runs between spaces, tabs and line ends, each with the meta space ' ' in front and
 * at most 4095 bytes of it kept (SentencePiece-style). */
typedef enum slm_split { SLM_SPLIT_GPT2, SLM_SPLIT_SPACES } slm_split;

struct slm_words; /* merge.h: distinct words with counts, in order of first appearance */
typedef struct slm_word_counter slm_word_counter;

/* A word counter over a stream of text, counting with n_threads threads in batches of about
 * chunk_bytes per thread (0: 4 MiB); only the batch and the table of distinct words are held.
 * specials (GPT-2 split only) are kept by pointer and must outlive the counter. */
slm_status slm_word_counter_create(slm_split split, const char *const *specials, int n_specials, int n_threads,
                                   size_t chunk_bytes, slm_word_counter **out, slm_error *err);
/* Feeds the next len bytes of the stream: pieces (and input files) join with nothing between. */
slm_status slm_word_counter_feed(slm_word_counter *wc, const char *data, size_t len, slm_error *err);
/* Counts the rest of the stream; *words, owned by the counter, is the same for any thread count,
 * chunk size and way of feeding. */
slm_status slm_word_counter_finish(slm_word_counter *wc, const struct slm_words **words, slm_error *err);
void slm_word_counter_free(slm_word_counter *wc);

/* ---- training from the words: the merges (merge.c) */

/* Called after each merge with the merges done and the most there will be. */
typedef void (*slm_train_progress)(void *user, int done, int total);

/* Whether a trainer can make vocab_size entries: SLM_ERR_ARG with the range otherwise. */
slm_status slm_train_check_vocab(slm_split split, int vocab_size, int n_specials, slm_error *err);

/* Byte-level BPE: merges until the vocabulary has vocab_size entries (or nothing is left to
 * merge). Deterministic. progress may be NULL. */
slm_status slm_bpe_train_words(const struct slm_words *words, const char *const *specials, int n_specials, int vocab_size,
                               slm_train_progress progress, void *user, slm_bpe_vocab *out, slm_error *err);
/* The same from text[0..len) in memory (counted with one thread). */
slm_status slm_bpe_train(const char *text, size_t len, const char *const *specials, int n_specials, int vocab_size,
                         slm_bpe_vocab *out, slm_error *err);
void slm_bpe_vocab_free(slm_bpe_vocab *v);
/* Writes the vocabulary as a Hugging Face tokenizer.json (byte-level BPE), which slm loads. */
slm_status slm_bpe_vocab_write_json(const slm_bpe_vocab *v, const char *path, slm_error *err);

/* SentencePiece-style BPE with byte fallback from words counted with SLM_SPLIT_SPACES, written as
 * a llama2.c tokenizer.bin of exactly vocab_size entries (fewer merges if the text runs out of
 * pairs: the rest are not padded). progress may be NULL. */
slm_status slm_spm_train_words(const struct slm_words *words, int vocab_size, slm_train_progress progress, void *user,
                               const char *out_path, slm_error *err);
/* The same from text[0..len) in memory (counted with one thread). */
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
