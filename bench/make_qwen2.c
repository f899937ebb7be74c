#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "slm.h"
#include "../src/model/model.h"
/* bench/make_qwen2.c — writes a random Qwen2-style GGUF (q/k/v biases, half-split RoPE, GQA, theta 1e6)
 * with a given 512-token tokenizer, for the llama.cpp cross-check.  make_qwen2 TOK512 OUT.gguf */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    slm_config c = {64, 192, 2, 1, 4, 2, 16, 512, 128, 1, 1e-6f, 1000000.0f, 1};
    slm_model *b, *q; slm_error e; slm_tokenizer *t;
    slm_model_init_random(&c, 5, 0.2f, &b, &e);
    slm_model_alloc(&c, "q", &q, &e);
    for (int i = 0; i < b->n_tensors; i++) { const slm_tensor *x = &b->tensors[i];
        slm_model_add(q, x->name, x->dtype, x->n_dims == 2 ? x->shape[0] : 0, x->n_dims == 2 ? x->shape[1] : x->shape[0], x->data, NULL, 0); }
    float *bias = malloc(sizeof(float) * 2 * 128);
    for (int i = 0; i < 256; i++) bias[i] = 0.5f * sinf(i * 1.3f);
    for (int l = 0; l < 2; l++) { char n[48];
        snprintf(n, 48, "blk.%d.attn_q.bias", l); slm_model_add(q, n, SLM_DTYPE_F32, 0, 64, bias + l*128, NULL, 0);
        snprintf(n, 48, "blk.%d.attn_k.bias", l); slm_model_add(q, n, SLM_DTYPE_F32, 0, 32, bias + l*128 + 64, NULL, 0);
        snprintf(n, 48, "blk.%d.attn_v.bias", l); slm_model_add(q, n, SLM_DTYPE_F32, 0, 32, bias + l*128 + 96, NULL, 0); }
    if (slm_model_bind(q, &e)) { printf("%s\n", e.msg); return 1; }
    slm_tokenizer_load_file(argv[1], 512, &t, &e);
    if (slm_model_save_with_tokenizer(q, t, argv[2], SLM_SAVE_GGUF_F32, 0, &e)) { printf("%s\n", e.msg); return 1; }
    return 0;
}
