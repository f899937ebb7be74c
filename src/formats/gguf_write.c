/* gguf_write.c — writes the in-memory model as GGUF v3 (arch llama), readable by llama.cpp.
 * Norms stay F32; matrices are written as F32, F16, BF16 or a block type. Q/K rows are written in
 * the interleaved-pair RoPE layout that llama.cpp's LLAMA_ROPE_TYPE_NORM expects (a rope_half
 * model's rows are reordered as they are written). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "formats.h"
#include "../kernels/quant.h"
#include "../tokenizer/tokenizer.h"
#include "gguf.h"

enum { ALIGNMENT = 32 };

static uint32_t ggml_type_of(slm_dtype dt) {
    switch (dt) {
    case SLM_DTYPE_F16: return GGML_TYPE_F16;
    case SLM_DTYPE_BF16: return GGML_TYPE_BF16;
    case SLM_DTYPE_Q8_0: return GGML_TYPE_Q8_0;
    case SLM_DTYPE_Q4_0: return GGML_TYPE_Q4_0;
    case SLM_DTYPE_Q4_1: return GGML_TYPE_Q4_1;
    case SLM_DTYPE_Q5_0: return GGML_TYPE_Q5_0;
    case SLM_DTYPE_Q5_1: return GGML_TYPE_Q5_1;
    case SLM_DTYPE_Q5_K: return GGML_TYPE_Q5_K;
    case SLM_DTYPE_Q3_K: return GGML_TYPE_Q3_K;
    case SLM_DTYPE_IQ4_NL: return GGML_TYPE_IQ4_NL;
    case SLM_DTYPE_Q4_K: return GGML_TYPE_Q4_K;
    case SLM_DTYPE_Q6_K: return GGML_TYPE_Q6_K;
    default: return GGML_TYPE_F32;
    }
}

/* Bytes of a row of n values of dt (n a whole number of blocks for block types). */
static size_t row_bytes(slm_dtype dt, int64_t n) {
    const slm_block_type *bt = slm_block_type_of(dt);
    if (bt) return (size_t)(n / bt->block_size) * (size_t)bt->block_bytes;
    return (size_t)n * (dt == SLM_DTYPE_F32 ? 4 : 2);
}

/* Encodes a row of n floats as dt into out (f32 rows are written from `row` directly). */
static void encode_row(slm_dtype dt, const float *row, int n, uint8_t *out) {
    uint16_t h;
    switch (dt) {
    case SLM_DTYPE_F16:
    case SLM_DTYPE_BF16:
        for (int k = 0; k < n; k++) {
            h = dt == SLM_DTYPE_F16 ? slm_f32_to_f16(row[k]) : slm_f32_to_bf16(row[k]);
            memcpy(out + 2 * k, &h, 2);
        }
        break;
    default: slm_quantize_row(dt, row, out, n); break;
    }
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int failed;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *g = realloc(b->buf, cap);
        if (!g) {
            b->failed = 1;
            return;
        }
        b->buf = g, b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}
static void put_u32(bytes *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_str(bytes *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_u32(bytes *b, const char *k, uint32_t v) { put_str(b, k), put_u32(b, GGUF_TYPE_UINT32), put_u32(b, v); }
static void kv_f32(bytes *b, const char *k, float v) { put_str(b, k), put_u32(b, GGUF_TYPE_FLOAT32), put(b, &v, 4); }
static void kv_str(bytes *b, const char *k, const char *v) { put_str(b, k), put_u32(b, GGUF_TYPE_STRING), put_str(b, v); }

/* A row of n values can be written as dt: block types need whole blocks. */
static int fits(slm_dtype dt, int64_t n) {
    const slm_block_type *bt = slm_block_type_of(dt);
    return !bt || n % bt->block_size == 0;
}

slm_dtype slm_gguf_tensor_type(const slm_model *m, const slm_tensor *t, slm_dtype mdt, int embed_dt) {
    if (t->n_dims != 2) return SLM_DTYPE_F32; /* norms and biases */
    slm_dtype dt = mdt;
    /* The token embedding that is also the classifier: at least 8 bits unless asked otherwise
     * (a 4-bit classifier breaks small models). */
    if (m->cfg.tied_classifier && !strcmp(t->name, "token_embd.weight")) {
        if (embed_dt >= 0) dt = (slm_dtype)embed_dt;
        else if (slm_dtype_bits(mdt) < 8) dt = SLM_DTYPE_Q8_0;
    }
    /* Rows that are not whole blocks fall back to a type of 32-value blocks with at least as many
     * bits (Q4_K to Q4_1 and Q5_K to Q5_1, their per-32 affine cousins; Q6_K to Q8_0), then to F16,
     * as llama.cpp's quantizer falls back (it takes Q5_0 for Q4_K); Q3_K to IQ4_NL, as llama.cpp does. */
    if (!fits(dt, t->shape[1]) && dt == SLM_DTYPE_Q3_K) dt = SLM_DTYPE_IQ4_NL;
    if (!fits(dt, t->shape[1]) && dt == SLM_DTYPE_Q4_K) dt = SLM_DTYPE_Q4_1;
    if (!fits(dt, t->shape[1]) && dt == SLM_DTYPE_Q5_K) dt = SLM_DTYPE_Q5_1;
    if (!fits(dt, t->shape[1]) && dt == SLM_DTYPE_Q6_K) dt = SLM_DTYPE_Q8_0;
    if (!fits(dt, t->shape[1])) dt = SLM_DTYPE_F16;
    return dt;
}

/* tokenizer.ggml.*: SentencePiece vocabularies as model "llama" with spaces written back as
 * U+2581; byte-level BPE ones as model "gpt2" with their pieces as stored, merges and
 * pre-tokenizer. Returns the number of metadata entries written. */
static uint32_t put_tokenizer(bytes *h, const slm_tokenizer *tok) {
    int n = slm_tokenizer_vocab_size(tok), bpe = tok->bpe != NULL;
    uint32_t entries = 0;
    kv_str(h, "tokenizer.ggml.model", bpe ? "gpt2" : "llama"), entries++;
    if (bpe) kv_str(h, "tokenizer.ggml.pre", slm_bpe_pre(tok)), entries++;
    put_str(h, "tokenizer.ggml.tokens"), put_u32(h, GGUF_TYPE_ARRAY), put_u32(h, GGUF_TYPE_STRING), put_u64(h, (uint64_t)n);
    entries++;
    for (int i = 0; i < n; i++) {
        const char *p = slm_tokenizer_token(tok, i);
        size_t len = strlen(p), spaces = 0;
        for (size_t k = 0; !bpe && k < len; k++) spaces += p[k] == ' ';
        put_u64(h, len + 2 * spaces);
        for (size_t k = 0; k < len; k++) {
            if (!bpe && p[k] == ' ') put(h, "\xe2\x96\x81", 3);
            else put(h, p + k, 1);
        }
    }
    if (!bpe) {
        put_str(h, "tokenizer.ggml.scores"), put_u32(h, GGUF_TYPE_ARRAY), put_u32(h, GGUF_TYPE_FLOAT32), put_u64(h, (uint64_t)n);
        entries++;
        for (int i = 0; i < n; i++) {
            float sc = slm_tokenizer_score(tok, i);
            put(h, &sc, 4);
        }
    } else {
        int nm = slm_bpe_n_merges(tok);
        put_str(h, "tokenizer.ggml.merges"), put_u32(h, GGUF_TYPE_ARRAY), put_u32(h, GGUF_TYPE_STRING), put_u64(h, (uint64_t)nm);
        entries++;
        for (int i = 0; i < nm; i++) {
            size_t len;
            const char *mstr = slm_bpe_merge(tok, i, &len);
            put_u64(h, len);
            put(h, mstr, len);
        }
    }
    put_str(h, "tokenizer.ggml.token_type"), put_u32(h, GGUF_TYPE_ARRAY), put_u32(h, GGUF_TYPE_INT32), put_u64(h, (uint64_t)n);
    entries++;
    for (int i = 0; i < n; i++) {
        int32_t ty = slm_tokenizer_gguf_type(tok, i);
        put(h, &ty, 4);
    }
    kv_u32(h, "tokenizer.ggml.bos_token_id", (uint32_t)slm_tokenizer_bos(tok)), entries++;
    kv_u32(h, "tokenizer.ggml.eos_token_id", (uint32_t)slm_tokenizer_eos(tok)), entries++;
    kv_u32(h, "tokenizer.ggml.unknown_token_id", (uint32_t)slm_tokenizer_unk(tok)), entries++;
    put_str(h, "tokenizer.ggml.add_bos_token"), put_u32(h, GGUF_TYPE_BOOL), put(h, tok->add_bos ? "\1" : "\0", 1), entries++;
    put_str(h, "tokenizer.ggml.add_eos_token"), put_u32(h, GGUF_TYPE_BOOL), put(h, "\0", 1), entries++;
    return entries;
}

/* One tensor as written: its source and the name it gets. With expand, each block of a
 * block_repeat model is written once per application (blk.N -> blk.N*k .. blk.N*k+k-1). */
typedef struct {
    const slm_tensor *t;
    char name[64];
} out_tensor;

static out_tensor *plan_tensors(const slm_model *m, int expand, int *n_out) {
    int k = expand ? m->cfg.block_repeat : 1, n = 0;
    out_tensor *o = malloc(sizeof *o * ((size_t)m->n_tensors * (size_t)k + 1));
    for (int i = 0; o && i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        int layer, used = 0;
        if (k > 1 && sscanf(t->name, "blk.%d.%n", &layer, &used) == 1 && used > 0)
            for (int r = 0; r < k; r++) {
                o[n].t = t;
                snprintf(o[n++].name, sizeof o->name, "blk.%d.%s", layer * k + r, t->name + used);
            }
        else {
            o[n].t = t;
            snprintf(o[n++].name, sizeof o->name, "%s", t->name);
        }
    }
    *n_out = n;
    return o;
}

static int gguf_matrix_type(int dt) {
    return dt == SLM_DTYPE_F32 || dt == SLM_DTYPE_F16 || dt == SLM_DTYPE_BF16 || slm_block_type_of((slm_dtype)dt) != NULL;
}

/* llama.cpp's general.file_type for a file whose matrices are mostly dt (its "mostly Q4_K_S" etc.). */
static uint32_t llama_file_type(slm_dtype dt) {
    switch (dt) {
    case SLM_DTYPE_F32: return 0;
    case SLM_DTYPE_F16: return 1;
    case SLM_DTYPE_Q4_0: return 2;
    case SLM_DTYPE_Q4_1: return 3;
    case SLM_DTYPE_Q5_0: return 8;
    case SLM_DTYPE_Q5_1: return 9;
    case SLM_DTYPE_Q3_K: return 11; /* Q3_K_S */
    case SLM_DTYPE_Q4_K: return 14; /* Q4_K_S */
    case SLM_DTYPE_Q5_K: return 16; /* Q5_K_S */
    case SLM_DTYPE_Q6_K: return 18;
    case SLM_DTYPE_IQ4_NL: return 25;
    case SLM_DTYPE_BF16: return 32;
    default: return 7; /* Q8_0 */
    }
}

slm_status slm_gguf_write(const slm_model *m, const slm_tokenizer *tok, const char *path, slm_dtype mdt, int embed_dt,
                          int expand, slm_error *err) {
    if (!gguf_matrix_type(mdt) || (embed_dt >= 0 && !gguf_matrix_type(embed_dt)))
        return slm_fail(err, SLM_ERR_ARG,
                        "%s: GGUF matrices can be written as f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q3_k, "
                        "q4_k, q5_k or q6_k", path);

    const slm_config *c = &m->cfg;
    bytes h = {0};
    expand = expand && c->block_repeat > 1;
    int n_out;
    out_tensor *outs = plan_tensors(m, expand, &n_out);
    if (!outs) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    uint32_t n_kv = 14 + (c->block_repeat > 1 && !expand); /* + the tokenizer's, patched in below */
    put(&h, "GGUF", 4), put_u32(&h, 3), put_u64(&h, (uint64_t)n_out), put_u64(&h, n_kv);
    /* A model with attention biases is written as arch qwen2, whose RoPE pairs are half-split
     * (llama.cpp ROPE_TYPE_NEOX); others as llama, with interleaved Q/K rows. */
    int qwen2 = m->has_attn_bias;
    if (qwen2 && !c->rope_half) {
        free(h.buf), free(outs);
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: a model with attention biases and interleaved RoPE has no GGUF arch", path);
    }
    const char *arch = qwen2 ? "qwen2" : "llama";
    char key[96];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    kv_str(&h, "general.architecture", arch);
    kv_str(&h, "general.name", "slm");
    kv_u32(&h, "general.alignment", ALIGNMENT);
    kv_u32(&h, "general.file_type", llama_file_type(mdt));
    kv_u32(&h, K("vocab_size"), (uint32_t)c->vocab_size);
    kv_u32(&h, K("context_length"), (uint32_t)c->seq_len);
    kv_u32(&h, K("embedding_length"), (uint32_t)c->dim);
    kv_u32(&h, K("block_count"), (uint32_t)(c->n_layers * (expand ? c->block_repeat : 1)));
    kv_u32(&h, K("feed_forward_length"), (uint32_t)c->hidden_dim);
    kv_u32(&h, K("attention.head_count"), (uint32_t)c->n_heads);
    kv_u32(&h, K("attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    kv_u32(&h, K("rope.dimension_count"), (uint32_t)c->head_dim);
    kv_f32(&h, K("attention.layer_norm_rms_epsilon"), c->norm_eps);
    kv_f32(&h, K("rope.freq_base"), c->rope_theta);
#undef K
    if (c->block_repeat > 1 && !expand) kv_u32(&h, "slm.block_repeat", (uint32_t)c->block_repeat);
    if (tok && !h.failed) {
        uint64_t total = n_kv + put_tokenizer(&h, tok);
        if (!h.failed) memcpy(h.buf + 16, &total, 8);
    }
    /* tensor infos */
    uint64_t offset = 0;
    for (int i = 0; i < n_out; i++) {
        const slm_tensor *t = outs[i].t;
        int matrix = t->n_dims == 2;
        slm_dtype dt = slm_gguf_tensor_type(m, t, mdt, embed_dt);
        put_str(&h, outs[i].name);
        put_u32(&h, (uint32_t)t->n_dims);
        if (matrix) put_u64(&h, (uint64_t)t->shape[1]), put_u64(&h, (uint64_t)t->shape[0]);
        else put_u64(&h, (uint64_t)t->shape[0]);
        put_u32(&h, ggml_type_of(dt));
        put_u64(&h, offset);
        offset += slm_align_up(row_bytes(dt, matrix ? t->shape[1] : t->shape[0]) * (size_t)(matrix ? t->shape[0] : 1),
                               ALIGNMENT);
    }
    static const uint8_t zeros[ALIGNMENT] = {0};
    put(&h, zeros, slm_align_up(h.len, ALIGNMENT) - h.len);
    if (h.failed) {
        free(h.buf), free(outs);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    slm_file_writer *w;
    slm_status st = slm_writer_open(path, &w, err);
    if (st == SLM_OK) st = slm_writer_write(w, h.buf, h.len, err);
    free(h.buf);
    int maxc = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    float *row = malloc((size_t)maxc * 4);
    uint8_t *hrow = malloc((size_t)maxc * 2 + 64);
    if (st == SLM_OK && (!row || !hrow)) st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < n_out && st == SLM_OK; i++) {
        const slm_tensor *t = outs[i].t;
        int matrix = t->n_dims == 2;
        slm_dtype dt = slm_gguf_tensor_type(m, t, mdt, embed_dt);
        int64_t rows = matrix ? t->shape[0] : 1, cols = matrix ? t->shape[1] : t->shape[0];
        size_t written = 0;
        for (int64_t r = 0; r < rows && st == SLM_OK; r++) {
            if (matrix && qwen2) slm_tensor_row_f32(t, r, row);
            else if (matrix) slm_tensor_row_interleaved(m, t, r, row);
            else memcpy(row, t->data, (size_t)cols * 4);
            size_t rb = row_bytes(dt, cols);
            encode_row(dt, row, (int)cols, hrow);
            st = slm_writer_write(w, dt == SLM_DTYPE_F32 ? (const void *)row : hrow, rb, err);
            written += rb;
        }
        if (st == SLM_OK) st = slm_writer_write(w, zeros, slm_align_up(written, ALIGNMENT) - written, err);
    }
    free(row), free(hrow), free(outs);
    if (st == SLM_OK) return slm_writer_commit(w, err);
    if (w) slm_writer_abort(w);
    return st;
}
