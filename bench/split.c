/* split.c — single-token decode of a small model on several threads, three ways, in one process:
 *   split MODEL TOKENS RUNS [THREADS]
 * Each run creates a context and decodes TOKENS tokens one at a time (fixed token ids, positions
 * 0..TOKENS-1), once each way in turn: as timing chooses (the default, choice.c), always on the
 * calling thread, always split over the threads. Prints the median, min and max tok/s of each way
 * over RUNS runs, and how often the choice switched per run. The ways alternate run by run, so
 * the host's moods fall on all three alike.
 * Build: cc -O2 -Iinclude bench/split.c build/libslm.a -lm -lpthread -lcjson -lpcre2-8 -o build/bench/split */
#include <stdio.h>
#include <stdlib.h>

#include "../src/model/model.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL TOKENS RUNS [THREADS]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[2]), runs = atoi(argv[3]), threads = argc > 4 ? atoi(argv[4]) : 2;
    slm_model *m;
    slm_error err;
    if (slm_model_load_file(argv[1], &m, &err) != SLM_OK) {
        fprintf(stderr, "split: %s\n", err.msg);
        return 1;
    }
    if (n < 1 || n > slm_model_config(m)->seq_len || runs < 1 || threads < 2) {
        fprintf(stderr, "split: TOKENS must be in [1, %d], RUNS >= 1, THREADS >= 2\n", slm_model_config(m)->seq_len);
        return 2;
    }
    double *tps = malloc(sizeof(double) * 3 * (size_t)runs);
    long switches = 0;
    for (int r = 0; r < runs; r++)
        for (int way = -1; way < 2; way++) {
            slm_ctx_params p = slm_ctx_default_params();
            p.n_threads = threads, p.n_ctx = n;
            slm_ctx *ctx;
            if (slm_ctx_create(m, &p, &ctx, &err) != SLM_OK) {
                fprintf(stderr, "split: %s\n", err.msg);
                return 1;
            }
            slm_ctx_set_split(ctx, way);
            double t0 = slm_time_seconds();
            for (int pos = 0; pos < n; pos++) {
                int32_t tok = (pos * 7 + 1) % slm_model_config(m)->vocab_size;
                if (slm_ctx_eval(ctx, &tok, 1, pos, NULL, &err) != SLM_OK) {
                    fprintf(stderr, "split: %s\n", err.msg);
                    return 1;
                }
            }
            tps[(way + 1) * runs + r] = n / (slm_time_seconds() - t0);
            if (way < 0) switches += slm_ctx_split_switches(ctx);
            slm_ctx_free(ctx);
        }
    const char *names[3] = {"chosen", "calling thread", "split"};
    printf("%s, %d tokens, %d threads, %d runs (tok/s)\n", argv[1], n, threads, runs);
    for (int k = 0; k < 3; k++) {
        double *t = tps + (size_t)k * runs;
        qsort(t, (size_t)runs, sizeof *t, cmp);
        printf("  %-15s median %9.0f  min %9.0f  max %9.0f\n", names[k], t[runs / 2], t[0], t[runs - 1]);
    }
    printf("  switches of the choice per run: %.1f\n", (double)switches / runs);
    free(tps);
    slm_model_free(m);
    return 0;
}
