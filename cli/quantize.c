/* quantize.c — slm quantize: write a model with quantized matrices, then measure what it lost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: slm quantize IN OUT --type TYPE [options]\n"
    "\n"
    "Writes IN (any model slm reads) to OUT with its matrices as TYPE, then, with --eval, compares\n"
    "the two on a text: perplexity of each, the mean KL divergence KL(IN || OUT) of their next-token\n"
    "distributions, and how often their most likely tokens agree.\n"
    "\n"
    "  --type TYPE         f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q3_k, q4_k, q5_k or q6_k:\n"
    "                      GGUF (OUT.gguf); q8_0 with an OUT that does not end in .gguf writes\n"
    "                      llama2.c version 2 (runq.c). Type names ignore case (q4_K = q4_k)\n"
    "  --embed-type TYPE   the token embedding of a model whose classifier is tied to it (default: at\n"
    "                      least 8 bits, q8_0 when TYPE has fewer: 4-bit classifiers break small models)\n"
    "  Matrices whose rows are not whole blocks (256 values for q3_k-q6_k, 32 for the others) fall\n"
    "  back: q3_k to iq4_nl, q4_k to q4_1, q5_k to q5_1, q6_k to q8_0, then f16. Norms stay f32.\n"
    "  -z, --tokenizer TOK the tokenizer (embedded in GGUF output, used by --eval); default: IN's own,\n"
    "                      or tok<vocab>.bin / tokenizer.bin beside IN\n"
    "  --eval FILE         text for the quality gate (e.g. TinyStories' validation text)\n"
    "  --eval-tokens N     tokens of FILE to compare (default 16384; 0: all of it)\n"
    "  -c, --ctx-size N    window for the gate (default: the model's context), restarted from BOS\n"
    "  -t, --threads N     threads for the gate (default 1)\n"
    "  --expand-shared     write a block-sharing model's blocks as expanded copies (GGUF, for llama.cpp)\n"
    "  -q, --quiet         no per-tensor table\n";

static const char *TYPE_NAMES[] = {"f32", "q8_g", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k", "q5_0", "q5_1", "q5_k", "q3_k", "iq4_nl"};

static int parse_type(const char *s, slm_dtype *dt) {
    for (int i = 0; i < (int)(sizeof TYPE_NAMES / sizeof *TYPE_NAMES); i++)
        if (i != SLM_DTYPE_Q8_G && cli_same_name(s, TYPE_NAMES[i])) return *dt = (slm_dtype)i, 1;
    return 0;
}

/* The quality gate: IN against OUT as written, on the first `limit` tokens of `file`. */
static int gate(const char *cmd, const slm_model *ref, const char *out_path, const slm_tokenizer *tok, const char *file,
                int limit, int n_ctx, int threads, const char *type_name) {
    size_t len;
    char *text = cli_read_file(cmd, file, &len);
    if (!text) return EXIT_FAIL;
    slm_model *q = NULL;
    slm_error err;
    int rc = EXIT_FAIL, n = 0;
    int cap = len > (size_t)1 << 28 ? 0 : (int)(3 * len + 3);
    int32_t *ids = cap ? malloc((size_t)cap * sizeof *ids) : NULL;
    if (!ids || slm_tokenizer_encode(tok, text, len, 1, 0, ids, cap, &n) != SLM_OK) {
        cli_error(cmd, "%s: cannot tokenize the text", file);
        goto done;
    }
    if (limit > 0 && n > limit + 1) n = limit + 1;
    if (n < 2) {
        cli_error(cmd, "%s: fewer than 2 tokens to compare", file);
        goto done;
    }
    if (slm_model_load_file(out_path, &q, &err) != SLM_OK) {
        cli_error(cmd, "cannot read back %s: %s", out_path, err.msg);
        goto done;
    }
    slm_compare_result r;
    if (slm_compare_models(ref, q, ids, n, n_ctx, slm_tokenizer_bos(tok), threads, &r, &err) != SLM_OK) {
        cli_error(cmd, "%s", err.msg);
        goto done;
    }
    double pa = exp(r.nll_a), pb = exp(r.nll_b);
    printf("quality gate: %s, first %d tokens, windows of %d\n", file, r.tokens,
           n_ctx > 0 ? n_ctx : slm_model_config(ref)->seq_len);
    printf("  perplexity        %.4f (input)  ->  %.4f (%s), %+.2f%%\n", pa, pb, type_name, 100.0 * (pb / pa - 1.0));
    printf("  mean KL(in||out)  %.5f nats/token (largest at one position %.4f)\n", r.kl_mean, r.kl_max);
    printf("  top-1 agreement   %.2f%%\n", 100.0 * r.top1_agree);
    rc = 0;
done:
    slm_model_free(q);
    free(ids);
    free(text);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    cli_args a = {"quantize", argc, 0, argv, 0};
    const char *in = NULL, *out = NULL, *tok_path = NULL, *type = NULL, *embed = NULL, *eval = NULL, *arg;
    int expand = 0, quiet = 0, limit = 16384, n_ctx = 0, threads = 1;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); return 0; }
        else if (!strcmp(arg, "--type")) type = cli_value(&a, arg);
        else if (!strcmp(arg, "--embed-type")) embed = cli_value(&a, arg);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "--eval")) eval = cli_value(&a, arg);
        else if (!strcmp(arg, "--eval-tokens")) limit = cli_int(&a, arg, 0, 1 << 30);
        else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) n_ctx = cli_int(&a, arg, 2, 1 << 20);
        else if (!strcmp(arg, "-t") || !strcmp(arg, "--threads")) threads = cli_int(&a, arg, 1, 256);
        else if (!strcmp(arg, "--expand-shared")) expand = 1;
        else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) quiet = 1;
        else if (arg[0] != '-' && !in) in = arg;
        else if (arg[0] != '-' && !out) out = arg;
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    if (!in || !out || !type) {
        cli_error(a.cmd, "need IN, OUT and --type TYPE (see slm quantize --help)");
        return EXIT_USAGE;
    }
    slm_quantize_params qp = {SLM_DTYPE_F32, -1, expand};
    slm_dtype edt;
    if (!parse_type(type, &qp.type)) {
        cli_error(a.cmd, "unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q3_k, q4_k, q5_k, q6_k)", type);
        return EXIT_USAGE;
    }
    if (embed) {
        if (!parse_type(embed, &edt)) {
            cli_error(a.cmd, "unknown --embed-type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q3_k, q4_k, q5_k, q6_k)", embed);
            return EXIT_USAGE;
        }
        qp.embed_type = (int)edt;
    }
    size_t ol = strlen(out);
    int gguf = ol > 5 && !strcmp(out + ol - 5, ".gguf");
    if (!gguf && qp.type != SLM_DTYPE_Q8_0) {
        cli_error(a.cmd, "%s: only GGUF (a name ending in .gguf) holds %s; llama2.c files hold q8_0", out, type);
        return EXIT_USAGE;
    }
    if (!gguf && (embed || expand)) {
        cli_error(a.cmd, "--embed-type and --expand-shared apply to GGUF output");
        return EXIT_USAGE;
    }
    slm_model *m = cli_load_model(a.cmd, in, 0);
    if (!m) return EXIT_FAIL;
    int rc = EXIT_FAIL;
    slm_error err;
    slm_tokenizer *tok = NULL;
    if (tok_path) {
        if (!(tok = cli_load_tokenizer(a.cmd, tok_path, in, slm_model_config(m)->vocab_size))) goto done;
    } else if (!(tok = cli_load_tokenizer(NULL, NULL, in, slm_model_config(m)->vocab_size))) {
        if (eval) {
            cli_error(a.cmd, "--eval needs a tokenizer: none in or beside %s (give -z TOKENIZER)", in);
            goto done;
        }
        if (gguf) fprintf(stderr, "slm quantize: no tokenizer found (-z TOKENIZER adds one): %s gets none\n", out);
    }
    /* the plan, tensor by tensor */
    double bytes_in = 0, bytes_out = 0, values = 0;
    if (!quiet) printf("%-28s %-14s %-6s %s\n", "tensor", "shape", "from", "to");
    for (int i = 0; i < slm_model_n_tensors(m); i++) {
        slm_tensor_info ti;
        slm_model_tensor_info(m, i, &ti);
        slm_dtype to = gguf ? slm_quantize_tensor_dtype(m, i, &qp) : ti.n_dims == 2 ? SLM_DTYPE_Q8_G : SLM_DTYPE_F32;
        double nv = (double)ti.shape[0] * (ti.n_dims == 2 ? (double)ti.shape[1] : 1.0);
        values += nv, bytes_in += (double)ti.nbytes, bytes_out += nv * slm_dtype_bits(to) / 8;
        if (!quiet) {
            char shape[40];
            if (ti.n_dims == 2) snprintf(shape, sizeof shape, "%lld x %lld", (long long)ti.shape[0], (long long)ti.shape[1]);
            else snprintf(shape, sizeof shape, "%lld", (long long)ti.shape[0]);
            printf("%-28s %-14s %-6s %s%s\n", ti.name, shape, TYPE_NAMES[ti.dtype], TYPE_NAMES[to],
                   gguf && to != qp.type && ti.n_dims == 2 ? (!strcmp(ti.name, "token_embd.weight") && slm_model_config(m)->tied_classifier
                                                                 ? "  (tied embedding)"
                                                                 : "  (rows are not whole blocks)")
                                                           : "");
        }
    }
    slm_status st = gguf ? slm_model_quantize(m, tok, out, &qp, &err)
                         : slm_model_save(m, out, SLM_SAVE_LLAMA2C_Q80, 0, &err);
    if (st != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    printf("wrote %s: weights %.2f MB -> %.2f MB (%.2f bits per weight)\n", out, bytes_in / 1e6, bytes_out / 1e6,
           8 * bytes_out / values);
    if (!eval) {
        printf("quality gate: not run (give --eval TEXT, e.g. TinyStories' validation file)\n");
        rc = 0;
        goto done;
    }
    fflush(stdout);
    rc = gate(a.cmd, m, out, tok, eval, limit, n_ctx, threads, type);
done:
    slm_tokenizer_free(tok);
    slm_model_free(m);
    return rc;
}
