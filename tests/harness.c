/* harness.c — test runner: runs every registered test and ends with "N passed, N failed". */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"
#include "tests.h"

test_state T;

void test_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
static char tmp_dir[256];

const char *shared_path(const char *rel) {
    static char buf[8][1024];
    static int next;
    const char *root = getenv("SLM_SHARED");
    char *p = buf[next++ % 8];
    snprintf(p, 1024, "%s/%s", root ? root : "../shared", rel);
    return access(p, R_OK) == 0 ? p : NULL;
}

const char *tmp_path(const char *name) {
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 512, "%s/%s", tmp_dir, name);
    return p;
}

static size_t guarded_span(size_t bytes, size_t *page) {
    *page = (size_t)sysconf(_SC_PAGESIZE);
    return (bytes + *page - 1) / *page * *page + *page;
}

void *guarded_copy(const void *src, size_t bytes) {
    size_t page, span = guarded_span(bytes, &page);
    uint8_t *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    if (mprotect(base + span - page, page, PROT_NONE) != 0) {
        munmap(base, span);
        return NULL;
    }
    uint8_t *p = base + span - page - bytes;
    memcpy(p, src, bytes);
    return p;
}

void guarded_free(void *p, size_t bytes) {
    if (!p) return;
    size_t page, span = guarded_span(bytes, &page);
    uint8_t *end = (uint8_t *)p + bytes; /* the guard page's start */
    munmap(end + page - span, span);
}

char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

int write_all(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

float *test_logits(const slm_model *m, const int32_t *tokens, int n, int threads, int no_simd) {
    return test_logits_batch(m, tokens, n, threads, no_simd, 0);
}

float *test_logits_batch(const slm_model *m, const int32_t *tokens, int n, int threads, int no_simd, int n_batch) {
    slm_ctx_params p = {0, threads, no_simd, n_batch, 0, NULL};
    slm_ctx *ctx;
    slm_error err;
    if (slm_ctx_create(m, &p, &ctx, &err) != SLM_OK) return NULL;
    float *out = malloc((size_t)n * slm_model_config(m)->vocab_size * sizeof(float));
    if (out && slm_ctx_eval(ctx, tokens, n, 0, out, &err) != SLM_OK) {
        free(out);
        out = NULL;
    }
    slm_ctx_free(ctx);
    return out;
}

int test_round_trip(const slm_tokenizer *t, const char *s, size_t len, int bos, int *n_tokens) {
    int cap = (int)len + 2, n = 0, same = 0;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
    char *back = malloc(len + 1);
    size_t bl = 0;
    if (ids && back && slm_tokenizer_encode(t, s, len, bos, 0, ids, cap, &n) == SLM_OK &&
        slm_tokenizer_decode(t, ids, n, back, len + 1, &bl) == SLM_OK)
        same = bl == len && !memcmp(back, s, len);
    if (!same) fprintf(stderr, "    round trip of [%.*s] gave [%.*s]\n", (int)len, s, (int)(bl <= len ? bl : 0), back ? back : "");
    if (n_tokens) *n_tokens = n;
    free(ids), free(back);
    return same;
}

int run_slm(const char *args, char **out, char **errout) {
    const char *bin = getenv("SLM_BIN");
    char cmd[8192];
    const char *o = tmp_path("cli.out"), *e = tmp_path("cli.err");
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s </dev/null", bin ? bin : "build/slm", args, o, e);
    int status = system(cmd);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    if (out) *out = read_all(o, NULL);
    if (errout) *errout = read_all(e, NULL);
    return rc;
}

int main(int argc, char **argv) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/slm-test-%ld", (long)getpid());
    mkdir(tmp_dir, 0700);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; all_tests[i].fn; i++) {
        int chosen = argc == 1; /* no arguments: every test; else those whose name holds an argument */
        for (int a = 1; a < argc; a++) chosen |= strstr(all_tests[i].name, argv[a]) != NULL;
        if (!chosen) continue;
        memset(&T, 0, sizeof T);
        all_tests[i].fn();
        if (T.failed) {
            failed++;
            printf("FAIL %s\n", all_tests[i].name);
        } else if (T.skipped) {
            skipped++;
            printf("SKIP %s: %s\n", all_tests[i].name, T.skip_reason);
        } else {
            passed++;
            printf("ok   %s\n", all_tests[i].name);
        }
        fflush(stdout);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
