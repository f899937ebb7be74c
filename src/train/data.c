/* data.c — token files for training. `slm data prepare` encodes documents (TinyStories'
 * <|endoftext|>-separated stories, JSONL lines with a "text" field, or a whole plain-text file)
 * and writes, atomically:
 *
 *   header (64 bytes, little-endian): "SLMDATA1", u32 version 1, u32 token_bytes (2 or 4),
 *     u64 train_tokens, u64 val_tokens, u64 train_docs, u64 val_docs, u64 tokenizer_checksum,
 *     u32 vocab_size, u32 reserved
 *   train tokens, validation tokens (token_bytes each)
 *   train document starts, validation document starts (u64 token offsets within their split)
 *
 * Every document starts with BOS. A document goes to validation when the 64-bit FNV-1a hash of its
 * bytes falls below val_fraction of the hash range: the split is deterministic and does not
 * depend on the order of the inputs. */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "train.h"

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>
#endif

static uint64_t fnv64(const void *p, size_t n, uint64_t h) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

uint64_t slm_tokenizer_checksum(const slm_tokenizer *t) {
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < t->vocab_size; i++) {
        h = fnv64(t->pieces[i], (size_t)t->lengths[i] + 1, h);
        h = fnv64(&t->scores[i], sizeof(float), h);
        h = fnv64(&t->types[i], 1, h);
    }
    return h;
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int width;
    uint64_t n;
    uint64_t *docs;
    size_t n_docs, cap_docs;
} split;

static int push_doc(split *s, const int32_t *ids, int n) {
    if (s->n_docs == s->cap_docs) {
        size_t cap = s->cap_docs ? s->cap_docs * 2 : 1024;
        uint64_t *g = realloc(s->docs, sizeof *g * cap);
        if (!g) return 0;
        s->docs = g, s->cap_docs = cap;
    }
    s->docs[s->n_docs++] = s->n;
    size_t need = s->len + (size_t)n * (size_t)s->width;
    if (need > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < need) cap *= 2;
        uint8_t *g = realloc(s->data, cap);
        if (!g) return 0;
        s->data = g, s->cap = cap;
    }
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        memcpy(s->data + s->len, &v, (size_t)s->width); /* little-endian hosts */
        s->len += (size_t)s->width;
    }
    s->n += (uint64_t)n;
    return 1;
}

typedef struct {
    const slm_tokenizer *tok;
    split train, val;
    uint64_t threshold; /* hash < threshold: validation */
    int32_t *ids;
    int cap;
} prep;

static slm_status add_document(prep *p, const char *text, size_t len, slm_error *err) {
    while (len && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')) text++, len--;
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == '\t')) len--;
    if (!len) return SLM_OK;
    if (len > (size_t)1 << 26) return slm_fail(err, SLM_ERR_RANGE, "a document of %zu bytes is too long", len);
    int need = (int)(3 * len + 3), n;
    if (need > p->cap) {
        int32_t *g = realloc(p->ids, sizeof *g * (size_t)need);
        if (!g) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        p->ids = g, p->cap = need;
    }
    slm_status st = slm_tokenizer_encode(p->tok, text, len, 0, 0, p->ids + 1, p->cap - 1, &n);
    if (st != SLM_OK) return slm_fail(err, st, "cannot encode a document");
    p->ids[0] = p->tok->bos;
    split *s = fnv64(text, len, 14695981039346656037ULL) < p->threshold ? &p->val : &p->train;
    if (!push_doc(s, p->ids, n + 1)) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

static slm_status add_file(prep *p, const char *path, slm_error *err) {
    const void *data;
    size_t size;
    slm_status st = slm_map_file(path, &data, &size, err);
    if (st != SLM_OK) return st;
    const char *s = data;
    size_t n = strlen(path);
    if (n > 6 && !strcmp(path + n - 6, ".jsonl")) {
#ifndef SLM_NO_HF
        size_t line_no = 0;
        for (size_t i = 0; i < size && st == SLM_OK; line_no++) {
            size_t e = i;
            while (e < size && s[e] != '\n') e++;
            if (e > i) {
                cJSON *j = cJSON_ParseWithLength(s + i, e - i);
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
                if (!cJSON_IsString(t)) st = slm_fail(err, SLM_ERR_FORMAT, "%s: line %zu has no \"text\" string", path, line_no + 1);
                else st = add_document(p, t->valuestring, strlen(t->valuestring), err);
                cJSON_Delete(j);
            }
            i = e + 1;
        }
#else
        st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: JSONL needs cJSON (built with NO_HF=1)", path);
#endif
    } else { /* documents separated by <|endoftext|>, or the whole file */
        static const char SEP[] = "<|endoftext|>";
        size_t from = 0;
        for (size_t i = 0; i + sizeof SEP - 1 <= size && st == SLM_OK; i++)
            if (s[i] == '<' && !memcmp(s + i, SEP, sizeof SEP - 1)) {
                st = add_document(p, s + from, i - from, err);
                from = i + sizeof SEP - 1;
                i = from - 1;
            }
        if (st == SLM_OK) st = add_document(p, s + from, size - from, err);
    }
    slm_unmap(data, size);
    return st;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

slm_status slm_data_prepare(const slm_tokenizer *tok, const char *const *inputs, int n_inputs, double val_fraction,
                            const char *out_path, slm_data_info *info, slm_error *err) {
    if (!(val_fraction >= 0.0 && val_fraction < 1.0)) return slm_fail(err, SLM_ERR_ARG, "validation fraction %g out of [0, 1)", val_fraction);
    int width = tok->vocab_size <= 65536 ? 2 : 4;
    prep p = {tok, {0}, {0}, (uint64_t)(val_fraction * 18446744073709551615.0), NULL, 0};
    p.train.width = p.val.width = width;
    slm_status st = SLM_OK;
    for (int i = 0; i < n_inputs && st == SLM_OK; i++) st = add_file(&p, inputs[i], err);
    if (st == SLM_OK) {
        uint8_t hdr[64] = {0};
        memcpy(hdr, "SLMDATA1", 8);
        put32(hdr + 8, 1), put32(hdr + 12, (uint32_t)width);
        put64(hdr + 16, p.train.n), put64(hdr + 24, p.val.n), put64(hdr + 32, p.train.n_docs), put64(hdr + 40, p.val.n_docs);
        put64(hdr + 48, slm_tokenizer_checksum(tok)), put32(hdr + 56, (uint32_t)tok->vocab_size);
        slm_file_writer *w;
        if ((st = slm_writer_open(out_path, &w, err)) == SLM_OK) {
            if (st == SLM_OK) st = slm_writer_write(w, hdr, sizeof hdr, err);
            if (st == SLM_OK) st = slm_writer_write(w, p.train.data, p.train.len, err);
            if (st == SLM_OK) st = slm_writer_write(w, p.val.data, p.val.len, err);
            if (st == SLM_OK) st = slm_writer_write(w, p.train.docs, p.train.n_docs * 8, err);
            if (st == SLM_OK) st = slm_writer_write(w, p.val.docs, p.val.n_docs * 8, err);
            if (st == SLM_OK) st = slm_writer_commit(w, err);
            else slm_writer_abort(w);
        }
        if (st == SLM_OK && info) {
            memset(info, 0, sizeof *info);
            info->token_bytes = width, info->vocab_size = tok->vocab_size;
            info->train_tokens = p.train.n, info->val_tokens = p.val.n;
            info->train_docs = p.train.n_docs, info->val_docs = p.val.n_docs;
            info->checksum = slm_tokenizer_checksum(tok);
        }
    }
    free(p.train.data), free(p.val.data), free(p.train.docs), free(p.val.docs), free(p.ids);
    return st;
}

slm_status slm_data_check(const char *path, const slm_tokenizer *tok, slm_data_info *info, slm_error *err) {
    const void *data;
    size_t size;
    slm_status st = slm_map_file(path, &data, &size, err);
    if (st != SLM_OK) return st;
    const uint8_t *h = data;
    uint64_t v[5];
    uint32_t ver, width, vocab;
    if (size < 64 || memcmp(h, "SLMDATA1", 8)) {
        slm_unmap(data, size);
        return slm_fail(err, SLM_ERR_FORMAT, "%s: not an slm token file (no SLMDATA1 header)", path);
    }
    memcpy(&ver, h + 8, 4), memcpy(&width, h + 12, 4), memcpy(v, h + 16, 40), memcpy(&vocab, h + 56, 4);
    if (ver != 1 || (width != 2 && width != 4)) st = slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: version %u / token width %u", path, ver, width);
    /* train + val tokens and both document tables must fill the file exactly (overflow-checked) */
    size_t tokens, docs, total;
    if (st == SLM_OK && (v[0] > SIZE_MAX / 8 || v[1] > SIZE_MAX / 8 || v[2] > SIZE_MAX / 16 || v[3] > SIZE_MAX / 16 ||
                         !slm_mul_size((size_t)(v[0] + v[1]), width, &tokens) || !slm_mul_size((size_t)(v[2] + v[3]), 8, &docs) ||
                         !slm_add_size(tokens, docs, &total) || !slm_add_size(total, 64, &total) || total != size))
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: the header's counts do not match the file size %zu", path, size);
    if (st == SLM_OK && tok && (vocab != (uint32_t)tok->vocab_size || v[4] != slm_tokenizer_checksum(tok)))
        st = slm_fail(err, SLM_ERR_MISMATCH, "%s: made with a different tokenizer (vocab %u, checksum %016llx; this one: vocab %d, "
                      "checksum %016llx)", path, vocab, (unsigned long long)v[4], tok->vocab_size,
                      (unsigned long long)slm_tokenizer_checksum(tok));
    if (st == SLM_OK && info) {
        info->token_bytes = (int)width, info->vocab_size = (int)vocab;
        info->train_tokens = v[0], info->val_tokens = v[1], info->train_docs = v[2], info->val_docs = v[3], info->checksum = v[4];
    }
    slm_unmap(data, size);
    return st;
}
