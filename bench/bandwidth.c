/* bandwidth.c — memory read bandwidth with 1..N threads over a buffer far larger than the caches:
 * the floor of bandwidth-bound decoding is weight bytes / this bandwidth. Each thread reads its
 * slice as one or as two sequential streams, 32 floats (two cache lines) at a time into four
 * accumulators per stream, so adds never limit the rate; the better of the two is reported.
 * (More streams per thread measured slower on the development machine.)
 *     cc -O2 -mavx2 -pthread bench/bandwidth.c -o build/bandwidth && build/bandwidth 2 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const float *base;
    size_t n; /* floats in this thread's slice */
    int streams;
    float sum;
} slice;

static void *reader(void *p) {
    slice *s = p;
    size_t per = s->n / (size_t)s->streams / 32 * 32;
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    if (s->streams == 1) {
        for (size_t i = 0; i < per; i += 32)
            for (int k = 0; k < 4; k++) a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(s->base + i + 8 * k));
    } else {
        const float *b0 = s->base, *b1 = s->base + per;
        for (size_t i = 0; i < per; i += 32)
            for (int k = 0; k < 4; k++) {
                a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(b0 + i + 8 * k));
                a[4 + k] = _mm256_add_ps(a[4 + k], _mm256_loadu_ps(b1 + i + 8 * k));
            }
    }
    float out[8];
    s->sum = 0;
    for (int k = 0; k < 8; k++) {
        _mm256_storeu_ps(out, a[k]);
        for (int j = 0; j < 8; j++) s->sum += out[j];
    }
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t bytes = (size_t)1 << 30;
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    if (max_threads < 1 || max_threads > 64) max_threads = 2;
    float *buf = malloc(bytes);
    if (!buf) return 1;
    memset(buf, 1, bytes);
    size_t n = bytes / sizeof(float);
    for (int t = 1; t <= max_threads; t++) {
        double best = 0;
        int best_streams = 1;
        for (int streams = 1; streams <= 2; streams++)
            for (int rep = 0; rep < 4; rep++) {
                pthread_t th[64];
                slice sl[64];
                double t0 = now();
                for (int i = 0; i < t; i++) {
                    sl[i] = (slice){buf + n / (size_t)t * (size_t)i, n / (size_t)t, streams, 0};
                    pthread_create(&th[i], NULL, reader, &sl[i]);
                }
                for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
                double gbs = (double)bytes / (now() - t0) / 1e9;
                if (gbs > best) best = gbs, best_streams = streams;
            }
        printf("read bandwidth, %d thread%s: %.1f GB/s (best of 8 passes over 1 GiB, %d stream%s per thread)\n", t,
               t > 1 ? "s" : "", best, best_streams, best_streams > 1 ? "s" : "");
    }
    free(buf);
    return 0;
}
