/* score.c — slm score: log-probability of every token of a text under a model. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: slm score -m MODEL [-z TOKENIZER] (-f FILE | -p TEXT | --ids FILE) [options]\n"
    "\n"
    "  -f, --file FILE        text to score (BOS is prepended)\n"
    "  -p, --prompt TEXT      text to score\n"
    "      --ids FILE         whitespace-separated token ids, scored as given (no tokenizer needed)\n"
    "      --logits-out FILE  write raw fp32 logits, one row of vocab_size floats per position\n"
    "  -q, --quiet            only the summary line\n"
    "  -t, --threads N        threads (default 1)\n"
    "  -c, --ctx-size N       context length (default: the model's seq_len)\n"
    "      --no-simd          use the portable scalar kernels\n"
    "      --kernels NAME     this kernel table: scalar, avx2, avx512, avx512bf16, neon (default: the fastest here)\n"
    "\n"
    "A text longer than the context is scored in windows of the context length, each restarted\n"
    "from BOS, so every token is scored. --logits-out then holds one row per evaluated position.\n"
    "\n"
    "Output: one JSON line per scored token {\"pos\",\"id\",\"piece\",\"logprob\"} (the first token\n"
    "is context, not scored), then {\"tokens\",\"nll\",\"mean_nll\",\"ppl\",\"bytes\",\"bpb\"}: natural-log\n"
    "negative log-likelihood, perplexity exp(mean_nll) and bits per byte of the text.\n";

static int32_t *parse_ids(const char *cmd, const char *path, int *n_out) {
    size_t len;
    char *text = cli_read_file(cmd, path, &len);
    if (!text) return NULL;
    int cap = 1024, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    char *p = text;
    while (ids) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && !strchr(" \n\t\r", *end))) {
            cli_error(cmd, "%s: token %d is not a non-negative integer", path, n);
            free(ids), free(text);
            return NULL;
        }
        if (n == cap) {
            int32_t *g = realloc(ids, (size_t)cap * 2 * sizeof *ids);
            if (!g) free(ids);
            ids = g, cap *= 2;
            if (!ids) break;
        }
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(text);
    if (!ids) cli_error(cmd, "out of memory");
    *n_out = n;
    return ids;
}

int cmd_score(int argc, char **argv) {
    cli_args a = {"score", argc, 0, argv, 0};
    const char *model_path = NULL, *tok_path = NULL, *file = NULL, *text_arg = NULL, *ids_path = NULL,
               *logits_path = NULL, *arg;
    int quiet = 0;
    slm_ctx_params cp = cli_ctx_params();
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); return 0; }
        else if (!strcmp(arg, "-m") || !strcmp(arg, "--model")) model_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-f") || !strcmp(arg, "--file")) file = cli_value(&a, arg);
        else if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt")) text_arg = cli_value(&a, arg);
        else if (!strcmp(arg, "--ids")) ids_path = cli_value(&a, arg);
        else if (!strcmp(arg, "--logits-out")) logits_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) quiet = 1;
        else if (!strcmp(arg, "-t") || !strcmp(arg, "--threads")) cp.n_threads = cli_int(&a, arg, 1, 1024);
        else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) cp.n_ctx = cli_int(&a, arg, 1, 1 << 22);
        else if (!strcmp(arg, "--no-simd")) cp.no_simd = 1;
        else if (!strcmp(arg, "--kernels")) cp.kernels = cli_value(&a, arg);
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    if ((file != NULL) + (text_arg != NULL) + (ids_path != NULL) != 1) {
        cli_error(a.cmd, "give exactly one of -f FILE, -p TEXT, --ids FILE");
        return EXIT_USAGE;
    }
    int rc = EXIT_FAIL, n = 0;
    char *text = NULL;
    size_t text_len = 0;
    int32_t *ids = NULL;
    FILE *lf = NULL;
    slm_model *model = NULL;
    slm_tokenizer *tok = NULL;
    slm_ctx *ctx = NULL;
    slm_error err;
    model_path = cli_model_path(model_path);
    if (!(model = cli_load_model(a.cmd, model_path, 0))) goto done;
    const slm_config *c = slm_model_config(model);
    int need_tok = !ids_path || tok_path;
    if (need_tok && !(tok = cli_load_tokenizer(a.cmd, tok_path, model_path, c->vocab_size))) goto done;
    if (ids_path) {
        if (!(ids = parse_ids(a.cmd, ids_path, &n))) goto done;
    } else {
        if (file) {
            if (!(text = cli_read_file(a.cmd, file, &text_len))) goto done;
        } else {
            text_len = strlen(text_arg);
        }
        const char *t = text ? text : text_arg;
        if (text_len > (size_t)1 << 28) {
            cli_error(a.cmd, "text too long (%zu bytes)", text_len);
            goto done;
        }
        int cap = (int)(3 * text_len + 3);
        ids = malloc((size_t)cap * sizeof *ids);
        if (!ids || slm_tokenizer_encode(tok, t, text_len, 1, 0, ids, cap, &n) != SLM_OK) { /* BOS: the first token is context */
            cli_error(a.cmd, "cannot tokenize the text");
            goto done;
        }
    }
    if (n < 1) {
        cli_error(a.cmd, "nothing to score (no tokens)");
        goto done;
    }
    if (slm_ctx_create(model, &cp, &ctx, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    int n_ctx = slm_ctx_n_ctx(ctx);
    if (ids_path && n > n_ctx) {
        cli_error(a.cmd, "%d ids exceed the context length %d (use fewer ids or -c)", n, n_ctx);
        goto done;
    }
    if (logits_path && !(lf = fopen(logits_path, "wb"))) {
        cli_error(a.cmd, "%s: cannot create: %s", logits_path, strerror(errno));
        goto done;
    }
    int V = c->vocab_size;
    double nll = 0.0;
    /* A text longer than the context is scored in windows: when the context is full, it restarts
     * from BOS and goes on, so every token is predicted from as much context as a window holds. */
    for (int i = 0, pos = 0; i < n; i++) {
        if (pos == n_ctx) {
            int32_t bos = slm_tokenizer_bos(tok);
            if (slm_ctx_eval(ctx, &bos, 1, 0, NULL, &err) != SLM_OK) {
                cli_error(a.cmd, "%s", err.msg);
                goto done;
            }
            pos = 1;
        }
        if (slm_ctx_eval(ctx, &ids[i], 1, pos++, NULL, &err) != SLM_OK) {
            cli_error(a.cmd, "%s", err.msg);
            goto done;
        }
        const float *lg = slm_ctx_logits(ctx);
        if (lf && fwrite(lg, sizeof(float), (size_t)V, lf) != (size_t)V) {
            cli_error(a.cmd, "%s: write failed", logits_path);
            goto done;
        }
        if (i + 1 < n) {
            double max = lg[0], sum = 0.0;
            for (int v = 1; v < V; v++) max = lg[v] > max ? lg[v] : max;
            for (int v = 0; v < V; v++) sum += exp((double)lg[v] - max);
            double lp = (double)lg[ids[i + 1]] - max - log(sum);
            nll -= lp;
            if (!quiet) {
                printf("{\"pos\":%d,\"id\":%d,\"piece\":\"", i + 1, ids[i + 1]);
                if (tok) {
                    const char *piece = slm_tokenizer_token(tok, ids[i + 1]);
                    cli_json_string(stdout, piece, strlen(piece));
                }
                printf("\",\"logprob\":%.6f}\n", lp);
            }
        }
    }
    if (lf) {
        if (fclose(lf) != 0) {
            lf = NULL;
            cli_error(a.cmd, "%s: write failed", logits_path);
            goto done;
        }
        lf = NULL;
    }
    int scored = n - 1;
    if (ids_path && tok) { /* bytes of the decoded ids */
        slm_tokenizer_decode(tok, ids, n, NULL, 0, &text_len);
    }
    printf("{\"tokens\":%d,\"nll\":%.6f,\"mean_nll\":%.6f,\"ppl\":%.6f,\"bytes\":", scored, nll,
           scored ? nll / scored : 0.0, scored ? exp(nll / scored) : 1.0);
    if (ids_path && !tok) printf("null,\"bpb\":null}\n");
    else printf("%zu,\"bpb\":%.6f}\n", text_len, text_len ? nll / log(2.0) / (double)text_len : 0.0);
    rc = 0;
done:
    if (lf) fclose(lf);
    free(ids);
    free(text);
    slm_ctx_free(ctx);
    slm_tokenizer_free(tok);
    slm_model_free(model);
    return rc;
}
