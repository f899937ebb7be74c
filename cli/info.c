/* info.c — slm info: what a model file holds and what running it costs. */
#include <string.h>

#include "cli.h"

static const char HELP[] =
    "usage: slm info MODEL [-c CTX]\n"
    "\n"
    "Prints the format, every config field, the parameter count, bytes per dtype, and the memory\n"
    "a context needs (weights / KV cache / activations) at CTX positions (default: seq_len).\n";

int cmd_info(int argc, char **argv) {
    cli_args a = {"info", argc, 0, argv, 0};
    const char *path = NULL, *arg;
    int n_ctx = 0;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); return 0; }
        else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) n_ctx = cli_int(&a, arg, 1, 1 << 22);
        else if (!strcmp(arg, "-m") || !strcmp(arg, "--model")) path = cli_value(&a, arg);
        else if (arg[0] != '-' && !path) path = arg;
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    slm_model *m = cli_load_model(a.cmd, path, 1);
    if (!m) return EXIT_FAIL;
    const slm_config *c = slm_model_config(m);
    printf("file:          %s\n", path);
    printf("format:        %s\n", slm_model_format(m));
    printf("dim:           %d\n", c->dim);
    printf("hidden_dim:    %d\n", c->hidden_dim);
    printf("n_layers:      %d\n", c->n_layers);
    printf("block_repeat:  %d%s\n", c->block_repeat,
           c->block_repeat > 1 ? " (each stored block runs that many times in a row; one copy of its weights)" : "");
    printf("n_heads:       %d\n", c->n_heads);
    printf("n_kv_heads:    %d\n", c->n_kv_heads);
    printf("head_dim:      %d\n", c->head_dim);
    printf("vocab_size:    %d\n", c->vocab_size);
    printf("seq_len:       %d\n", c->seq_len);
    printf("classifier:    %s\n", c->tied_classifier ? "tied to the token embedding" : "separate");
    printf("norm_eps:      %g\n", c->norm_eps);
    printf("rope_theta:    %g\n", c->rope_theta);
    int64_t n = slm_model_n_params(m);
    printf("parameters:    %lld (%.2fM)\n", (long long)n, (double)n / 1e6);
    static const char *names[] = {"f32", "q8 (llama2.c: int8 + f32 group scales)", "f16", "bf16", "q8_0",
                                  "q4_0", "q4_1", "q4_k", "q6_k", "q5_0", "q5_1", "q5_k", "q3_k", "iq4_nl"}; /* by slm_dtype */
    enum { N_DTYPES = sizeof names / sizeof *names };
    size_t bytes[N_DTYPES] = {0}, count[N_DTYPES] = {0}, weights = 0;
    for (int i = 0; i < slm_model_n_tensors(m); i++) {
        slm_tensor_info ti;
        slm_model_tensor_info(m, i, &ti);
        bytes[ti.dtype] += ti.nbytes;
        count[ti.dtype]++;
        weights += ti.nbytes;
    }
    for (int d = 0; d < N_DTYPES; d++)
        if (count[d]) printf("dtype %-8s %zu tensors, %zu bytes (%.2f MiB)\n", names[d], count[d], bytes[d], bytes[d] / 1048576.0);
    slm_ctx_params cp = slm_ctx_default_params();
    cp.n_ctx = n_ctx;
    slm_mem_plan plan;
    slm_error err;
    if (slm_ctx_plan(m, &cp, &plan, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        slm_model_free(m);
        return EXIT_FAIL;
    }
    int ctx_len = n_ctx ? n_ctx : c->seq_len;
    printf("memory at %d positions:\n", ctx_len);
    printf("  weights      %12zu bytes (%.2f MiB)\n", weights, weights / 1048576.0);
    if (c->block_repeat > 1) {
        size_t blocks = 0;
        for (int i = 0; i < slm_model_n_tensors(m); i++) {
            slm_tensor_info ti;
            slm_model_tensor_info(m, i, &ti);
            if (!strncmp(ti.name, "blk.", 4)) blocks += ti.nbytes;
        }
        size_t saved = blocks * (size_t)(c->block_repeat - 1);
        printf("  sharing      %12zu bytes saved (%d applied layers from %d stored blocks; expanded: %.2f MiB)\n", saved,
               c->n_layers * c->block_repeat, c->n_layers, (weights + saved) / 1048576.0);
    }
    printf("  kv cache     %12zu bytes (%.2f MiB)\n", plan.kv_cache, plan.kv_cache / 1048576.0);
    printf("  activations  %12zu bytes (%.2f MiB)\n", plan.activations, plan.activations / 1048576.0);
    printf("  context      %12zu bytes (one block: kv + activations + %zu overhead)\n", plan.total, plan.overhead);
    printf("  total        %12zu bytes (%.2f MiB)\n", weights + plan.total, (weights + plan.total) / 1048576.0);
    slm_model_free(m);
    return 0;
}
