/* plot.c — the loss curve of a run as a self-contained SVG: train loss per step (light), its
 * moving average (dark), validation loss at evaluation steps (points joined by a line). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "run.h"

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about n ticks over span. */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

slm_status slm_plot_loss_svg(const char *path, const char *title, const long long *steps, const float *train,
                             const float *val, long long n, slm_error *err) {
    const double W = 820, H = 520, L = 70, R = 20, TOP = 50, BOT = 60;
    double x1 = n ? (double)steps[n - 1] : 1, y0 = INFINITY, y1 = -INFINITY;
    if (x1 <= 0) x1 = 1;
    /* y range: everything, but the top capped at the train loss 2% into the run so the first
     * steps (loss ~ ln vocab) do not flatten the rest */
    for (long long i = 0; i < n; i++) {
        if (train[i] == train[i]) y0 = fmin(y0, train[i]), y1 = fmax(y1, train[i]);
        if (val[i] == val[i]) y0 = fmin(y0, val[i]), y1 = fmax(y1, val[i]);
    }
    if (n > 50 && train[n / 50] == train[n / 50]) {
        double cap = train[n / 50];
        for (long long i = 0; i < n; i++)
            if (val[i] == val[i]) cap = fmax(cap, val[i]);
        y1 = fmin(y1, cap);
    }
    if (!(y0 < INFINITY)) y0 = 0, y1 = 1;
    if (y1 - y0 < 1e-6) y0 -= 0.5, y1 += 0.5;
    double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    FILE *f = NULL;
    slm_file_writer *w;
    slm_status st = slm_writer_open(path, &w, err);
    if (st != SLM_OK) return st;
    char *buf = NULL;
    size_t len = 0;
    f = open_memstream(&buf, &len);
    if (!f) {
        slm_writer_abort(w);
        return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
#define X(s) (L + (W - L - R) * (double)(s) / x1)
#define Y(v) (TOP + (H - TOP - BOT) * (1.0 - ((double)(v) - y0) / (y1 - y0)))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"14\" text-anchor=\"middle\">", W / 2);
    for (const char *p = title; *p; p++) {
        if (*p == '<') fputs("&lt;", f);
        else if (*p == '&') fputs("&amp;", f);
        else fputc(*p, f);
    }
    fputs("</text>\n", f);
    /* grid and ticks */
    double ys = nice_step(y1 - y0, 6), xs = nice_step(x1, 8);
    for (double v = ceil(y0 / ys) * ys; v <= y1; v += ys)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%.1f\" "
                   "text-anchor=\"end\">%g</text>\n", L, W - R, Y(v), Y(v), L - 6, Y(v) + 4, round(v / ys) * ys);
    for (double s = 0; s <= x1 + 1e-9; s += xs)
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/><text x=\"%.1f\" y=\"%.1f\" "
                   "text-anchor=\"middle\">%g</text>\n", X(s), X(s), TOP, H - BOT, X(s), H - BOT + 16, s);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n", L, TOP,
            W - L - R, H - TOP - BOT);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n", (L + W - R) / 2, H - 20);
    fprintf(f, "<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.0f)\">loss (nats/token)</text>\n",
            (TOP + H - BOT) / 2, (TOP + H - BOT) / 2);
    fprintf(f, "<clipPath id=\"c\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#c)\">\n",
            L, TOP, W - L - R, H - TOP - BOT);
    /* raw train loss (at most ~1600 points: bucket means), then its moving average */
    long long stride = n / 1600 + 1;
    for (int pass = 0; pass < 2; pass++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" points=\"", pass ? "#1f5fbf" : "#a9c4ee",
                pass ? "1.8" : "1");
        double ema = NAN, alpha = n > 20 ? 20.0 / (double)n : 0.3;
        if (alpha < 0.01) alpha = 0.01;
        for (long long i = 0; i < n; i += stride) {
            double sum = 0;
            int cnt = 0;
            for (long long j = i; j < i + stride && j < n; j++)
                if (train[j] == train[j]) {
                    sum += train[j], cnt++;
                    ema = ema == ema ? ema + alpha * (train[j] - ema) : train[j];
                }
            if (!cnt) continue;
            double v = pass ? ema : sum / cnt;
            fprintf(f, "%.1f,%.1f ", X(steps[i]), Y(v));
        }
        fputs("\"/>\n", f);
    }
    fputs("<polyline fill=\"none\" stroke=\"#d2691e\" stroke-width=\"2\" points=\"", f);
    for (long long i = 0; i < n; i++)
        if (val[i] == val[i]) fprintf(f, "%.1f,%.1f ", X(steps[i]), Y(val[i]));
    fputs("\"/>\n", f);
    for (long long i = 0; i < n; i++)
        if (val[i] == val[i]) fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d2691e\"/>\n", X(steps[i]), Y(val[i]));
    fputs("</g>\n", f);
    /* legend */
    double lx = W - R - 200, ly = TOP + 14;
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"190\" height=\"58\" fill=\"white\" stroke=\"#ccc\"/>\n", lx - 8, ly - 12);
    fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#a9c4ee\"/><text x=\"%.0f\" y=\"%.0f\">train (per step)</text>\n",
            lx, lx + 24, ly, ly, lx + 30, ly + 4);
    fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#1f5fbf\" stroke-width=\"1.8\"/><text x=\"%.0f\" y=\"%.0f\">train (moving average)</text>\n",
            lx, lx + 24, ly + 17, ly + 17, lx + 30, ly + 21);
    fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#d2691e\" stroke-width=\"2\"/><circle cx=\"%.0f\" cy=\"%.0f\" r=\"3\" fill=\"#d2691e\"/><text x=\"%.0f\" y=\"%.0f\">validation</text>\n",
            lx, lx + 24, ly + 34, ly + 34, lx + 12, ly + 34, lx + 30, ly + 38);
    fputs("</svg>\n", f);
#undef X
#undef Y
    fclose(f);
    st = slm_writer_write(w, buf, len, err);
    free(buf);
    if (st != SLM_OK) {
        slm_writer_abort(w);
        return st;
    }
    return slm_writer_commit(w, err);
}
