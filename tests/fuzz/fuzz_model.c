/* fuzz_model.c — libFuzzer target: any bytes as a model file must load cleanly or fail with a
 * message; a model that loads must run a token.   make fuzz  (clang, libFuzzer + ASan + UBSan) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* an aligned copy, as a mapped file or flash block would be */
    float *buf = malloc(size + 4);
    if (!buf) return 0;
    memcpy(buf, data, size);
    slm_model *m = NULL;
    slm_error err;
    if (slm_model_load_memory(buf, size, "fuzz", &m, &err) == SLM_OK) {
        const slm_config *c = slm_model_config(m);
        /* keep each run small: fuzzed headers may describe large but valid models */
        if ((int64_t)c->dim * c->hidden_dim < (1 << 20) && c->vocab_size < (1 << 16)) {
            slm_ctx_params p = slm_ctx_default_params();
            p.n_ctx = c->seq_len < 4 ? c->seq_len : 4;
            slm_ctx *ctx;
            if (slm_ctx_create(m, &p, &ctx, &err) == SLM_OK) {
                int32_t tok[2] = {0, c->vocab_size - 1};
                slm_ctx_eval(ctx, tok, p.n_ctx < 2 ? 1 : 2, 0, NULL, &err);
                slm_ctx_free(ctx);
            }
        }
        slm_model_free(m);
    }
    free(buf);
    return 0;
}
