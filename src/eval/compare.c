/* compare.c — two models side by side on the same tokens: the quality gate of slm quantize. */
#include <math.h>
#include <stdlib.h>

#include "../core/core.h"

/* The probabilities of logits z (n) into p and log(sum exp(z - max)) with the maximum: one exp per
 * value (the KL sum reuses them). */
static void softmax_stats(const float *z, int n, double *p, double *mx, double *ls) {
    double m = z[0], s = 0.0;
    for (int i = 1; i < n; i++) m = z[i] > m ? z[i] : m;
    for (int i = 0; i < n; i++) s += p[i] = exp((double)z[i] - m);
    for (int i = 0; i < n; i++) p[i] /= s;
    *mx = m, *ls = log(s);
}

static int argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

slm_status slm_compare_models(const slm_model *a, const slm_model *b, const int32_t *ids, int n, int n_ctx, int32_t bos,
                              int n_threads, slm_compare_result *out, slm_error *err) {
    if (!a || !b || !ids || !out || n < 2) return slm_fail(err, SLM_ERR_ARG, "compare: need two models and at least 2 tokens");
    int V = slm_model_config(a)->vocab_size;
    if (slm_model_config(b)->vocab_size != V)
        return slm_fail(err, SLM_ERR_MISMATCH, "compare: the models' vocabularies differ (%d and %d tokens)", V,
                        slm_model_config(b)->vocab_size);
    slm_ctx_params cp = {n_ctx, n_threads > 0 ? n_threads : 1, 0, 0, 0, NULL};
    slm_ctx *ca = NULL, *cb = NULL;
    double *pa = malloc(sizeof(double) * 2 * (size_t)V), *pb = pa + V;
    slm_status st = pa ? SLM_OK : slm_fail(err, SLM_ERR_NOMEM, "compare: out of memory");
    if (st == SLM_OK) st = slm_ctx_create(a, &cp, &ca, err);
    if (st == SLM_OK) st = slm_ctx_create(b, &cp, &cb, err);
    double nll_a = 0, nll_b = 0, kl_sum = 0, kl_max = 0;
    int agree = 0, cmp = 0;
    int nc = st == SLM_OK ? slm_ctx_n_ctx(ca) : 0;
    /* one token per call: both models run the decode path users generate with (for the block types
     * it multiplies int8-quantized activations, batches fp32 ones), so the gate measures what
     * generation gets and its figures in docs/ stay reproducible */
    for (int i = 0, pos = 0; st == SLM_OK && i + 1 < n; i++) {
        if (pos == nc) { /* the window is full: restart from BOS, as slm score does */
            st = slm_ctx_eval(ca, &bos, 1, 0, NULL, err);
            if (st == SLM_OK) st = slm_ctx_eval(cb, &bos, 1, 0, NULL, err);
            pos = 1;
            if (st != SLM_OK) break;
        }
        st = slm_ctx_eval(ca, &ids[i], 1, pos, NULL, err);
        if (st == SLM_OK) st = slm_ctx_eval(cb, &ids[i], 1, pos, NULL, err);
        if (st != SLM_OK) break;
        pos++;
        const float *za = slm_ctx_logits(ca), *zb = slm_ctx_logits(cb);
        double ma, la, mb, lb, kl = 0;
        softmax_stats(za, V, pa, &ma, &la), softmax_stats(zb, V, pb, &mb, &lb);
        int next = ids[i + 1];
        nll_a -= (double)za[next] - ma - la;
        nll_b -= (double)zb[next] - mb - lb;
        for (int v = 0; v < V; v++) /* KL(a || b) = sum p_a (log p_a - log p_b) */
            kl += pa[v] * (((double)za[v] - ma - la) - ((double)zb[v] - mb - lb));
        kl = kl > 0 ? kl : 0; /* rounding can make a zero divergence slightly negative */
        kl_sum += kl, kl_max = kl > kl_max ? kl : kl_max;
        agree += argmax(za, V) == argmax(zb, V);
        cmp++;
    }
    slm_ctx_free(ca), slm_ctx_free(cb);
    free(pa);
    if (st != SLM_OK) return st;
    out->tokens = cmp;
    out->nll_a = nll_a / cmp, out->nll_b = nll_b / cmp;
    out->kl_mean = kl_sum / cmp, out->kl_max = kl_max;
    out->top1_agree = (double)agree / cmp;
    return SLM_OK;
}
