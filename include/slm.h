/* slm.h — the public C API of slm, a toolkit for small language models.
 *
 * Conventions
 * - Every handle is opaque and has a create/free pair. free(NULL) is a no-op.
 * - Functions that can fail return an slm_status and, when `err` is not NULL, write a one-line
 *   message into it that names the file and the field at fault. The library never prints,
 *   exits or aborts on bad input, and keeps no global mutable state.
 * - A model is read-only once loaded: any number of contexts (one per sequence) may use it at
 *   the same time from different threads. A context, tokenizer or sampler is used by one thread
 *   at a time.
 * - Shapes are written as (rows, cols); token ids are int32.
 */
#ifndef SLM_H
#define SLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SLM_VERSION "0.1.0"

typedef enum slm_status {
    SLM_OK = 0,
    SLM_ERR_IO,          /* a file could not be opened, read, mapped or written */
    SLM_ERR_FORMAT,      /* a file's content is invalid (truncated, bad header, bad sizes) */
    SLM_ERR_UNSUPPORTED, /* valid, but a variant slm does not handle */
    SLM_ERR_MISMATCH,    /* two inputs that must agree do not (tokenizer vs model vocab) */
    SLM_ERR_ARG,         /* a caller argument is invalid */
    SLM_ERR_RANGE,       /* a position or length exceeds the context */
    SLM_ERR_NOMEM,       /* an allocation failed or a caller buffer is too small */
    SLM_ERR_STOPPED      /* generation was stopped by the callback (not an error) */
} slm_status;

/* A static English description of a status code. */
const char *slm_strerror(slm_status status);

/* Error detail filled by functions that take an `slm_error *` (may be NULL). */
typedef struct slm_error {
    slm_status status;
    char msg[320];
} slm_error;

/* ---------------------------------------------------------------- model */

typedef struct slm_model slm_model;

typedef enum slm_dtype {
    SLM_DTYPE_F32 = 0,
    SLM_DTYPE_Q8_G = 1, /* int8 weights with one fp32 scale per `group_size` values (llama2.c v2) */
    SLM_DTYPE_F16 = 2,  /* IEEE half */
    SLM_DTYPE_BF16 = 3, /* bfloat16: the top 16 bits of an fp32 */
    SLM_DTYPE_Q8_0 = 4, /* ggml blocks of 32: f16 scale + 32 int8 */
    SLM_DTYPE_Q4_0 = 5, /* ggml blocks of 32: f16 scale + 32 nibbles, offset 8 */
    SLM_DTYPE_Q4_1 = 6, /* ggml blocks of 32: f16 scale, f16 min + 32 nibbles */
    SLM_DTYPE_Q4_K = 7, /* ggml super-blocks of 256: 8 sub-blocks with 6-bit scales/mins, nibbles */
    SLM_DTYPE_Q6_K = 8, /* ggml super-blocks of 256: 16 int8 scales, 6-bit values */
    SLM_DTYPE_Q5_0 = 9,  /* ggml blocks of 32: f16 scale, 32 fifth bits + 32 nibbles, offset 16 (what
                            llama.cpp's Q4_K_M/Q4_K_S files hold for rows that are not whole 256s) */
    SLM_DTYPE_Q5_1 = 10, /* ggml blocks of 32: f16 scale, f16 min, fifth bits + nibbles (Q5_K's
                            fallback in llama.cpp's Q5_K_M/Q5_K_S/Q4_K_S files) */
    SLM_DTYPE_Q5_K = 11, /* ggml super-blocks of 256: as Q4_K with a fifth bit per value */
    SLM_DTYPE_Q3_K = 12, /* ggml super-blocks of 256: 16 signed 6-bit scales, 3-bit values */
    SLM_DTYPE_IQ4_NL = 13 /* ggml blocks of 32: f16 scale + 32 nibbles indexing a fixed non-linear
                             table (Q3_K's fallback in llama.cpp's Q2_K / Q3_K_* files) */
} slm_dtype;

typedef struct slm_config {
    int dim;          /* model width */
    int hidden_dim;   /* SwiGLU inner width */
    int n_layers;     /* stored transformer blocks */
    int block_repeat; /* each stored block runs this many times in a row (MobileLLM-LS); 1 = none */
    int n_heads;      /* query heads */
    int n_kv_heads;   /* key/value heads; divides n_heads */
    int head_dim;     /* dim / n_heads */
    int vocab_size;
    int seq_len;      /* maximum context length */
    int tied_classifier; /* 1: the classifier is the token embedding */
    float norm_eps;   /* RMSNorm epsilon */
    float rope_theta; /* RoPE base */
    int rope_half;    /* RoPE pairs: 0 = interleaved (2i, 2i+1) as Meta/llama2.c/GGUF store Q and K;
                         1 = half-split (i, i + head_dim/2) as Hugging Face checkpoints do */
} slm_config;

typedef struct slm_tensor_info {
    const char *name;   /* e.g. "blk.0.attn_q.weight" (GGUF naming) */
    slm_dtype dtype;
    int n_dims;
    int64_t shape[2];   /* (rows, cols) for matrices; (n) for vectors */
    int group_size;     /* for SLM_DTYPE_Q8_G, else 0 */
    size_t nbytes;      /* bytes this tensor occupies (data + scales) */
} slm_tensor_info;

/* Loads a model file (llama2.c v0/v1/v2 checkpoints; GGUF v2/v3 with arch llama or qwen2 and
 * F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL/Q3_K/Q4_K/Q5_K/Q6_K tensors) or a Hugging Face
 * folder. Files are memory-mapped; the matrices the products read whole (all but an untied token
 * embedding, which is read a row at a time from the mapping) are copied once into one huge-page
 * block the model owns, and the mapped pages they came from are released: the same bytes, the same
 * peak memory, fewer TLB misses (fp32 decode of the 110M-360M shapes 4-6% faster on one thread).
 * On CPUs whose decode kernels read the block types in rows packed in groups of eight (AVX2,
 * AVX-512: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K; ARM with sdot: the first six),
 * those matrices are packed on the way (the same information in another order, same results). If
 * that memory cannot be had, the model reads the mapped file as it is. The file stays mapped until
 * slm_model_free. */
slm_status slm_model_load_file(const char *path, slm_model **out, slm_error *err);

/* Loads as slm_model_load_file does but copies and packs nothing: the matrices stay in the file's
 * mapping, in the file's layout. For reading a model once (inspecting it, converting it), where the
 * copy would cost time and memory for nothing (`slm info` on a 1.4 GB file: no 0.26 s copy). The
 * same results; decoding and prompts run slower (docs/benchmarks.md, "Matrices in huge pages"). */
slm_status slm_model_load_file_mapped(const char *path, slm_model **out, slm_error *err);

/* Loads a model from a caller-owned memory block (e.g. flash). `data` must stay valid and
 * unchanged until slm_model_free, and be 4-byte aligned. `name` is used in error messages. */
slm_status slm_model_load_memory(const void *data, size_t size, const char *name,
                                 slm_model **out, slm_error *err);

void slm_model_free(slm_model *model);

const slm_config *slm_model_config(const slm_model *model);
/* A short description of the source format, e.g. "llama2.c v2 (Q8_0, group 64)". */
const char *slm_model_format(const slm_model *model);
/* Bits per value a matrix of `dtype` stores, block scales included (llama2.c Q8 groups: 8, their
 * scales counted apart). */
double slm_dtype_bits(slm_dtype dtype);
/* Total number of weight values (stored, not counting block repeats). */
int64_t slm_model_n_params(const slm_model *model);
int slm_model_n_tensors(const slm_model *model);
/* Fills `info` for tensor `index` (0 <= index < n_tensors); returns SLM_ERR_ARG if out of range. */
slm_status slm_model_tensor_info(const slm_model *model, int index, slm_tensor_info *info);

/* File formats slm_model_save writes. */
typedef enum slm_save_format {
    SLM_SAVE_LLAMA2C_V0 = 0, /* legacy fp32 (what llama2.c's run.c reads) */
    SLM_SAVE_LLAMA2C_V1 = 1, /* "ak42" v1, fp32 */
    SLM_SAVE_LLAMA2C_Q80 = 2, /* "ak42" v2, int8 weights with fp32 group scales (runq.c) */
    SLM_SAVE_GGUF_F32 = 3,    /* GGUF v3, arch llama (llama.cpp), matrices f32 */
    SLM_SAVE_GGUF_F16 = 4,    /* ... matrices f16 */
    SLM_SAVE_GGUF_BF16 = 5,   /* ... matrices bf16 */
    SLM_SAVE_GGUF_Q8_0 = 6,   /* ... matrices q8_0 (rows: multiples of 32) */
    SLM_SAVE_GGUF_Q4_0 = 7,   /* ... matrices q4_0 */
    SLM_SAVE_GGUF_Q4_1 = 8,   /* ... matrices q4_1 */
    SLM_SAVE_GGUF_Q4_K = 9,   /* ... matrices q4_K (rows: multiples of 256, else q4_1, else f16) */
    SLM_SAVE_GGUF_Q6_K = 10,  /* ... matrices q6_K (rows: multiples of 256, else q8_0, else f16) */
    SLM_SAVE_GGUF_Q5_0 = 11,  /* ... matrices q5_0 */
    SLM_SAVE_GGUF_Q5_1 = 12,  /* ... matrices q5_1 */
    SLM_SAVE_GGUF_Q5_K = 13,  /* ... matrices q5_K (rows: multiples of 256, else q5_1, else f16) */
    SLM_SAVE_GGUF_Q3_K = 14,  /* ... matrices q3_K (rows: multiples of 256, else iq4_nl, else f16) */
    SLM_SAVE_GGUF_IQ4_NL = 15, /* ... matrices iq4_nl */
    /* In every GGUF format the token embedding of a model with a tied classifier keeps at least
     * 8 bits (q8_0 when the matrices have fewer): 4-bit classifiers break small models.
     * slm_model_quantize chooses otherwise when asked. */
    /* OR-ed into a GGUF format: write a block_repeat model's shared blocks as expanded copies
     * (for llama.cpp, which has no key for sharing); otherwise slm.block_repeat records it */
    SLM_SAVE_EXPAND_SHARED = 256
} slm_save_format;

/* Writes the model to `path` atomically (temporary file, fsync, rename). For Q80, group_size
 * must divide dim and hidden_dim; 0 picks the largest one <= 64 that does. */
slm_status slm_model_save(const slm_model *model, const char *path, slm_save_format format,
                          int group_size, slm_error *err);

struct slm_tokenizer;
/* The same, embedding `tok` (may be NULL) in formats that hold a tokenizer (GGUF); its vocabulary
 * must match the model's. */
slm_status slm_model_save_with_tokenizer(const slm_model *model, const struct slm_tokenizer *tok,
                                         const char *path, slm_save_format format, int group_size,
                                         slm_error *err);

/* slm quantize: writes the model as GGUF (atomically) with matrices of `type` (F32, F16, BF16,
 * Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q3_K, Q4_K, Q5_K or Q6_K), norms F32, `tok` embedded
 * (may be NULL). The token embedding of a tied model is written as `embed_type`, or, with -1, keeps at least 8 bits (Q8_0 when
 * `type` has fewer). Rows that are not whole blocks fall back: Q3_K to IQ4_NL, Q4_K to Q4_1, Q5_K
 * to Q5_1, Q6_K to Q8_0, then F16. */
typedef struct slm_quantize_params {
    slm_dtype type;
    int embed_type;    /* an slm_dtype, or -1 for the rule above */
    int expand_shared; /* as SLM_SAVE_EXPAND_SHARED */
} slm_quantize_params;
slm_status slm_model_quantize(const slm_model *model, const struct slm_tokenizer *tok, const char *path,
                              const slm_quantize_params *params, slm_error *err);
/* The dtype slm_model_quantize gives tensor `index` of `model`. */
slm_dtype slm_quantize_tensor_dtype(const slm_model *model, int index, const slm_quantize_params *params);

/* Creates a model with freshly allocated weights: matrices ~ N(0, std), norms 1 (cfg.head_dim
 * is derived from dim / n_heads). Deterministic for a seed. */
slm_status slm_model_init_random(const slm_config *cfg, uint64_t seed, float std, slm_model **out,
                                 slm_error *err);

/* llama2.c's default SwiGLU width for a model width: 2/3 of 4*dim, rounded up to 32. */
int slm_default_hidden_dim(int dim);

/* ---------------------------------------------------------------- context */

typedef struct slm_ctx slm_ctx;

typedef struct slm_ctx_params {
    int n_ctx;     /* context length; 0 = the model's seq_len */
    int n_threads; /* worker threads for matrix products; >= 1 */
    int no_simd;   /* 1: use the portable scalar kernels even where SIMD ones exist */
    int n_batch;   /* prompt tokens evaluated together as matrix-matrix products; 0 = 256, 1 = one
                    * at a time (the least memory). Models with llama2.c Q8 tensors always use 1. */
    int kv_f16;    /* 1: keep the KV cache as IEEE half (half the memory; keys and values rounded) */
    const char *kernels; /* NULL or "": the fastest kernel table this CPU runs; else one by name,
                          * "scalar", "avx2", "avx512", "avx512bf16" or "neon" (an error where the CPU or the
                          * build lacks it). no_simd = 1 wins over it. */
} slm_ctx_params;

slm_ctx_params slm_ctx_default_params(void);

/* The kernel table a context runs ("scalar", "avx2", "avx512", "neon"). */
const char *slm_ctx_kernels(const slm_ctx *ctx);

/* The memory a context needs, split by purpose (bytes). */
typedef struct slm_mem_plan {
    size_t kv_cache;    /* keys + values: 2 * n_layers*block_repeat * n_ctx * kv_dim * (4, or 2 with kv_f16) */
    size_t activations; /* residual, scratch, attention scores, logits, quantized inputs */
    size_t overhead;    /* the context struct itself and alignment padding */
    size_t total;       /* what slm_ctx_create_in needs */
} slm_mem_plan;

/* Computes the memory plan for a context of `params` on `model`. */
slm_status slm_ctx_plan(const slm_model *model, const slm_ctx_params *params, slm_mem_plan *plan,
                        slm_error *err);

/* Creates a context with its own allocation (one block of plan.total bytes). */
slm_status slm_ctx_create(const slm_model *model, const slm_ctx_params *params, slm_ctx **out,
                          slm_error *err);

/* Creates a context inside a caller-provided block of at least plan.total bytes (any
 * alignment); nothing else is allocated except worker threads when n_threads > 1.
 * slm_ctx_free then only stops those threads; the block stays the caller's. */
slm_status slm_ctx_create_in(const slm_model *model, const slm_ctx_params *params, void *mem,
                             size_t mem_size, slm_ctx **out, slm_error *err);

void slm_ctx_free(slm_ctx *ctx);

/* Runs tokens[0..n) at positions pos..pos+n-1, appending them to the KV cache. The logits
 * of the last token are then available from slm_ctx_logits. If `all_logits` is not NULL it
 * receives the logits of every token, shape (n, vocab_size). Fails with SLM_ERR_RANGE if
 * pos+n exceeds n_ctx and SLM_ERR_ARG for an id outside the vocabulary. */
slm_status slm_ctx_eval(slm_ctx *ctx, const int32_t *tokens, int n, int pos, float *all_logits,
                        slm_error *err);

/* The logits (vocab_size) after the last evaluated token; valid until the next eval. */
const float *slm_ctx_logits(const slm_ctx *ctx);
int slm_ctx_n_ctx(const slm_ctx *ctx);
const slm_model *slm_ctx_model(const slm_ctx *ctx);

/* Two models on the same tokens (a quantized model against its original, say): both run ids
 * token by token in windows of n_ctx positions (0: model a's seq_len), restarted from `bos` when
 * full, as slm score does; at every position the next id's negative log-likelihood under each
 * and the KL divergence KL(a || b) of the full next-token distributions (nats). */
typedef struct slm_compare_result {
    int tokens;             /* positions compared (n - 1) */
    double nll_a, nll_b;    /* mean negative log-likelihood of the next ids (nats) */
    double kl_mean, kl_max; /* KL(a || b): mean and largest over positions */
    double top1_agree;      /* fraction of positions where the two most likely tokens agree */
} slm_compare_result;
slm_status slm_compare_models(const slm_model *a, const slm_model *b, const int32_t *ids, int n, int n_ctx, int32_t bos,
                              int n_threads, slm_compare_result *out, slm_error *err);

/* ---------------------------------------------------------------- tokenizer */

typedef struct slm_tokenizer slm_tokenizer;

/* Loads a tokenizer: a llama2.c tokenizer.bin, a SentencePiece BPE tokenizer.model (protobuf), or
 * the tokenizer.ggml.* metadata of a GGUF file. If vocab_size > 0 the file must hold exactly that
 * many entries (SLM_ERR_MISMATCH otherwise). */
slm_status slm_tokenizer_load_file(const char *path, int vocab_size, slm_tokenizer **out,
                                   slm_error *err);
slm_status slm_tokenizer_load_memory(const void *data, size_t size, const char *name,
                                     int vocab_size, slm_tokenizer **out, slm_error *err);
void slm_tokenizer_free(slm_tokenizer *tok);

int slm_tokenizer_vocab_size(const slm_tokenizer *tok);
/* Whether prompts start with BOS (GGUF tokenizer.ggml.add_bos_token; SentencePiece files: 1). */
int slm_tokenizer_add_bos(const slm_tokenizer *tok);
/* Match control tokens written in the text (e.g. "<|im_start|>", "</s>") as their ids (1) or encode
 * them as ordinary text (0, default: user text cannot forge them). */
slm_status slm_tokenizer_parse_special(slm_tokenizer *tok, int on);
/* Decode control tokens (BOS, EOS, <|im_end|>, ...) as their text (1) or as nothing (0, default). */
void slm_tokenizer_show_special(slm_tokenizer *tok, int show);
int32_t slm_tokenizer_bos(const slm_tokenizer *tok);
int32_t slm_tokenizer_eos(const slm_tokenizer *tok);

/* Encodes `len` bytes of text (any bytes; invalid UTF-8 is handled as SentencePiece does).
 * Writes at most `cap` ids to `ids` and the full count to *n_ids; returns SLM_ERR_NOMEM if
 * cap was too small (call again with *n_ids). A text of n bytes needs at most 3n + 3 ids. */
slm_status slm_tokenizer_encode(const slm_tokenizer *tok, const char *text, size_t len, int add_bos,
                                int add_eos, int32_t *ids, int cap, int *n_ids);

/* The raw bytes of one token as it would be printed after token `prev` (the space after BOS
 * is dropped, byte tokens become their byte). Returns NULL for an out-of-range id. */
const char *slm_tokenizer_piece(const slm_tokenizer *tok, int32_t prev, int32_t id, size_t *len);
/* The vocabulary entry as stored (e.g. "<0x0A>", " the"). NULL if out of range. */
const char *slm_tokenizer_token(const slm_tokenizer *tok, int32_t id);

/* Decodes ids into `out` (cap bytes, NUL-terminated when cap > 0); returns the full length
 * needed in *len. Control tokens (BOS, EOS, ...) are dropped unless slm_tokenizer_show_special. */
slm_status slm_tokenizer_decode(const slm_tokenizer *tok, const int32_t *ids, int n, char *out,
                                size_t cap, size_t *len);

/* ---------------------------------------------------------------- chat */

typedef struct slm_chat_message {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content;
} slm_chat_message;

/* Template names: "chatml", "smollm2" (ChatML with SmolLM2's default system prompt), "llama2",
 * "zephyr" (TinyLlama-chat), "plain". */
/* The template a Jinja chat template (GGUF tokenizer.chat_template) is, or NULL if unrecognised. */
const char *slm_chat_template_guess(const char *jinja);
/* The tokenizer's chat template text (GGUF tokenizer.chat_template), or NULL. */
const char *slm_tokenizer_chat_template(const slm_tokenizer *tok);
/* Renders messages as text, special tokens written as their pieces (for display and tests). With
 * add_assistant, the prompt for the assistant's reply follows. */
slm_status slm_chat_render_text(const char *template_name, const slm_chat_message *msgs, int n,
                                int add_assistant, char *out, size_t cap, size_t *len, slm_error *err);
/* Encodes messages: text through the tokenizer, special tokens as their ids. `first`: the
 * conversation starts here (BOS and a default system prompt go only there); later turns encode
 * just their new messages, so a context's KV cache carries the conversation. */
slm_status slm_chat_encode(const slm_tokenizer *tok, const char *template_name, const slm_chat_message *msgs,
                           int n, int add_assistant, int first, int32_t *ids, int cap, int *n_ids,
                           slm_error *err);
/* The tokens that close an assistant turn (e.g. <|im_end|> and a newline) into ids (cap >= 8). */
slm_status slm_chat_encode_close(const slm_tokenizer *tok, const char *template_name, int32_t *ids, int cap,
                                 int *n_ids, slm_error *err);
/* The token that ends an assistant turn in this template (e.g. <|im_end|>; else EOS), or -1. */
int32_t slm_chat_end_of_turn(const slm_tokenizer *tok, const char *template_name);

/* ---------------------------------------------------------------- sampler */

typedef struct slm_sampler slm_sampler;

typedef struct slm_sampler_params {
    float temperature;    /* 0 = greedy (argmax, ties to the lowest id). Default 0.8 */
    int top_k;            /* keep the k most likely; 0 = off. Default 40 */
    float top_p;          /* nucleus; 1 = off. Default 0.95 */
    float min_p;          /* drop tokens below min_p * p(best); 0 = off. Default 0.05 */
    float repeat_penalty; /* divide positive / multiply negative logits of recent tokens; 1 = off */
    int repeat_last_n;    /* window for repeat_penalty. Default 64 */
    uint64_t seed;        /* PRNG seed. Default 0x5eed */
} slm_sampler_params;

slm_sampler_params slm_sampler_default_params(void);
/* vocab_size bounds the scratch buffers the sampler allocates once. */
slm_status slm_sampler_create(const slm_sampler_params *params, int vocab_size, slm_sampler **out,
                              slm_error *err);
void slm_sampler_free(slm_sampler *s);
/* Picks the next token from `logits` (vocab_size, not modified) and records it in the
 * repeat-penalty window. */
int32_t slm_sampler_sample(slm_sampler *s, const float *logits);
/* Records a token (e.g. of the prompt) in the repeat-penalty window without sampling. */
void slm_sampler_accept(slm_sampler *s, int32_t token);

/* ---------------------------------------------------------------- generation */

/* Called for each generated token with the bytes to print (UTF-8 characters are never split
 * across calls; control bytes other than \n \t \r are dropped). Return nonzero to stop. */
typedef int (*slm_token_fn)(void *user, int32_t token, const char *text, size_t len);

typedef struct slm_generate_stats {
    int n_prompt;       /* prompt tokens (BOS included) */
    int n_generated;    /* tokens sampled */
    double prompt_seconds;
    double gen_seconds;
    int stopped_by;     /* 0: n_predict reached, 1: EOS/BOS/stop token, 2: context full, 3: callback */
    int end_pos;        /* the next free position of the context (tokens evaluated so far) */
} slm_generate_stats;

/* Encodes `prompt` (with BOS), evaluates it, then samples up to n_predict tokens, stopping at
 * BOS/EOS, at the end of the context, or when `fn` returns nonzero. */
slm_status slm_generate(slm_ctx *ctx, const slm_tokenizer *tok, slm_sampler *sampler,
                        const char *prompt, int n_predict, slm_token_fn fn, void *user,
                        slm_generate_stats *stats, slm_error *err);

/* The same from token ids evaluated at position `pos` of a context that already holds pos tokens
 * (a chat continues its conversation this way); stop_token (>= 0) also ends generation. The
 * sampled stop token is not evaluated; stats.end_pos is where the next turn starts. */
slm_status slm_generate_tokens(slm_ctx *ctx, const slm_tokenizer *tok, slm_sampler *sampler, const int32_t *ids,
                               int n, int pos, int n_predict, int32_t stop_token, slm_token_fn fn, void *user,
                               slm_generate_stats *stats, slm_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SLM_H */
