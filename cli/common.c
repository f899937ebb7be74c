/* common.c — argument parsing, loading and output helpers for the slm command. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "slm%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *cli_next(cli_args *a) { return a->i < a->argc ? a->argv[a->i++] : NULL; }

const char *cli_value(cli_args *a, const char *flag) {
    if (a->i >= a->argc) {
        cli_error(a->cmd, "%s needs a value (see slm %s --help)", flag, a->cmd);
        a->failed = 1;
        return NULL;
    }
    return a->argv[a->i++];
}

int cli_int(cli_args *a, const char *flag, long lo, long hi) {
    const char *v = cli_value(a, flag);
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        cli_error(a->cmd, "%s: '%s' is not an integer in [%ld, %ld]", flag, v, lo, hi);
        a->failed = 1;
        return 0;
    }
    return (int)x;
}

double cli_double(cli_args *a, const char *flag, double lo, double hi) {
    const char *v = cli_value(a, flag);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi)) {
        cli_error(a->cmd, "%s: '%s' is not a number in [%g, %g]", flag, v, lo, hi);
        a->failed = 1;
        return 0;
    }
    return x;
}

uint64_t cli_u64(cli_args *a, const char *flag) {
    const char *v = cli_value(a, flag);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-') {
        cli_error(a->cmd, "%s: '%s' is not a non-negative integer", flag, v);
        a->failed = 1;
        return 0;
    }
    return (uint64_t)x;
}

int cli_same_name(const char *a, const char *b) {
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        if (x != y) return 0;
        if (!x) return 1;
    }
}

int cli_print_token(void *user, int32_t token, const char *text, size_t len) {
    (void)user, (void)token;
    if (len) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
    return 0;
}

slm_ctx_params cli_ctx_params(void) {
    slm_ctx_params cp = slm_ctx_default_params();
    cp.no_simd = getenv("SLM_NO_SIMD") != NULL;
    cp.kernels = getenv("SLM_KERNELS");
    return cp;
}

int cli_run_flag(cli_args *a, const char *arg, slm_sampler_params *sp, int *seed_given, slm_ctx_params *cp) {
    if (!strcmp(arg, "--temp")) sp->temperature = (float)cli_double(a, arg, 0, 100);
    else if (!strcmp(arg, "--top-k")) sp->top_k = cli_int(a, arg, 0, 1 << 30);
    else if (!strcmp(arg, "--top-p")) sp->top_p = (float)cli_double(a, arg, 1e-6, 1);
    else if (!strcmp(arg, "--min-p")) sp->min_p = (float)cli_double(a, arg, 0, 1);
    else if (!strcmp(arg, "--repeat-penalty")) sp->repeat_penalty = (float)cli_double(a, arg, 1e-3, 100);
    else if (!strcmp(arg, "--repeat-last-n")) sp->repeat_last_n = cli_int(a, arg, 0, 1 << 20);
    else if (!strcmp(arg, "-s") || !strcmp(arg, "--seed")) sp->seed = cli_u64(a, arg), *seed_given = 1;
    else if (!strcmp(arg, "-t") || !strcmp(arg, "--threads")) cp->n_threads = cli_int(a, arg, 1, 1024);
    else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) cp->n_ctx = cli_int(a, arg, 1, 1 << 22);
    else if (!strcmp(arg, "--no-simd")) cp->no_simd = 1;
    else if (!strcmp(arg, "--kernels")) cp->kernels = cli_value(a, arg);
    else if (!strcmp(arg, "-b") || !strcmp(arg, "--batch-size")) cp->n_batch = cli_int(a, arg, 1, 4096);
    else if (!strcmp(arg, "--kv-f16")) cp->kv_f16 = 1;
    else return 0;
    return 1;
}

void cli_unknown(cli_args *a, const char *arg) {
    if (arg[0] == '-') cli_error(a->cmd, "unknown option '%s' (see slm %s --help)", arg, a->cmd);
    else cli_error(a->cmd, "unexpected argument '%s' (see slm %s --help)", arg, a->cmd);
    a->failed = 1;
}

const char *cli_model_path(const char *given) {
    static char found[PATH_MAX + 64];
    if (given) return given;
    const char *env = getenv("SLM_MODEL");
    if (env && *env) return env;
    /* beside the executable: build/slm -> models/, PREFIX/bin/slm -> PREFIX/share/slm/ */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        const char *rel[] = {"/../models/" SLM_DEFAULT_MODEL, "/../share/slm/" SLM_DEFAULT_MODEL};
        for (int i = 0; i < 2; i++) {
            snprintf(found, sizeof found, "%s%s", exe, rel[i]);
            if (access(found, R_OK) == 0) return found;
        }
    }
    if (access("models/" SLM_DEFAULT_MODEL, R_OK) == 0) return "models/" SLM_DEFAULT_MODEL;
    return NULL;
}

slm_model *cli_load_model(const char *cmd, const char *path, int mapped) {
    slm_model *m = NULL;
    slm_error err;
    if (!path) {
        cli_error(cmd, "no model given: use -m MODEL (the bundled models/" SLM_DEFAULT_MODEL " was not found)");
        return NULL;
    }
    if ((mapped ? slm_model_load_file_mapped : slm_model_load_file)(path, &m, &err) != SLM_OK) {
        cli_error(cmd, "%s", err.msg);
        return NULL;
    }
    return m;
}

static int file_exists(const char *p) { return access(p, R_OK) == 0; }

slm_tokenizer *cli_load_tokenizer(const char *cmd, const char *path, const char *model_path, int vocab_size) {
    slm_error err;
    slm_tokenizer *t = NULL;
    if (path) {
        if (slm_tokenizer_load_file(path, vocab_size, &t, &err) != SLM_OK) {
            cli_error(cmd, "%s", err.msg);
            return NULL;
        }
        return t;
    }
    if (!model_path) {
        cli_error(cmd, "no tokenizer given: use -z TOKENIZER");
        return NULL;
    }
    /* a GGUF model carries its tokenizer */
    FILE *f = fopen(model_path, "rb");
    char magic[4] = {0};
    if (f) {
        size_t got = fread(magic, 1, 4, f);
        fclose(f);
        if (got == 4 && !memcmp(magic, "GGUF", 4)) {
            if (slm_tokenizer_load_file(model_path, vocab_size, &t, &err) == SLM_OK) return t;
            cli_error(cmd, "%s (use -z TOKENIZER)", err.msg);
            return NULL;
        }
    }
    /* beside the model: tok<vocab>.bin (the tinyllamas naming), tokenizer.bin, tokenizer.model,
     * tokenizer.json (Hugging Face) */
    static const char *names[4] = {"tok%d.bin", "tokenizer.bin", "tokenizer.model", "tokenizer.json"};
    char guess[4][4096];
    const char *slash = strrchr(model_path, '/');
    int dir = slash ? (int)(slash - model_path) + 1 : 0;
    struct stat sb;
    int is_dir = stat(model_path, &sb) == 0 && S_ISDIR(sb.st_mode); /* a Hugging Face folder */
    for (int i = 0; i < 4; i++) {
        char leaf[64];
        snprintf(leaf, sizeof leaf, names[i], vocab_size);
        if (is_dir) snprintf(guess[i], sizeof guess[i], "%s/%s", model_path, leaf);
        else snprintf(guess[i], sizeof guess[i], "%.*s%s", dir, model_path, leaf);
        if (file_exists(guess[i]) && slm_tokenizer_load_file(guess[i], vocab_size, &t, &err) == SLM_OK) return t;
    }
    cli_error(cmd, "no -z TOKENIZER given and no tokenizer with %d tokens beside the model (looked for %s, %s, %s, %s)",
              vocab_size, guess[0], guess[1], guess[2], guess[3]);
    return NULL;
}

char *cli_read_file(const char *cmd, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error(cmd, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = cap > SIZE_MAX / 4 ? NULL : realloc(buf, cap * 2 + 1);
        if (!grown) free(buf);
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        cli_error(cmd, "%s: cannot read%s", path, buf ? "" : " (out of memory)");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

void cli_json_string(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else if (c >= 0x80) { /* keep valid UTF-8, escape stray bytes as \u00XX */
            int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            int ok = len > 1 && i + (size_t)len <= n;
            for (int k = 1; ok && k < len; k++) ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
            if (ok) {
                fwrite(s + i, 1, (size_t)len, f);
                i += (size_t)len - 1;
            } else
                fprintf(f, "\\u%04x", c);
        } else
            fputc(c, f);
    }
}

double cli_peak_rss_mib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}
