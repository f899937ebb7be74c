/* init.c — models with fresh random weights (benchmarks now, training later). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int slm_default_hidden_dim(int dim) {
    int hidden = 2 * (4 * dim) / 3;
    return 32 * ((hidden + 31) / 32);
}

static uint64_t next_u64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Standard normal by Box-Muller over 53-bit uniforms. */
static double next_normal(uint64_t *s) {
    double u1 = ((double)(next_u64(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(next_u64(s) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

slm_status slm_model_init_random(const slm_config *cfg_in, uint64_t seed, float std, slm_model **out, slm_error *err) {
    if (!cfg_in || !out) return slm_fail(err, SLM_ERR_ARG, "slm_model_init_random: NULL argument");
    if (!(std >= 0.0f && std < 10.0f)) return slm_fail(err, SLM_ERR_ARG, "init: std %g out of range [0, 10)", std);
    slm_config cfg = *cfg_in;
    cfg.head_dim = cfg.n_heads > 0 ? cfg.dim / cfg.n_heads : 0;
    slm_model *m;
    slm_status st = slm_model_alloc(&cfg, "init", &m, err);
    if (st != SLM_OK) return st;
    snprintf(m->format, sizeof m->format, "random init (seed %llu, std %g)", (unsigned long long)seed, std);
    size_t D = (size_t)cfg.dim, H = (size_t)cfg.hidden_dim, V = (size_t)cfg.vocab_size, L = (size_t)cfg.n_layers;
    size_t KV = (size_t)cfg.head_dim * (size_t)cfg.n_kv_heads;
    size_t per_layer = 2 * D + 2 * D * D + 2 * KV * D + 3 * H * D;
    size_t total = V * D * (cfg.tied_classifier ? 1 : 2) + D + L * per_layer, bytes;
    if (!slm_mul_size(total, sizeof(float), &bytes) || !(m->owned = malloc(bytes))) {
        slm_model_free(m);
        return slm_fail(err, SLM_ERR_NOMEM, "init: cannot allocate %zu weights", total);
    }
    float *p = m->owned;
    uint64_t rng = seed ^ 0x9E3779B97F4A7C15ULL;
    if (!rng) rng = 1;
#define MAT(name, rows, cols)                                                                     \
    do {                                                                                         \
        slm_model_add(m, name, SLM_DTYPE_F32, (int64_t)(rows), (int64_t)(cols), p, NULL, 0);     \
        for (size_t i_ = 0; i_ < (size_t)(rows) * (size_t)(cols); i_++) p[i_] = (float)(std * next_normal(&rng)); \
        p += (size_t)(rows) * (size_t)(cols);                                                   \
    } while (0)
#define VEC(name, n)                                                                              \
    do {                                                                                         \
        slm_model_add(m, name, SLM_DTYPE_F32, 0, (int64_t)(n), p, NULL, 0);                      \
        for (size_t i_ = 0; i_ < (size_t)(n); i_++) p[i_] = 1.0f;                               \
        p += (n);                                                                                \
    } while (0)
    char name[48];
    MAT("token_embd.weight", V, D);
    for (size_t l = 0; l < L; l++) {
        snprintf(name, sizeof name, "blk.%zu.attn_norm.weight", l); VEC(name, D);
        snprintf(name, sizeof name, "blk.%zu.attn_q.weight", l); MAT(name, D, D);
        snprintf(name, sizeof name, "blk.%zu.attn_k.weight", l); MAT(name, KV, D);
        snprintf(name, sizeof name, "blk.%zu.attn_v.weight", l); MAT(name, KV, D);
        snprintf(name, sizeof name, "blk.%zu.attn_output.weight", l); MAT(name, D, D);
        snprintf(name, sizeof name, "blk.%zu.ffn_norm.weight", l); VEC(name, D);
        snprintf(name, sizeof name, "blk.%zu.ffn_gate.weight", l); MAT(name, H, D);
        snprintf(name, sizeof name, "blk.%zu.ffn_down.weight", l); MAT(name, D, H);
        snprintf(name, sizeof name, "blk.%zu.ffn_up.weight", l); MAT(name, H, D);
    }
    VEC("output_norm.weight", D);
    if (!cfg.tied_classifier) MAT("output.weight", V, D);
#undef MAT
#undef VEC
    if ((st = slm_model_bind(m, err)) != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}
