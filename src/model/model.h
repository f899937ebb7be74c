/* model.h — the one in-memory model every loader fills and every writer reads:
 * a config plus a table of named tensors that point into mapped or caller-owned memory. */
#ifndef SLM_MODEL_H
#define SLM_MODEL_H

#include "../core/core.h"
#include "slm.h"

typedef struct slm_tensor {
    char name[48];
    slm_dtype dtype;
    int n_dims;
    int64_t shape[2];   /* (rows, cols) or (n) */
    int group_size;     /* SLM_DTYPE_Q8_G only */
    const void *data;   /* f32 (rows*cols) or int8 (rows*cols) */
    const float *scales;/* SLM_DTYPE_Q8_G: (rows*cols/group_size) */
    int bq8;            /* 1: a Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/Q4_K/Q5_K/Q6_K matrix whose rows are packed in groups of eight
                           (slm_bq8_pack, kernels/quant.h) in the model's own memory */
} slm_tensor;

typedef struct slm_layer {
    const slm_tensor *attn_norm; /* (dim) */
    const slm_tensor *wq;        /* (dim, dim)            n_heads*head_dim rows */
    const slm_tensor *wk;        /* (kv_dim, dim) */
    const slm_tensor *wv;        /* (kv_dim, dim) */
    const slm_tensor *wo;        /* (dim, dim) */
    const slm_tensor *ffn_norm;  /* (dim) */
    const slm_tensor *w1;        /* (hidden_dim, dim)     gate */
    const slm_tensor *w2;        /* (dim, hidden_dim)     down */
    const slm_tensor *w3;        /* (hidden_dim, dim)     up */
    const slm_tensor *bq, *bk, *bv; /* (dim), (kv_dim), (kv_dim) attention biases (Qwen2), or NULL */
} slm_layer;

struct slm_model {
    slm_config cfg;
    char format[64];     /* e.g. "llama2.c v0" */
    char source[256];    /* file name, for messages */
    const void *map;     /* mapped file (owned) or NULL */
    size_t map_size;
    void *owned;         /* weights allocated by slm (slm_model_init_random) or NULL */
    void *packed;        /* matrices copied (and packed) by slm_model_make_resident (slm_alloc_large), or NULL */
    size_t packed_size;
    float *vectors;      /* fp32 copies of 16-bit norm and bias vectors (never matrices) */
    struct { const void *data; size_t size; } *extra_maps; /* (n_extra_maps) more mapped files: shards */
    int n_extra_maps;
    slm_tensor *tensors; /* (n_tensors) */
    int n_tensors, cap_tensors;
    slm_layer *layers;   /* (n_layers), bound by slm_model_bind */
    const slm_tensor *tok_emb;    /* (vocab, dim) */
    const slm_tensor *out_norm;   /* (dim) */
    const slm_tensor *classifier; /* (vocab, dim); == tok_emb when tied */
    int has_attn_bias;            /* every layer has bq, bk, bv (Qwen2) */
};

/* Checks every config field; `source` names the file in the message. */
slm_status slm_config_validate(const slm_config *cfg, const char *source, slm_error *err);

/* Allocates an empty model with room for the tensors of cfg (validated first). */
slm_status slm_model_alloc(const slm_config *cfg, const char *source, slm_model **out, slm_error *err);
/* Appends a tensor (rows = 0 for a vector of cols values). */
slm_tensor *slm_model_add(slm_model *m, const char *name, slm_dtype dtype, int64_t rows,
                          int64_t cols, const void *data, const float *scales, int group_size);
/* Resolves layer pointers by name and checks every shape against the config. */
slm_status slm_model_bind(slm_model *m, slm_error *err);
const slm_tensor *slm_model_find(const slm_model *m, const char *name);

/* Copies the matrices of a bound model that the products read whole (every matrix but an untied
 * token embedding, which is read a row at a time) into one huge-page allocation the model owns, and
 * gives back the mapped pages they came from: products over huge pages miss the TLB far less than
 * over a file's 4 KiB pages (fp32 decode 4-14% faster, docs/benchmarks.md). Matrices whose types are
 * in `pack_types` (bits 1 << dtype of SLM_BQ8_TYPES: Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / IQ4_NL /
 * Q4_K / Q5_K / Q6_K) with eight rows or more are packed in groups of eight rows on the way, for the
 * kernels whose matvec_bq8 outruns matvec_bq (slm_kernels.pack_bq8 says for which types); the rest
 * keep the file's layout. Every reader of a tensor (products, row reads, writers) gives the same
 * bytes as before. Loaders of files call it; models loaded from caller memory stay where they are. */
slm_status slm_model_make_resident(slm_model *m, unsigned pack_types, slm_error *err);

/* Number of values and bytes of a tensor. */
int64_t slm_tensor_numel(const slm_tensor *t);
size_t slm_tensor_nbytes(const slm_tensor *t);
/* Row `row` of a matrix tensor as fp32 into out (cols). */
void slm_tensor_row_f32(const slm_tensor *t, int64_t row, float *out);
/* Row `row` as a writer of interleaved-RoPE formats (llama2.c, GGUF llama) must store it: for a
 * rope_half model the rows of attn_q / attn_k are taken in interleaved order ((i, i + hd/2) of each
 * head become rows 2i, 2i+1); other tensors and models are unchanged. */
void slm_tensor_row_interleaved(const slm_model *m, const slm_tensor *t, int64_t row, float *out);

/* ---- choosing between two ways of running a token by timing them (choice.c) */
enum { SLM_CHOICE_WINDOW = 8, SLM_CHOICE_FIRST_PROBE = 8, SLM_CHOICE_MAX_INTERVAL = 1024 };
typedef struct slm_choice {
    int current;     /* the way tokens run (0 or 1) */
    int probing;     /* 0, or 1 + the tokens of the probe run so far (a probe runs the other way) */
    int until_probe; /* tokens of the current way before the next probe */
    int interval;    /* the wait after the last probe */
    int n_recent, next;
    double recent[SLM_CHOICE_WINDOW]; /* seconds of the current way's last tokens (a ring) */
    double probe[SLM_CHOICE_WINDOW];
    double probe_seconds; /* the current probe's tokens so far */
    double wait_seconds;  /* time the current way must still run before the next probe */
    long switches;   /* probes won */
} slm_choice;
void slm_choice_init(slm_choice *c, int first);
/* The way the next token runs. */
int slm_choice_next(const slm_choice *c);
/* The time that token took. */
void slm_choice_record(slm_choice *c, double seconds);

/* ---- shares of a decode step by speed (choice.c): a step's work is cut at frac[0] = 0 <= frac[1]
 * <= ... <= frac[nt] = 1, thread t taking [frac[t], frac[t + 1]) of it. */
#define SLM_SHARES_MAX_THREADS 1024 /* (the most threads a context takes) */
/* Equal shares, no speed known (speed: nt). */
void slm_shares_init(float *frac, float *speed, int nt);
/* After a token in which thread t spent busy[t] seconds on its share (0: not measured): each
 * thread's speed (share per second) is smoothed (3/4 the old value, 1/4 the new) and, once every
 * thread's is known, the shares follow the speeds, each keeping at least 1/(9 nt). */
void slm_shares_update(float *frac, float *speed, const double *busy, int nt);

/* ---- contexts (forward.c): for tests and measurements */
/* How single tokens run on a context with several threads: 1 split over the threads, 0 on the
 * calling thread, -1 the default (split for models of 8 MiB of matrices or more, else as measured). */
void slm_ctx_set_split(slm_ctx *ctx, int split);
/* How often the measured choice has changed its mind. */
long slm_ctx_split_switches(const slm_ctx *ctx);
/* Fixes the shares of every timed step of a split token: thread 0 takes `first` of it, the others
 * the rest equally; they no longer follow the speeds. */
void slm_ctx_fix_shares(slm_ctx *ctx, float first);

#endif
