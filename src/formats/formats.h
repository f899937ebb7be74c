/* formats.h — file formats that load into and write from the one in-memory model. */
#ifndef SLM_FORMATS_H
#define SLM_FORMATS_H

#include "../model/model.h"

/* Fills an allocated-here model from a llama2.c checkpoint (v0, v1 or v2) occupying
 * data[0..size); tensors point into `data`. `source` names the file in messages. */
slm_status slm_llama2c_load(const void *data, size_t size, const char *source, slm_model **out,
                            slm_error *err);

typedef enum slm_llama2c_version { SLM_LLAMA2C_V0 = 0, SLM_LLAMA2C_V1 = 1, SLM_LLAMA2C_V2 = 2 } slm_llama2c_version;

/* Hugging Face folders (config.json + model.safetensors or shards). */
int slm_hf_is_path(const char *path);
slm_status slm_hf_load(const char *path, slm_model **out, slm_error *err);

/* Writes `m` as a llama2.c checkpoint, atomically. For v2, group_size must divide dim and
 * hidden_dim (see slm_llama2c_pick_group_size). */
slm_status slm_llama2c_write(const slm_model *m, const char *path, slm_llama2c_version version,
                             int group_size, slm_error *err);

/* The largest group size <= wanted that divides every row length of the model (>= 1). */
int slm_llama2c_pick_group_size(const slm_config *cfg, int wanted);

/* Writes `m` as GGUF v3 (arch llama or qwen2) with matrices as F32, F16, BF16 or a ggml block type
 * (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q3_K, Q4_K, Q5_K, Q6_K), atomically; the tied token
 * embedding as embed_dtype (-1: the default rule of slm_gguf_tensor_type). */
slm_status slm_gguf_write(const slm_model *m, const slm_tokenizer *tok, const char *path, slm_dtype matrix_dtype,
                          int embed_dtype, int expand_shared, slm_error *err);
/* The type tensor t of m is written as: norms F32; matrices matrix_dtype, except the token
 * embedding of a tied model (embed_dtype, or with -1 at least 8 bits: Q8_0 when matrix_dtype has
 * fewer) and rows that are not whole blocks (Q3_K -> IQ4_NL, Q4_K -> Q4_1, Q5_K -> Q5_1,
 * Q6_K -> Q8_0, then F16). */
slm_dtype slm_gguf_tensor_type(const slm_model *m, const slm_tensor *t, slm_dtype matrix_dtype, int embed_dtype);

#endif
