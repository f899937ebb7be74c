/* gguf.h — a bounded GGUF (v2, v3) reader: metadata and tensor infos point into the file. */
#ifndef SLM_GGUF_H
#define SLM_GGUF_H

#include "../core/core.h"

enum {
    GGUF_TYPE_UINT8 = 0, GGUF_TYPE_INT8 = 1, GGUF_TYPE_UINT16 = 2, GGUF_TYPE_INT16 = 3, GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5, GGUF_TYPE_FLOAT32 = 6, GGUF_TYPE_BOOL = 7, GGUF_TYPE_STRING = 8, GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10, GGUF_TYPE_INT64 = 11, GGUF_TYPE_FLOAT64 = 12, GGUF_TYPE_COUNT = 13
};

/* ggml tensor types slm knows the layout of */
enum { GGML_TYPE_F32 = 0, GGML_TYPE_F16 = 1, GGML_TYPE_Q4_0 = 2, GGML_TYPE_Q4_1 = 3, GGML_TYPE_Q5_0 = 6,
       GGML_TYPE_Q5_1 = 7, GGML_TYPE_Q8_0 = 8, GGML_TYPE_Q3_K = 11, GGML_TYPE_Q4_K = 12, GGML_TYPE_Q5_K = 13,
       GGML_TYPE_Q6_K = 14, GGML_TYPE_IQ4_NL = 20, GGML_TYPE_BF16 = 30 };

typedef struct gguf_kv {
    const char *key;      /* not NUL-terminated */
    size_t key_len;
    uint32_t type;
    const uint8_t *value; /* scalar value, string (u64 length + bytes), or first array element */
    uint32_t elem_type;   /* arrays */
    uint64_t count;       /* arrays */
} gguf_kv;

typedef struct gguf_tensor {
    const char *name;
    size_t name_len;
    uint32_t n_dims;
    uint64_t ne[4];       /* ne[0] = the fastest-varying dimension (row length) */
    uint32_t type;
    uint64_t offset;      /* from the start of the data section */
    size_t nbytes;
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *base;
    size_t size;
    const char *src;
    uint32_t version;
    uint32_t alignment;
    size_t data_offset;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;          /* (n_kv) */
    gguf_tensor *tensors; /* (n_tensors) */
} gguf_file;

/* Is this the start of a GGUF file? */
int slm_gguf_is(const void *data, size_t size);
/* Parses and validates the whole header; `src` names the file in messages. */
slm_status slm_gguf_open(const void *data, size_t size, const char *src, gguf_file *g, slm_error *err);
void slm_gguf_close(gguf_file *g);

const gguf_kv *slm_gguf_find(const gguf_file *g, const char *key);
/* Integer value of a key of any integer type, if it fits in [lo, hi]; else an error naming it. */
slm_status slm_gguf_get_int(const gguf_file *g, const char *key, int64_t lo, int64_t hi, int64_t *out, slm_error *err);
slm_status slm_gguf_get_f32(const gguf_file *g, const char *key, float *out, slm_error *err);
/* A string value (not NUL-terminated). */
slm_status slm_gguf_get_str(const gguf_file *g, const char *key, const char **s, size_t *len, slm_error *err);
/* Iterating a string array: *p starts at kv->value; each call returns one string. */
const char *slm_gguf_next_str(const uint8_t **p, size_t *len);

/* Fills a model from a GGUF file (arch llama). */
struct slm_model;
slm_status slm_gguf_load_model(const void *data, size_t size, const char *src, struct slm_model **out, slm_error *err);

#endif
