/* bandwidth.c — memory read bandwidth with 1..N threads over a buffer far larger than the caches:
 * the floor of bandwidth-bound decoding is weight bytes / this bandwidth. Each thread reads its
 * slice as 1, 2, 4 or 8 sequential streams (the slice cut into that many equal parts read side by
 * side), 32 floats (two cache lines) per stream at a time into eight accumulators, so adds never
 * limit the rate; the best pass over all stream counts is reported, with the count that gave it.
 * (A matrix-vector product reads several rows at once: several streams per thread.)
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
    int prefetch; /* software prefetch 4 KiB ahead in each stream, as slm's quantized kernels do */
    float sum;
} slice;

/* one step of one stream: two cache lines of p at offset i into the accumulators g..g+3 */
#define STEP(p, g)                                                             \
    do {                                                                       \
        a[(g) + 0] = _mm256_add_ps(a[(g) + 0], _mm256_loadu_ps((p) + i));      \
        a[(g) + 1] = _mm256_add_ps(a[(g) + 1], _mm256_loadu_ps((p) + i + 8));  \
        a[(g) + 2] = _mm256_add_ps(a[(g) + 2], _mm256_loadu_ps((p) + i + 16)); \
        a[(g) + 3] = _mm256_add_ps(a[(g) + 3], _mm256_loadu_ps((p) + i + 24)); \
        if (pf) {                                                              \
            _mm_prefetch((const char *)((p) + i + 1024), _MM_HINT_T0);         \
            _mm_prefetch((const char *)((p) + i + 1040), _MM_HINT_T0);         \
        }                                                                      \
    } while (0)

static void *reader(void *p) {
    slice *s = p;
    size_t per = s->n / (size_t)s->streams / 32 * 32;
    const int pf = s->prefetch;
    const float *b[8];
    for (int k = 0; k < 8; k++) b[k] = s->base + per * (size_t)(k < s->streams ? k : 0);
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    /* the stream counts are spelled out so every pointer and accumulator stays in a register */
    switch (s->streams) {
    case 1:
        for (size_t i = 0; i < per; i += 32) STEP(b[0], 0);
        break;
    case 2:
        for (size_t i = 0; i < per; i += 32) {
            STEP(b[0], 0);
            STEP(b[1], 4);
        }
        break;
    case 4:
        for (size_t i = 0; i < per; i += 32) {
            STEP(b[0], 0);
            STEP(b[1], 4);
            STEP(b[2], 0);
            STEP(b[3], 4);
        }
        break;
    default:
        for (size_t i = 0; i < per; i += 32) {
            STEP(b[0], 0);
            STEP(b[1], 4);
            STEP(b[2], 0);
            STEP(b[3], 4);
            STEP(b[4], 0);
            STEP(b[5], 4);
            STEP(b[6], 0);
            STEP(b[7], 4);
        }
        break;
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
        int best_streams = 1, best_pf = 0;
        for (int pf = 0; pf < 2; pf++)
        for (int streams = 1; streams <= 8; streams *= 2)
            for (int rep = 0; rep < 4; rep++) {
                pthread_t th[64];
                slice sl[64];
                double t0 = now();
                for (int i = 0; i < t; i++) {
                    sl[i] = (slice){buf + n / (size_t)t * (size_t)i, n / (size_t)t, streams, pf, 0};
                    pthread_create(&th[i], NULL, reader, &sl[i]);
                }
                for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
                double gbs = (double)bytes / (now() - t0) / 1e9;
                if (gbs > best) best = gbs, best_streams = streams, best_pf = pf;
            }
        printf("read bandwidth, %d thread%s: %.1f GB/s (best of 32 passes over 1 GiB, %d stream%s per thread%s)\n", t,
               t > 1 ? "s" : "", best, best_streams, best_streams > 1 ? "s" : "", best_pf ? ", software prefetch" : "");
    }
    free(buf);
    return 0;
}
