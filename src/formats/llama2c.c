/* llama2.c checkpoints (karpathy/llama2.c run.c / runq.c / export.py).
 *
 * v0: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (< 0: untied), seq_len;
 *     fp32 tok_emb (V,D), rms_att (L,D), wq (L,D,D), wk (L,KV,D), wv (L,KV,D), wo (L,D,D),
 *     rms_ffn (L,D), w1 (L,H,D), w2 (L,D,H), w3 (L,H,D), rms_final (D),
 *     freq_cis_real (S,hd/2), freq_cis_imag (S,hd/2) [skipped], wcls (V,D) if untied.
 * v1: 256-byte header: u32 magic 0x616b3432, i32 version 1, 7 x i32 config (vocab > 0),
 *     u8 shared_classifier at 36, zeros; fp32 rms_att (L,D), rms_ffn (L,D), rms_final (D),
 *     tok_emb (V,D), wq, wk, wv, wo, w1, w2, w3 (each L blocks), wcls (V,D) if not shared.
 * v2: as v1 with version 2 and i32 group_size at byte 37; the three norms fp32, then every
 *     matrix (tok_emb, wq[0..L), wk[..], wv, wo, w1, w2, w3, wcls if not shared) as int8 values
 *     followed by its fp32 scales, one per group_size values of the flattened matrix. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "formats.h"

#define LLAMA2C_MAGIC 0x616b3432u

typedef struct {
    slm_reader r;
    const char *src;
    slm_error *err;
} loader;

/* Takes `count` elements of `elem` bytes each, checked against the remaining file. */
static const void *take(loader *ld, size_t count, size_t elem, const char *what, slm_status *st) {
    size_t bytes;
    if (!slm_mul_size(count, elem, &bytes)) {
        *st = slm_fail(ld->err, SLM_ERR_FORMAT, "%s: size of %s overflows", ld->src, what);
        return NULL;
    }
    const void *p = slm_reader_take(&ld->r, bytes);
    if (!p)
        *st = slm_fail(ld->err, SLM_ERR_FORMAT,
                       "%s: truncated: %s needs %zu bytes at offset %zu but the file has %zu",
                       ld->src, what, bytes, ld->r.pos, ld->r.size);
    return p;
}

static slm_status add_matrix(slm_model *m, loader *ld, const char *name, int64_t rows, int64_t cols,
                             int q8, int gs) {
    slm_status st = SLM_OK;
    size_t numel = (size_t)rows * (size_t)cols; /* rows, cols <= 2^22, 2^18: no overflow */
    const void *data, *scales = NULL;
    if (!q8) {
        data = take(ld, numel, 4, name, &st);
    } else {
        data = take(ld, numel, 1, name, &st);
        if (data) {
            if (numel % (size_t)gs != 0)
                return slm_fail(ld->err, SLM_ERR_FORMAT, "%s: group_size %d does not divide the %zu values of %s",
                                ld->src, gs, numel, name);
            if (ld->r.pos % 4 != 0)
                return slm_fail(ld->err, SLM_ERR_UNSUPPORTED, "%s: scales of %s start at unaligned offset %zu",
                                ld->src, name, ld->r.pos);
            scales = take(ld, numel / (size_t)gs, 4, name, &st);
        }
    }
    if (st != SLM_OK) return st;
    if (!slm_model_add(m, name, q8 ? SLM_DTYPE_Q8_G : SLM_DTYPE_F32, rows, cols, data, scales, q8 ? gs : 0))
        return slm_fail(ld->err, SLM_ERR_FORMAT, "%s: too many tensors", ld->src);
    return SLM_OK;
}

static slm_status add_vector(slm_model *m, loader *ld, const char *name, int64_t n) {
    slm_status st = SLM_OK;
    const void *data = take(ld, (size_t)n, 4, name, &st);
    if (st != SLM_OK) return st;
    slm_model_add(m, name, SLM_DTYPE_F32, 0, n, data, NULL, 0);
    return SLM_OK;
}

/* Adds L per-layer matrices named blk.N.<what>.weight, each (rows, cols). */
static slm_status add_layers(slm_model *m, loader *ld, const char *what, int64_t rows, int64_t cols,
                             int q8, int gs) {
    char name[48];
    for (int l = 0; l < m->cfg.n_layers; l++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, what);
        slm_status st = rows ? add_matrix(m, ld, name, rows, cols, q8, gs) : add_vector(m, ld, name, cols);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

static slm_status check_end(loader *ld) {
    if (ld->r.pos != ld->r.size)
        return slm_fail(ld->err, SLM_ERR_FORMAT,
                        "%s: file has %zu bytes but its header describes %zu (trailing data)", ld->src,
                        ld->r.size, ld->r.pos);
    return SLM_OK;
}

static void config_from_header(slm_config *c, const int32_t h[7]) {
    memset(c, 0, sizeof *c);
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5] < 0 ? (h[5] == INT32_MIN ? 0 : -h[5]) : h[5];
    c->seq_len = h[6];
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    c->block_repeat = 1;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
}

slm_status slm_llama2c_load(const void *data, size_t size, const char *src, slm_model **out, slm_error *err) {
    loader ld = {{data, size, 0}, src, err};
    if ((uintptr_t)data % 4 != 0)
        return slm_fail(err, SLM_ERR_ARG, "%s: model memory must be 4-byte aligned", src);
    uint32_t magic;
    if (!slm_reader_u32(&ld.r, &magic))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: file has %zu bytes, too short for a header", src, size);
    int version = 0, shared = 0, gs = 0;
    int32_t h[7];
    if (magic == LLAMA2C_MAGIC) {
        int32_t v;
        if (size < 256)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: header needs 256 bytes, file has %zu", src, size);
        slm_reader_i32(&ld.r, &v);
        if (v != 1 && v != 2)
            return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: version = %d is unknown (llama2.c files are 0, 1 or 2)", src, v);
        version = v;
        for (int i = 0; i < 7; i++) slm_reader_i32(&ld.r, &h[i]);
        const uint8_t *flag = slm_reader_take(&ld.r, 1);
        if (*flag > 1)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: shared_classifier = %d must be 0 or 1", src, *flag);
        shared = *flag;
        if (version == 2) {
            int32_t g;
            slm_reader_i32(&ld.r, &g);
            if (g < 1 || g > (1 << 20))
                return slm_fail(err, SLM_ERR_FORMAT, "%s: group_size = %d is out of range [1, 1048576]", src, g);
            gs = g;
        }
        if (h[5] <= 0)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: vocab_size = %d must be positive in a version %d file", src, h[5], version);
        ld.r.pos = 256;
    } else {
        ld.r.pos = 0;
        for (int i = 0; i < 7; i++)
            if (!slm_reader_i32(&ld.r, &h[i]))
                return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: file has %zu bytes, a v0 header needs 28", src, size);
        shared = h[5] > 0;
    }
    slm_config c;
    config_from_header(&c, h);
    c.tied_classifier = shared;
    slm_model *m;
    slm_status st = slm_model_alloc(&c, src, &m, err);
    if (st != SLM_OK) return st;
    int q8 = version == 2;
    int64_t D = c.dim, H = c.hidden_dim, V = c.vocab_size, KV = (int64_t)c.head_dim * c.n_kv_heads;
    if (version == 0) {
        snprintf(m->format, sizeof m->format, "llama2.c v0 (fp32)");
        if ((st = add_matrix(m, &ld, "token_embd.weight", V, D, 0, 0)) ||
            (st = add_layers(m, &ld, "attn_norm", 0, D, 0, 0)) ||
            (st = add_layers(m, &ld, "attn_q", D, D, 0, 0)) ||
            (st = add_layers(m, &ld, "attn_k", KV, D, 0, 0)) ||
            (st = add_layers(m, &ld, "attn_v", KV, D, 0, 0)) ||
            (st = add_layers(m, &ld, "attn_output", D, D, 0, 0)) ||
            (st = add_layers(m, &ld, "ffn_norm", 0, D, 0, 0)) ||
            (st = add_layers(m, &ld, "ffn_gate", H, D, 0, 0)) ||
            (st = add_layers(m, &ld, "ffn_down", D, H, 0, 0)) ||
            (st = add_layers(m, &ld, "ffn_up", H, D, 0, 0)) ||
            (st = add_vector(m, &ld, "output_norm.weight", D)))
            goto fail;
        size_t freq = (size_t)c.seq_len * (size_t)(c.head_dim / 2) * 2;
        if (!take(&ld, freq, 4, "freq_cis_real/imag", &st)) goto fail;
    } else {
        if (q8) snprintf(m->format, sizeof m->format, "llama2.c v2 (Q8_0, group %d)", gs);
        else snprintf(m->format, sizeof m->format, "llama2.c v1 (fp32)");
        if ((st = add_layers(m, &ld, "attn_norm", 0, D, 0, 0)) ||
            (st = add_layers(m, &ld, "ffn_norm", 0, D, 0, 0)) ||
            (st = add_vector(m, &ld, "output_norm.weight", D)) ||
            (st = add_matrix(m, &ld, "token_embd.weight", V, D, q8, gs)) ||
            (st = add_layers(m, &ld, "attn_q", D, D, q8, gs)) ||
            (st = add_layers(m, &ld, "attn_k", KV, D, q8, gs)) ||
            (st = add_layers(m, &ld, "attn_v", KV, D, q8, gs)) ||
            (st = add_layers(m, &ld, "attn_output", D, D, q8, gs)) ||
            (st = add_layers(m, &ld, "ffn_gate", H, D, q8, gs)) ||
            (st = add_layers(m, &ld, "ffn_down", D, H, q8, gs)) ||
            (st = add_layers(m, &ld, "ffn_up", H, D, q8, gs)))
            goto fail;
    }
    if (!shared && (st = add_matrix(m, &ld, "output.weight", V, D, q8, gs))) goto fail;
    if ((st = check_end(&ld)) || (st = slm_model_bind(m, err))) goto fail;
    *out = m;
    return SLM_OK;
fail:
    slm_model_free(m);
    return st;
}

/* ---------------------------------------------------------------- writer */

int slm_llama2c_pick_group_size(const slm_config *cfg, int wanted) {
    for (int g = wanted; g > 1; g--)
        if (cfg->dim % g == 0 && cfg->hidden_dim % g == 0) return g;
    return 1;
}

typedef struct {
    const slm_model *m;
    slm_file_writer *w;
    slm_error *err;
    float *row;   /* (max cols) scratch */
    int8_t *qrow; /* (max cols) */
    float *srow;  /* (max cols) */
} writer;

static slm_status put(writer *wr, const void *p, size_t n) { return slm_writer_write(wr->w, p, n, wr->err); }

static slm_status put_i32(writer *wr, int32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)((uint32_t)v >> 24)};
    return put(wr, b, 4);
}

/* Writes a tensor as fp32 rows (dequantizing, and reordering rope_half Q/K rows, if needed). */
static slm_status put_f32(writer *wr, const slm_tensor *t) {
    if (t->dtype == SLM_DTYPE_F32 && (t->n_dims == 1 || !wr->m->cfg.rope_half))
        return put(wr, t->data, (size_t)slm_tensor_numel(t) * 4);
    for (int64_t r = 0; r < t->shape[0]; r++) {
        slm_tensor_row_interleaved(wr->m, t, r, wr->row);
        slm_status st = put(wr, wr->row, (size_t)t->shape[1] * 4);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

/* Writes a matrix as int8 values then fp32 scales (groups of gs along each row). Weights round
 * half to even, as llama2.c's export does. */
static slm_status put_q8(writer *wr, const slm_tensor *t, int gs) {
    int64_t rows = t->shape[0], cols = t->shape[1];
    slm_status st;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t r = 0; r < rows; r++) {
            slm_tensor_row_interleaved(wr->m, t, r, wr->row);
            for (int64_t g = 0; g < cols / gs; g++) {
                const float *x = wr->row + g * gs;
                float amax = 0.0f;
                for (int k = 0; k < gs; k++) amax = fmaxf(amax, fabsf(x[k]));
                float scale = amax / 127.0f;
                for (int k = 0; k < gs; k++)
                    wr->qrow[g * gs + k] = scale > 0.0f ? slm_round_to_i8(nearbyintf(x[k] / scale)) : 0;
                wr->srow[g] = scale;
            }
            st = pass == 0 ? put(wr, wr->qrow, (size_t)cols) : put(wr, wr->srow, (size_t)(cols / gs) * 4);
            if (st != SLM_OK) return st;
        }
    }
    return SLM_OK;
}

static slm_status put_matrix(writer *wr, const slm_tensor *t, int q8, int gs) {
    return q8 ? put_q8(wr, t, gs) : put_f32(wr, t);
}

slm_status slm_llama2c_write(const slm_model *m, const char *path, slm_llama2c_version version,
                             int gs, slm_error *err) {
    const slm_config *c = &m->cfg;
    if (c->block_repeat != 1)
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: llama2.c files cannot express block_repeat = %d", path, c->block_repeat);
    if (c->rope_theta != 10000.0f || c->norm_eps != 1e-5f)
        return slm_fail(err, SLM_ERR_UNSUPPORTED,
                        "%s: llama2.c files imply rope_theta 10000 and norm_eps 1e-5; this model has %g and %g", path,
                        c->rope_theta, c->norm_eps);
    int q8 = version == SLM_LLAMA2C_V2;
    if (q8 && (gs < 1 || c->dim % gs || c->hidden_dim % gs))
        return slm_fail(err, SLM_ERR_ARG, "%s: group size %d must divide dim %d and hidden_dim %d", path, gs,
                        c->dim, c->hidden_dim);
    int maxc = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    writer wr = {m, NULL, err, malloc((size_t)maxc * 4), malloc((size_t)maxc), malloc((size_t)maxc * 4)};
    slm_status st;
    if (!wr.row || !wr.qrow || !wr.srow) {
        st = slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = slm_writer_open(path, &wr.w, err)) != SLM_OK) goto done;
    const slm_layer *Ls = m->layers;
    int L = c->n_layers;
    int tied = c->tied_classifier;
    if (version == SLM_LLAMA2C_V0) {
        int32_t h[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                        tied ? c->vocab_size : -c->vocab_size, c->seq_len};
        for (int i = 0; i < 7 && st == SLM_OK; i++) st = put_i32(&wr, h[i]);
        if (st == SLM_OK) st = put_f32(&wr, m->tok_emb);
#define EACH(field) for (int l = 0; l < L && st == SLM_OK; l++) st = put_f32(&wr, Ls[l].field)
        EACH(attn_norm); EACH(wq); EACH(wk); EACH(wv); EACH(wo); EACH(ffn_norm); EACH(w1); EACH(w2); EACH(w3);
#undef EACH
        if (st == SLM_OK) st = put_f32(&wr, m->out_norm);
        /* freq_cis tables: cos/sin of pos * theta^(-2i/head_dim), as llama2.c's export writes */
        int half = c->head_dim / 2;
        for (int part = 0; part < 2 && st == SLM_OK; part++)
            for (int p = 0; p < c->seq_len && st == SLM_OK; p++) {
                for (int i = 0; i < half; i++) {
                    double a = p * pow(c->rope_theta, -2.0 * i / c->head_dim);
                    wr.row[i] = (float)(part == 0 ? cos(a) : sin(a));
                }
                st = put(&wr, wr.row, (size_t)half * 4);
            }
        if (st == SLM_OK && !tied) st = put_f32(&wr, m->classifier);
    } else {
        uint8_t hdr[256] = {0};
        int32_t h[9] = {(int32_t)LLAMA2C_MAGIC, (int32_t)version, c->dim, c->hidden_dim, c->n_layers,
                        c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len};
        for (int i = 0; i < 9; i++)
            for (int b = 0; b < 4; b++) hdr[i * 4 + b] = (uint8_t)((uint32_t)h[i] >> (8 * b));
        hdr[36] = (uint8_t)tied;
        if (q8)
            for (int b = 0; b < 4; b++) hdr[37 + b] = (uint8_t)((uint32_t)gs >> (8 * b));
        st = put(&wr, hdr, sizeof hdr);
#define EACH(field, fn) for (int l = 0; l < L && st == SLM_OK; l++) st = fn
        EACH(attn_norm, put_f32(&wr, Ls[l].attn_norm));
        EACH(ffn_norm, put_f32(&wr, Ls[l].ffn_norm));
        if (st == SLM_OK) st = put_f32(&wr, m->out_norm);
        if (st == SLM_OK) st = put_matrix(&wr, m->tok_emb, q8, gs);
        EACH(wq, put_matrix(&wr, Ls[l].wq, q8, gs));
        EACH(wk, put_matrix(&wr, Ls[l].wk, q8, gs));
        EACH(wv, put_matrix(&wr, Ls[l].wv, q8, gs));
        EACH(wo, put_matrix(&wr, Ls[l].wo, q8, gs));
        EACH(w1, put_matrix(&wr, Ls[l].w1, q8, gs));
        EACH(w2, put_matrix(&wr, Ls[l].w2, q8, gs));
        EACH(w3, put_matrix(&wr, Ls[l].w3, q8, gs));
#undef EACH
        if (st == SLM_OK && !tied) st = put_matrix(&wr, m->classifier, q8, gs);
    }
    if (st == SLM_OK) st = slm_writer_commit(wr.w, err);
    else slm_writer_abort(wr.w);
done:
    free(wr.row), free(wr.qrow), free(wr.srow);
    return st;
}
