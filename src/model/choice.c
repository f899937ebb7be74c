/* choice.c — choosing by measurement: whether a small model's tokens are split over the threads,
 * and how a split token's steps are shared among them (the end of this file).
 *
 * On a shared machine the same split can be 1.5x faster than one thread in one minute and 2x
 * slower in the next (the host moves the second vCPU away or takes it), and only timing the
 * tokens tells which. The chooser runs the current way and keeps the times of its last
 * SLM_CHOICE_WINDOW tokens. Now and then it runs 1 + SLM_CHOICE_WINDOW tokens the other way (a
 * probe): the first of them may wake the pool's threads, so it only has to stay under 8 times the
 * current way's median; the others are timed, and the probe wins if their median is under 97% of
 * the current way's. A winning probe becomes the current way. A probe token slower than twice the
 * current median (the first: 8 times) loses the probe at once, so a bad probe costs one or two
 * tokens. After a lost probe the next waits twice as many tokens (from SLM_CHOICE_FIRST_PROBE to
 * SLM_CHOICE_MAX_INTERVAL) and at least until the current way has run 16 times as long as the
 * probe lost, so probing costs at most about 6% where the other way is hopeless (two threads on
 * one CPU). A switch resets the wait. Both ways give the same bytes: the choice changes only the
 * speed. */
#include <string.h>

#include "model.h"

static double median(const double *v, int n) {
    double s[SLM_CHOICE_WINDOW];
    memcpy(s, v, (size_t)n * sizeof *s);
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && s[j - 1] > s[j]; j--) {
            double t = s[j];
            s[j] = s[j - 1], s[j - 1] = t;
        }
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

void slm_choice_init(slm_choice *c, int first) {
    memset(c, 0, sizeof *c);
    c->current = first;
    c->interval = SLM_CHOICE_FIRST_PROBE;
    c->until_probe = SLM_CHOICE_FIRST_PROBE;
}

int slm_choice_next(const slm_choice *c) { return c->probing ? !c->current : c->current; }

static void end_probe(slm_choice *c, int won) {
    if (won) {
        c->current = !c->current;
        memcpy(c->recent, c->probe, sizeof c->recent);
        c->n_recent = SLM_CHOICE_WINDOW, c->next = 0;
        c->interval = SLM_CHOICE_FIRST_PROBE;
        c->wait_seconds = 0;
        c->switches++;
    } else {
        c->interval = c->interval * 2 < SLM_CHOICE_MAX_INTERVAL ? c->interval * 2 : SLM_CHOICE_MAX_INTERVAL;
        double lost = c->probe_seconds - (c->probing - 1) * median(c->recent, SLM_CHOICE_WINDOW);
        c->wait_seconds = 16 * (lost > 0 ? lost : 0);
    }
    c->probing = 0;
    c->probe_seconds = 0;
    c->until_probe = c->interval;
}

void slm_choice_record(slm_choice *c, double seconds) {
    if (c->probing) {
        double ref = median(c->recent, SLM_CHOICE_WINDOW);
        c->probe_seconds += seconds;
        if (c->probing > 1) c->probe[c->probing - 2] = seconds;
        if (seconds > (c->probing == 1 ? 8 : 2) * ref) end_probe(c, 0);
        else if (c->probing == SLM_CHOICE_WINDOW + 1) end_probe(c, median(c->probe, SLM_CHOICE_WINDOW) < 0.97 * ref);
        else c->probing++;
        return;
    }
    c->recent[c->next] = seconds;
    c->next = (c->next + 1) % SLM_CHOICE_WINDOW;
    if (c->n_recent < SLM_CHOICE_WINDOW) c->n_recent++;
    c->wait_seconds -= seconds;
    if (--c->until_probe <= 0 && c->wait_seconds <= 0 && c->n_recent == SLM_CHOICE_WINDOW) c->probing = 1;
}

/* ---- shares by speed. The threads of a split token can run at different speeds (the host gives
 * one vCPU more memory bandwidth or less time than the other), and equal shares would leave the
 * faster one waiting at every barrier. */

void slm_shares_init(float *frac, float *speed, int nt) {
    for (int t = 0; t <= nt; t++) frac[t] = (float)t / (float)nt;
    for (int t = 0; t < nt; t++) speed[t] = 0;
}

void slm_shares_update(float *frac, float *speed, const double *busy, int nt) {
    int known = 1;
    for (int t = 0; t < nt; t++) {
        float part = frac[t + 1] - frac[t];
        if (busy[t] > 0 && part > 0) {
            float v = (float)(part / busy[t]);
            speed[t] = speed[t] > 0 ? 0.75f * speed[t] + 0.25f * v : v;
        }
        known &= speed[t] > 0;
    }
    if (!known) return;
    float total = 0, least = 1.0f / (8.0f * (float)nt), sum = 0;
    for (int t = 0; t < nt; t++) total += speed[t];
    for (int t = 0; t < nt; t++) {
        frac[t] = sum;
        float part = speed[t] / total;
        sum += part > least ? part : least;
    }
    for (int t = 1; t < nt; t++) frac[t] /= sum; /* (the floors may have added a little) */
    frac[0] = 0, frac[nt] = 1;
}
