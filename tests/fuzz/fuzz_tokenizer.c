/* fuzz_tokenizer.c — libFuzzer target: any bytes as a tokenizer.bin must load or fail cleanly; a
 * tokenizer that loads must encode and decode (its own bytes as text) without error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    slm_tokenizer *t = NULL;
    slm_error err;
    if (slm_tokenizer_load_memory(data, size, "fuzz", 0, &t, &err) == SLM_OK) {
        int cap = (int)(3 * size + 3), n;
        int32_t *ids = malloc(sizeof(int32_t) * (size_t)cap);
        if (ids && slm_tokenizer_encode(t, (const char *)data, size, 1, 1, ids, cap, &n) == SLM_OK) {
            size_t len;
            slm_tokenizer_decode(t, ids, n, NULL, 0, &len);
            char *out = malloc(len + 1);
            if (out) slm_tokenizer_decode(t, ids, n, out, len + 1, &len);
            free(out);
        }
        free(ids);
        slm_tokenizer_free(t);
    }
    return 0;
}
