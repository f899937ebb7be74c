/* test.h — the tiny test harness: every test is a function; CHECK records a failure and goes on. */
#ifndef SLM_TEST_H
#define SLM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"

typedef struct test_state {
    int failed;
    int skipped;
    char skip_reason[256];
} test_state;

extern test_state T;

/* Prints a CHECK's detail message (printf-style; may be empty). */
void test_note(const char *fmt, ...);

#define CHECK(cond, ...)                                                                              \
    do {                                                                                              \
        if (!(cond)) {                                                                                \
            T.failed = 1;                                                                             \
            fprintf(stderr, "    %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);              \
            test_note("" __VA_ARGS__);                                                                \
            fputc('\n', stderr);                                                                      \
        }                                                                                             \
    } while (0)

/* Skips the rest of the test with a notice (e.g. ../shared missing). */
#define SKIP(...)                                                                                     \
    do {                                                                                              \
        T.skipped = 1;                                                                                \
        snprintf(T.skip_reason, sizeof T.skip_reason, __VA_ARGS__);                                   \
        return;                                                                                       \
    } while (0)

/* Path of a file under the shared folder ($SLM_SHARED or ../shared); NULL if it is missing. */
const char *shared_path(const char *rel);
/* A fresh path in this run's temporary folder. */
const char *tmp_path(const char *name);
/* Runs `slm ARGS` (through /bin/sh), capturing stdout and stderr. Returns the exit code. */
int run_slm(const char *args, char **out, char **errout);
/* Reads a whole file; NULL if missing. */
char *read_all(const char *path, size_t *len);
int write_all(const char *path, const void *data, size_t len);
/* A copy of `bytes` bytes of src that ends where an unreadable page begins: a kernel that reads
 * past the end crashes the run (an over-read ASan does not see in vector intrinsics). NULL if the
 * pages cannot be had. Free with guarded_free. */
void *guarded_copy(const void *src, size_t bytes);
void guarded_free(void *p, size_t bytes);
/* The logits of every token of `tokens` evaluated from position 0, shape (n, vocab), with the given
 * threads and kernels (no_simd); NULL on failure. The caller frees. */
float *test_logits(const slm_model *m, const int32_t *tokens, int n, int threads, int no_simd);
/* The same with a prompt batch size (slm_ctx_params.n_batch; 0 = the default). */
float *test_logits_batch(const slm_model *m, const int32_t *tokens, int n, int threads, int no_simd, int n_batch);
/* Encodes `len` bytes of s (with BOS if asked), decodes the ids and says whether the same bytes came
 * back; prints what came back when they did not. *n_tokens (if not NULL) gets the token count. */
int test_round_trip(const slm_tokenizer *t, const char *s, size_t len, int bos, int *n_tokens);

#endif
