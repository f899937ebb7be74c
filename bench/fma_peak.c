/* fma_peak.c — the machine's matrix-multiply ceiling right now: slm's own GEMM micro-kernel (the
 * fastest in the kernel table, and its 12-row kernel where it has one) on panels that stay in L1,
 * on THREADS threads at once, for about a second each. Printed beside training and GEMM figures so
 * a reader can tell a slow run from a busy machine (on shared VMs the second core often runs well
 * below the first).
 *   fma_peak [THREADS]                                            */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/kernels/gemm.h"

typedef struct {
    const slm_kernels *k;
    int rows; /* 6: gemm_micro; 12: gemm_micro12 */
    double flops, seconds;
} arg_t;

static void *run(void *p) {
    arg_t *a = p;
    enum { KC = 256 };
    float *pa = aligned_alloc(64, sizeof(float) * 12 * KC), *pb = aligned_alloc(64, sizeof(float) * 16 * KC);
    float c[12 * 16];
    for (int i = 0; i < 12 * KC; i++) pa[i] = 1e-3f * (float)(i % 97);
    for (int i = 0; i < 16 * KC; i++) pb[i] = 1e-3f * (float)(i % 89);
    long calls = 0;
    double t0 = slm_time_seconds(), t = t0;
    while (t - t0 < 1.0) {
        if (a->rows == 12)
            for (int r = 0; r < 1000; r++) a->k->gemm_micro12(KC, pa, pb, c, 16, r > 0, 12, 16);
        else
            for (int r = 0; r < 2000; r++) a->k->gemm_micro(KC, pa, pb, c, 16, r > 0, 6, 16);
        calls += 2000; /* in 6-row calls */
        t = slm_time_seconds();
    }
    a->flops = (double)calls * 2.0 * 6 * 16 * KC + (c[5] == 12345.0f); /* keep c alive */
    a->seconds = t - t0;
    free(pa), free(pb);
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    if (n < 1 || n > 256) {
        fprintf(stderr, "usage: %s [THREADS]\n", argv[0]);
        return 2;
    }
    const slm_kernels *k = slm_kernels_select(1);
    pthread_t th[256];
    arg_t args[256];
    for (int rows = 6; rows <= 12; rows += 6) {
        if (rows == 12 && !k->gemm_micro12) break;
        for (int i = 0; i < n; i++) args[i] = (arg_t){k, rows, 0, 0}, pthread_create(&th[i], NULL, run, &args[i]);
        double total = 0;
        for (int i = 0; i < n; i++) pthread_join(th[i], NULL), total += args[i].flops / args[i].seconds;
        printf("GEMM micro-kernel (%s, %d rows, in L1) on %d thread%s at once: %.1f GFLOP/s\n", k->name, rows, n,
               n == 1 ? "" : "s", total / 1e9);
    }
    return 0;
}
