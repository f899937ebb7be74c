/* load.c — slm_model_load_*: detect the file format and hand the bytes to its loader. */
#include "formats.h"
#include "gguf.h"
#include "../kernels/kernels.h"

slm_status slm_model_load_memory(const void *data, size_t size, const char *name, slm_model **out,
                                 slm_error *err) {
    if (!data || !out) return slm_fail(err, SLM_ERR_ARG, "slm_model_load_memory: NULL argument");
    if (!name) name = "<memory>";
    *out = NULL;
    if (slm_gguf_is(data, size)) return slm_gguf_load_model(data, size, name, out, err);
    return slm_llama2c_load(data, size, name, out, err);
}

static slm_status load_file(const char *fn, const char *path, int resident, slm_model **out, slm_error *err) {
    if (!path || !out) return slm_fail(err, SLM_ERR_ARG, "%s: NULL argument", fn);
    *out = NULL;
    slm_status st;
    if (slm_hf_is_path(path)) {
        if ((st = slm_hf_load(path, out, err)) != SLM_OK) return st;
    } else {
        const void *data;
        size_t size;
        if ((st = slm_map_file(path, &data, &size, err)) != SLM_OK) return st;
        if ((st = slm_model_load_memory(data, size, path, out, err)) != SLM_OK) {
            slm_unmap(data, size);
            return st;
        }
        (*out)->map = data;
        (*out)->map_size = size;
    }
    /* the matrices in huge pages, in the layout the fastest integer decode kernels read; without
     * the memory for it (allocated before anything changes) the model reads the mapped file: same
     * results, slower */
    slm_error ignored;
    if (resident) (void)slm_model_make_resident(*out, slm_kernels_select(1)->pack_bq8, &ignored);
    return SLM_OK;
}

slm_status slm_model_load_file(const char *path, slm_model **out, slm_error *err) {
    return load_file("slm_model_load_file", path, 1, out, err);
}

slm_status slm_model_load_file_mapped(const char *path, slm_model **out, slm_error *err) {
    return load_file("slm_model_load_file_mapped", path, 0, out, err);
}

slm_status slm_model_save(const slm_model *m, const char *path, slm_save_format format, int group_size,
                          slm_error *err) {
    return slm_model_save_with_tokenizer(m, NULL, path, format, group_size, err);
}

slm_status slm_model_save_with_tokenizer(const slm_model *m, const slm_tokenizer *tok, const char *path,
                                         slm_save_format format, int group_size, slm_error *err) {
    if (!m || !path) return slm_fail(err, SLM_ERR_ARG, "slm_model_save: NULL argument");
    if (tok && slm_tokenizer_vocab_size(tok) != m->cfg.vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: tokenizer has %d tokens but the model's vocab_size is %d", path,
                        slm_tokenizer_vocab_size(tok), m->cfg.vocab_size);
    int expand = (format & SLM_SAVE_EXPAND_SHARED) != 0;
    format = (slm_save_format)(format & ~SLM_SAVE_EXPAND_SHARED);
    if (expand && format < SLM_SAVE_GGUF_F32)
        return slm_fail(err, SLM_ERR_ARG, "%s: --expand-shared applies to GGUF output", path);
    switch (format) {
    case SLM_SAVE_LLAMA2C_V0: return slm_llama2c_write(m, path, SLM_LLAMA2C_V0, 0, err);
    case SLM_SAVE_LLAMA2C_V1: return slm_llama2c_write(m, path, SLM_LLAMA2C_V1, 0, err);
    case SLM_SAVE_GGUF_F32: return slm_gguf_write(m, tok, path, SLM_DTYPE_F32, -1, expand, err);
    case SLM_SAVE_GGUF_F16: return slm_gguf_write(m, tok, path, SLM_DTYPE_F16, -1, expand, err);
    case SLM_SAVE_GGUF_BF16: return slm_gguf_write(m, tok, path, SLM_DTYPE_BF16, -1, expand, err);
    case SLM_SAVE_GGUF_Q8_0: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q8_0, -1, expand, err);
    case SLM_SAVE_GGUF_Q4_0: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q4_0, -1, expand, err);
    case SLM_SAVE_GGUF_Q4_1: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q4_1, -1, expand, err);
    case SLM_SAVE_GGUF_Q4_K: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q4_K, -1, expand, err);
    case SLM_SAVE_GGUF_Q6_K: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q6_K, -1, expand, err);
    case SLM_SAVE_GGUF_Q5_0: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q5_0, -1, expand, err);
    case SLM_SAVE_GGUF_Q5_1: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q5_1, -1, expand, err);
    case SLM_SAVE_GGUF_Q5_K: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q5_K, -1, expand, err);
    case SLM_SAVE_GGUF_Q3_K: return slm_gguf_write(m, tok, path, SLM_DTYPE_Q3_K, -1, expand, err);
    case SLM_SAVE_GGUF_IQ4_NL: return slm_gguf_write(m, tok, path, SLM_DTYPE_IQ4_NL, -1, expand, err);
    case SLM_SAVE_EXPAND_SHARED: break;
    case SLM_SAVE_LLAMA2C_Q80:
        if (group_size == 0) group_size = slm_llama2c_pick_group_size(&m->cfg, 64);
        return slm_llama2c_write(m, path, SLM_LLAMA2C_V2, group_size, err);
    }
    return slm_fail(err, SLM_ERR_ARG, "%s: unknown save format %d", path, (int)format);
}

slm_status slm_model_quantize(const slm_model *m, const slm_tokenizer *tok, const char *path, const slm_quantize_params *p,
                              slm_error *err) {
    if (!m || !path || !p) return slm_fail(err, SLM_ERR_ARG, "slm_model_quantize: NULL argument");
    if (tok && slm_tokenizer_vocab_size(tok) != m->cfg.vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: tokenizer has %d tokens but the model's vocab_size is %d", path,
                        slm_tokenizer_vocab_size(tok), m->cfg.vocab_size);
    return slm_gguf_write(m, tok, path, p->type, p->embed_type, p->expand_shared, err);
}

slm_dtype slm_quantize_tensor_dtype(const slm_model *m, int index, const slm_quantize_params *p) {
    if (index < 0 || index >= m->n_tensors) return SLM_DTYPE_F32;
    return slm_gguf_tensor_type(m, &m->tensors[index], p->type, p->embed_type);
}
