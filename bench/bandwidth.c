/* bandwidth.c — memory read bandwidth with 1..N threads, several read streams per thread, over a
 * buffer far larger than the caches: the floor for bandwidth-bound decoding is
 * weight bytes / this bandwidth.   cc -O2 -mavx2 -pthread bench/bandwidth.c -o build/bandwidth */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STREAMS = 4 };

typedef struct {
    const float *base;
    size_t n; /* floats in this thread's slice */
    double sum;
} slice;

static void *reader(void *p) {
    slice *s = p;
    size_t per = s->n / STREAMS / 8 * 8;
    __m256 acc[STREAMS];
    for (int k = 0; k < STREAMS; k++) acc[k] = _mm256_setzero_ps();
    for (size_t i = 0; i < per; i += 8)
        for (int k = 0; k < STREAMS; k++) acc[k] = _mm256_add_ps(acc[k], _mm256_loadu_ps(s->base + k * per + i));
    float out[8];
    s->sum = 0;
    for (int k = 0; k < STREAMS; k++) {
        _mm256_storeu_ps(out, acc[k]);
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
    float *buf = malloc(bytes);
    if (!buf) return 1;
    memset(buf, 1, bytes);
    size_t n = bytes / sizeof(float);
    for (int t = 1; t <= max_threads; t++) {
        double best = 0;
        for (int rep = 0; rep < 5; rep++) {
            pthread_t th[64];
            slice sl[64];
            double t0 = now();
            for (int i = 0; i < t; i++) {
                sl[i] = (slice){buf + n / t * i, n / t, 0};
                pthread_create(&th[i], NULL, reader, &sl[i]);
            }
            for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
            double gbs = bytes / (now() - t0) / 1e9;
            if (gbs > best) best = gbs;
        }
        printf("read bandwidth, %d thread%s x %d streams: %.1f GB/s (best of 5 passes over 1 GiB)\n", t,
               t > 1 ? "s" : "", STREAMS, best);
    }
    free(buf);
    return 0;
}
