/* fuzz_safetensors.c — libFuzzer target: any bytes as a Hugging Face folder's model.safetensors
 * (beside a fixed config.json) must load cleanly or fail with a message. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/slm-fuzz-hf-%ld", (long)getpid());
        mkdir(dir, 0700);
        char path[128];
        snprintf(path, sizeof path, "%s/config.json", dir);
        FILE *f = fopen(path, "wb");
        if (!f) return 0;
        fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 16, \"intermediate_size\": 32, "
              "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"vocab_size\": 16, "
              "\"max_position_embeddings\": 8}", f);
        fclose(f);
    }
    char path[128];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    slm_model *m = NULL;
    slm_error err;
    if (slm_model_load_file(dir, &m, &err) == SLM_OK) {
        slm_ctx_params p = slm_ctx_default_params();
        p.n_ctx = 2;
        slm_ctx *ctx;
        if (slm_ctx_create(m, &p, &ctx, &err) == SLM_OK) {
            int32_t tok[2] = {0, 15};
            slm_ctx_eval(ctx, tok, 2, 0, NULL, &err);
            slm_ctx_free(ctx);
        }
        slm_model_free(m);
    }
    return 0;
}
