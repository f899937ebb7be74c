/* forward.c — contexts (KV cache + activations for one sequence) and the Llama forward pass.
 *
 * Per token at position pos:
 *   x = tok_emb[token]
 *   for each applied layer l (stored block l / block_repeat):
 *     xb = rmsnorm(x) * attn_norm;  q = wq xb;  k, v = wk xb, wv xb  -> cache[l][pos]
 *     (+ q/k/v biases for Qwen2)
 *     RoPE on q and k: pairs (2i, 2i+1), or (i, i + head_dim/2) for rope_half models, rotated by
 *     pos * theta^(-2i/head_dim)
 *     each head h attends over cache positions 0..pos of kv head h / (n_heads / n_kv_heads)
 *     x += wo (attention output)
 *     xb = rmsnorm(x) * ffn_norm;  x += w2 (silu(w1 xb) * (w3 xb))
 *   logits = classifier (rmsnorm(x) * out_norm)
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/gemm.h"
#include "../kernels/kernels.h"
#include "../kernels/quant.h"
#include "model.h"

enum { ALIGN = 64, PARALLEL_MIN_MACS = 1 << 16, DEFAULT_BATCH = 256, MAX_BATCH = 4096 };

struct slm_ctx {
    const slm_model *model;
    const slm_kernels *k;
    slm_pool *pool;      /* NULL when n_threads == 1 */
    void *own_block;     /* the block we allocated, or NULL when the caller owns it */
    int n_ctx;
    int n_applied;       /* n_layers * block_repeat */
    float *x;            /* (dim) residual stream */
    float *xb, *xb2;     /* (dim) scratch */
    float *q;            /* (dim) query of the current token */
    float *hb, *hb2;     /* (hidden_dim) */
    float *att;          /* (n_heads, n_ctx) attention scores */
    float *logits;       /* (vocab) */
    float *rope;         /* (head_dim/2, 2) cos, sin for the current position */
    void *key_cache;     /* (n_applied, n_kv_heads, n_ctx, head_dim) float, or IEEE half with kv_f16 */
    void *value_cache;   /* the same */
    int kv_f16;
    float *kst, *vst;    /* (n_batch, kv_dim) the new keys and values in fp32 before they are stored */
    int8_t *qx;          /* (max(dim, hidden)) quantized input, when the model has Q8 or ggml block tensors */
    float *qs;           /* (max(dim, hidden)) its group scales */
    int32_t *qsum;       /* (max(dim, hidden) / 32) the sums of its 32-value blocks (ggml block types) */
    int n_threads;
    int n_batch;         /* tokens a prompt is evaluated in at once (1: token by token) */
    float *bx, *bxb, *bxb2, *bq; /* (n_batch, dim) the batch's residual streams, scratch, queries */
    float *bhb, *bhb2;   /* (n_batch, hidden_dim) */
    float *brope;        /* (n_batch, head_dim) cos, sin per position of the batch */
    float *gemm_scratch; /* slm_gemm_wt_scratch_floats(n_batch, max(dim, hidden), n_threads) */
    /* per thread (n_threads > 1), for token_worker: */
    float *tx;           /* (n_threads, 2, dim) residual stream and normalized input */
    float *trope;        /* (n_threads, head_dim) */
    int8_t *tqx;         /* (n_threads, max(dim, hidden)) quantized inputs, or NULL */
    float *tqs;          /* (n_threads, max(dim, hidden)) */
    int32_t *tqsum;      /* (n_threads, max(dim, hidden) / 32 + 1) */
    float *share_frac;   /* (steps, n_threads + 1) where each thread's share of a step begins, as a fraction */
    float *share_speed;  /* (steps, n_threads) items per second of each thread in each step, smoothed */
    double *share_busy;  /* (n_threads, steps) seconds each thread spent on its share in the last token, or 0 */
    int shares_fixed;    /* slm_ctx_fix_shares was called: the shares no longer follow the speeds */
    int split_decode;    /* decode steps are split across the pool (models with enough work per token) */
    int choose_split;    /* split or not as measured (small models on several threads): choice.c */
    slm_choice choice;
    float *batt;         /* (n_threads, 4 * n_ctx + head_dim) batch attention scores of four queries */
};

slm_ctx_params slm_ctx_default_params(void) {
    slm_ctx_params p = {0, 1, 0, 0, 0, NULL};
    return p;
}

const char *slm_ctx_kernels(const slm_ctx *ctx) { return ctx ? ctx->k->name : ""; }

/* The table a context of params p runs, or NULL (named and not available here). */
static const slm_kernels *ctx_kernels(const slm_ctx_params *p) {
    if (p->no_simd) return slm_kernels_select(0);
    if (p->kernels && *p->kernels) return slm_kernels_named(p->kernels);
    return slm_kernels_select(1);
}

/* Decoding a token split over the threads meets several barriers per layer (one job per token,
 * token_worker): 34-44 ns each while both threads spin, but each waits as long as the host keeps the
 * other vCPU away, and every step hands its results across cores (slow while the host has placed
 * the two vCPUs far apart). Measured on two threads (bench/ab.sh; docs/benchmarks.md, "Tiny models
 * on two threads"): small models split ran from 1.5x faster to 2.5x slower than on the calling
 * thread alone, from one minute to the next; models of 12.8 MB of matrices and more gained 1.2-1.4x
 * from it in the same comparisons. So a token is always split when its matrices hold 8 MiB or more;
 * a smaller model's tokens are split or run on the calling thread alone (forward_token, no pool) as
 * timing them says is faster at the moment (choice.c). Its prompts (matrix products) always use
 * every thread. */
enum { SPLIT_MIN_BYTES = 8 << 20 };

/* Bytes of the matrices one decoded token reads. */
static size_t decode_bytes(const slm_model *m) {
    size_t bytes = slm_tensor_nbytes(m->classifier);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const slm_layer *L = &m->layers[l];
        const slm_tensor *w[7] = {L->wq, L->wk, L->wv, L->wo, L->w1, L->w2, L->w3};
        for (int i = 0; i < 7; i++) bytes += slm_tensor_nbytes(w[i]) * (size_t)m->cfg.block_repeat;
    }
    return bytes;
}

/* ---------------------------------------------------------------- memory plan */

/* the slots of a context's memory, in the order plan_layout reserves them */
enum {
    S_CTX, S_X, S_XB, S_XB2, S_Q, S_HB, S_HB2, S_ATT, S_LOGITS, S_ROPE, S_KEY, S_VALUE, S_QX, S_QS, S_QSUM,
    S_BX, S_BXB, S_BXB2, S_BQ, S_BHB, S_BHB2, S_BROPE, S_GEMM, S_TX, S_TROPE, S_TQX, S_TQS, S_TQSUM, S_KST, S_VST,
    S_BATT, S_FRAC, S_SPEED, S_BUSY,
    S_COUNT
};

typedef struct {
    size_t off[S_COUNT];
    size_t total;
    int n;
    int ok;
} layout;

/* Reserves count elements of size elem; returns the slot index. */
static int reserve(layout *lay, size_t count, size_t elem) {
    size_t bytes, end;
    int i = lay->n++;
    lay->off[i] = lay->total;
    if (!slm_mul_size(count, elem, &bytes) || !slm_add_size(lay->total, slm_align_up(bytes, ALIGN), &end) ||
        end < lay->total)
        lay->ok = 0;
    else
        lay->total = end;
    return i;
}

static int model_has_q8(const slm_model *m) {
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].dtype == SLM_DTYPE_Q8_G) return 1;
    return 0;
}

/* Every ggml block type (Q8_0 ... Q6_K, IQ4_NL) multiplies int8-quantized inputs (slm_kernels.matvec_bq). */
static int int_block_type(slm_dtype t) { return slm_block_type_of(t) != NULL; }

static int model_quantizes_inputs(const slm_model *m) {
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].dtype == SLM_DTYPE_Q8_G || int_block_type(m->tensors[i].dtype)) return 1;
    return 0;
}

/* Prompts run n_batch tokens at a time through matrix-matrix products, except on models with
 * llama2.c Q8 tensors: those quantize each token's activations to int8 (as llama2.c's runq does),
 * which the batched path does not, so they keep the token-by-token path and its exact results. */
static int batch_size(const slm_model *m, const slm_ctx_params *p, int n_ctx) {
    int b = p->n_batch ? p->n_batch : DEFAULT_BATCH;
    if (b > n_ctx) b = n_ctx;
    return model_has_q8(m) ? 1 : b;
}

static slm_status plan_layout(const slm_model *m, const slm_ctx_params *p, layout *lay, slm_mem_plan *plan,
                              slm_error *err) {
    const slm_config *c = &m->cfg;
    int n_ctx = p->n_ctx ? p->n_ctx : c->seq_len;
    if (n_ctx < 1 || n_ctx > c->seq_len)
        return slm_fail(err, SLM_ERR_ARG, "context length %d is out of range [1, %d] (the model's seq_len)",
                        n_ctx, c->seq_len);
    if (p->n_threads < 1 || p->n_threads > 1024)
        return slm_fail(err, SLM_ERR_ARG, "thread count %d is out of range [1, 1024]", p->n_threads);
    if (p->n_batch < 0 || p->n_batch > MAX_BATCH)
        return slm_fail(err, SLM_ERR_ARG, "batch size %d is out of range [1, %d] (0: %d)", p->n_batch, MAX_BATCH,
                        DEFAULT_BATCH);
    if (!ctx_kernels(p)) {
        const slm_kernels *t[8];
        int n = slm_kernels_available(t, 8);
        char names[96] = "";
        for (int i = 0; i < n; i++) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", t[i]->name);
        }
        return slm_fail(err, SLM_ERR_ARG, "kernel table '%.32s' is not available on this CPU or build (available: %s)",
                        p->kernels, names);
    }
    size_t D = (size_t)c->dim, H = (size_t)c->hidden_dim, kv = (size_t)c->head_dim * (size_t)c->n_kv_heads;
    size_t applied = (size_t)c->n_layers * (size_t)c->block_repeat, cache = 0;
    size_t maxdh = D > H ? D : H;
    int ok = slm_mul_size(applied, (size_t)n_ctx, &cache) && slm_mul_size(cache, kv, &cache);
    memset(lay, 0, sizeof *lay);
    lay->ok = ok;
    reserve(lay, 1, sizeof(struct slm_ctx));
    size_t before_act = lay->total;
    reserve(lay, D, 4), reserve(lay, D, 4), reserve(lay, D, 4), reserve(lay, D, 4);
    reserve(lay, H, 4), reserve(lay, H, 4);
    reserve(lay, (size_t)c->n_heads * (size_t)n_ctx, 4);
    reserve(lay, (size_t)c->vocab_size, 4);
    reserve(lay, (size_t)c->head_dim, 4);
    size_t before_kv = lay->total;
    size_t elem = p->kv_f16 ? 2 : 4;
    reserve(lay, cache, elem), reserve(lay, cache, elem);
    size_t after_kv = lay->total;
    int q8 = model_quantizes_inputs(m);
    reserve(lay, q8 ? maxdh : 0, 1), reserve(lay, q8 ? maxdh : 0, 4), reserve(lay, q8 ? maxdh / 32 + 1 : 0, 4);
    size_t nb = (size_t)batch_size(m, p, n_ctx), bn = nb > 1 ? nb : 0; /* no batch buffers for batch 1 */
    for (int i = 0; i < 4; i++) reserve(lay, bn * D, 4);
    reserve(lay, bn * H, 4), reserve(lay, bn * H, 4);
    reserve(lay, bn * (size_t)c->head_dim, 4);
    reserve(lay, bn ? slm_gemm_wt_scratch_floats((int)nb, (int)maxdh, p->n_threads) : 0, 4);
    size_t nt = p->n_threads > 1 ? (size_t)p->n_threads : 0;
    reserve(lay, nt * 2 * D, 4), reserve(lay, nt * (size_t)c->head_dim, 4);
    reserve(lay, q8 ? nt * maxdh : 0, 1), reserve(lay, q8 ? nt * maxdh : 0, 4), reserve(lay, q8 ? nt * (maxdh / 32 + 1) : 0, 4);
    reserve(lay, nb * kv, 4), reserve(lay, nb * kv, 4);
    reserve(lay, bn ? (size_t)p->n_threads * (4 * (size_t)n_ctx + (size_t)c->head_dim) : 0, 4);
    size_t steps = 5 * applied + 1; /* token_steps */
    reserve(lay, nt ? steps * (nt + 1) : 0, 4), reserve(lay, steps * nt, 4), reserve(lay, steps * nt, 8);
    size_t total;
    if (!lay->ok || !slm_add_size(lay->total, ALIGN, &total))
        return slm_fail(err, SLM_ERR_NOMEM, "context of %d positions is too large to address", n_ctx);
    if (plan) {
        plan->kv_cache = after_kv - before_kv;
        plan->activations = (before_kv - before_act) + (lay->total - after_kv);
        plan->overhead = before_act + ALIGN;
        plan->total = total;
    }
    return SLM_OK;
}

slm_status slm_ctx_plan(const slm_model *m, const slm_ctx_params *p, slm_mem_plan *plan, slm_error *err) {
    layout lay;
    if (!m || !p || !plan) return slm_fail(err, SLM_ERR_ARG, "slm_ctx_plan: NULL argument");
    return plan_layout(m, p, &lay, plan, err);
}

/* The steps of a split token, between its barriers: five per applied layer (q/k/v, attention, wo,
 * w1/w3, w2; step 5 l + i) and the classifier. */
static int token_steps(const slm_ctx *ctx) { return 5 * ctx->n_applied + 1; }

/* Equal shares, no speeds measured yet. */
static void reset_shares(slm_ctx *ctx) {
    int nt = ctx->n_threads, steps = token_steps(ctx);
    for (int s = 0; s < steps; s++) {
        slm_shares_init(ctx->share_frac + (size_t)s * (size_t)(nt + 1), ctx->share_speed + (size_t)s * (size_t)nt, nt);
        for (int t = 0; t < nt; t++) ctx->share_busy[(size_t)t * (size_t)steps + (size_t)s] = 0;
    }
}

slm_status slm_ctx_create_in(const slm_model *m, const slm_ctx_params *p, void *mem, size_t size,
                             slm_ctx **out, slm_error *err) {
    layout lay;
    slm_mem_plan plan;
    if (!m || !p || !mem || !out) return slm_fail(err, SLM_ERR_ARG, "slm_ctx_create_in: NULL argument");
    slm_status st = plan_layout(m, p, &lay, &plan, err);
    if (st != SLM_OK) return st;
    if (size < plan.total)
        return slm_fail(err, SLM_ERR_NOMEM, "context needs %zu bytes, the buffer has %zu", plan.total, size);
    uint8_t *base = (uint8_t *)slm_align_up((uintptr_t)mem, ALIGN);
    /* Only the struct is cleared: every buffer is written before it is read (the KV cache up to
     * the current position), so untouched pages of a large cache never become resident. */
    slm_ctx *ctx = (slm_ctx *)(base + lay.off[S_CTX]);
    memset(ctx, 0, sizeof *ctx);
    ctx->model = m;
    ctx->k = ctx_kernels(p);
    ctx->n_ctx = p->n_ctx ? p->n_ctx : m->cfg.seq_len;
    ctx->n_applied = m->cfg.n_layers * m->cfg.block_repeat;
#define AT(slot) ((void *)(base + lay.off[slot]))
    ctx->x = AT(S_X), ctx->xb = AT(S_XB), ctx->xb2 = AT(S_XB2), ctx->q = AT(S_Q);
    ctx->hb = AT(S_HB), ctx->hb2 = AT(S_HB2), ctx->att = AT(S_ATT), ctx->logits = AT(S_LOGITS);
    ctx->rope = AT(S_ROPE), ctx->key_cache = AT(S_KEY), ctx->value_cache = AT(S_VALUE);
    ctx->qx = AT(S_QX), ctx->qs = AT(S_QS), ctx->qsum = AT(S_QSUM);
    ctx->n_threads = p->n_threads;
    ctx->n_batch = batch_size(m, p, ctx->n_ctx);
    ctx->bx = AT(S_BX), ctx->bxb = AT(S_BXB), ctx->bxb2 = AT(S_BXB2), ctx->bq = AT(S_BQ);
    ctx->bhb = AT(S_BHB), ctx->bhb2 = AT(S_BHB2), ctx->brope = AT(S_BROPE), ctx->gemm_scratch = AT(S_GEMM);
    ctx->tx = AT(S_TX), ctx->trope = AT(S_TROPE);
    ctx->kv_f16 = p->kv_f16 != 0, ctx->kst = AT(S_KST), ctx->vst = AT(S_VST);
    ctx->batt = AT(S_BATT);
    ctx->share_frac = AT(S_FRAC), ctx->share_speed = AT(S_SPEED), ctx->share_busy = AT(S_BUSY);
    if (p->n_threads > 1) reset_shares(ctx);
    slm_choice_init(&ctx->choice, 0);
    if (model_quantizes_inputs(m)) ctx->tqx = AT(S_TQX), ctx->tqs = AT(S_TQS), ctx->tqsum = AT(S_TQSUM);
#undef AT
    if (p->n_threads > 1 && (st = slm_pool_create(p->n_threads, &ctx->pool, err)) != SLM_OK) return st;
    slm_ctx_set_split(ctx, -1);
    *out = ctx;
    return SLM_OK;
}

slm_status slm_ctx_create(const slm_model *m, const slm_ctx_params *p, slm_ctx **out, slm_error *err) {
    slm_mem_plan plan;
    if (!m || !p || !out) return slm_fail(err, SLM_ERR_ARG, "slm_ctx_create: NULL argument");
    slm_status st = slm_ctx_plan(m, p, &plan, err);
    if (st != SLM_OK) return st;
    void *block = malloc(plan.total);
    if (!block) return slm_fail(err, SLM_ERR_NOMEM, "context: cannot allocate %zu bytes", plan.total);
    st = slm_ctx_create_in(m, p, block, plan.total, out, err);
    if (st != SLM_OK) {
        free(block);
        return st;
    }
    (*out)->own_block = block;
    return SLM_OK;
}

void slm_ctx_free(slm_ctx *ctx) {
    if (!ctx) return;
    slm_pool_free(ctx->pool);
    free(ctx->own_block); /* the ctx lives inside it: nothing may touch ctx after this */
}

const float *slm_ctx_logits(const slm_ctx *ctx) { return ctx->logits; }
int slm_ctx_n_ctx(const slm_ctx *ctx) { return ctx->n_ctx; }

void slm_ctx_set_split(slm_ctx *ctx, int split) {
    if (!ctx->pool) return;
    int large = decode_bytes(ctx->model) >= SPLIT_MIN_BYTES;
    ctx->split_decode = split < 0 ? large : split > 0;
    /* two threads sharing one CPU: splitting can only lose (a token of stories260K takes 100x longer) */
    ctx->choose_split = split < 0 && !large && slm_cpus_available() >= ctx->n_threads;
}

long slm_ctx_split_switches(const slm_ctx *ctx) { return ctx->choice.switches; }
const slm_model *slm_ctx_model(const slm_ctx *ctx) { return ctx->model; }

/* ---------------------------------------------------------------- matrix-vector products */

typedef struct {
    const slm_kernels *k;
    int count;              /* matrices sharing the input */
    const slm_tensor *w[3]; /* (rows_i, n) */
    float *out[3];          /* (rows_i) */
    const float *x;         /* (n) */
    const int8_t *qx;       /* (n) when the matrices are Q8, Q8_0, Q4_0 or Q4_1 */
    const float *xs;
    const int32_t *xsum;
    int n;
    int total_rows;
} matvec_job;

/* Rows [r0, r1) of matrix i of the job. */
static void matvec_rows(const matvec_job *j, int i, int r0, int r1) {
    const slm_tensor *w = j->w[i];
    switch (w->dtype) {
    case SLM_DTYPE_F32: j->k->matvec_f32(j->out[i], j->x, w->data, j->n, r0, r1); break;
    case SLM_DTYPE_F16: j->k->matvec_f16(j->out[i], j->x, w->data, j->n, r0, r1); break;
    case SLM_DTYPE_BF16: j->k->matvec_bf16(j->out[i], j->x, w->data, j->n, r0, r1); break;
    case SLM_DTYPE_Q8_G: j->k->matvec_q8(j->out[i], j->qx, j->xs, w->data, w->scales, j->n, w->group_size, r0, r1); break;
    default: /* the ggml block types (int_block_type), on int8 inputs */
        if (w->bq8) j->k->matvec_bq8((int)w->dtype, j->out[i], j->qx, j->xs, j->xsum, w->data, j->n, (int)w->shape[0], r0, r1);
        else j->k->matvec_bq((int)w->dtype, j->out[i], j->qx, j->xs, j->xsum, w->data, j->n, r0, r1);
        break;
    }
}

/* Thread t of nt computes the rows [total*t/nt, total*(t+1)/nt) of the stacked matrices. */
static void matvec_worker(void *arg, int t, int nt) {
    const matvec_job *j = arg;
    int begin = (int)((int64_t)j->total_rows * t / nt), end = (int)((int64_t)j->total_rows * (t + 1) / nt);
    int off = 0;
    for (int i = 0; i < j->count; i++) {
        int rows = (int)j->w[i]->shape[0];
        int r0 = begin > off ? begin - off : 0, r1 = end - off < rows ? end - off : rows;
        if (r0 < r1) matvec_rows(j, i, r0, r1);
        off += rows;
    }
}

/* Quantizes x (n) into qx/qs/qsum as w's products need: llama2.c Q8 groups, int8 blocks of 32 for
 * the ggml block types, nothing for the other types. */
static void quantize_input(const slm_kernels *k, const slm_tensor *w, const float *x, int n, int8_t *qx, float *qs,
                           int32_t *qsum) {
    if (w->dtype == SLM_DTYPE_Q8_G) slm_quantize_q8(qx, qs, x, n, w->group_size);
    else if (int_block_type(w->dtype)) k->quantize_x32(qx, qs, qsum, x, n);
}

/* out_i = W_i x for up to three matrices of the same dtype and group size sharing input x (n), on
 * every thread if `parallel` (and the product is large enough), else on the calling one. */
static void matvec(slm_ctx *ctx, int parallel, const float *x, int n, int count, const slm_tensor *const *w,
                   float *const *out) {
    matvec_job j = {ctx->k, count, {0}, {0}, x, ctx->qx, ctx->qs, ctx->qsum, n, 0};
    for (int i = 0; i < count; i++) {
        j.w[i] = w[i];
        j.out[i] = out[i];
        j.total_rows += (int)w[i]->shape[0];
    }
    quantize_input(ctx->k, w[0], x, n, ctx->qx, ctx->qs, ctx->qsum);
    if (!parallel || (int64_t)j.total_rows * n < PARALLEL_MIN_MACS) matvec_worker(&j, 0, 1);
    else slm_pool_run(ctx->pool, matvec_worker, &j);
}

static int same_kind(const slm_tensor *a, const slm_tensor *b) {
    return a->dtype == b->dtype && a->group_size == b->group_size;
}

/* Runs the matrices as one job when they agree in kind, else one by one. */
static void matvec_n(slm_ctx *ctx, int parallel, const float *x, int n, int count, const slm_tensor *const *w,
                     float *const *out) {
    int same = 1;
    for (int i = 1; i < count; i++) same &= same_kind(w[0], w[i]);
    if (same) matvec(ctx, parallel, x, n, count, w, out);
    else
        for (int i = 0; i < count; i++) matvec(ctx, parallel, x, n, 1, &w[i], &out[i]);
}

/* ---------------------------------------------------------------- attention */

typedef struct {
    slm_ctx *ctx;
    int layer, pos;
} attn_job;

/* One head's attention over cache values starting at element off (either cache type). */
static void attend(const slm_ctx *ctx, float *out, float *scores, const float *q, size_t off, int stride, int n, int hd,
                   float scale) {
    if (ctx->kv_f16)
        ctx->k->attention_f16(out, scores, q, (const uint16_t *)ctx->key_cache + off,
                              (const uint16_t *)ctx->value_cache + off, stride, n, hd, scale);
    else
        ctx->k->attention(out, scores, q, (const float *)ctx->key_cache + off, (const float *)ctx->value_cache + off,
                          stride, n, hd, scale);
}

/* The cache is head-major: the keys (values) of one kv head of one layer are n_ctx rows of head_dim
 * values, so a head's attention reads them as one contiguous run. New keys and values are computed
 * into the staging rows (kst, vst: one row of kv_dim per token) and stored from there. This is the
 * element offset of (layer l, kv head g, position pos) in either cache. */
static size_t kv_off(const slm_ctx *ctx, int l, int g, int pos) {
    const slm_config *c = &ctx->model->cfg;
    return (((size_t)l * (size_t)c->n_kv_heads + (size_t)g) * (size_t)ctx->n_ctx + (size_t)pos) * (size_t)c->head_dim;
}

/* The staged keys (is_key) or values of kv heads [g0, g1) of n tokens at positions pos.. into the
 * cache of layer l (converted to IEEE half with kv_f16). */
static void store_kv_part(const slm_ctx *ctx, int is_key, int l, int pos, int n, int g0, int g1) {
    int hd = ctx->model->cfg.head_dim, kv_dim = hd * ctx->model->cfg.n_kv_heads;
    const float *src = is_key ? ctx->kst : ctx->vst;
    void *cache = is_key ? ctx->key_cache : ctx->value_cache;
    for (int i = 0; i < n; i++)
        for (int g = g0; g < g1; g++) {
            const float *s = src + (size_t)i * kv_dim + (size_t)g * hd;
            size_t off = kv_off(ctx, l, g, pos + i);
            if (ctx->kv_f16)
                for (int e = 0; e < hd; e++) ((uint16_t *)cache)[off + e] = slm_f32_to_f16(s[e]);
            else memcpy((float *)cache + off, s, (size_t)hd * sizeof(float));
        }
}

/* The same for keys and values of every kv head. */
static void store_kv(const slm_ctx *ctx, int l, int pos, int n) {
    store_kv_part(ctx, 1, l, pos, n, 0, ctx->model->cfg.n_kv_heads);
    store_kv_part(ctx, 0, l, pos, n, 0, ctx->model->cfg.n_kv_heads);
}

static void attention_worker(void *arg, int t, int nt) {
    const attn_job *j = arg;
    slm_ctx *ctx = j->ctx;
    const slm_config *c = &ctx->model->cfg;
    int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = c->n_heads * t / nt; h < c->n_heads * (t + 1) / nt; h++)
        attend(ctx, ctx->xb + h * hd, ctx->att + (size_t)h * ctx->n_ctx, ctx->q + h * hd,
               kv_off(ctx, j->layer, h / group, 0), hd, j->pos + 1, hd, scale);
}

/* cos, sin of the angles pos * theta^(-2i/head_dim), i < head_dim/2, into rope (head_dim). */
static void rope_table(const slm_config *c, int pos, float *rope) {
    int hd = c->head_dim;
    for (int i = 0; i < hd / 2; i++) {
        double angle = (double)pos * pow((double)c->rope_theta, -2.0 * i / hd);
        rope[2 * i] = (float)cos(angle);
        rope[2 * i + 1] = (float)sin(angle);
    }
}

/* Rotates pairs (2i, 2i+1) of each head of vec (n_heads * head_dim) by the angles in rope. */
static void rope_apply(const slm_ctx *ctx, const float *rope, float *vec, int n_heads, int hd) {
    int half = ctx->model->cfg.rope_half;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + h * hd;
        for (int i = 0; i < hd / 2; i++) {
            float c = rope[2 * i], s = rope[2 * i + 1];
            int a = half ? i : 2 * i, b = half ? i + hd / 2 : 2 * i + 1; /* the pair rotated by angle i */
            float v0 = v[a], v1 = v[b];
            v[a] = v0 * c - v1 * s;
            v[b] = v0 * s + v1 * c;
        }
    }
}

/* ---------------------------------------------------------------- one token */

/* x += y (n). Written eight at a time, which gcc's -O2 turns into vector adds; the loop through
 * ctx's fields reloaded ctx->x after every store, one value at a time. */
static void add_into(float *restrict x, const float *restrict y, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        x[i] += y[i], x[i + 1] += y[i + 1], x[i + 2] += y[i + 2], x[i + 3] += y[i + 3];
        x[i + 4] += y[i + 4], x[i + 5] += y[i + 5], x[i + 6] += y[i + 6], x[i + 7] += y[i + 7];
    }
    for (; i < n; i++) x[i] += y[i];
}

static void forward_token(slm_ctx *ctx, int32_t token, int pos) {
    const slm_model *m = ctx->model;
    const slm_config *c = &m->cfg;
    int D = c->dim, H = c->hidden_dim, hd = c->head_dim, kv_dim = hd * c->n_kv_heads;
    slm_tensor_row_f32(m->tok_emb, token, ctx->x);
    rope_table(c, pos, ctx->rope);
    for (int l = 0; l < ctx->n_applied; l++) {
        const slm_layer *L = &m->layers[l / c->block_repeat];
        float *k = ctx->kst, *v = ctx->vst;

        ctx->k->rmsnorm(ctx->xb, ctx->x, L->attn_norm->data, D, c->norm_eps);
        const slm_tensor *qkv[3] = {L->wq, L->wk, L->wv};
        float *qkv_out[3] = {ctx->q, k, v};
        matvec_n(ctx, 0, ctx->xb, D, 3, qkv, qkv_out);
        if (L->bq) {
            const float *bq = L->bq->data, *bk = L->bk->data, *bv = L->bv->data;
            for (int i = 0; i < D; i++) ctx->q[i] += bq[i];
            for (int i = 0; i < kv_dim; i++) k[i] += bk[i], v[i] += bv[i];
        }
        rope_apply(ctx, ctx->rope, ctx->q, c->n_heads, hd);
        rope_apply(ctx, ctx->rope, k, c->n_kv_heads, hd);
        store_kv(ctx, l, pos, 1);

        attn_job aj = {ctx, l, pos};
        attention_worker(&aj, 0, 1);
        matvec_n(ctx, 0, ctx->xb, D, 1, &L->wo, &ctx->xb2);
        add_into(ctx->x, ctx->xb2, D);

        ctx->k->rmsnorm(ctx->xb, ctx->x, L->ffn_norm->data, D, c->norm_eps);
        const slm_tensor *up[2] = {L->w1, L->w3};
        float *up_out[2] = {ctx->hb, ctx->hb2};
        matvec_n(ctx, 0, ctx->xb, D, 2, up, up_out);
        ctx->k->swiglu(ctx->hb, ctx->hb2, H);
        matvec_n(ctx, 0, ctx->hb, H, 1, &L->w2, &ctx->xb);
        add_into(ctx->x, ctx->xb, D);
    }
    ctx->k->rmsnorm(ctx->x, ctx->x, m->out_norm->data, D, c->norm_eps);
    matvec_n(ctx, 0, ctx->x, D, 1, &m->classifier, &ctx->logits);
}

/* ---------------------------------------------------------------- one token, all threads at once */

/* Decoding with several threads runs the whole token as one job of the pool, with five barriers per
 * layer and no other synchronization. Each thread keeps its own copy of the residual stream and of
 * the normalized (and, for integer products, quantized) inputs, which it computes redundantly (O(dim)
 * work). Each step between barriers is cut into work items, and each thread takes a fixed contiguous
 * share of them (share_of): whole heads of wq, wk and wv (the thread adds the biases and applies RoPE
 * to them), heads of attention, and blocks of 16 rows of the other products, so that SwiGLU on a
 * share of w1/w3 takes each value through the same kernel path as on one thread. Each row and head is
 * computed by the same kernel wherever it runs: results are bit-identical for any thread count. */

typedef struct {
    slm_ctx *ctx;
    int32_t token;
    int pos;
} token_job;

typedef struct {
    float *x, *xb, *rope;
    int8_t *qx;
    float *qs;
    int32_t *qsum;
} thread_state;

static thread_state state_of(const slm_ctx *ctx, int t) {
    const slm_config *c = &ctx->model->cfg;
    size_t D = (size_t)c->dim, maxdh = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
    thread_state st = {ctx->tx + (size_t)t * 2 * D, ctx->tx + (size_t)t * 2 * D + D, ctx->trope + (size_t)t * c->head_dim,
                       NULL, NULL, NULL};
    if (ctx->tqx) {
        st.qx = ctx->tqx + (size_t)t * maxdh;
        st.qs = ctx->tqs + (size_t)t * maxdh;
        st.qsum = ctx->tqsum + (size_t)t * (maxdh / 32 + 1);
    }
    return st;
}

/* The job of a matrix product: w (one matrix) times x, into out. x is quantized into the thread's
 * own buffers where the matrix takes quantized inputs (unless `reuse`: already done for this x). */
static matvec_job thread_matvec(const slm_ctx *ctx, const thread_state *st, const float *x, int n, const slm_tensor *w,
                                float *out, int reuse) {
    matvec_job j = {ctx->k, 1, {w}, {out}, x, st->qx, st->qs, st->qsum, n, 0};
    if (!reuse) quantize_input(ctx->k, w, x, n, st->qx, st->qs, st->qsum);
    return j;
}

/* Whether w needs x quantized afresh after prev was multiplied with the same x. */
static int requantize(const slm_tensor *prev, const slm_tensor *w) {
    if (w->dtype == SLM_DTYPE_Q8_G) return !same_kind(prev, w);
    return int_block_type(w->dtype) && !int_block_type(prev->dtype);
}

/* Thread t's share [i0, i1) of the n items of step `step` (heads, or blocks of ITEM_ROWS rows):
 * contiguous, so that each thread reads one long run of rows, which the kernels take as two read
 * streams and the hardware prefetcher follows well. Steps of at least BALANCE_MIN_MACS are shared
 * as each thread's measured speed on that step says (slm_shares_update, choice.c), so a thread the
 * machine slows does less; smaller steps (stories260K's), too short to time, split equally. Handing
 * out items from a shared counter instead (as before) made two-thread decode of the large quantized
 * models 3-12% slower (docs/benchmarks.md, "Shares by speed"): runs of rows broken into items are
 * read as short streams. */
enum { ITEM_ROWS = 16, BALANCE_MIN_MACS = 1 << 17 };
typedef struct {
    int step, i0, i1, timed;
    double t0;
} share;

static share share_of(const slm_ctx *ctx, int step, int n, int64_t macs, int t, int nt) {
    share sh = {step, 0, 0, macs >= BALANCE_MIN_MACS, 0};
    if (sh.timed) {
        const float *f = ctx->share_frac + (size_t)step * (size_t)(nt + 1);
        sh.i0 = (int)lrintf(f[t] * (float)n), sh.i1 = (int)lrintf(f[t + 1] * (float)n);
        sh.t0 = slm_time_seconds();
    } else {
        sh.i0 = (int)((int64_t)n * t / nt), sh.i1 = (int)((int64_t)n * (t + 1) / nt);
    }
    return sh;
}

/* Records how long the thread took on its share (timed steps). */
static void share_done(const slm_ctx *ctx, const share *sh, int t) {
    if (sh->timed)
        ctx->share_busy[(size_t)t * (size_t)token_steps(ctx) + (size_t)sh->step] = slm_time_seconds() - sh->t0;
}

/* After a token: the shares of the steps timed in it follow the threads' speeds. */
static void balance_shares(slm_ctx *ctx) {
    int nt = ctx->n_threads, steps = token_steps(ctx);
    double busy[SLM_SHARES_MAX_THREADS];
    for (int s = 0; s < steps; s++) {
        int timed = 0;
        for (int t = 0; t < nt; t++) {
            double *b = &ctx->share_busy[(size_t)t * (size_t)steps + (size_t)s];
            busy[t] = *b, timed |= *b > 0, *b = 0;
        }
        if (timed && !ctx->shares_fixed)
            slm_shares_update(ctx->share_frac + (size_t)s * (size_t)(nt + 1), ctx->share_speed + (size_t)s * (size_t)nt,
                              busy, nt);
    }
}

void slm_ctx_fix_shares(slm_ctx *ctx, float first) {
    int nt = ctx->n_threads, steps = token_steps(ctx);
    if (nt < 2) return;
    for (int s = 0; s < steps; s++) {
        float *f = ctx->share_frac + (size_t)s * (size_t)(nt + 1);
        for (int t = 1; t < nt; t++) f[t] = first + (1.0f - first) * (float)(t - 1) / (float)(nt - 1);
    }
    ctx->shares_fixed = 1;
}

/* out = w x, the thread's share of the rows (step `step`). */
static void share_matvec(const slm_ctx *ctx, const thread_state *st, const float *x, int n, const slm_tensor *w,
                         float *out, int step, int t, int nt) {
    matvec_job j = thread_matvec(ctx, st, x, n, w, out, 0);
    int rows = (int)w->shape[0];
    share sh = share_of(ctx, step, (rows + ITEM_ROWS - 1) / ITEM_ROWS, (int64_t)rows * n, t, nt);
    if (sh.i0 < sh.i1) matvec_rows(&j, 0, sh.i0 * ITEM_ROWS, sh.i1 * ITEM_ROWS < rows ? sh.i1 * ITEM_ROWS : rows);
    share_done(ctx, &sh, t);
}

static void token_worker(void *arg, int t, int nt) {
    const token_job *job = arg;
    slm_ctx *ctx = job->ctx;
    const slm_model *m = ctx->model;
    const slm_config *c = &m->cfg;
    int D = c->dim, H = c->hidden_dim, hd = c->head_dim, pos = job->pos;
    int nh = c->n_heads, nkv = c->n_kv_heads, group = nh / nkv;
    float scale = 1.0f / sqrtf((float)hd);
    thread_state st = state_of(ctx, t);
    slm_tensor_row_f32(m->tok_emb, job->token, st.x);
    rope_table(c, pos, st.rope);
    for (int l = 0; l < ctx->n_applied; l++) {
        const slm_layer *L = &m->layers[l / c->block_repeat];
        float *k = ctx->kst, *v = ctx->vst;

        /* q, k and v by heads: items [0, nh) are q heads, then nkv k heads, then nkv v heads */
        ctx->k->rmsnorm(st.xb, st.x, L->attn_norm->data, D, c->norm_eps);
        matvec_job jq = thread_matvec(ctx, &st, st.xb, D, L->wq, ctx->q, 0);
        matvec_job jk = thread_matvec(ctx, &st, st.xb, D, L->wk, k, !requantize(L->wq, L->wk));
        matvec_job jv = thread_matvec(ctx, &st, st.xb, D, L->wv, v, !requantize(L->wk, L->wv));
        share sh = share_of(ctx, 5 * l, nh + 2 * nkv, (int64_t)(nh + 2 * nkv) * hd * D, t, nt);
        int i0 = sh.i0, i1 = sh.i1;
        for (int part = 0; part < 3; part++) { /* the heads of q, k, v within [i0, i1) */
            int base = part == 0 ? 0 : part == 1 ? nh : nh + nkv, count = part == 0 ? nh : nkv;
            int h0 = i0 > base ? i0 - base : 0, h1 = i1 - base < count ? i1 - base : count;
            if (h0 >= h1) continue;
            const slm_tensor *bias_t = !L->bq ? NULL : part == 0 ? L->bq : part == 1 ? L->bk : L->bv;
            float *o = part == 0 ? ctx->q : part == 1 ? k : v;
            matvec_rows(part == 0 ? &jq : part == 1 ? &jk : &jv, 0, h0 * hd, h1 * hd);
            if (bias_t)
                for (int e = h0 * hd; e < h1 * hd; e++) o[e] += ((const float *)bias_t->data)[e];
            if (part < 2) rope_apply(ctx, st.rope, o + h0 * hd, h1 - h0, hd);
            if (part > 0) store_kv_part(ctx, part == 1, l, pos, 1, h0, h1);
        }
        share_done(ctx, &sh, t);
        slm_pool_barrier(ctx->pool, nt);
        sh = share_of(ctx, 5 * l + 1, nh, (int64_t)nh * (pos + 1) * hd * 2, t, nt);
        for (int h = sh.i0; h < sh.i1; h++)
            attend(ctx, ctx->xb + h * hd, ctx->att + (size_t)h * ctx->n_ctx, ctx->q + h * hd, kv_off(ctx, l, h / group, 0),
                   hd, pos + 1, hd, scale);
        share_done(ctx, &sh, t);
        slm_pool_barrier(ctx->pool, nt);
        share_matvec(ctx, &st, ctx->xb, D, L->wo, ctx->xb2, 5 * l + 2, t, nt);
        slm_pool_barrier(ctx->pool, nt);
        add_into(st.x, ctx->xb2, D);
        ctx->k->rmsnorm(st.xb, st.x, L->ffn_norm->data, D, c->norm_eps);
        matvec_job j1 = thread_matvec(ctx, &st, st.xb, D, L->w1, ctx->hb, 0);
        matvec_job j3 = thread_matvec(ctx, &st, st.xb, D, L->w3, ctx->hb2, !requantize(L->w1, L->w3));
        sh = share_of(ctx, 5 * l + 3, (H + ITEM_ROWS - 1) / ITEM_ROWS, (int64_t)2 * H * D, t, nt);
        if (sh.i0 < sh.i1) {
            int r0 = sh.i0 * ITEM_ROWS, r1 = sh.i1 * ITEM_ROWS < H ? sh.i1 * ITEM_ROWS : H;
            matvec_rows(&j1, 0, r0, r1);
            matvec_rows(&j3, 0, r0, r1);
            ctx->k->swiglu(ctx->hb + r0, ctx->hb2 + r0, r1 - r0);
        }
        share_done(ctx, &sh, t);
        slm_pool_barrier(ctx->pool, nt);
        share_matvec(ctx, &st, ctx->hb, H, L->w2, ctx->xb2, 5 * l + 4, t, nt);
        slm_pool_barrier(ctx->pool, nt);
        add_into(st.x, ctx->xb2, D);
    }
    ctx->k->rmsnorm(st.xb, st.x, m->out_norm->data, D, c->norm_eps);
    share_matvec(ctx, &st, st.xb, D, m->classifier, ctx->logits, token_steps(ctx) - 1, t, nt);
}

/* ---------------------------------------------------------------- a batch of tokens */

typedef struct {
    const slm_tensor *t;
    const slm_kernels *k;
} weight_ref;

static void fetch_row(const void *arg, int row, float *out) {
    const weight_ref *w = arg;
    if (w->t->bq8) slm_bq8_dequant_row(w->t->dtype, w->k->dequant_row, out, w->t->data, (int)w->t->shape[1], w->t->shape[0], row);
    else w->k->dequant_row((int)w->t->dtype, out, w->t->data, (int)w->t->shape[1], row);
}

/* Whether the table multiplies these matrices a batch at a time in integers. */
static int int_gemm_fits(const slm_kernels *k, int count, const slm_tensor *const *w) {
    if (!k->matmat_bq8) return 0;
    for (int i = 0; i < count; i++)
        if (!w[i]->bq8 || !(k->matmat_bq8_types >> w[i]->dtype & 1)) return 0;
    return 1;
}

/* A batch by matrices the table multiplies a batch at a time in the decode kernels' arithmetic:
 * integers on packed block-type rows (matmat_bq8) or bf16 on BF16 rows (matmat_bf16). Each thread
 * first prepares its share of the batch's rows of A in the GEMM scratch (quantized to int8 as decode
 * quantizes one token's input, or rounded to bf16 with ldx = K rounded up to 32 values per token),
 * then, after a barrier, takes work items from a counter: two groups of eight rows of a matrix or
 * its last rows & 7 rows (the decode kernel, token by token), or 32 BF16 rows. Each result is the
 * bytes of the decode product. */
typedef struct {
    const slm_ctx *ctx;
    int bf16; /* 0: integers, 1: bf16 */
    int M, K, ldx, count;
    const float *A;
    const slm_tensor *const *w;
    float *const *C;
    const int *ldc;
    int8_t *qx; /* integers: the quantized batch, its block scales and sums */
    float *xd;
    int32_t *xsum;
    uint16_t *xb; /* bf16: the rounded batch */
    int items[4]; /* items before matrix i (items[count] = all) */
    atomic_int next;
} batch_gemm_job;

enum { BF16_ROWS = 32 };

/* The work items of a matrix of `rows` rows. */
static int batch_gemm_items(const batch_gemm_job *j, int rows) {
    return j->bf16 ? (rows + BF16_ROWS - 1) / BF16_ROWS : (rows / 8 + 1) / 2 + (rows % 8 != 0);
}

/* Item i of matrix o. */
static void batch_gemm_item(const batch_gemm_job *j, int o, int i) {
    const slm_kernels *k = j->ctx->k;
    const slm_tensor *w = j->w[o];
    int K = j->K, nb = K / 32, rows = (int)w->shape[0], groups = rows / 8;
    if (j->bf16) {
        int r0 = i * BF16_ROWS;
        k->matmat_bf16(j->C[o], j->ldc[o], j->xb, j->ldx, j->M, w->data, K, r0, r0 + BF16_ROWS < rows ? r0 + BF16_ROWS : rows);
    } else if (2 * i < groups) {
        k->matmat_bq8((int)w->dtype, j->C[o], j->ldc[o], j->qx, j->xd, j->xsum, j->M, w->data, K, 2 * i,
                      2 * i + 2 < groups ? 2 * i + 2 : groups);
    } else {
        for (int t = 0; t < j->M; t++)
            k->matvec_bq8((int)w->dtype, j->C[o] + (size_t)t * j->ldc[o], j->qx + (size_t)t * K, j->xd + (size_t)t * nb,
                          j->xsum + (size_t)t * nb, w->data, K, rows, 8 * groups, rows);
    }
}

static void batch_gemm_worker(void *arg, int ti, int nt) {
    batch_gemm_job *j = arg;
    const slm_kernels *k = j->ctx->k;
    int K = j->K, nb = K / 32;
    for (int t = (int)((int64_t)j->M * ti / nt); t < (int)((int64_t)j->M * (ti + 1) / nt); t++) {
        if (j->bf16) k->bf16_round(j->xb + (size_t)t * (size_t)j->ldx, j->A + (size_t)t * (size_t)K, K, j->ldx);
        else k->quantize_x32(j->qx + (size_t)t * K, j->xd + (size_t)t * nb, j->xsum + (size_t)t * nb, j->A + (size_t)t * K, K);
    }
    slm_pool_barrier(j->ctx->pool, nt);
    for (int it; (it = atomic_fetch_add(&j->next, 1)) < j->items[j->count];) {
        int o = 0;
        while (it >= j->items[o + 1]) o++;
        batch_gemm_item(j, o, it - j->items[o]);
    }
}

/* C_i (M, rows of w_i) = A (M, K) · w_i^T for count <= 3 weights sharing A, C_i with row stride ldc_i. */
static void gemm_w(const slm_ctx *ctx, const slm_gemm_ctx *g, int M, const float *A, int K, int count,
                   const slm_tensor *const *w, float *const *C, const int *ldc) {
    int ints = int_gemm_fits(ctx->k, count, w), bf16 = ctx->k->matmat_bf16 != NULL;
    for (int i = 0; i < count; i++) bf16 &= w[i]->dtype == SLM_DTYPE_BF16;
    if (ints || bf16) {
        /* the prepared batch in the GEMM scratch, under the 4 M K bytes its packed A alone holds:
         * M K int8 values, M K / 32 scales and sums; or M (K + 31) 16-bit values */
        batch_gemm_job j = {ctx, !ints, M, K, (K + 31) / 32 * 32, count, A, w, C, ldc, NULL, NULL, NULL, NULL, {0}, 0};
        if (ints) {
            j.qx = (int8_t *)ctx->gemm_scratch;
            j.xd = (float *)(j.qx + (size_t)M * K);
            j.xsum = (int32_t *)(j.xd + (size_t)M * (K / 32));
        } else {
            j.xb = (uint16_t *)ctx->gemm_scratch;
        }
        double macs = 0;
        for (int i = 0; i < count; i++) {
            j.items[i + 1] = j.items[i] + batch_gemm_items(&j, (int)w[i]->shape[0]);
            macs += (double)M * (double)w[i]->shape[0] * K;
        }
        atomic_init(&j.next, 0);
        if (ctx->pool && macs >= PARALLEL_MIN_MACS) slm_pool_run(ctx->pool, batch_gemm_worker, &j);
        else batch_gemm_worker(&j, 0, 1);
        return;
    }
    weight_ref ref[3];
    slm_gemm_wt_out o[3];
    for (int i = 0; i < count; i++) {
        ref[i] = (weight_ref){w[i], ctx->k};
        o[i] = (slm_gemm_wt_out){(int)w[i]->shape[0], w[i]->dtype == SLM_DTYPE_F32 ? w[i]->data : NULL, fetch_row,
                                 &ref[i], C[i], ldc[i]};
    }
    slm_gemm_wt_n(g, ctx->gemm_scratch, M, K, A, K, count, o);
}

typedef struct {
    slm_ctx *ctx;
    int layer, pos, n;
    atomic_int next;
} batch_attn_job;

/* Attention of a batch: work items are (head, four consecutive queries), taken from a counter by
 * every thread (later queries see more positions: items differ in size). The four queries' scores
 * come from one pass over the keys (rows_dot4) and their outputs from one pass over the values
 * (rows_combine4); each query's softmax covers its own positions 0..pos+i, and the positions after
 * it (seen by the later queries of the four) get probability 0. With an f16 cache each query runs
 * the one-query kernel. */
static void batch_attention_worker(void *arg, int t, int nt) {
    batch_attn_job *j = arg;
    slm_ctx *ctx = j->ctx;
    const slm_config *c = &ctx->model->cfg;
    (void)nt;
    int D = c->dim, hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)hd);
    float *sc = ctx->batt + (size_t)t * (4 * (size_t)ctx->n_ctx + (size_t)hd), *dummy = sc + 4 * (size_t)ctx->n_ctx;
    int ng = (j->n + 3) / 4, n_items = c->n_heads * ng;
    for (int it; (it = atomic_fetch_add(&j->next, 1)) < n_items;) {
        int h = it / ng, i0 = it % ng * 4, cnt = j->n - i0 < 4 ? j->n - i0 : 4;
        size_t off = kv_off(ctx, j->layer, h / group, 0);
        if (ctx->kv_f16) {
            for (int i = i0; i < i0 + cnt; i++)
                attend(ctx, ctx->bxb + (size_t)i * D + h * hd, sc, ctx->bq + (size_t)i * D + h * hd, off, hd,
                       j->pos + i + 1, hd, scale);
            continue;
        }
        const float *keys = (const float *)ctx->key_cache + off, *values = (const float *)ctx->value_cache + off;
        int len = j->pos + i0 + cnt; /* the positions the last of the queries sees */
        const float *q[4];
        float *scores[4], *out[4];
        for (int k = 0; k < 4; k++) {
            int i = i0 + (k < cnt ? k : cnt - 1);
            q[k] = ctx->bq + (size_t)i * D + h * hd;
            scores[k] = sc + (size_t)k * ctx->n_ctx;
            out[k] = k < cnt ? ctx->bxb + (size_t)i * D + h * hd : dummy;
        }
        ctx->k->rows_dot4(scores, q, keys, hd, len, hd);
        for (int k = 0; k < 4; k++) {
            int valid = k < cnt ? j->pos + i0 + k + 1 : 0;
            for (int p = 0; p < valid; p++) scores[k][p] *= scale;
            if (valid) ctx->k->softmax(scores[k], valid);
            for (int p = valid; p < len; p++) scores[k][p] = 0.0f;
        }
        ctx->k->rows_combine4(out, (const float *const *)scores, values, hd, len, hd);
    }
}

/* Tokens [0, n) at positions pos.. as one batch (n <= n_batch): every weight is read once for the
 * batch, in matrix-matrix products. The logits of each token go to all_logits (n, vocab) when it
 * is given; those of the last token to ctx->logits in any case. */
static void forward_batch(slm_ctx *ctx, const int32_t *tokens, int n, int pos, float *all_logits) {
    const slm_model *m = ctx->model;
    const slm_config *c = &m->cfg;
    int D = c->dim, H = c->hidden_dim, hd = c->head_dim, kv_dim = hd * c->n_kv_heads;
    slm_gemm_ctx g = {ctx->k, ctx->pool, ctx->n_threads, ctx->gemm_scratch};
    for (int i = 0; i < n; i++) {
        slm_tensor_row_f32(m->tok_emb, tokens[i], ctx->bx + (size_t)i * D);
        rope_table(c, pos + i, ctx->brope + (size_t)i * hd);
    }
    for (int l = 0; l < ctx->n_applied; l++) {
        const slm_layer *L = &m->layers[l / c->block_repeat];
        float *k = ctx->kst, *v = ctx->vst;

        for (int i = 0; i < n; i++)
            ctx->k->rmsnorm(ctx->bxb + (size_t)i * D, ctx->bx + (size_t)i * D, L->attn_norm->data, D, c->norm_eps);
        const slm_tensor *qkv[3] = {L->wq, L->wk, L->wv};
        float *qkv_out[3] = {ctx->bq, k, v};
        gemm_w(ctx, &g, n, ctx->bxb, D, 3, qkv, qkv_out, (const int[3]){D, kv_dim, kv_dim});
        for (int i = 0; i < n; i++) {
            float *qi = ctx->bq + (size_t)i * D, *ki = k + (size_t)i * kv_dim, *vi = v + (size_t)i * kv_dim;
            if (L->bq) {
                const float *bq = L->bq->data, *bk = L->bk->data, *bv = L->bv->data;
                for (int e = 0; e < D; e++) qi[e] += bq[e];
                for (int e = 0; e < kv_dim; e++) ki[e] += bk[e], vi[e] += bv[e];
            }
            rope_apply(ctx, ctx->brope + (size_t)i * hd, qi, c->n_heads, hd);
            rope_apply(ctx, ctx->brope + (size_t)i * hd, ki, c->n_kv_heads, hd);
        }
        store_kv(ctx, l, pos, n);

        batch_attn_job aj = {ctx, l, pos, n, 0};
        atomic_init(&aj.next, 0);
        if ((int64_t)c->n_heads * n * (pos + n) * hd < PARALLEL_MIN_MACS) batch_attention_worker(&aj, 0, 1);
        else slm_pool_run(ctx->pool, batch_attention_worker, &aj);
        gemm_w(ctx, &g, n, ctx->bxb, D, 1, &L->wo, &ctx->bxb2, &D);
        for (size_t e = 0; e < (size_t)n * D; e++) ctx->bx[e] += ctx->bxb2[e];

        for (int i = 0; i < n; i++)
            ctx->k->rmsnorm(ctx->bxb + (size_t)i * D, ctx->bx + (size_t)i * D, L->ffn_norm->data, D, c->norm_eps);
        const slm_tensor *up[2] = {L->w1, L->w3};
        float *up_out[2] = {ctx->bhb, ctx->bhb2};
        gemm_w(ctx, &g, n, ctx->bxb, D, 2, up, up_out, (const int[2]){H, H});
        ctx->k->swiglu(ctx->bhb, ctx->bhb2, n * H);
        gemm_w(ctx, &g, n, ctx->bhb, H, 1, &L->w2, &ctx->bxb, &D);
        for (size_t e = 0; e < (size_t)n * D; e++) ctx->bx[e] += ctx->bxb[e];
    }
    if (all_logits) {
        int vocab = c->vocab_size;
        for (int i = 0; i < n; i++)
            ctx->k->rmsnorm(ctx->bx + (size_t)i * D, ctx->bx + (size_t)i * D, m->out_norm->data, D, c->norm_eps);
        gemm_w(ctx, &g, n, ctx->bx, D, 1, &m->classifier, &all_logits, &vocab);
        memcpy(ctx->logits, all_logits + (size_t)(n - 1) * vocab, (size_t)vocab * sizeof(float));
    } else {
        ctx->k->rmsnorm(ctx->x, ctx->bx + (size_t)(n - 1) * D, m->out_norm->data, D, c->norm_eps);
        matvec_n(ctx, 1, ctx->x, D, 1, &m->classifier, &ctx->logits);
    }
}

slm_status slm_ctx_eval(slm_ctx *ctx, const int32_t *tokens, int n, int pos, float *all_logits, slm_error *err) {
    if (!ctx || (!tokens && n > 0)) return slm_fail(err, SLM_ERR_ARG, "slm_ctx_eval: NULL argument");
    if (n < 0 || pos < 0) return slm_fail(err, SLM_ERR_ARG, "slm_ctx_eval: negative count or position");
    if (pos > ctx->n_ctx - n)
        return slm_fail(err, SLM_ERR_RANGE, "positions %d..%d exceed the context length %d", pos, pos + n - 1,
                        ctx->n_ctx);
    int vocab = ctx->model->cfg.vocab_size;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return slm_fail(err, SLM_ERR_ARG, "token id %d at index %d is outside the vocabulary [0, %d)",
                            tokens[i], i, vocab);
    for (int i = 0; i < n;) {
        int b = n - i < ctx->n_batch ? n - i : ctx->n_batch;
        float *logits = all_logits ? all_logits + (size_t)i * vocab : NULL;
        if (b > 1) forward_batch(ctx, tokens + i, b, pos + i, logits);
        else {
            int split = ctx->choose_split ? slm_choice_next(&ctx->choice) : ctx->split_decode;
            /* a small model's token is never handed to a sleeping pool: the workers are woken
             * (not waited for), and the token runs on this thread, untimed, until they are up */
            int timed = ctx->choose_split && (!split || slm_pool_ready(ctx->pool));
            if (ctx->choose_split && !timed) slm_pool_nudge(ctx->pool), split = 0;
            double t0 = timed ? slm_time_seconds() : 0;
            if (split) {
                token_job job = {ctx, tokens[i], pos + i};
                slm_pool_run(ctx->pool, token_worker, &job);
                balance_shares(ctx);
            } else {
                forward_token(ctx, tokens[i], pos + i);
            }
            if (timed) slm_choice_record(&ctx->choice, slm_time_seconds() - t0);
            if (logits) memcpy(logits, ctx->logits, (size_t)vocab * sizeof(float));
        }
        i += b;
    }
    return SLM_OK;
}
