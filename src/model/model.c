/* model.c — config validation and the named tensor table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "../kernels/quant.h"
#include "model.h"

/* Limits far above any small model, low enough that products of them fit comfortably. */
enum { MAX_DIM = 1 << 16, MAX_HIDDEN = 1 << 18, MAX_LAYERS = 4096, MAX_VOCAB = 1 << 22,
       MAX_SEQ = 1 << 22, MAX_REPEAT = 64 };

slm_status slm_config_validate(const slm_config *c, const char *src, slm_error *err) {
#define RANGE(field, lo, hi)                                                                        \
    if (c->field < (lo) || c->field > (hi))                                                          \
        return slm_fail(err, SLM_ERR_FORMAT, "%s: %s = %d is out of range [%d, %d]", src, #field,     \
                        c->field, (int)(lo), (int)(hi));
    RANGE(dim, 1, MAX_DIM)
    RANGE(hidden_dim, 1, MAX_HIDDEN)
    RANGE(n_layers, 1, MAX_LAYERS)
    RANGE(block_repeat, 1, MAX_REPEAT)
    RANGE(n_heads, 1, c->dim)
    RANGE(n_kv_heads, 1, c->n_heads)
    RANGE(vocab_size, 1, MAX_VOCAB)
    RANGE(seq_len, 1, MAX_SEQ)
#undef RANGE
    if (c->dim % c->n_heads != 0)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: n_heads = %d does not divide dim = %d", src,
                        c->n_heads, c->dim);
    if (c->n_heads % c->n_kv_heads != 0)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: n_kv_heads = %d does not divide n_heads = %d", src,
                        c->n_kv_heads, c->n_heads);
    if (c->head_dim != c->dim / c->n_heads || c->head_dim % 2 != 0)
        return slm_fail(err, SLM_ERR_FORMAT, "%s: head_dim = %d must be dim / n_heads and even (RoPE pairs)",
                        src, c->head_dim);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: norm_eps = %g is out of range (0, 1)", src, c->norm_eps);
    if (!(c->rope_theta > 1.0f && c->rope_theta < 1e12f))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: rope_theta = %g is out of range (1, 1e12)", src,
                        c->rope_theta);
    return SLM_OK;
}

slm_status slm_model_alloc(const slm_config *cfg, const char *source, slm_model **out, slm_error *err) {
    slm_status st = slm_config_validate(cfg, source, err);
    if (st != SLM_OK) return st;
    slm_model *m = calloc(1, sizeof *m);
    int cap = 12 * cfg->n_layers + 16; /* 9 per layer, 3 optional biases, a few tensors slm does not use */
    if (m) m->tensors = calloc((size_t)cap, sizeof *m->tensors);
    if (m) m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m || !m->tensors || !m->layers) {
        if (m) free(m->tensors), free(m->layers);
        free(m);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory for the tensor table", source);
    }
    m->cfg = *cfg;
    m->cap_tensors = cap;
    snprintf(m->source, sizeof m->source, "%s", source);
    *out = m;
    return SLM_OK;
}

slm_tensor *slm_model_add(slm_model *m, const char *name, slm_dtype dtype, int64_t rows, int64_t cols,
                          const void *data, const float *scales, int group_size) {
    if (m->n_tensors >= m->cap_tensors) return NULL;
    slm_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->n_dims = rows > 0 ? 2 : 1;
    t->shape[0] = rows > 0 ? rows : cols;
    t->shape[1] = rows > 0 ? cols : 0;
    t->data = data;
    t->scales = scales;
    t->group_size = group_size;
    return t;
}

const slm_tensor *slm_model_find(const slm_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

static slm_status need(const slm_model *m, const char *name, int64_t rows, int64_t cols, int vector,
                       const slm_tensor **out, slm_error *err) {
    const slm_tensor *t = slm_model_find(m, name);
    if (!t) return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s is missing", m->source, name);
    if (vector) {
        if (t->n_dims != 1 || t->shape[0] != cols || t->dtype != SLM_DTYPE_F32)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s must be an f32 vector of %lld", m->source,
                            name, (long long)cols);
    } else if (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s has shape (%lld, %lld), expected (%lld, %lld)",
                        m->source, name, (long long)t->shape[0], (long long)t->shape[1], (long long)rows,
                        (long long)cols);
    }
    *out = t;
    return SLM_OK;
}

/* Norms and biases are used as fp32 vectors: 16-bit ones (Hugging Face bf16 checkpoints) are
 * widened once into m->vectors. Matrices are never copied. */
static slm_status widen_vectors(slm_model *m, slm_error *err) {
    size_t total = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        if (t->n_dims == 1 && (t->dtype == SLM_DTYPE_F16 || t->dtype == SLM_DTYPE_BF16)) total += (size_t)t->shape[0];
    }
    if (!total || m->vectors) return SLM_OK;
    if (!(m->vectors = malloc(total * sizeof(float)))) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", m->source);
    float *p = m->vectors;
    for (int i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        if (t->n_dims != 1 || (t->dtype != SLM_DTYPE_F16 && t->dtype != SLM_DTYPE_BF16)) continue;
        const uint16_t *h = t->data;
        for (int64_t k = 0; k < t->shape[0]; k++) p[k] = t->dtype == SLM_DTYPE_F16 ? slm_f16_to_f32(h[k]) : slm_bf16_to_f32(h[k]);
        t->data = p, t->dtype = SLM_DTYPE_F32;
        p += t->shape[0];
    }
    return SLM_OK;
}

slm_status slm_model_bind(slm_model *m, slm_error *err) {
    const slm_config *c = &m->cfg;
    slm_status wst = widen_vectors(m, err);
    if (wst != SLM_OK) return wst;
    int kv_dim = c->head_dim * c->n_kv_heads;
    char name[64];
    slm_status st;
#define NEED(ptr, rows, cols, vec, ...)                                                             \
    do {                                                                                            \
        snprintf(name, sizeof name, __VA_ARGS__);                                                  \
        if ((st = need(m, name, rows, cols, vec, &(ptr), err)) != SLM_OK) return st;               \
    } while (0)
    NEED(m->tok_emb, c->vocab_size, c->dim, 0, "token_embd.weight");
    NEED(m->out_norm, 0, c->dim, 1, "output_norm.weight");
    if (c->tied_classifier) m->classifier = m->tok_emb;
    else NEED(m->classifier, c->vocab_size, c->dim, 0, "output.weight");
    for (int l = 0; l < c->n_layers; l++) {
        slm_layer *L = &m->layers[l];
        NEED(L->attn_norm, 0, c->dim, 1, "blk.%d.attn_norm.weight", l);
        NEED(L->wq, c->dim, c->dim, 0, "blk.%d.attn_q.weight", l);
        NEED(L->wk, kv_dim, c->dim, 0, "blk.%d.attn_k.weight", l);
        NEED(L->wv, kv_dim, c->dim, 0, "blk.%d.attn_v.weight", l);
        NEED(L->wo, c->dim, c->dim, 0, "blk.%d.attn_output.weight", l);
        NEED(L->ffn_norm, 0, c->dim, 1, "blk.%d.ffn_norm.weight", l);
        NEED(L->w1, c->hidden_dim, c->dim, 0, "blk.%d.ffn_gate.weight", l);
        NEED(L->w2, c->dim, c->hidden_dim, 0, "blk.%d.ffn_down.weight", l);
        NEED(L->w3, c->hidden_dim, c->dim, 0, "blk.%d.ffn_up.weight", l);
        /* Qwen2's q/k/v biases: all or none */
        snprintf(name, sizeof name, "blk.%d.attn_q.bias", l);
        if (slm_model_find(m, name) || m->has_attn_bias) {
            if (l == 0) m->has_attn_bias = 1;
            else if (!m->has_attn_bias) return slm_fail(err, SLM_ERR_FORMAT, "%s: only some layers have attention biases", m->source);
            NEED(L->bq, 0, c->dim, 1, "blk.%d.attn_q.bias", l);
            NEED(L->bk, 0, kv_dim, 1, "blk.%d.attn_k.bias", l);
            NEED(L->bv, 0, kv_dim, 1, "blk.%d.attn_v.bias", l);
        }
    }
#undef NEED
    for (int i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        const slm_block_type *bt = slm_block_type_of(t->dtype);
        if (bt && (t->n_dims != 2 || t->shape[1] % bt->block_size != 0))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s: %s needs rows that are multiples of %d values",
                            m->source, t->name, bt->name, bt->block_size);
        if (t->dtype == SLM_DTYPE_Q8_G) {
            int64_t cols = t->n_dims == 2 ? t->shape[1] : t->shape[0];
            if (t->group_size <= 0 || cols % t->group_size != 0)
                return slm_fail(err, SLM_ERR_FORMAT,
                                "%s: group_size %d does not divide the row length %lld of tensor %s",
                                m->source, t->group_size, (long long)cols, t->name);
        }
    }
    return SLM_OK;
}

int64_t slm_tensor_numel(const slm_tensor *t) {
    return t->n_dims == 2 ? t->shape[0] * t->shape[1] : t->shape[0];
}

size_t slm_tensor_nbytes(const slm_tensor *t) {
    size_t n = (size_t)slm_tensor_numel(t);
    switch (t->dtype) {
    case SLM_DTYPE_Q8_G: return n + n / (size_t)t->group_size * sizeof(float);
    case SLM_DTYPE_F16:
    case SLM_DTYPE_BF16: return n * 2;
    case SLM_DTYPE_F32: return n * sizeof(float);
    default: {
        const slm_block_type *bt = slm_block_type_of(t->dtype);
        return n / (size_t)bt->block_size * (size_t)bt->block_bytes;
    }
    }
}

void slm_tensor_row_f32(const slm_tensor *t, int64_t row, float *out) {
    int n = (int)t->shape[1];
    if (t->dtype == SLM_DTYPE_Q8_G) slm_dequantize_q8_row(out, t->data, t->scales, n, t->group_size, (int)row);
    else if (t->bq8) slm_bq8_dequant_row(t->dtype, slm_dequant_row_scalar, out, t->data, n, t->shape[0], row);
    else slm_dequant_row_scalar((int)t->dtype, out, t->data, n, row);
}

double slm_dtype_bits(slm_dtype dt) {
    const slm_block_type *bt = slm_block_type_of(dt);
    if (bt) return 8.0 * bt->block_bytes / bt->block_size;
    return dt == SLM_DTYPE_F32 ? 32 : dt == SLM_DTYPE_Q8_G ? 8 : 16;
}

/* Matrices the products read whole: every 2-D tensor but an untied token embedding (read a row at
 * a time: its mapped pages stay, and only the rows a text uses are ever read). */
static int resident(const slm_model *m, const slm_tensor *t) {
    return t->n_dims == 2 && !(t == m->tok_emb && m->classifier != m->tok_emb);
}

static int packable(const slm_model *m, const slm_tensor *t, unsigned types) {
    return resident(m, t) && slm_bq8_type(t->dtype) && (types >> t->dtype & 1u) && t->shape[0] >= 8;
}

/* Bytes of a resident tensor's copy: Q8_G's int8 values, then its scales (each part 64-aligned). */
static size_t resident_bytes(const slm_tensor *t) {
    if (t->dtype != SLM_DTYPE_Q8_G) return slm_align_up(slm_tensor_nbytes(t), 64);
    size_t n = (size_t)slm_tensor_numel(t);
    return slm_align_up(n, 64) + slm_align_up(n / (size_t)t->group_size * sizeof(float), 64);
}

/* Gives back the mapped pages of [p, p + n) where they lie in one of the model's mapped files. */
static void release_mapped(const slm_model *m, const void *p, size_t n) {
    const uint8_t *a = p;
    for (int i = -1; i < m->n_extra_maps; i++) {
        const uint8_t *map = i < 0 ? m->map : m->extra_maps[i].data;
        size_t size = i < 0 ? m->map_size : m->extra_maps[i].size;
        if (map && a >= map && n <= size && (size_t)(a - map) <= size - n) {
            slm_map_release(a, n);
            return;
        }
    }
}

slm_status slm_model_make_resident(slm_model *m, unsigned pack_types, slm_error *err) {
    if (m->packed) return SLM_OK; /* done already */
    size_t total = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (resident(m, &m->tensors[i])) total += resident_bytes(&m->tensors[i]);
    if (!total) return SLM_OK;
    uint8_t *dst = slm_alloc_large(total); /* page-aligned */
    if (!dst) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory copying %zu bytes of weights", m->source, total);
    m->packed = dst;
    m->packed_size = total;
    for (int i = 0; i < m->n_tensors; i++) {
        slm_tensor *t = &m->tensors[i];
        if (!resident(m, t)) continue;
        size_t nb = slm_tensor_nbytes(t), step = resident_bytes(t);
        if (t->dtype == SLM_DTYPE_Q8_G) {
            size_t n = (size_t)slm_tensor_numel(t), ns = n / (size_t)t->group_size * sizeof(float);
            float *scales = (float *)(dst + slm_align_up(n, 64));
            memcpy(dst, t->data, n);
            memcpy(scales, t->scales, ns);
            release_mapped(m, t->data, n), release_mapped(m, t->scales, ns);
            t->scales = scales;
        } else {
            if (packable(m, t, pack_types)) {
                slm_bq8_pack(t->dtype, dst, t->data, t->shape[0], (int)t->shape[1]);
                t->bq8 = 1;
            } else
                memcpy(dst, t->data, nb);
            release_mapped(m, t->data, nb);
        }
        t->data = dst;
        dst += step;
    }
    return SLM_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

void slm_tensor_row_interleaved(const slm_model *m, const slm_tensor *t, int64_t row, float *out) {
    if (m->cfg.rope_half && (ends_with(t->name, ".attn_q.weight") || ends_with(t->name, ".attn_k.weight"))) {
        int hd = m->cfg.head_dim;
        int64_t head = row / hd, j = row % hd;
        row = head * hd + (j % 2 ? hd / 2 + j / 2 : j / 2);
    }
    slm_tensor_row_f32(t, row, out);
}

/* ---- public accessors */

void slm_model_free(slm_model *m) {
    if (!m) return;
    slm_unmap(m->map, m->map_size);
    for (int i = 0; i < m->n_extra_maps; i++) slm_unmap(m->extra_maps[i].data, m->extra_maps[i].size);
    free(m->extra_maps);
    free(m->owned);
    slm_free_large(m->packed, m->packed_size);
    free(m->vectors);
    free(m->tensors);
    free(m->layers);
    free(m);
}

const slm_config *slm_model_config(const slm_model *m) { return &m->cfg; }
const char *slm_model_format(const slm_model *m) { return m->format; }
int slm_model_n_tensors(const slm_model *m) { return m->n_tensors; }

int64_t slm_model_n_params(const slm_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_tensors; i++) n += slm_tensor_numel(&m->tensors[i]);
    return n;
}

slm_status slm_model_tensor_info(const slm_model *m, int index, slm_tensor_info *info) {
    if (index < 0 || index >= m->n_tensors) return SLM_ERR_ARG;
    const slm_tensor *t = &m->tensors[index];
    info->name = t->name;
    info->dtype = t->dtype;
    info->n_dims = t->n_dims;
    info->shape[0] = t->shape[0];
    info->shape[1] = t->shape[1];
    info->group_size = t->group_size;
    info->nbytes = slm_tensor_nbytes(t);
    return SLM_OK;
}
