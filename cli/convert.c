/* convert.c — slm convert and slm init: write models. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP_CONVERT[] =
    "usage: slm convert IN OUT --to FORMAT [--group-size N]\n"
    "       slm convert IN OUT.gguf [--type TYPE (as slm quantize)] [--expand-shared]\n"
    "\n"
    "  --to llama2c-v0     legacy fp32 (llama2.c run.c)\n"
    "  --to llama2c-v1     \"ak42\" version 1, fp32\n"
    "  --to llama2c-q80    \"ak42\" version 2: int8 weights, one fp32 scale per group (llama2.c runq.c)\n"
    "  --to gguf-f32 | gguf-f16 | gguf-bf16 | gguf-q8_0 | gguf-q4_0 | gguf-q4_1 | gguf-q5_0 | gguf-q5_1 |\n"
    "       gguf-iq4_nl | gguf-q3_k | gguf-q4_k | gguf-q5_k | gguf-q6_k\n"
    "                      GGUF v3, arch llama (llama.cpp), tokenizer embedded; norms stay f32; a tied\n"
    "                      token embedding keeps at least 8 bits (q8_0); rows that are not whole blocks\n"
    "                      fall back (q3_k to iq4_nl, q4_k to q4_1, q5_k to q5_1, q6_k to q8_0, then f16).\n"
    "                      slm quantize\n"
    "                      gives more control\n"
    "                      and measures the loss\n"
    "  --expand-shared     write a block-sharing (MobileLLM-LS) model's blocks as expanded copies, for\n"
    "                      llama.cpp; without it the GGUF records the sharing as slm.block_repeat\n"
    "  -z, --tokenizer TOK the tokenizer a GGUF output embeds (default: the input's own if it is GGUF,\n"
    "                      else tok<vocab>.bin or tokenizer.bin beside the input; none if not found)\n"
    "  --group-size N      Q8_0 group size; must divide dim and hidden_dim. Default: the largest\n"
    "                      size <= 64 that does (stories260K: hidden_dim 172 -> 4)\n"
    "\n"
    "The output is written atomically (temporary file, fsync, rename).\n";

static int parse_format(const char *s, slm_save_format *f) {
    static const struct {
        const char *name;
        slm_save_format format;
    } formats[] = {{"llama2c-v0", SLM_SAVE_LLAMA2C_V0},  {"llama2c-v1", SLM_SAVE_LLAMA2C_V1},
                   {"llama2c", SLM_SAVE_LLAMA2C_V1},     {"llama2c-q80", SLM_SAVE_LLAMA2C_Q80},
                   {"llama2c-v2", SLM_SAVE_LLAMA2C_Q80}, {"gguf", SLM_SAVE_GGUF_F32},
                   {"gguf-f32", SLM_SAVE_GGUF_F32},      {"gguf-f16", SLM_SAVE_GGUF_F16},
                   {"gguf-bf16", SLM_SAVE_GGUF_BF16},    {"gguf-q8_0", SLM_SAVE_GGUF_Q8_0},
                   {"gguf-q4_k", SLM_SAVE_GGUF_Q4_K},    {"gguf-q6_k", SLM_SAVE_GGUF_Q6_K},
                   {"gguf-q4_0", SLM_SAVE_GGUF_Q4_0},    {"gguf-q4_1", SLM_SAVE_GGUF_Q4_1},
                   {"gguf-q5_0", SLM_SAVE_GGUF_Q5_0},    {"gguf-q5_1", SLM_SAVE_GGUF_Q5_1},
                   {"gguf-q5_k", SLM_SAVE_GGUF_Q5_K},    {"gguf-q3_k", SLM_SAVE_GGUF_Q3_K},
                   {"gguf-iq4_nl", SLM_SAVE_GGUF_IQ4_NL}};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (cli_same_name(s, formats[i].name)) return *f = formats[i].format, 1;
    return 0;
}

int cmd_convert(int argc, char **argv) {
    cli_args a = {"convert", argc, 0, argv, 0};
    const char *in = NULL, *out = NULL, *to = NULL, *tok_path = NULL, *type = NULL, *arg;
    int gs = 0, expand = 0;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP_CONVERT, stdout); return 0; }
        else if (!strcmp(arg, "--to")) to = cli_value(&a, arg);
        else if (!strcmp(arg, "--group-size")) gs = cli_int(&a, arg, 1, 1 << 16);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "--type")) type = cli_value(&a, arg);
        else if (!strcmp(arg, "--expand-shared")) expand = 1;
        else if (arg[0] != '-' && !in) in = arg;
        else if (arg[0] != '-' && !out) out = arg;
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    slm_save_format f;
    /* OUT.gguf with --type T means --to gguf-T (f32 when no type is given) */
    char to_buf[32];
    size_t out_len = out ? strlen(out) : 0;
    if (!to && out && out_len > 5 && !strcmp(out + out_len - 5, ".gguf")) {
        snprintf(to_buf, sizeof to_buf, "gguf-%s", type ? type : "f32");
        to = to_buf;
    } else if (type && to) {
        cli_error(a.cmd, "give --type with an OUT.gguf name, or --to FORMAT, not both");
        return EXIT_USAGE;
    }
    if (!in || !out || !to) {
        cli_error(a.cmd, "need IN, OUT and --to FORMAT (or an OUT.gguf name) (see slm convert --help)");
        return EXIT_USAGE;
    }
    if (!parse_format(to, &f)) {
        cli_error(a.cmd, "unknown format '%s' (llama2c-v0, llama2c-v1, llama2c-q80, gguf-f32, gguf-f16, gguf-bf16, gguf-q8_0, gguf-q4_0, gguf-q4_1, gguf-q5_0, gguf-q5_1, gguf-iq4_nl, gguf-q3_k, gguf-q4_k, gguf-q5_k, gguf-q6_k)", to);
        return EXIT_USAGE;
    }
    slm_model *m = cli_load_model(a.cmd, in, 1);
    if (!m) return EXIT_FAIL;
    slm_error err;
    int rc = 0;
    /* GGUF holds the tokenizer: -z, the input's own (GGUF), or one found beside the input */
    slm_tokenizer *tok = NULL;
    if (f >= SLM_SAVE_GGUF_F32) {
        if (tok_path) {
            if (!(tok = cli_load_tokenizer(a.cmd, tok_path, in, slm_model_config(m)->vocab_size))) {
                slm_model_free(m);
                return EXIT_FAIL;
            }
        } else if (!(tok = cli_load_tokenizer(NULL, NULL, in, slm_model_config(m)->vocab_size)))
            fprintf(stderr, "slm convert: no tokenizer found (-z TOKENIZER adds one): %s gets none\n", out);
    }
    if (expand) f = (slm_save_format)(f | SLM_SAVE_EXPAND_SHARED);
    if (slm_model_save_with_tokenizer(m, tok, out, f, gs, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        rc = EXIT_FAIL;
    } else {
        slm_model *check = NULL;
        if (slm_model_load_file_mapped(out, &check, &err) != SLM_OK) {
            cli_error(a.cmd, "wrote %s but cannot read it back: %s", out, err.msg);
            rc = EXIT_FAIL;
        } else
            fprintf(stderr, "slm convert: wrote %s (%s)\n", out, slm_model_format(check));
        slm_model_free(check);
    }
    slm_tokenizer_free(tok);
    slm_model_free(m);
    return rc;
}

static const char HELP_INIT[] =
    "usage: slm init -o FILE --dim D --n-layers L --n-heads H --vocab V [options]\n"
    "\n"
    "Creates a model with random weights (matrices ~ N(0, std), norms 1).\n"
    "  --hidden-dim N    SwiGLU width (default: llama2.c's rule, 2/3 * 4 * dim rounded up to 32)\n"
    "  --n-kv-heads N    key/value heads (default: n_heads)\n"
    "  --seq-len N       context length (default 256)\n"
    "  --untied          a separate classifier (default: tied to the embedding)\n"
    "  --std S           init standard deviation (default 0.02)\n"
    "  --seed S          (default 1)\n"
    "  --to FORMAT       llama2c-v0 | llama2c-v1 (default) | llama2c-q80\n"
    "  --group-size N    for llama2c-q80 (default: largest <= 64 dividing dim and hidden_dim)\n";

int cmd_init(int argc, char **argv) {
    cli_args a = {"init", argc, 0, argv, 0};
    slm_config c;
    memset(&c, 0, sizeof c);
    c.seq_len = 256, c.tied_classifier = 1, c.block_repeat = 1, c.norm_eps = 1e-5f, c.rope_theta = 10000.0f;
    const char *out = NULL, *to = "llama2c-v1", *arg;
    double std = 0.02;
    uint64_t seed = 1;
    int gs = 0;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP_INIT, stdout); return 0; }
        else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) out = cli_value(&a, arg);
        else if (!strcmp(arg, "--dim")) c.dim = cli_int(&a, arg, 2, 1 << 16);
        else if (!strcmp(arg, "--hidden-dim")) c.hidden_dim = cli_int(&a, arg, 1, 1 << 18);
        else if (!strcmp(arg, "--n-layers")) c.n_layers = cli_int(&a, arg, 1, 4096);
        else if (!strcmp(arg, "--n-heads")) c.n_heads = cli_int(&a, arg, 1, 1 << 16);
        else if (!strcmp(arg, "--n-kv-heads")) c.n_kv_heads = cli_int(&a, arg, 1, 1 << 16);
        else if (!strcmp(arg, "--vocab")) c.vocab_size = cli_int(&a, arg, 3, 1 << 22);
        else if (!strcmp(arg, "--seq-len")) c.seq_len = cli_int(&a, arg, 1, 1 << 22);
        else if (!strcmp(arg, "--untied")) c.tied_classifier = 0;
        else if (!strcmp(arg, "--std")) std = cli_double(&a, arg, 0, 1);
        else if (!strcmp(arg, "--seed")) seed = cli_u64(&a, arg);
        else if (!strcmp(arg, "--to")) to = cli_value(&a, arg);
        else if (!strcmp(arg, "--group-size")) gs = cli_int(&a, arg, 1, 1 << 16);
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    slm_save_format f;
    if (!out || !c.dim || !c.n_layers || !c.n_heads || !c.vocab_size) {
        cli_error(a.cmd, "need -o FILE, --dim, --n-layers, --n-heads and --vocab (see slm init --help)");
        return EXIT_USAGE;
    }
    if (!parse_format(to, &f)) {
        cli_error(a.cmd, "unknown format '%s' (llama2c-v0, llama2c-v1, llama2c-q80)", to);
        return EXIT_USAGE;
    }
    if (!c.hidden_dim) c.hidden_dim = slm_default_hidden_dim(c.dim);
    if (!c.n_kv_heads) c.n_kv_heads = c.n_heads;
    slm_model *m;
    slm_error err;
    if (slm_model_init_random(&c, seed, (float)std, &m, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        return EXIT_FAIL;
    }
    int rc = 0;
    if (slm_model_save(m, out, f, gs, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        rc = EXIT_FAIL;
    } else
        fprintf(stderr, "slm init: wrote %s (%.2fM parameters)\n", out, (double)slm_model_n_params(m) / 1e6);
    slm_model_free(m);
    return rc;
}
