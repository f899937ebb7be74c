/* test_corrupt.c — hostile model and tokenizer files: each is rejected with a message naming the
 * file and the field, through the library and through the CLI (non-zero exit, no crash). */
#include <stdint.h>

#include "test.h"
#include "tests.h"

typedef struct {
    const char *name;    /* file name and what it shows */
    const char *expect;  /* a piece of the message */
    int base;            /* 0: v0, 1: v1, 2: v2 bytes to start from */
    long truncate_to;    /* >= 0: cut the file to this size; -2: keep */
    int patch_offset;    /* >= 0: write patch_value (int32) here */
    int32_t patch_value;
    int append;          /* bytes of garbage appended */
} corrupt_case;

static const corrupt_case CASES[] = {
    {"empty.bin", "file is empty", 0, 0, -1, 0, 0},
    {"short-header.bin", "too short for a header", 0, 3, -1, 0, 0},
    {"v0-header-only.bin", "truncated", 0, 20, -1, 0, 0},
    {"v0-truncated.bin", "truncated", 0, 5000, -1, 0, 0},
    {"v0-missing-last-byte.bin", "truncated", 0, -1, -1, 0, 0},
    {"v0-trailing.bin", "trailing data", 0, -2, -1, 0, 16},
    {"v0-dim-zero.bin", "dim = 0 is out of range", 0, -2, 0, 0, 0},
    {"v0-dim-negative.bin", "dim = -64 is out of range", 0, -2, 0, -64, 0},
    {"v0-dim-absurd.bin", "dim = 1073741824 is out of range", 0, -2, 0, 1 << 30, 0},
    {"v0-hidden-zero.bin", "hidden_dim = 0 is out of range", 0, -2, 4, 0, 0},
    {"v0-layers-huge.bin", "n_layers = 100000 is out of range", 0, -2, 8, 100000, 0},
    {"v0-layers-more-than-file.bin", "truncated", 0, -2, 8, 40, 0},
    {"v0-heads-not-dividing.bin", "n_heads = 7 does not divide dim = 64", 0, -2, 12, 7, 0},
    {"v0-heads-zero.bin", "n_heads = 0 is out of range", 0, -2, 12, 0, 0},
    {"v0-kv-heads-not-dividing.bin", "n_kv_heads = 3 does not divide n_heads = 4", 0, -2, 16, 3, 0},
    {"v0-kv-heads-zero.bin", "n_kv_heads = 0 is out of range", 0, -2, 16, 0, 0},
    {"v0-kv-heads-more.bin", "n_kv_heads = 8 is out of range", 0, -2, 16, 8, 0},
    {"v0-vocab-int-min.bin", "vocab_size = 0 is out of range", 0, -2, 20, INT32_MIN, 0},
    {"v0-vocab-absurd.bin", "vocab_size = 2147483647 is out of range", 0, -2, 20, INT32_MAX, 0},
    {"v0-seq-zero.bin", "seq_len = 0 is out of range", 0, -2, 24, 0, 0},
    {"v0-seq-more-than-file.bin", "truncated", 0, -2, 24, 100000, 0},
    {"v1-unknown-version.bin", "version = 7 is unknown", 1, -2, 4, 7, 0},
    {"v1-header-truncated.bin", "header needs 256 bytes", 1, 100, -1, 0, 0},
    {"v1-truncated.bin", "truncated", 1, 9000, -1, 0, 0},
    {"v1-vocab-negative.bin", "vocab_size = -300 must be positive", 1, -2, 28, -300, 0},
    {"v1-shared-flag-bad.bin", "shared_classifier = 5", 1, -2, 36, 5, 0},
    {"v1-layers-absurd.bin", "n_layers = 2147483647 is out of range", 1, -2, 16, INT32_MAX, 0},
    {"v2-group-zero.bin", "group_size = 0 is out of range", 2, -2, 37, 0, 0},
    {"v2-group-negative.bin", "group_size = -8 is out of range", 2, -2, 37, -8, 0},
    {"v2-group-not-dividing.bin", "does not divide", 2, -2, 37, 48, 0},
    {"v2-truncated.bin", "truncated", 2, 3000, -1, 0, 0},
};

static char *base_bytes[3];
static size_t base_len[3];

static int make_bases(void) {
    slm_config c = {64, 128, 2, 1, 4, 2, 16, 300, 32, 1, 1e-5f, 10000.0f, 0};
    slm_model *m;
    slm_error err;
    if (slm_model_init_random(&c, 7, 0.05f, &m, &err) != SLM_OK) return 0;
    const slm_save_format f[3] = {SLM_SAVE_LLAMA2C_V0, SLM_SAVE_LLAMA2C_V1, SLM_SAVE_LLAMA2C_Q80};
    for (int i = 0; i < 3; i++) {
        const char *p = tmp_path(i == 0 ? "base.v0.bin" : i == 1 ? "base.v1.bin" : "base.v2.bin");
        if (slm_model_save(m, p, f[i], 32, &err) != SLM_OK) return 0;
        free(base_bytes[i]);
        base_bytes[i] = read_all(p, &base_len[i]);
    }
    slm_model_free(m);
    return 1;
}

void corrupt_model_files_rejected(void) {
    CHECK(make_bases());
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const corrupt_case *k = &CASES[i];
        size_t len = base_len[k->base];
        char *buf = malloc(len + 64);
        memcpy(buf, base_bytes[k->base], len);
        if (k->truncate_to == -1) len -= 1;
        else if (k->truncate_to >= 0) len = (size_t)k->truncate_to;
        if (k->patch_offset >= 0) memcpy(buf + k->patch_offset, &k->patch_value, 4);
        memset(buf + len, 0x5a, (size_t)k->append);
        len += (size_t)k->append;
        const char *path = tmp_path(k->name);
        write_all(path, buf, len);
        free(buf);
        slm_model *m = NULL;
        slm_error err = {0, ""};
        slm_status st = slm_model_load_file(path, &m, &err);
        CHECK(st != SLM_OK && m == NULL, "%s: accepted", k->name);
        CHECK(strstr(err.msg, k->expect) && strstr(err.msg, k->name), "%s: message '%s' lacks '%s'", k->name, err.msg, k->expect);
        /* the same bytes from memory (aligned copy) fail the same way */
        size_t mlen;
        char *mem = read_all(path, &mlen);
        if (mem && mlen > 0) {
            CHECK(slm_model_load_memory(mem, mlen, k->name, &m, &err) != SLM_OK && strstr(err.msg, k->expect),
                  "%s from memory: %s", k->name, err.msg);
        }
        free(mem);
        /* and through the CLI */
        char args[1024], *errs = NULL;
        snprintf(args, sizeof args, "info %s", path);
        int rc = run_slm(args, NULL, &errs);
        CHECK(rc == 1 && errs && strstr(errs, k->expect), "%s: slm info rc %d: %s", k->name, rc, errs ? errs : "");
        free(errs);
    }
    slm_model *m;
    slm_error err;
    CHECK(slm_model_load_file(tmp_path("does-not-exist.bin"), &m, &err) == SLM_ERR_IO && strstr(err.msg, "cannot open"));
    for (int i = 0; i < 3; i++) free(base_bytes[i]), base_bytes[i] = NULL;
}

static void put_entry(FILE *f, float score, int32_t len, const char *bytes) {
    fwrite(&score, 4, 1, f);
    fwrite(&len, 4, 1, f);
    if (bytes) fwrite(bytes, 1, strlen(bytes), f);
}

/* Writes a tokenizer of n entries; `mode` breaks it in one way. */
static void write_tok(const char *path, int n, int mode) {
    FILE *f = fopen(path, "wb");
    int32_t max_len = mode == 4 ? 0 : 8;
    fwrite(&max_len, 4, 1, f);
    for (int i = 0; i < n; i++) {
        char piece[16];
        snprintf(piece, sizeof piece, "t%d", i);
        if (mode == 1 && i == n - 1) { put_entry(f, 0, 1000, "abc"); break; }     /* runs past the end */
        if (mode == 2 && i == n - 1) { fwrite("\0\0", 1, 2, f); break; }          /* header cut */
        if (mode == 3 && i == 5) { put_entry(f, 0, -4, NULL); continue; }         /* negative length */
        if (mode == 5 && i == 5) { put_entry(f, 0, 12, "abcdefghijkl"); continue; } /* > max_token_length */
        put_entry(f, (float)-i, (int32_t)strlen(piece), piece);
    }
    fclose(f);
}

void corrupt_tokenizer_files_rejected(void) {
    const struct { const char *name; int n, mode; const char *expect; slm_status st; } cases[] = {
        {"tok-vocab-mismatch.bin", 250, 0, "tokenizer has 250 entries but the model's vocab_size is 300", SLM_ERR_MISMATCH},
        {"tok-entry-past-end.bin", 300, 1, "entry 299: length 1000", SLM_ERR_FORMAT},
        {"tok-entry-header-cut.bin", 300, 2, "entry 299 header ends past the file end", SLM_ERR_FORMAT},
        {"tok-negative-length.bin", 300, 3, "entry 5: length -4 is out of range", SLM_ERR_FORMAT},
        {"tok-max-len-zero.bin", 300, 4, "max_token_length = 0", SLM_ERR_FORMAT},
        {"tok-longer-than-max.bin", 300, 5, "entry 5: length 12 is out of range", SLM_ERR_FORMAT},
    };
    CHECK(make_bases());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = tmp_path(cases[i].name);
        write_tok(path, cases[i].n, cases[i].mode);
        slm_tokenizer *t = NULL;
        slm_error err = {0, ""};
        CHECK(slm_tokenizer_load_file(path, 300, &t, &err) == cases[i].st && t == NULL, "%s accepted", cases[i].name);
        CHECK(strstr(err.msg, cases[i].expect) && strstr(err.msg, cases[i].name), "%s: '%s'", cases[i].name, err.msg);
        char args[1024], *errs = NULL;
        snprintf(args, sizeof args, "generate -m %s -z %s -n 4", tmp_path("base.v1.bin"), path);
        int rc = run_slm(args, NULL, &errs);
        CHECK(rc == 1 && errs && strstr(errs, cases[i].expect), "%s: rc %d: %s", cases[i].name, rc, errs ? errs : "");
        free(errs);
    }
    /* a well-formed tokenizer of the right size works with that model */
    write_tok(tmp_path("tok-good.bin"), 300, 0);
    char args[1024], *out = NULL;
    snprintf(args, sizeof args, "generate -m %s -z %s -n 4 --seed 1", tmp_path("base.v1.bin"), tmp_path("tok-good.bin"));
    CHECK(run_slm(args, &out, NULL) == 0);
    free(out);
    for (int i = 0; i < 3; i++) free(base_bytes[i]), base_bytes[i] = NULL;
}
