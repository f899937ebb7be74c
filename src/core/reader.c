/* reader.c — bounded little-endian reads over a byte range. */
#include <string.h>

#include "core.h"

const void *slm_reader_take(slm_reader *r, size_t n) {
    if (r->pos > r->size || n > r->size - r->pos) return NULL;
    const void *p = r->base + r->pos;
    r->pos += n;
    return p;
}

int slm_reader_u32(slm_reader *r, uint32_t *v) {
    const uint8_t *p = slm_reader_take(r, 4);
    if (!p) return 0;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 1;
}

int slm_reader_i32(slm_reader *r, int32_t *v) {
    uint32_t u;
    if (!slm_reader_u32(r, &u)) return 0;
    memcpy(v, &u, 4);
    return 1;
}

int slm_reader_f32(slm_reader *r, float *v) {
    uint32_t u;
    if (!slm_reader_u32(r, &u)) return 0;
    memcpy(v, &u, 4);
    return 1;
}
