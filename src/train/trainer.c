/* trainer.c — forward with saved activations, backward layer by layer, AdamW (see trainer.h).
 *
 * Shapes: N = B*T token rows; D = dim; KV = n_kv_heads*head_dim; F = hidden_dim; V = vocab.
 * Each applied layer l (stored block l / block_repeat) keeps:
 *   x (N,D) its input  ->  xn1 = rmsnorm(x) * attn_norm  (r1 = 1/rms per row)
 *   q = rope(xn1 Wq^T), k = rope(xn1 Wk^T), v = xn1 Wv^T;  att = causal softmax(q k^T / sqrt(hd))
 *   ao = att v;  xm = x + drop(ao Wo^T)
 *   xn2 = rmsnorm(xm) * ffn_norm (r2);  h1 = xn2 W1^T, h3 = xn2 W3^T, hg = silu(h1) * h3
 *   next x = xm + drop(hg W2^T)
 * then xf = rmsnorm(x_L) * output_norm and logits = xf Wcls^T, taken in chunks of rows so the
 * (rows, V) logits never exist for the whole batch. Backward walks the same steps in reverse;
 * gradients of a block that runs k times accumulate into its one copy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/gemm.h"
#include "trainer.h"

/* The classifier's logits are made for CE_FLOATS / vocab rows at a time (at least 128, at most the
 * batch); OPT_BLOCK: values per optimizer task. */
enum { CE_FLOATS = 1 << 26, OPT_BLOCK = 8192 };

typedef struct acts {
    float *x, *xn1, *r1, *q, *k, *v, *att, *ao, *xm, *xn2, *r2, *h1, *h3, *hg;
} acts;

typedef struct ltensors { /* offsets of one stored block's tensors */
    size_t attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3;
} ltensors;

struct slm_trainer {
    slm_trainer_opts o;
    int D, KV, F, V, H, KVH, hd, L, LA, B, T, N;
    slm_ptensor *tensors;
    int n_tensors;
    size_t n_params;
    float *params, *grads, *m, *v;
    size_t tok_emb, out_norm, cls;
    ltensors *lt;         /* (L) */
    acts *a;              /* (LA) */
    float *xL, *xf, *rf;  /* final residual, normed, 1/rms */
    float *rope;          /* (T, hd/2, 2) cos, sin */
    /* backward scratch */
    float *dx, *dxn, *dtmp, *dq, *dk, *dv, *dao, *dh1, *dh3;
    int ce_rows;          /* rows of logits made at a time */
    float *logits;        /* (ce_rows, V) */
    float *wt_packed, *w_packed; /* the classifier packed as the B of X W^T and of dY W (slm_gemm_pack_b) */
    float *bpack;         /* the B operand of the product at hand, packed (a weight or an activation) */
    float *row_loss;      /* (N) */
    float *dp;            /* (B * n_kv_heads, 4, T) attention backward rows */
    float *kt, *vt, *dkt, *dvt; /* (B * n_kv_heads, hd, T) transposed keys, values and their gradients */
    int *block_tensor;    /* for each optimizer block: the tensor holding its first value */
    const int32_t *tokens;
    slm_gemm_ctx g;
    size_t bytes;
    double phase[SLM_PHASES]; /* seconds spent in each phase (slm_trainer_phase_seconds) */
};

/* ---------------------------------------------------------------- setup */

static size_t add_tensor(slm_trainer *tr, const char *name, int rows, int cols, int decay) {
    slm_ptensor *t = &tr->tensors[tr->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows, t->cols = cols, t->offset = tr->n_params, t->decay = decay;
    tr->n_params += (size_t)(rows ? rows : 1) * (size_t)cols;
    return t->offset;
}

static float *alloc_f(slm_trainer *tr, size_t n, int *ok) {
    size_t bytes = (n ? n : 1) * sizeof(float);
    bytes = slm_align_up(bytes, 64);
    float *p = aligned_alloc(64, bytes);
    if (!p) *ok = 0;
    else memset(p, 0, bytes);
    tr->bytes += bytes;
    return p;
}

slm_status slm_trainer_create(const slm_trainer_opts *opts, slm_trainer **out, slm_error *err) {
    slm_config c = opts->cfg;
    c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
    if (c.block_repeat < 1) c.block_repeat = 1;
    slm_status st = slm_config_validate(&c, "train", err);
    if (st != SLM_OK) return st;
    if (c.rope_half) return slm_fail(err, SLM_ERR_ARG, "train: half-split RoPE is not trained (interleaved only)");
    if (c.head_dim > 512) return slm_fail(err, SLM_ERR_ARG, "train: head_dim %d is over 512", c.head_dim);
    if (c.head_dim % 2) return slm_fail(err, SLM_ERR_ARG, "train: head_dim %d must be even", c.head_dim);
    if (opts->batch < 1 || opts->seq < 1 || opts->seq > c.seq_len)
        return slm_fail(err, SLM_ERR_ARG, "train: batch %d / sequence %d out of range (1.., 1..%d)", opts->batch,
                        opts->seq, c.seq_len);
    if ((double)opts->batch * opts->seq > (1 << 24))
        return slm_fail(err, SLM_ERR_ARG, "train: batch x sequence = %.0f tokens is too many",
                        (double)opts->batch * opts->seq);
    if (!(opts->dropout >= 0.0f && opts->dropout < 1.0f))
        return slm_fail(err, SLM_ERR_ARG, "train: dropout %g out of range [0, 1)", opts->dropout);
    if (opts->n_threads < 1 || opts->n_threads > 256)
        return slm_fail(err, SLM_ERR_ARG, "train: thread count %d out of range 1..256", opts->n_threads);
    slm_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return slm_fail(err, SLM_ERR_NOMEM, "train: out of memory");
    tr->o = *opts;
    tr->o.cfg = c;
    tr->D = c.dim, tr->hd = c.head_dim, tr->H = c.n_heads, tr->KVH = c.n_kv_heads, tr->KV = c.n_kv_heads * c.head_dim;
    tr->F = c.hidden_dim, tr->V = c.vocab_size, tr->L = c.n_layers, tr->LA = c.n_layers * c.block_repeat;
    tr->B = opts->batch, tr->T = opts->seq, tr->N = opts->batch * opts->seq;
    int D = tr->D, KV = tr->KV, F = tr->F, V = tr->V, L = tr->L, N = tr->N, T = tr->T;
    tr->tensors = calloc((size_t)L * 9 + 3, sizeof *tr->tensors);
    tr->lt = calloc((size_t)L, sizeof *tr->lt);
    tr->a = calloc((size_t)tr->LA, sizeof *tr->a);
    int ok = tr->tensors && tr->lt && tr->a;
    if (ok) {
        char name[48];
        tr->tok_emb = add_tensor(tr, "token_embd.weight", V, D, 1);
        for (int l = 0; l < L; l++) {
            ltensors *t = &tr->lt[l];
#define ADD(field, suffix, rows, cols, decay) \
    snprintf(name, sizeof name, "blk.%d." suffix, l), t->field = add_tensor(tr, name, rows, cols, decay)
            ADD(attn_norm, "attn_norm.weight", 0, D, 0);
            ADD(wq, "attn_q.weight", D, D, 1);
            ADD(wk, "attn_k.weight", KV, D, 1);
            ADD(wv, "attn_v.weight", KV, D, 1);
            ADD(wo, "attn_output.weight", D, D, 1);
            ADD(ffn_norm, "ffn_norm.weight", 0, D, 0);
            ADD(w1, "ffn_gate.weight", F, D, 1);
            ADD(w2, "ffn_down.weight", D, F, 1);
            ADD(w3, "ffn_up.weight", F, D, 1);
#undef ADD
        }
        tr->out_norm = add_tensor(tr, "output_norm.weight", 0, D, 0);
        tr->cls = c.tied_classifier ? tr->tok_emb : add_tensor(tr, "output.weight", V, D, 1);
        size_t n_blocks = (tr->n_params + OPT_BLOCK - 1) / OPT_BLOCK;
        tr->block_tensor = malloc(sizeof(int) * (n_blocks ? n_blocks : 1));
        ok = tr->block_tensor != NULL;
        for (size_t b = 0, ti = 0; ok && b < n_blocks; b++) {
            while (tr->tensors[ti].offset + (size_t)(tr->tensors[ti].rows ? tr->tensors[ti].rows : 1) * tr->tensors[ti].cols <= b * OPT_BLOCK) ti++;
            tr->block_tensor[b] = (int)ti;
        }
        tr->params = alloc_f(tr, tr->n_params, &ok);
        tr->grads = alloc_f(tr, tr->n_params, &ok);
        tr->m = alloc_f(tr, tr->n_params, &ok);
        tr->v = alloc_f(tr, tr->n_params, &ok);
        size_t ND = (size_t)N * D, NKV = (size_t)N * KV, NF = (size_t)N * F;
        for (int l = 0; l < tr->LA && ok; l++) {
            acts *a = &tr->a[l];
            a->x = alloc_f(tr, ND, &ok), a->xn1 = alloc_f(tr, ND, &ok), a->r1 = alloc_f(tr, (size_t)N, &ok);
            a->q = alloc_f(tr, ND, &ok), a->k = alloc_f(tr, NKV, &ok), a->v = alloc_f(tr, NKV, &ok);
            a->att = alloc_f(tr, (size_t)tr->B * tr->H * T * T, &ok);
            a->ao = alloc_f(tr, ND, &ok), a->xm = alloc_f(tr, ND, &ok), a->xn2 = alloc_f(tr, ND, &ok);
            a->r2 = alloc_f(tr, (size_t)N, &ok);
            a->h1 = alloc_f(tr, NF, &ok), a->h3 = alloc_f(tr, NF, &ok), a->hg = alloc_f(tr, NF, &ok);
        }
        tr->xL = alloc_f(tr, ND, &ok), tr->xf = alloc_f(tr, ND, &ok), tr->rf = alloc_f(tr, (size_t)N, &ok);
        tr->rope = alloc_f(tr, (size_t)T * tr->hd, &ok);
        tr->dx = alloc_f(tr, ND, &ok), tr->dxn = alloc_f(tr, ND, &ok), tr->dtmp = alloc_f(tr, ND, &ok);
        tr->dq = alloc_f(tr, ND, &ok), tr->dk = alloc_f(tr, NKV, &ok), tr->dv = alloc_f(tr, NKV, &ok);
        tr->dao = alloc_f(tr, ND, &ok), tr->dh1 = alloc_f(tr, NF, &ok), tr->dh3 = alloc_f(tr, NF, &ok);
        tr->ce_rows = CE_FLOATS / V < 128 ? 128 : CE_FLOATS / V;
        if (tr->ce_rows > N) tr->ce_rows = N;
        tr->logits = alloc_f(tr, (size_t)tr->ce_rows * V, &ok);
        tr->wt_packed = alloc_f(tr, slm_gemm_packed_floats(V, D), &ok);
        int wide = D > F ? D : F, deep = N > wide ? N : wide;
        tr->bpack = alloc_f(tr, slm_gemm_packed_floats(wide, deep), &ok);
        tr->w_packed = alloc_f(tr, slm_gemm_packed_floats(D, V), &ok);
        tr->row_loss = alloc_f(tr, (size_t)N, &ok);
        tr->dp = alloc_f(tr, (size_t)tr->B * tr->KVH * 4 * T, &ok);
        tr->kt = alloc_f(tr, NKV, &ok), tr->vt = alloc_f(tr, NKV, &ok);
        tr->dkt = alloc_f(tr, NKV, &ok), tr->dvt = alloc_f(tr, NKV, &ok);
        tr->g.scratch = alloc_f(tr, SLM_GEMM_SCRATCH * (size_t)opts->n_threads, &ok);
    }
    if (!ok) {
        slm_trainer_free(tr);
        return slm_fail(err, SLM_ERR_NOMEM, "train: cannot allocate the trainer's memory (model, batch %d x %d)",
                        opts->batch, opts->seq);
    }
    tr->g.kernels = slm_kernels_select(opts->use_simd);
    tr->g.n_threads = opts->n_threads;
    if (opts->n_threads > 1 && (st = slm_pool_create(opts->n_threads, &tr->g.pool, err)) != SLM_OK) {
        slm_trainer_free(tr);
        return st;
    }
    for (int t = 0; t < T; t++)
        for (int i = 0; i < tr->hd / 2; i++) {
            double angle = (double)t * pow((double)c.rope_theta, -2.0 * i / tr->hd);
            tr->rope[(size_t)t * tr->hd + 2 * i] = (float)cos(angle);
            tr->rope[(size_t)t * tr->hd + 2 * i + 1] = (float)sin(angle);
        }
    *out = tr;
    return SLM_OK;
}

void slm_trainer_free(slm_trainer *tr) {
    if (!tr) return;
    slm_pool_free(tr->g.pool);
    for (int l = 0; tr->a && l < tr->LA; l++) {
        acts *a = &tr->a[l];
        float *ps[] = {a->x, a->xn1, a->r1, a->q, a->k, a->v, a->att, a->ao, a->xm, a->xn2, a->r2, a->h1, a->h3, a->hg};
        for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
    }
    float *ps[] = {tr->params, tr->grads, tr->m, tr->v, tr->xL, tr->xf, tr->rf, tr->rope, tr->dx, tr->dxn,
                   tr->dtmp, tr->dq, tr->dk, tr->dv, tr->dao, tr->dh1, tr->dh3, tr->logits, tr->row_loss,
                   tr->dp, tr->kt, tr->vt, tr->dkt, tr->dvt, tr->g.scratch, tr->wt_packed, tr->w_packed,
                   tr->bpack};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) free(ps[i]);
    free(tr->a), free(tr->lt), free(tr->tensors), free(tr->block_tensor), free(tr);
}

const slm_trainer_opts *slm_trainer_options(const slm_trainer *tr) { return &tr->o; }
size_t slm_trainer_n_params(const slm_trainer *tr) { return tr->n_params; }
const slm_ptensor *slm_trainer_tensors(const slm_trainer *tr, int *n) {
    *n = tr->n_tensors;
    return tr->tensors;
}
float *slm_trainer_params(slm_trainer *tr) { return tr->params; }
float *slm_trainer_grads(slm_trainer *tr) { return tr->grads; }
float *slm_trainer_adam_m(slm_trainer *tr) { return tr->m; }
float *slm_trainer_adam_v(slm_trainer *tr) { return tr->v; }
size_t slm_trainer_memory(const slm_trainer *tr) { return tr->bytes + sizeof *tr; }

void slm_trainer_init_params(slm_trainer *tr, uint64_t seed, float std) {
    uint64_t s = seed;
    float resid = std / sqrtf(2.0f * (float)tr->LA);
    for (int i = 0; i < tr->n_tensors; i++) {
        const slm_ptensor *t = &tr->tensors[i];
        float *p = tr->params + t->offset;
        size_t n = (size_t)(t->rows ? t->rows : 1) * t->cols;
        if (!t->rows) {
            for (size_t j = 0; j < n; j++) p[j] = 1.0f;
            continue;
        }
        size_t len = strlen(t->name);
        int is_resid = (len > 18 && !strcmp(t->name + len - 18, "attn_output.weight")) ||
                       (len > 15 && !strcmp(t->name + len - 15, "ffn_down.weight"));
        double sd = is_resid ? resid : std;
        for (size_t j = 0; j < n; j += 2) { /* Box-Muller, two normals per pair of uniforms */
            double u1 = ((double)(slm_splitmix64(&s) >> 11) + 1.0) / 9007199254740993.0;
            double u2 = (double)(slm_splitmix64(&s) >> 11) / 9007199254740992.0;
            double r = sqrt(-2.0 * log(u1));
            p[j] = (float)(sd * r * cos(6.283185307179586 * u2));
            if (j + 1 < n) p[j + 1] = (float)(sd * r * sin(6.283185307179586 * u2));
        }
    }
    memset(tr->m, 0, tr->n_params * sizeof(float));
    memset(tr->v, 0, tr->n_params * sizeof(float));
}


/* ---------------------------------------------------------------- parallel loops */

typedef struct par {
    slm_trainer *tr;
    void (*fn)(struct par *p, int i0, int i1);
    int n;
    int layer;            /* applied layer */
    const float *w;       /* a norm weight */
    float *dw;            /* its gradient */
    const float *in;
    float *out, *r;
    float *aux;
    float grad_scale;
    uint64_t key;
    int site;
} par;

static void par_worker(void *arg, int ti, int nt) {
    par *p = arg;
    int i0 = (int)((int64_t)p->n * ti / nt), i1 = (int)((int64_t)p->n * (ti + 1) / nt);
    if (i0 < i1) p->fn(p, i0, i1);
}

/* Runs p->fn over [0, n) split into one contiguous range per thread; inline when the work (n items
 * of about `unit` values each) is too small to pay for waking the other threads. */
static void par_run(par *p, int n, double unit) {
    p->n = n;
    if (p->tr->g.pool && n > 1 && (double)n * unit >= 16384) slm_pool_run(p->tr->g.pool, par_worker, p);
    else par_worker(p, 0, 1);
}

/* ---------------------------------------------------------------- element-wise pieces */

/* out[t] = in[t] * r[t] * w, r[t] = 1/sqrt(mean(in[t]^2) + eps), rows [i0, i1). */
static void rmsnorm_rows(par *p, int i0, int i1) {
    int D = p->tr->D;
    float eps = p->tr->o.cfg.norm_eps;
    for (int t = i0; t < i1; t++) {
        const float *x = p->in + (size_t)t * D;
        float *y = p->out + (size_t)t * D;
        double ss = 0.0;
        for (int i = 0; i < D; i++) ss += (double)x[i] * x[i];
        float r = (float)(1.0 / sqrt(ss / D + eps));
        p->r[t] = r;
        for (int i = 0; i < D; i++) y[i] = x[i] * r * p->w[i];
    }
}

/* RMSNorm backward for rows [i0, i1): aux holds dy (N, D), in the normed input x, r its 1/rms;
 * adds dx to out:  g = dy * w;  dx = r * g - r^3 * x * mean(g . x). */
static void rmsnorm_back_rows(par *p, int i0, int i1) {
    int D = p->tr->D;
    for (int t = i0; t < i1; t++) {
        const float *x = p->in + (size_t)t * D, *dy = p->aux + (size_t)t * D;
        float *dx = p->out + (size_t)t * D, r = p->r[t];
        double dot = 0.0;
        for (int i = 0; i < D; i++) dot += (double)dy[i] * p->w[i] * x[i];
        float c = (float)(dot / D) * r * r * r;
        for (int i = 0; i < D; i++) dx[i] += r * (dy[i] * p->w[i]) - c * x[i];
    }
}

/* The norm weight's gradient over columns [i0, i1): dw[i] += sum over rows t of dy[t,i] x[t,i] r[t]
 * (rows in order, so the sum does not depend on the thread split). */
static void rmsnorm_dw_cols(par *p, int i0, int i1) {
    int D = p->tr->D, N = p->tr->N;
    for (int i = i0; i < i1; i++) {
        double s = 0.0;
        for (int t = 0; t < N; t++) s += (double)p->aux[(size_t)t * D + i] * p->in[(size_t)t * D + i] * p->r[t];
        p->dw[i] += (float)s;
    }
}

static void rmsnorm_forward(slm_trainer *tr, float *out, float *r, const float *in, const float *w) {
    par p = {.tr = tr, .fn = rmsnorm_rows, .in = in, .out = out, .r = r, .w = w};
    par_run(&p, tr->N, tr->D);
}

/* dx += d(rmsnorm)/dx applied to dy; dw += the weight's gradient. */
static void rmsnorm_backward(slm_trainer *tr, float *dx, float *dw, const float *dy, const float *in, const float *r,
                             const float *w) {
    par p = {.tr = tr, .fn = rmsnorm_back_rows, .in = in, .out = dx, .r = (float *)r, .w = w, .aux = (float *)dy};
    par_run(&p, tr->N, tr->D);
    p.fn = rmsnorm_dw_cols, p.dw = dw;
    par_run(&p, tr->D, tr->N);
}

/* Rotates (2i, 2i+1) pairs of each head of rows [i0, i1) of out (N, n_heads*hd) by position t % T;
 * site 1 rotates backwards (the transpose, for gradients). p->layer holds n_heads. */
static void rope_rows(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    int hd = tr->hd, width = p->layer * hd;
    float sign = p->site ? -1.0f : 1.0f;
    for (int t = i0; t < i1; t++) {
        const float *cs = tr->rope + (size_t)(t % tr->T) * hd;
        float *x = p->out + (size_t)t * width;
        for (int h = 0; h < p->layer; h++, x += hd)
            for (int i = 0; i < hd / 2; i++) {
                float c = cs[2 * i], s = sign * cs[2 * i + 1], a = x[2 * i], b = x[2 * i + 1];
                x[2 * i] = a * c - b * s;
                x[2 * i + 1] = a * s + b * c;
            }
    }
}

static void rope(slm_trainer *tr, float *x, int n_heads, int backward) {
    par p = {.tr = tr, .fn = rope_rows, .out = x, .layer = n_heads, .site = backward};
    par_run(&p, tr->N, tr->D);
}


static void swiglu_rows(par *p, int i0, int i1) {
    acts *a = &p->tr->a[p->layer];
    size_t F = (size_t)p->tr->F;
    size_t off = (size_t)i0 * F, n = (size_t)(i1 - i0) * F;
    memcpy(a->hg + off, a->h1 + off, sizeof(float) * n);
    p->tr->g.kernels->swiglu(a->hg + off, a->h3 + off, (int)n);
}

/* From d(hg) in dh1: dh3 = d * silu(h1); dh1 = d * h3 * silu'(h1). */
static void swiglu_back_rows(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    acts *a = &tr->a[p->layer];
    size_t F = (size_t)tr->F;
    size_t off = (size_t)i0 * F;
    tr->g.kernels->swiglu_back(tr->dh1 + off, tr->dh3 + off, a->h1 + off, a->h3 + off, (i1 - i0) * (int)F);
}

/* Dropout: element i of site `site` is kept (scaled by 1/(1-p)) unless a hash of (key, site, i)
 * falls below p. The same call masks a gradient in backward. */
static void dropout_rows(par *p, int i0, int i1) {
    float drop = p->tr->o.dropout, keep = 1.0f / (1.0f - drop);
    uint64_t limit = (uint64_t)((double)drop * 18446744073709551616.0);
    size_t D = (size_t)p->tr->D;
    for (size_t i = (size_t)i0 * D; i < (size_t)i1 * D; i++) {
        uint64_t s = p->key ^ ((uint64_t)p->site << 48) ^ i;
        p->out[i] = slm_splitmix64(&s) < limit ? 0.0f : p->out[i] * keep;
    }
}

static void dropout(slm_trainer *tr, float *x, uint64_t key, int site) {
    if (tr->o.dropout <= 0.0f) return;
    par p = {.tr = tr, .fn = dropout_rows, .out = x, .key = key, .site = site};
    par_run(&p, tr->N, tr->D);
}

static void add_rows(par *p, int i0, int i1) {
    size_t D = (size_t)p->tr->D;
    for (size_t i = (size_t)i0 * D; i < (size_t)i1 * D; i++) p->out[i] = p->in[i] + p->aux[i];
}

/* out = a + b over (N, D). */
static void add(slm_trainer *tr, float *out, const float *a, const float *b) {
    par p = {.tr = tr, .fn = add_rows, .out = out, .in = a, .aux = (float *)b};
    par_run(&p, tr->N, tr->D);
}

/* ---------------------------------------------------------------- attention */

/* Attention works on one (batch, kv head) item at a time with that head's keys and values
 * transposed to (hd, T) rows, so every step runs over contiguous key positions:
 *   forward, each query t of each head h of the group:  row = (q_t * scale) . Kt;  softmax;  o = Vt . row
 *   backward:  dp = dout . Vt;  ds = row * (dp - row . dp) * scale;  dq = Kt . ds;
 *              dKt += q_t (x) ds;  dVt += dout (x) row   (then transposed back into dk, dv) */
static void transpose_in(float *dst, const float *src, int T, int hd, int KV) {
    for (int s = 0; s < T; s++)
        for (int i = 0; i < hd; i++) dst[(size_t)i * T + s] = src[(size_t)s * KV + i];
}

/* Softmax of row[0..t] in place; row[t+1..n) (scores computed past the query's position by a block
 * of four) set to zero, as the backward pass expects. */
static void causal_softmax(const slm_kernels *kr, float *row, int t, int n) {
    kr->softmax(row, t + 1);
    for (int s = t + 1; s < n; s++) row[s] = 0.0f;
}

static void attn_fwd(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    const slm_kernels *kr = tr->g.kernels;
    acts *a = &tr->a[p->layer];
    int T = tr->T, hd = tr->hd, D = tr->D, KV = tr->KV, grp = tr->H / tr->KVH;
    float scale = 1.0f / sqrtf((float)hd), qs[4][512];
    for (int item = i0; item < i1; item++) {
        int b = item / tr->KVH, g = item % tr->KVH;
        float *kt = tr->kt + (size_t)item * hd * T, *vt = tr->vt + (size_t)item * hd * T;
        transpose_in(kt, a->k + (size_t)b * T * KV + g * hd, T, hd, KV);
        transpose_in(vt, a->v + (size_t)b * T * KV + g * hd, T, hd, KV);
        for (int h = g * grp; h < (g + 1) * grp; h++) {
            float *att = a->att + ((size_t)b * tr->H + h) * T * T;
            /* queries in blocks of four: each key and value is read once per block */
            for (int t0 = 0; t0 < T; t0 += 4) {
                int nb = T - t0 < 4 ? T - t0 : 4, n = t0 + nb;
                float *rows[4], *outs[4];
                for (int j = 0; j < nb; j++) {
                    const float *q = a->q + ((size_t)b * T + t0 + j) * D + h * hd;
                    for (int i = 0; i < hd; i++) qs[j][i] = q[i] * scale;
                    rows[j] = att + (size_t)(t0 + j) * T, outs[j] = a->ao + ((size_t)b * T + t0 + j) * D + h * hd;
                }
                if (nb == 4) {
                    const float *cs[4] = {qs[0], qs[1], qs[2], qs[3]};
                    kr->rows_combine4(rows, cs, kt, T, hd, n);
                    for (int j = 0; j < 4; j++) causal_softmax(kr, rows[j], t0 + j, n);
                    const float *rs[4] = {rows[0], rows[1], rows[2], rows[3]};
                    kr->rows_dot4(outs, rs, vt, T, hd, n);
                } else
                    for (int j = 0; j < nb; j++) {
                        kr->rows_combine(rows[j], qs[j], kt, T, hd, t0 + j + 1);
                        causal_softmax(kr, rows[j], t0 + j, t0 + j + 1);
                        kr->rows_dot(outs[j], rows[j], vt, T, hd, t0 + j + 1);
                    }
            }
        }
    }
}

static void attn_bwd(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    const slm_kernels *kr = tr->g.kernels;
    acts *a = &tr->a[p->layer];
    int T = tr->T, hd = tr->hd, D = tr->D, KV = tr->KV, grp = tr->H / tr->KVH;
    float scale = 1.0f / sqrtf((float)hd);
    for (int item = i0; item < i1; item++) {
        float *dp = tr->dp + (size_t)item * 4 * T;
        int b = item / tr->KVH, g = item % tr->KVH;
        size_t at = (size_t)item * hd * T;
        float *kt = tr->kt + at, *vt = tr->vt + at, *dkt = tr->dkt + at, *dvt = tr->dvt + at;
        transpose_in(kt, a->k + (size_t)b * T * KV + g * hd, T, hd, KV);
        transpose_in(vt, a->v + (size_t)b * T * KV + g * hd, T, hd, KV);
        memset(dkt, 0, sizeof(float) * hd * T);
        memset(dvt, 0, sizeof(float) * hd * T);
        for (int h = g * grp; h < (g + 1) * grp; h++) {
            const float *att = a->att + ((size_t)b * tr->H + h) * T * T;
            /* queries in blocks of four: their rank-1 updates of dKt and dVt go through memory once
             * (entries past a query's own position are zero in att and in its ds row) */
            for (int t0 = 0; t0 < T; t0 += 4) {
                int nb = T - t0 < 4 ? T - t0 : 4, n = t0 + nb;
                const float *qs[4], *douts[4], *rows[4];
                float *dss[4], *dqs[4];
                for (int j = 0; j < nb; j++) {
                    int t = t0 + j;
                    rows[j] = att + (size_t)t * T, douts[j] = tr->dao + ((size_t)b * T + t) * D + h * hd;
                    dss[j] = dp + (size_t)j * T, dqs[j] = tr->dq + ((size_t)b * T + t) * D + h * hd;
                    qs[j] = a->q + ((size_t)b * T + t) * D + h * hd;
                }
                /* d(att row) = dout . V, for the four queries at once when there are four */
                if (nb == 4) kr->rows_combine4(dss, douts, vt, T, hd, n);
                else
                    for (int j = 0; j < nb; j++) kr->rows_combine(dss[j], douts[j], vt, T, hd, t0 + j + 1);
                for (int j = 0; j < nb; j++) {
                    int t = t0 + j;
                    kr->softmax_back(dss[j], rows[j], t + 1, scale);
                    for (int s = t + 1; s < n; s++) dss[j][s] = 0.0f;
                }
                /* dq = ds . K (entries past each query's position are zero) */
                if (nb == 4) {
                    const float *dsc[4] = {dss[0], dss[1], dss[2], dss[3]};
                    kr->rows_dot4(dqs, dsc, kt, T, hd, n);
                } else
                    for (int j = 0; j < nb; j++) kr->rows_dot(dqs[j], dss[j], kt, T, hd, t0 + j + 1);
                if (nb == 4) {
                    const float *dsc[4] = {dss[0], dss[1], dss[2], dss[3]};
                    kr->rows_rank4(dkt, T, qs, dsc, hd, n);
                    kr->rows_rank4(dvt, T, douts, rows, hd, n);
                } else
                    for (int j = 0; j < nb; j++) {
                        kr->rows_rank1(dkt, T, qs[j], dss[j], hd, t0 + j + 1);
                        kr->rows_rank1(dvt, T, douts[j], rows[j], hd, t0 + j + 1);
                    }
            }
        }
        for (int s = 0; s < T; s++)
            for (int i = 0; i < hd; i++) {
                tr->dk[((size_t)b * T + s) * KV + g * hd + i] = dkt[(size_t)i * T + s];
                tr->dv[((size_t)b * T + s) * KV + g * hd + i] = dvt[(size_t)i * T + s];
            }
    }
}

/* ---------------------------------------------------------------- products
 * Each packs its B operand once into tr->bpack (so that however the threads cut the rows, B is not
 * packed again), then multiplies: bit-identical to the unpacked slm_gemm_* forms. */

/* Y (n, out) [+]= X (n, in) W (out, in)^T */
static void mm_xwt(slm_trainer *tr, float *Y, const float *X, const float *W, int n, int in, int out, int acc) {
    slm_gemm_pack_b(&tr->g, tr->bpack, out, in, W, 1, in);
    slm_gemm_packed(&tr->g, n, out, in, X, in, 1, tr->bpack, Y, out, acc);
}

/* dX (n, in) [+]= dY (n, out) W (out, in) */
static void mm_dyw(slm_trainer *tr, float *dX, const float *dY, const float *W, int n, int in, int out, int acc) {
    slm_gemm_pack_b(&tr->g, tr->bpack, in, out, W, in, 1);
    slm_gemm_packed(&tr->g, n, in, out, dY, out, 1, tr->bpack, dX, in, acc);
}

/* Weight gradients dW (out, in) += dY (n, out)^T X (n, in): pack_x packs X, then mm_dytx uses it
 * for every dY that meets the same X. */
static void pack_x(slm_trainer *tr, const float *X, int n, int in) {
    slm_gemm_pack_b(&tr->g, tr->bpack, in, n, X, in, 1);
}
static void mm_dytx(slm_trainer *tr, float *dW, const float *dY, int n, int in, int out) {
    slm_gemm_packed(&tr->g, out, in, n, dY, 1, out, tr->bpack, dW, in, 1);
}

/* ---------------------------------------------------------------- forward */

static void embed_rows(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    for (int t = i0; t < i1; t++) {
        int b = t / tr->T, s = t % tr->T;
        int id = tr->tokens[(size_t)b * (tr->T + 1) + s];
        memcpy(p->out + (size_t)t * tr->D, tr->params + tr->tok_emb + (size_t)id * tr->D, sizeof(float) * tr->D);
    }
}

static void forward(slm_trainer *tr, uint64_t key) {
    int N = tr->N, D = tr->D, KV = tr->KV, F = tr->F;
    const float *P = tr->params;
    par p = {.tr = tr, .fn = embed_rows, .out = tr->a[0].x};
    par_run(&p, N, tr->F);
    dropout(tr, tr->a[0].x, key, 0);
    for (int l = 0; l < tr->LA; l++) {
        acts *a = &tr->a[l];
        const ltensors *w = &tr->lt[l / tr->o.cfg.block_repeat];
        float *next = l + 1 < tr->LA ? tr->a[l + 1].x : tr->xL;
        rmsnorm_forward(tr, a->xn1, a->r1, a->x, P + w->attn_norm);
        mm_xwt(tr, a->q, a->xn1, P + w->wq, N, D, D, 0);
        mm_xwt(tr, a->k, a->xn1, P + w->wk, N, D, KV, 0);
        mm_xwt(tr, a->v, a->xn1, P + w->wv, N, D, KV, 0);
        rope(tr, a->q, tr->H, 0);
        rope(tr, a->k, tr->KVH, 0);
        p = (par){.tr = tr, .fn = attn_fwd, .layer = l};
        double ta = slm_time_seconds();
        par_run(&p, tr->B * tr->KVH, (double)tr->T * tr->T * tr->hd);
        tr->phase[SLM_PHASE_ATTN_FWD] += slm_time_seconds() - ta;
        mm_xwt(tr, tr->dtmp, a->ao, P + w->wo, N, D, D, 0);
        dropout(tr, tr->dtmp, key, 1 + 2 * l);
        add(tr, a->xm, a->x, tr->dtmp);
        rmsnorm_forward(tr, a->xn2, a->r2, a->xm, P + w->ffn_norm);
        mm_xwt(tr, a->h1, a->xn2, P + w->w1, N, D, F, 0);
        mm_xwt(tr, a->h3, a->xn2, P + w->w3, N, D, F, 0);
        p = (par){.tr = tr, .fn = swiglu_rows, .layer = l};
        par_run(&p, N, tr->F);
        mm_xwt(tr, tr->dtmp, a->hg, P + w->w2, N, F, D, 0);
        dropout(tr, tr->dtmp, key, 2 + 2 * l);
        add(tr, next, a->xm, tr->dtmp);
    }
    rmsnorm_forward(tr, tr->xf, tr->rf, tr->xL, P + tr->out_norm);
}

/* Cross-entropy over rows [i0, i1) of the current chunk (p->layer = its first row): the loss of
 * each row into row_loss; with p->grad_scale != 0 the logits become their gradient
 * grad_scale * (softmax - onehot). */
static void ce_rows(par *p, int i0, int i1) {
    slm_trainer *tr = p->tr;
    int V = tr->V;
    for (int r = i0; r < i1; r++) {
        int t = p->layer + r, b = t / tr->T, s = t % tr->T;
        int target = tr->tokens[(size_t)b * (tr->T + 1) + s + 1];
        tr->row_loss[t] = (float)tr->g.kernels->xent_row(tr->logits + (size_t)r * V, V, target, p->grad_scale);
    }
}

/* Classifier and loss in chunks of rows; with grad_scale != 0 also dxf (into tr->dxn) and the
 * classifier's gradient. Returns the summed loss. */
static double head(slm_trainer *tr, float grad_scale) {
    int N = tr->N, D = tr->D, V = tr->V;
    const float *W = tr->params + tr->cls;
    /* W (V, D) is the B operand of every chunk's products: packed once here */
    slm_gemm_pack_b(&tr->g, tr->wt_packed, V, D, W, 1, D);
    if (grad_scale != 0.0f) slm_gemm_pack_b(&tr->g, tr->w_packed, D, V, W, D, 1);
    for (int c0 = 0; c0 < N; c0 += tr->ce_rows) {
        int n = N - c0 < tr->ce_rows ? N - c0 : tr->ce_rows;
        slm_gemm_packed(&tr->g, n, V, D, tr->xf + (size_t)c0 * D, D, 1, tr->wt_packed, tr->logits, V, 0);
        par p = {.tr = tr, .fn = ce_rows, .layer = c0, .grad_scale = grad_scale};
        par_run(&p, n, tr->V);
        if (grad_scale == 0.0f) continue;
        slm_gemm_packed(&tr->g, n, D, V, tr->logits, V, 1, tr->w_packed, tr->dxn + (size_t)c0 * D, D, 0);
        pack_x(tr, tr->xf + (size_t)c0 * D, n, D);
        mm_dytx(tr, tr->grads + tr->cls, tr->logits, n, D, V);
    }
    double sum = 0.0;
    for (int t = 0; t < N; t++) sum += tr->row_loss[t];
    return sum;
}

/* ---------------------------------------------------------------- backward */

static void embed_back(slm_trainer *tr) {
    /* Serial in token order: rows of one id may repeat, and the order fixes the rounding. */
    int D = tr->D;
    for (int t = 0; t < tr->N; t++) {
        int b = t / tr->T, s = t % tr->T;
        int id = tr->tokens[(size_t)b * (tr->T + 1) + s];
        float *g = tr->grads + tr->tok_emb + (size_t)id * D;
        const float *d = tr->dx + (size_t)t * D;
        for (int i = 0; i < D; i++) g[i] += d[i];
    }
}

static void backward(slm_trainer *tr, uint64_t key) {
    int N = tr->N, D = tr->D, KV = tr->KV, F = tr->F;
    const float *P = tr->params;
    float *G = tr->grads;
    /* dx = d loss / d xL, through the final norm (dxf is in dxn). */
    memset(tr->dx, 0, sizeof(float) * (size_t)N * D);
    rmsnorm_backward(tr, tr->dx, G + tr->out_norm, tr->dxn, tr->xL, tr->rf, P + tr->out_norm);
    for (int l = tr->LA - 1; l >= 0; l--) {
        acts *a = &tr->a[l];
        const ltensors *w = &tr->lt[l / tr->o.cfg.block_repeat];
        /* FFN branch: next = xm + drop(hg W2^T). dx holds d next; it also flows to xm unchanged. */
        memcpy(tr->dtmp, tr->dx, sizeof(float) * (size_t)N * D);
        dropout(tr, tr->dtmp, key, 2 + 2 * l);
        pack_x(tr, a->hg, N, F);
        mm_dytx(tr, G + w->w2, tr->dtmp, N, F, D);
        mm_dyw(tr, tr->dh1, tr->dtmp, P + w->w2, N, F, D, 0);
        par p = {.tr = tr, .fn = swiglu_back_rows, .layer = l};
        par_run(&p, N, tr->F);
        pack_x(tr, a->xn2, N, D);
        mm_dytx(tr, G + w->w1, tr->dh1, N, D, F);
        mm_dytx(tr, G + w->w3, tr->dh3, N, D, F);
        mm_dyw(tr, tr->dxn, tr->dh1, P + w->w1, N, D, F, 0);
        mm_dyw(tr, tr->dxn, tr->dh3, P + w->w3, N, D, F, 1);
        rmsnorm_backward(tr, tr->dx, G + w->ffn_norm, tr->dxn, a->xm, a->r2, P + w->ffn_norm);
        /* Attention branch: xm = x + drop(ao Wo^T). */
        memcpy(tr->dtmp, tr->dx, sizeof(float) * (size_t)N * D);
        dropout(tr, tr->dtmp, key, 1 + 2 * l);
        pack_x(tr, a->ao, N, D);
        mm_dytx(tr, G + w->wo, tr->dtmp, N, D, D);
        mm_dyw(tr, tr->dao, tr->dtmp, P + w->wo, N, D, D, 0);
        p = (par){.tr = tr, .fn = attn_bwd, .layer = l};
        double ta = slm_time_seconds();
        par_run(&p, tr->B * tr->KVH, (double)tr->T * tr->T * tr->hd);
        tr->phase[SLM_PHASE_ATTN_BWD] += slm_time_seconds() - ta;
        rope(tr, tr->dq, tr->H, 1);
        rope(tr, tr->dk, tr->KVH, 1);
        pack_x(tr, a->xn1, N, D);
        mm_dytx(tr, G + w->wq, tr->dq, N, D, D);
        mm_dytx(tr, G + w->wk, tr->dk, N, D, KV);
        mm_dytx(tr, G + w->wv, tr->dv, N, D, KV);
        mm_dyw(tr, tr->dxn, tr->dq, P + w->wq, N, D, D, 0);
        mm_dyw(tr, tr->dxn, tr->dk, P + w->wk, N, D, KV, 1);
        mm_dyw(tr, tr->dxn, tr->dv, P + w->wv, N, D, KV, 1);
        rmsnorm_backward(tr, tr->dx, G + w->attn_norm, tr->dxn, a->x, a->r1, P + w->attn_norm);
    }
    dropout(tr, tr->dx, key, 0);
    embed_back(tr);
}

double slm_trainer_forward_backward(slm_trainer *tr, const int32_t *tokens, float grad_scale, uint64_t key) {
    tr->tokens = tokens;
    double t0 = slm_time_seconds();
    forward(tr, key);
    double t1 = slm_time_seconds();
    double loss = head(tr, grad_scale / (float)tr->N);
    double t2 = slm_time_seconds();
    backward(tr, key);
    tr->phase[SLM_PHASE_FWD] += t1 - t0, tr->phase[SLM_PHASE_HEAD] += t2 - t1;
    tr->phase[SLM_PHASE_BWD] += slm_time_seconds() - t2;
    tr->tokens = NULL;
    return loss / tr->N;
}

double slm_trainer_eval(slm_trainer *tr, const int32_t *tokens, float *nll) {
    float saved = tr->o.dropout;
    tr->o.dropout = 0.0f;
    tr->tokens = tokens;
    forward(tr, 0);
    double loss = head(tr, 0.0f);
    if (nll) memcpy(nll, tr->row_loss, sizeof(float) * (size_t)tr->N);
    tr->tokens = NULL;
    tr->o.dropout = saved;
    return loss;
}

/* ---------------------------------------------------------------- optimizer */

/* The optimizer's element-wise passes run over blocks of OPT_BLOCK values split among the threads;
 * the gradient norm sums each block, then the blocks in order, so no result depends on the thread
 * count. */

typedef struct opt_job {
    slm_trainer *tr;
    slm_adamw_coef coef; /* decay: set per tensor from `decay` */
    float decay;
    double *block_sums;
    int mode; /* 0 zero, 1 norm, 2 adamw */
} opt_job;

static void opt_rows(par *p, int b0, int b1) {
    opt_job *o = (opt_job *)p->aux;
    slm_trainer *tr = o->tr;
    size_t n = tr->n_params;
    for (int b = b0; b < b1; b++) {
        size_t j0 = (size_t)b * OPT_BLOCK, j1 = j0 + OPT_BLOCK < n ? j0 + OPT_BLOCK : n;
        if (o->mode == 0) {
            memset(tr->grads + j0, 0, sizeof(float) * (j1 - j0));
        } else if (o->mode == 1) {
            double s = 0.0;
            for (size_t j = j0; j < j1; j++) s += (double)tr->grads[j] * tr->grads[j];
            o->block_sums[b] = s;
        } else {
            slm_adamw_coef c = o->coef;
            int ti = tr->block_tensor[b]; /* the tensor holding j0; the block may run into the next ones */
            for (size_t j = j0; j < j1;) {
                const slm_ptensor *pt = &tr->tensors[ti++];
                size_t end = pt->offset + (size_t)(pt->rows ? pt->rows : 1) * pt->cols;
                if (end > j1) end = j1;
                c.decay = pt->decay ? o->decay : 1.0f;
                tr->g.kernels->adamw(tr->params + j, tr->m + j, tr->v + j, tr->grads + j, end - j, &c);
                j = end;
            }
        }
    }
}

static void opt_run(slm_trainer *tr, opt_job *o) {
    par p = {.tr = tr, .fn = opt_rows, .aux = (float *)o};
    int blocks = (int)((tr->n_params + OPT_BLOCK - 1) / OPT_BLOCK);
    par_run(&p, blocks, OPT_BLOCK);
}

double slm_trainer_phase_seconds(const slm_trainer *tr, slm_trainer_phase ph) { return tr->phase[ph]; }

void slm_trainer_zero_grads(slm_trainer *tr) {
    opt_job o = {.tr = tr, .mode = 0};
    opt_run(tr, &o);
}

double slm_trainer_grad_norm(slm_trainer *tr) {
    int blocks = (int)((tr->n_params + OPT_BLOCK - 1) / OPT_BLOCK);
    double *sums = malloc(sizeof(double) * (size_t)blocks), s = 0.0;
    if (!sums) {
        for (size_t i = 0; i < tr->n_params; i++) s += (double)tr->grads[i] * tr->grads[i];
        return sqrt(s);
    }
    opt_job o = {.tr = tr, .mode = 1, .block_sums = sums};
    opt_run(tr, &o);
    for (int b = 0; b < blocks; b++) s += sums[b];
    free(sums);
    return sqrt(s);
}

void slm_trainer_adamw(slm_trainer *tr, const slm_adamw *h, float lr, float grad_mul, int64_t t) {
    double t0 = slm_time_seconds();
    /* PyTorch's AdamW: the scalars in double, rounded to float where they meet the tensors */
    double bc1 = 1.0 - pow(h->beta1, (double)t), bc2 = 1.0 - pow(h->beta2, (double)t);
    opt_job o = {.tr = tr, .mode = 2, .decay = (float)(1.0 - (double)lr * h->weight_decay)};
    o.coef = (slm_adamw_coef){.beta1 = h->beta1, .beta2 = h->beta2, .omb1 = (float)(1.0 - (double)h->beta1),
                              .omb2 = (float)(1.0 - (double)h->beta2), .grad_mul = grad_mul,
                              .step_size = (float)((double)lr / bc1), .bc2_sqrt = (float)sqrt(bc2), .eps = h->eps};
    opt_run(tr, &o);
    tr->phase[SLM_PHASE_OPT] += slm_time_seconds() - t0;
}

/* ---------------------------------------------------------------- export view */

slm_status slm_trainer_model(slm_trainer *tr, int expand, slm_model **out, slm_error *err) {
    slm_config c = tr->o.cfg;
    int rep = c.block_repeat;
    if (expand) c.n_layers *= rep, c.block_repeat = 1;
    slm_model *m;
    slm_status st = slm_model_alloc(&c, "train", &m, err);
    if (st != SLM_OK) return st;
    snprintf(m->format, sizeof m->format, "slm trainer (fp32)");
    for (int i = 0; i < tr->n_tensors; i++) {
        const slm_ptensor *t = &tr->tensors[i];
        int layer;
        char rest[48];
        if (expand && rep > 1 && sscanf(t->name, "blk.%d.%47s", &layer, rest) == 2) {
            for (int r = 0; r < rep; r++) {
                char name[64];
                snprintf(name, sizeof name, "blk.%d.%s", layer * rep + r, rest);
                slm_model_add(m, name, SLM_DTYPE_F32, t->rows, t->cols, tr->params + t->offset, NULL, 0);
            }
            continue;
        }
        slm_model_add(m, t->name, SLM_DTYPE_F32, t->rows, t->cols, tr->params + t->offset, NULL, 0);
    }
    if ((st = slm_model_bind(m, err)) != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}

slm_status slm_trainer_load(slm_trainer *tr, const slm_model *m, slm_error *err) {
    const slm_config *c = &m->cfg, *o = &tr->o.cfg;
    if (c->dim != o->dim || c->hidden_dim != o->hidden_dim || c->n_layers != o->n_layers ||
        c->block_repeat != o->block_repeat || c->n_heads != o->n_heads || c->n_kv_heads != o->n_kv_heads ||
        c->vocab_size != o->vocab_size || c->tied_classifier != o->tied_classifier || c->rope_half)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: model shape differs from the training configuration", m->source);
    for (int i = 0; i < tr->n_tensors; i++) {
        const slm_ptensor *t = &tr->tensors[i];
        const slm_tensor *s = slm_model_find(m, t->name);
        if (!s) return slm_fail(err, SLM_ERR_FORMAT, "%s: tensor %s is missing", m->source, t->name);
        float *p = tr->params + t->offset;
        if (!t->rows) {
            if (s->dtype != SLM_DTYPE_F32) return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: %s is not f32", m->source, t->name);
            memcpy(p, s->data, sizeof(float) * (size_t)t->cols);
            continue;
        }
        for (int r = 0; r < t->rows; r++) slm_tensor_row_f32(s, r, p + (size_t)r * t->cols);
    }
    return SLM_OK;
}
