/* sampler.c — greedy, temperature, top-k, top-p (nucleus), min-p and repetition penalty, with a
 * seeded xorshift64* PRNG, so the same seed gives the same tokens on every run and thread count.
 * Order of operations (as llama.cpp's default chain): repetition penalty -> top-k -> temperature
 * softmax -> min-p -> top-p -> draw. Temperature 0 is argmax (lowest id on ties). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"

typedef struct {
    float p;
    int32_t id;
} candidate;

struct slm_sampler {
    slm_sampler_params p;
    int vocab_size;
    uint64_t rng;
    candidate *cand;  /* (vocab) */
    int32_t *recent;  /* (repeat_last_n) ring of recent tokens */
    int n_recent, recent_head;
};

slm_sampler_params slm_sampler_default_params(void) {
    slm_sampler_params p = {0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0x5eed};
    return p;
}

static uint64_t next_u64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static float next_f32(uint64_t *s) { return (float)(next_u64(s) >> 40) / 16777216.0f; } /* [0, 1) */

slm_status slm_sampler_create(const slm_sampler_params *p, int vocab_size, slm_sampler **out, slm_error *err) {
    if (!p || !out) return slm_fail(err, SLM_ERR_ARG, "slm_sampler_create: NULL argument");
    if (vocab_size < 1) return slm_fail(err, SLM_ERR_ARG, "sampler: vocab_size %d must be positive", vocab_size);
    if (!(p->temperature >= 0.0f) || p->temperature > 100.0f)
        return slm_fail(err, SLM_ERR_ARG, "sampler: temperature %g is out of range [0, 100]", p->temperature);
    if (p->top_k < 0) return slm_fail(err, SLM_ERR_ARG, "sampler: top_k %d must be >= 0", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return slm_fail(err, SLM_ERR_ARG, "sampler: top_p %g is out of range (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return slm_fail(err, SLM_ERR_ARG, "sampler: min_p %g is out of range [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || p->repeat_penalty > 100.0f)
        return slm_fail(err, SLM_ERR_ARG, "sampler: repeat_penalty %g is out of range (0, 100]", p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return slm_fail(err, SLM_ERR_ARG, "sampler: repeat_last_n %d is out of range [0, 1048576]", p->repeat_last_n);
    slm_sampler *s = calloc(1, sizeof *s);
    if (s) s->cand = malloc((size_t)vocab_size * sizeof *s->cand);
    if (s) s->recent = malloc(((size_t)p->repeat_last_n + 1) * sizeof *s->recent);
    if (!s || !s->cand || !s->recent) {
        if (s) free(s->cand), free(s->recent);
        free(s);
        return slm_fail(err, SLM_ERR_NOMEM, "sampler: out of memory");
    }
    s->p = *p;
    s->vocab_size = vocab_size;
    s->rng = p->seed ? p->seed : 0x9E3779B97F4A7C15ULL; /* xorshift needs a nonzero state */
    *out = s;
    return SLM_OK;
}

void slm_sampler_free(slm_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->recent);
    free(s);
}

void slm_sampler_accept(slm_sampler *s, int32_t token) {
    if (s->p.repeat_last_n == 0) return;
    s->recent[s->recent_head] = token;
    s->recent_head = (s->recent_head + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n) s->n_recent++;
}

static int by_prob_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Moves the k most probable candidates (ties: lower id) to c[0..k) using a min-heap; returns k. */
static int select_top_k(candidate *c, int n, int k) {
    /* c[0..k) is kept as a heap whose root is the worst kept candidate */
#define WORSE(a, b) (by_prob_desc(&(a), &(b)) > 0)
    for (int i = 0; i < n; i++) {
        candidate x = c[i];
        int size = i < k ? i : k;
        if (i >= k) {
            if (!WORSE(c[0], x)) continue;
            /* replace the root and sift down */
            int j = 0;
            for (;;) {
                int ch = 2 * j + 1;
                if (ch >= size) break;
                if (ch + 1 < size && WORSE(c[ch + 1], c[ch])) ch++;
                if (!WORSE(c[ch], x)) break;
                c[j] = c[ch];
                j = ch;
            }
            c[j] = x;
        } else {
            int j = size; /* sift up */
            while (j > 0 && WORSE(x, c[(j - 1) / 2])) {
                c[j] = c[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            c[j] = x;
        }
    }
#undef WORSE
    return k;
}

/* Index of the largest of x[0..n), the lowest index on ties. Four running maxima keep the loop
 * free of one long dependency chain (it runs over the whole vocabulary every token). */
static int32_t argmax(const float *x, int n) {
    float m[4] = {x[0], x[0], x[0], x[0]};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
    float best = m[0];
    for (int k = 1; k < 4; k++) best = m[k] > best ? m[k] : best;
    for (; i < n; i++) best = x[i] > best ? x[i] : best;
    for (i = 0; i < n; i++)
        if (x[i] == best) return i;
    return 0; /* only if every value is NaN */
}

int32_t slm_sampler_sample(slm_sampler *s, const float *logits) {
    int V = s->vocab_size;
    candidate *c = s->cand;
    if (s->p.temperature == 0.0f && s->p.repeat_penalty == 1.0f) { /* plain greedy: no copy */
        int32_t pick = argmax(logits, V);
        slm_sampler_accept(s, pick);
        return pick;
    }
    for (int i = 0; i < V; i++) c[i] = (candidate){logits[i], i};
    if (s->p.repeat_penalty != 1.0f)
        for (int i = 0; i < s->n_recent; i++) {
            int32_t id = s->recent[i];
            if (id < 0 || id >= V) continue;
            float *v = &c[id].p;
            /* each distinct token is penalized once */
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= s->recent[j] == id;
            if (!seen) *v = *v > 0.0f ? *v / s->p.repeat_penalty : *v * s->p.repeat_penalty;
        }
    int32_t pick;
    if (s->p.temperature == 0.0f) {
        pick = 0;
        for (int i = 1; i < V; i++)
            if (c[i].p > c[pick].p) pick = i;
    } else {
        /* softmax with temperature over the whole vocabulary */
        float max = c[0].p, sum = 0.0f;
        for (int i = 1; i < V; i++) max = c[i].p > max ? c[i].p : max;
        for (int i = 0; i < V; i++) {
            c[i].p = expf((c[i].p - max) / s->p.temperature);
            sum += c[i].p;
        }
        for (int i = 0; i < V; i++) c[i].p /= sum;
        int n = V;
        if (s->p.top_k > 0 && s->p.top_k < V) {
            n = select_top_k(c, V, s->p.top_k);
        } else if (s->p.top_p < 1.0f && V > 1) {
            /* tokens below (1 - top_p) / (V - 1) can never be in the nucleus: drop before sorting */
            float cutoff = (1.0f - s->p.top_p) / (float)(V - 1);
            n = 0;
            for (int i = 0; i < V; i++)
                if (c[i].p >= cutoff) c[n++] = c[i];
        }
        qsort(c, (size_t)n, sizeof *c, by_prob_desc);
        sum = 0.0f;
        for (int i = 0; i < n; i++) sum += c[i].p;
        for (int i = 0; i < n; i++) c[i].p /= sum;
        if (s->p.min_p > 0.0f) {
            int keep = 1;
            while (keep < n && c[keep].p >= s->p.min_p * c[0].p) keep++;
            n = keep;
        }
        if (s->p.top_p < 1.0f) {
            float cum = 0.0f;
            int keep = 0;
            while (keep < n) {
                cum += c[keep++].p;
                if (cum >= s->p.top_p) break;
            }
            n = keep;
        }
        float total = 0.0f;
        for (int i = 0; i < n; i++) total += c[i].p;
        float r = next_f32(&s->rng) * total, acc = 0.0f;
        pick = c[n - 1].id;
        for (int i = 0; i < n; i++) {
            acc += c[i].p;
            if (r < acc) {
                pick = c[i].id;
                break;
            }
        }
    }
    slm_sampler_accept(s, pick);
    return pick;
}
