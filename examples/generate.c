/* examples/generate.c — generate text with nothing but slm.h.
 *
 *   cc generate.c $(pkg-config --cflags --libs slm) -o generate
 *   ./generate stories260K.bin tok512.bin "Once upon a time"
 */
#include <stdio.h>

#include "slm.h"

static int print_piece(void *user, int32_t token, const char *text, size_t len) {
    (void)user, (void)token;
    fwrite(text, 1, len, stdout);
    return 0; /* nonzero would stop generation */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TOKENIZER [PROMPT]\n", argv[0]);
        return 2;
    }
    slm_error err;
    slm_model *model = NULL;
    slm_tokenizer *tok = NULL;
    slm_ctx *ctx = NULL;
    slm_sampler *sampler = NULL;
    int rc = 1;
    if (slm_model_load_file(argv[1], &model, &err) != SLM_OK) goto fail;
    int vocab = slm_model_config(model)->vocab_size;
    if (slm_tokenizer_load_file(argv[2], vocab, &tok, &err) != SLM_OK) goto fail;
    slm_ctx_params cp = slm_ctx_default_params();
    if (slm_ctx_create(model, &cp, &ctx, &err) != SLM_OK) goto fail;
    slm_sampler_params sp = slm_sampler_default_params();
    sp.temperature = 0.0f; /* greedy: the same text every time */
    if (slm_sampler_create(&sp, vocab, &sampler, &err) != SLM_OK) goto fail;
    if (slm_generate(ctx, tok, sampler, argc > 3 ? argv[3] : "", 100, print_piece, NULL, NULL, &err) != SLM_OK)
        goto fail;
    putchar('\n');
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "error: %s\n", err.msg);
done:
    slm_sampler_free(sampler);
    slm_ctx_free(ctx);
    slm_tokenizer_free(tok);
    slm_model_free(model);
    return rc;
}
