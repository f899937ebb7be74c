/* spm.c — SentencePiece-style BPE over llama2.c tokenizer.bin vocabularies.
 *
 * File: int32 max_token_length; then per token: float score, int32 length, bytes (spaces are
 * stored as ' ', where SentencePiece writes U+2581).
 *
 * Encoding reproduces SentencePiece's BPE model with the identity normalizer, as the Llama 2
 * tokenizer.model is configured (add_dummy_prefix, no whitespace removal, byte fallback):
 *   1. every byte that does not start a valid UTF-8 character becomes U+FFFD (one per byte);
 *   2. a space is prepended (the dummy prefix);
 *   3. the text is split into characters; the adjacent pair whose concatenation is a normal
 *      vocabulary piece with the highest score (leftmost on ties) is merged, repeatedly —
 *      a heap of candidate pairs makes this O(n log n);
 *   4. each final symbol maps to its id, or, if it is not a piece, to its bytes' <0xXX> tokens.
 * Ids 0, 1, 2 are <unk>, BOS and EOS (llama2.c's convention); pieces "<0xXX>" are byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../formats/gguf.h"
#include "tokenizer.h"


/* Id of the normal piece s[0..n), or -1. */
int slm_tok_lookup(const slm_tokenizer *t, const char *s, size_t n);
#define lookup slm_tok_lookup
int slm_tok_lookup(const slm_tokenizer *t, const char *s, size_t n) {
    for (uint32_t i = slm_fnv1a(s, n) & t->table_mask;; i = (i + 1) & t->table_mask) {
        int id = t->table[i];
        if (id < 0) return -1;
        if ((size_t)t->lengths[id] == n && memcmp(t->pieces[id], s, n) == 0) return id;
    }
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void slm_tokenizer_free(slm_tokenizer *t) {
    if (!t) return;
    slm_bpe_free(t->bpe);
    free(t->chat_template);
    free(t->specials);
    free(t->pieces), free(t->lengths), free(t->scores), free(t->types), free(t->table), free(t->storage);
    free(t);
}

/* Allocates a tokenizer for `count` pieces of `bytes` total (NULs included). */
slm_tokenizer *slm_tok_alloc(int count, size_t bytes, int max_len) {
    slm_tokenizer *t = calloc(1, sizeof *t);
    uint32_t table_size = 1;
    while (table_size < (uint32_t)count * 2) table_size <<= 1;
    if (t) {
        t->pieces = malloc((size_t)count * sizeof *t->pieces);
        t->lengths = malloc((size_t)count * sizeof *t->lengths);
        t->scores = malloc((size_t)count * sizeof *t->scores);
        t->types = malloc((size_t)count);
        t->table = malloc(table_size * sizeof *t->table);
        t->storage = malloc(bytes ? bytes : 1);
    }
    if (!t || !t->pieces || !t->lengths || !t->scores || !t->types || !t->table || !t->storage) {
        slm_tokenizer_free(t);
        return NULL;
    }
    t->vocab_size = count;
    t->max_token_length = max_len;
    t->unk = 0, t->bos = 1, t->eos = 2;
    t->add_dummy_prefix = 1;
    t->add_bos = 1;
    t->table_mask = table_size - 1;
    memset(t->table, 0xff, table_size * sizeof *t->table);
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1, t->byte_chars[i] = (char)i;
    return t;
}

/* GGUF token types */
enum { GGUF_TOKEN_NORMAL = 1, GGUF_TOKEN_UNKNOWN = 2, GGUF_TOKEN_CONTROL = 3, GGUF_TOKEN_USER = 4,
       GGUF_TOKEN_UNUSED = 5, GGUF_TOKEN_BYTE = 6 };

/* Stores piece i at p (copied, NUL-terminated; with `marker`, SentencePiece's U+2581 becomes ' ')
 * and classifies it: gguf_type -1 infers the type as llama2.c's tokenizer.bin implies (0 <unk>,
 * 1 BOS, 2 EOS, <0xHH> bytes). Returns the next free byte of storage. */
char *slm_tok_set(slm_tokenizer *t, int i, char *p, const char *s, size_t len, float score, int gguf_type, int marker) {
    size_t n = 0;
    for (size_t k = 0; k < len; k++) {
        if (marker && k + 2 < len && (unsigned char)s[k] == 0xE2 && (unsigned char)s[k + 1] == 0x96 &&
            (unsigned char)s[k + 2] == 0x81) {
            p[n++] = ' ';
            k += 2;
        } else
            p[n++] = s[k];
    }
    p[n] = '\0';
    t->pieces[i] = p;
    t->lengths[i] = (int)n;
    t->scores[i] = score;
    int hi, lo;
    int is_byte = n == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && (hi = hex_value(p[3])) >= 0 &&
                  (lo = hex_value(p[4])) >= 0 && p[5] == '>';
    if (gguf_type < 0)
        gguf_type = i == t->unk ? GGUF_TOKEN_UNKNOWN : (i == t->bos || i == t->eos) ? GGUF_TOKEN_CONTROL
                    : is_byte ? GGUF_TOKEN_BYTE : GGUF_TOKEN_NORMAL;
    if (gguf_type == GGUF_TOKEN_BYTE && is_byte && t->byte_id[hi * 16 + lo] < 0) {
        t->types[i] = TYPE_BYTE;
        t->byte_id[hi * 16 + lo] = i;
    } else if (gguf_type == GGUF_TOKEN_UNKNOWN) {
        t->types[i] = TYPE_UNKNOWN;
    } else if (gguf_type == GGUF_TOKEN_CONTROL || gguf_type == GGUF_TOKEN_BYTE) {
        t->types[i] = TYPE_CONTROL;
    } else {
        t->types[i] = gguf_type == GGUF_TOKEN_USER ? TYPE_USER : TYPE_NORMAL;
        if (n > 0 && lookup(t, p, n) < 0) { /* first of duplicates wins */
            uint32_t h = slm_fnv1a(p, n) & t->table_mask;
            while (t->table[h] >= 0) h = (h + 1) & t->table_mask;
            t->table[h] = i;
        }
    }
    return p + n + 1;
}

/* ---------------------------------------------------------------- SentencePiece .model */

/* Protobuf wire reading over a bounded range. */
static int pb_varint(slm_reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const uint8_t *b = slm_reader_take(r, 1);
        if (!b) return 0;
        *v |= (uint64_t)(*b & 0x7f) << shift;
        if (!(*b & 0x80)) return 1;
    }
    return 0;
}

/* Reads one field header and, for length-delimited fields, the sub-range; skips what it does
 * not return. Returns 0 at a malformed field. */
static int pb_field(slm_reader *r, uint32_t *field, uint32_t *wire, uint64_t *value, slm_reader *sub) {
    uint64_t key;
    if (!pb_varint(r, &key) || key >> 3 == 0 || key >> 3 > 536870911u) return 0;
    *field = (uint32_t)(key >> 3), *wire = (uint32_t)(key & 7);
    switch (*wire) {
    case 0: return pb_varint(r, value);
    case 1: return slm_reader_take(r, 8) != NULL;
    case 5: {
        uint32_t u;
        if (!slm_reader_u32(r, &u)) return 0;
        *value = u;
        return 1;
    }
    case 2: {
        uint64_t n;
        if (!pb_varint(r, &n) || n > r->size - r->pos) return 0;
        sub->base = r->base + r->pos, sub->size = (size_t)n, sub->pos = 0;
        r->pos += (size_t)n;
        return 1;
    }
    default: return 0;
    }
}

/* Is this the start of a SentencePiece ModelProto (field 1, a piece message, first)? */
static int is_spm_proto(const uint8_t *d, size_t size) { return size >= 4 && d[0] == 0x0a && d[1] != 0 && d[2] == 0x0a; }

/* A SentencePiece BPE model (tokenizer.model): pieces (1: piece, 2: score, 3: type), trainer spec
 * (3: model_type, 40-42: unk/bos/eos ids), normalizer spec (1: name, 3: add_dummy_prefix,
 * 4: remove_extra_whitespaces). Only the identity normalization is supported. */
static slm_status load_spm_proto(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                                 slm_error *err) {
    slm_reader r = {data, size, 0}, sub, p;
    uint32_t field, wire, f2, w2;
    uint64_t v, v2;
    int count = 0, max_len = 1, model_type = 2, add_prefix = 1, remove_ws = 1, ids[3] = {0, 1, 2};
    size_t bytes = 0;
    /* pass 1: count pieces, read the specs */
    while (r.pos < r.size) {
        if (!pb_field(&r, &field, &wire, &v, &sub))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: malformed protobuf at byte %zu", name, r.pos);
        if (field == 1 && wire == 2) {
            size_t len = 0;
            while (sub.pos < sub.size) {
                if (!pb_field(&sub, &f2, &w2, &v2, &p))
                    return slm_fail(err, SLM_ERR_FORMAT, "%s: piece %d is malformed", name, count);
                if (f2 == 1 && w2 == 2) len = p.size;
            }
            if (len > 65536) return slm_fail(err, SLM_ERR_FORMAT, "%s: piece %d is %zu bytes long", name, count, len);
            bytes += len + 1;
            if ((int)len > max_len) max_len = (int)len;
            if (++count > (1 << 22)) return slm_fail(err, SLM_ERR_FORMAT, "%s: more than 4194304 pieces", name);
        } else if ((field == 2 || field == 3) && wire == 2) {
            while (sub.pos < sub.size) {
                if (!pb_field(&sub, &f2, &w2, &v2, &p))
                    return slm_fail(err, SLM_ERR_FORMAT, "%s: %s spec is malformed", name, field == 2 ? "trainer" : "normalizer");
                if (field == 2 && f2 == 3 && w2 == 0) model_type = (int)v2;
                if (field == 2 && f2 >= 40 && f2 <= 42 && w2 == 0) ids[f2 - 40] = (int)(int32_t)v2;
                if (field == 3 && f2 == 1 && w2 == 2 && !(p.size == 8 && !memcmp(p.base, "identity", 8)))
                    return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: normalizer %.*s is not supported (identity only)", name,
                                    (int)(p.size > 32 ? 32 : p.size), (const char *)p.base);
                if (field == 3 && f2 == 3 && w2 == 0) add_prefix = v2 != 0;
                if (field == 3 && f2 == 4 && w2 == 0) remove_ws = v2 != 0;
            }
        }
    }
    if (model_type != 2)
        return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: model_type = %d is not supported (BPE = 2; unigram is not)", name,
                        model_type);
    if (count < 3) return slm_fail(err, SLM_ERR_FORMAT, "%s: only %d pieces", name, count);
    if (vocab_size > 0 && count != vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: tokenizer has %d entries but the model's vocab_size is %d", name,
                        count, vocab_size);
    for (int k = 0; k < 3; k++)
        if (ids[k] < -1 || ids[k] >= count)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: %s id %d is outside the vocabulary", name,
                            k == 0 ? "unk" : k == 1 ? "bos" : "eos", ids[k]);
    slm_tokenizer *t = slm_tok_alloc(count, bytes, max_len);
    if (!t) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
    t->unk = ids[0] < 0 ? 0 : ids[0], t->bos = ids[1] < 0 ? 1 : ids[1], t->eos = ids[2] < 0 ? 2 : ids[2];
    t->add_dummy_prefix = add_prefix;
    t->remove_extra_ws = remove_ws;
    /* pass 2: the pieces */
    r.pos = 0;
    char *store = t->storage;
    for (int i = 0; r.pos < r.size;) {
        pb_field(&r, &field, &wire, &v, &sub);
        if (field != 1 || wire != 2) continue;
        const char *piece = "";
        size_t len = 0;
        float score = 0.0f;
        int type = 1;
        while (sub.pos < sub.size) {
            pb_field(&sub, &f2, &w2, &v2, &p);
            if (f2 == 1 && w2 == 2) piece = (const char *)p.base, len = p.size;
            if (f2 == 2 && w2 == 5) {
                uint32_t u = (uint32_t)v2;
                memcpy(&score, &u, 4);
            }
            if (f2 == 3 && w2 == 0) type = (int)v2;
        }
        if (score != score) {
            slm_tokenizer_free(t);
            return slm_fail(err, SLM_ERR_FORMAT, "%s: piece %d: score is NaN", name, i);
        }
        store = slm_tok_set(t, i++, store, piece, len, score, type >= 1 && type <= 6 ? type : 1, 1);
    }
    *out = t;
    return SLM_OK;
}

/* The tokenizer stored in a GGUF file's metadata (tokenizer.ggml.*). */
static slm_status load_gguf(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                            slm_error *err) {
    gguf_file g;
    slm_status st = slm_gguf_open(data, size, name, &g, err);
    if (st != SLM_OK) return st;
    slm_tokenizer *t = NULL;
    const char *model;
    size_t model_len;
    const gguf_kv *tokens, *scores, *types;
#define FAIL(status, ...)                              \
    do {                                               \
        st = slm_fail(err, status, __VA_ARGS__);       \
        goto done;                                     \
    } while (0)
    if ((st = slm_gguf_get_str(&g, "tokenizer.ggml.model", &model, &model_len, err))) goto done;
    int gpt2 = model_len == 4 && !memcmp(model, "gpt2", 4);
    if (!gpt2 && (model_len != 5 || memcmp(model, "llama", 5)))
        FAIL(SLM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model = %.*s is not supported yet (llama, gpt2)", name,
             (int)(model_len > 32 ? 32 : model_len), model);
    tokens = slm_gguf_find(&g, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_TYPE_ARRAY || tokens->elem_type != GGUF_TYPE_STRING || tokens->count < 3 ||
        tokens->count > (1 << 22))
        FAIL(SLM_ERR_FORMAT, "%s: tokenizer.ggml.tokens must be an array of 3 to 4194304 strings", name);
    int n = (int)tokens->count;
    if (vocab_size > 0 && n != vocab_size)
        FAIL(SLM_ERR_MISMATCH, "%s: tokenizer has %d entries but the model's vocab_size is %d", name, n, vocab_size);
    scores = slm_gguf_find(&g, "tokenizer.ggml.scores");
    types = slm_gguf_find(&g, "tokenizer.ggml.token_type");
    if (scores && (scores->type != GGUF_TYPE_ARRAY || scores->elem_type != GGUF_TYPE_FLOAT32 || scores->count != tokens->count))
        FAIL(SLM_ERR_FORMAT, "%s: tokenizer.ggml.scores must be %d floats", name, n);
    if (types && (types->type != GGUF_TYPE_ARRAY || types->elem_type != GGUF_TYPE_INT32 || types->count != tokens->count))
        FAIL(SLM_ERR_FORMAT, "%s: tokenizer.ggml.token_type must be %d int32s", name, n);
    size_t bytes = 0, len;
    int max_len = 1;
    const uint8_t *it = tokens->value;
    for (int i = 0; i < n; i++) {
        slm_gguf_next_str(&it, &len);
        if (len > 65536) FAIL(SLM_ERR_FORMAT, "%s: token %d is %zu bytes long", name, i, len);
        bytes += len + 1;
        if ((int)len > max_len) max_len = (int)len;
    }
    if (!(t = slm_tok_alloc(n, bytes, max_len))) FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    static const char *const id_keys[3] = {"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                                           "tokenizer.ggml.eos_token_id"};
    int *ids[3] = {&t->unk, &t->bos, &t->eos};
    for (int k = 0; k < 3; k++) {
        int64_t v;
        if (!slm_gguf_find(&g, id_keys[k])) continue;
        if ((st = slm_gguf_get_int(&g, id_keys[k], 0, n - 1, &v, err))) goto done;
        *ids[k] = (int)v;
    }
    it = tokens->value;
    char *p = t->storage;
    for (int i = 0; i < n; i++) {
        const char *s = slm_gguf_next_str(&it, &len);
        float score = 0.0f;
        int32_t type = -1;
        if (scores) memcpy(&score, scores->value + 4 * (size_t)i, 4);
        if (types) memcpy(&type, types->value + 4 * (size_t)i, 4);
        if (score != score) FAIL(SLM_ERR_FORMAT, "%s: token %d: score is NaN", name, i);
        p = slm_tok_set(t, i, p, s, len, score, gpt2 && (type < 1 || type > 6) ? 1 : type < 1 || type > 6 ? -1 : type, !gpt2);
    }
    const gguf_kv *ct = slm_gguf_find(&g, "tokenizer.chat_template");
    if (ct && ct->type == GGUF_TYPE_STRING) {
        size_t cl;
        const uint8_t *cp = ct->value;
        const char *cs = slm_gguf_next_str(&cp, &cl);
        if ((t->chat_template = malloc(cl + 1))) memcpy(t->chat_template, cs, cl), t->chat_template[cl] = '\0';
    }
    t->add_bos = !gpt2;
    const gguf_kv *ab = slm_gguf_find(&g, "tokenizer.ggml.add_bos_token");
    if (ab && ab->type == GGUF_TYPE_BOOL) t->add_bos = ab->value[0] != 0;
    if (gpt2) {
        t->add_dummy_prefix = 0;
        if ((st = slm_bpe_load(t, &g, name, err)) != SLM_OK) goto done;
    }
    *out = t;
    t = NULL;
done:
#undef FAIL
    slm_tokenizer_free(t);
    slm_gguf_close(&g);
    return st;
}

slm_status slm_tokenizer_load_memory(const void *data, size_t size, const char *name, int vocab_size,
                                     slm_tokenizer **out, slm_error *err) {
    if (!data || !out) return slm_fail(err, SLM_ERR_ARG, "slm_tokenizer_load_memory: NULL argument");
    if (!name) name = "<memory>";
    *out = NULL;
    if (slm_gguf_is(data, size)) return load_gguf(data, size, name, vocab_size, out, err);
    if (is_spm_proto(data, size)) return load_spm_proto(data, size, name, vocab_size, out, err);
    if (slm_hf_tokenizer_is(data, size)) return slm_hf_tokenizer_load(data, size, name, vocab_size, out, err);
    slm_reader r = {data, size, 0};
    int32_t max_len;
    if (!slm_reader_i32(&r, &max_len))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: no max_token_length header", name);
    if (max_len < 1 || max_len > (1 << 16))
        return slm_fail(err, SLM_ERR_FORMAT, "%s: max_token_length = %d is out of range [1, 65536]", name, max_len);
    /* pass 1: count and validate entries */
    int count = 0;
    size_t bytes = 0;
    while (r.pos < size) {
        float score;
        int32_t len;
        if (!slm_reader_f32(&r, &score) || !slm_reader_i32(&r, &len))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: truncated: entry %d header ends past the file end", name, count);
        if (len < 0 || len > max_len)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: entry %d: length %d is out of range [0, max_token_length %d]",
                            name, count, len, max_len);
        if (!slm_reader_take(&r, (size_t)len))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: entry %d: length %d runs past the end of the file", name,
                            count, len);
        if (score != score)
            return slm_fail(err, SLM_ERR_FORMAT, "%s: entry %d: score is NaN", name, count);
        if (++count > (1 << 22))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: more than 4194304 entries", name);
        bytes += (size_t)len + 1;
    }
    if (count < 3) return slm_fail(err, SLM_ERR_FORMAT, "%s: only %d entries; need <unk>, BOS, EOS at least", name, count);
    if (vocab_size > 0 && count != vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: tokenizer has %d entries but the model's vocab_size is %d",
                        name, count, vocab_size);
    slm_tokenizer *t = slm_tok_alloc(count, bytes, max_len);
    if (!t) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", name);
    /* pass 2: fill */
    r.pos = 4;
    char *p = t->storage;
    for (int i = 0; i < count; i++) {
        int32_t len;
        float score;
        slm_reader_f32(&r, &score);
        slm_reader_i32(&r, &len);
        p = slm_tok_set(t, i, p, slm_reader_take(&r, (size_t)len), (size_t)len, score, -1, 0);
    }
    *out = t;
    return SLM_OK;
}

slm_status slm_tokenizer_load_file(const char *path, int vocab_size, slm_tokenizer **out, slm_error *err) {
    const void *data;
    size_t size;
    if (!path || !out) return slm_fail(err, SLM_ERR_ARG, "slm_tokenizer_load_file: NULL argument");
    slm_status st = slm_map_file(path, &data, &size, err);
    if (st != SLM_OK) return st;
    int hf = slm_hf_tokenizer_is(data, size);
    st = slm_tokenizer_load_memory(data, size, path, vocab_size, out, err);
    slm_unmap(data, size);
    if (st == SLM_OK && hf) slm_hf_tokenizer_config(*out, path);
    return st;
}

int slm_tokenizer_max_piece_len(const slm_tokenizer *t) { return t->max_token_length; }
const char *slm_tokenizer_chat_template(const slm_tokenizer *t) { return t->chat_template; }
int slm_tokenizer_add_bos(const slm_tokenizer *t) { return t->add_bos; }
void slm_tokenizer_show_special(slm_tokenizer *t, int show) { t->show_special = show != 0; }
float slm_tokenizer_score(const slm_tokenizer *t, int32_t id) { return t->scores[id]; }
int32_t slm_tokenizer_unk(const slm_tokenizer *t) { return t->unk; }
int slm_tokenizer_gguf_type(const slm_tokenizer *t, int32_t id) {
    switch (t->types[id]) {
    case TYPE_CONTROL: return GGUF_TOKEN_CONTROL;
    case TYPE_BYTE: return GGUF_TOKEN_BYTE;
    case TYPE_UNKNOWN: return GGUF_TOKEN_UNKNOWN;
    case TYPE_USER: return GGUF_TOKEN_USER;
    default: return GGUF_TOKEN_NORMAL;
    }
}
int slm_tokenizer_vocab_size(const slm_tokenizer *t) { return t->vocab_size; }
int32_t slm_tokenizer_bos(const slm_tokenizer *t) { return t->bos; }
int32_t slm_tokenizer_eos(const slm_tokenizer *t) { return t->eos; }

const char *slm_tokenizer_token(const slm_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->vocab_size ? t->pieces[id] : NULL;
}

const char *slm_tokenizer_piece(const slm_tokenizer *t, int32_t prev, int32_t id, size_t *len) {
    if (id < 0 || id >= t->vocab_size) return NULL;
    if (t->bpe) return slm_bpe_piece(t, id, len);
    const char *s = t->pieces[id];
    size_t n = (size_t)t->lengths[id];
    if (t->types[id] == TYPE_CONTROL) {
        *len = t->show_special ? n : 0;
        return t->show_special ? s : "";
    }
    if (t->types[id] == TYPE_BYTE) {
        *len = 1;
        return &t->byte_chars[hex_value(s[3]) * 16 + hex_value(s[4])];
    }
    if (prev == t->bos && n > 0 && s[0] == ' ') s++, n--;
    *len = n;
    return s;
}

slm_status slm_tokenizer_decode(const slm_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap,
                                size_t *len) {
    size_t total = 0;
    int32_t prev = t->bos;
    for (int i = 0; i < n; i++) {
        size_t pl;
        const char *p = slm_tokenizer_piece(t, i == 0 ? t->bos : prev, ids[i], &pl);
        if (!p) return SLM_ERR_ARG;
        if (total + pl < cap) memcpy(out + total, p, pl);
        total += pl;
        prev = ids[i];
    }
    if (cap > 0) out[total < cap ? total : cap - 1] = '\0';
    *len = total;
    return total < cap ? SLM_OK : SLM_ERR_NOMEM;
}

/* ---------------------------------------------------------------- encode */

/* max-heap on score, then on -left (SentencePiece's agenda order) */
static int pair_before(const slm_merge_pair *a, const slm_merge_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

void slm_pair_push(slm_merge_pair *h, int *n, slm_merge_pair p) {
    int i = (*n)++;
    while (i > 0 && pair_before(&p, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = p;
}

slm_merge_pair slm_pair_pop(slm_merge_pair *h, int *n) {
    slm_merge_pair top = h[0], last = h[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && pair_before(&h[c + 1], &h[c])) c++;
        if (!pair_before(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = last;
    return top;
}

static void try_pair(const slm_tokenizer *t, const char *text, const slm_symbol *sym, int left, int right, slm_merge_pair *heap,
                     int *n_heap) {
    if (left < 0 || right < 0) return;
    int size = sym[left].len + sym[right].len;
    if (size > t->max_token_length) return;
    int id = lookup(t, text + sym[left].start, (size_t)size);
    if (id < 0) return;
    slm_merge_pair p = {t->scores[id], left, right, size};
    slm_pair_push(heap, n_heap, p);
}

static slm_status encode_plain(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos,
                               int32_t *ids, int cap, int *n_ids);

slm_status slm_tokenizer_parse_special(slm_tokenizer *t, int on) {
    free(t->specials);
    t->specials = NULL, t->n_specials = 0;
    if (!on) return SLM_OK;
    int n = 0;
    for (int i = 0; i < t->vocab_size; i++) n += t->types[i] == TYPE_CONTROL && t->lengths[i] > 0;
    if (!(t->specials = malloc(sizeof(int) * (size_t)(n + 1)))) return SLM_ERR_NOMEM;
    for (int i = 0; i < t->vocab_size; i++)
        if (t->types[i] == TYPE_CONTROL && t->lengths[i] > 0) t->specials[t->n_specials++] = i;
    return SLM_OK;
}

/* With parse_special, control tokens written in the text (e.g. "<|im_start|>") become their ids;
 * the text between them is encoded as usual, each piece on its own (as llama.cpp does). */
slm_status slm_tokenizer_encode(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos,
                                int32_t *ids, int cap, int *n_ids) {
    if (!t || (!text && len > 0) || !n_ids || cap < 0) return SLM_ERR_ARG;
    if (!t->n_specials) return encode_plain(t, text, len, add_bos, add_eos, ids, cap, n_ids);
    int n = 0;
    if (add_bos) {
        if (n < cap) ids[n] = t->bos;
        n++;
    }
    size_t from = 0, i = 0;
    while (i <= len) {
        int hit = -1, hit_len = 0;
        for (int k = 0; i < len && k < t->n_specials; k++) {
            int id = t->specials[k], l = t->lengths[id];
            if (l > hit_len && (size_t)l <= len - i && !memcmp(text + i, t->pieces[id], (size_t)l)) hit = id, hit_len = l;
        }
        if (hit < 0 && i < len) {
            i++;
            continue;
        }
        if (i > from) {
            int got = 0;
            slm_status st = encode_plain(t, text + from, i - from, 0, 0, n < cap ? ids + n : NULL, n < cap ? cap - n : 0, &got);
            if (st != SLM_OK && st != SLM_ERR_NOMEM) return st;
            n += got;
        }
        if (hit < 0) break;
        if (n < cap) ids[n] = hit;
        n++;
        i += (size_t)hit_len;
        from = i;
    }
    if (add_eos) {
        if (n < cap) ids[n] = t->eos;
        n++;
    }
    *n_ids = n;
    return n <= cap ? SLM_OK : SLM_ERR_NOMEM;
}

static slm_status encode_plain(const slm_tokenizer *t, const char *text, size_t len, int add_bos, int add_eos,
                               int32_t *ids, int cap, int *n_ids) {
    if (len > (size_t)1 << 28) return SLM_ERR_RANGE;
    if (t->bpe) return slm_bpe_encode(t, text, len, add_bos, add_eos, ids, cap, n_ids);
    static const char FFFD[3] = {(char)0xEF, (char)0xBF, (char)0xBD};
    size_t norm_cap = 3 * len + 1;
    char *norm = malloc(norm_cap);
    slm_symbol *sym = malloc((len + 1) * sizeof *sym);
    slm_merge_pair *heap = malloc((3 * len + 4) * sizeof *heap);
    if (!norm || !sym || !heap) {
        free(norm), free(sym), free(heap);
        return SLM_ERR_NOMEM;
    }
    /* 1-2: dummy prefix, U+FFFD for invalid bytes, one symbol per character */
    int n_sym = 0;
    size_t nl = 0, i = 0, end = len;
    if (t->remove_extra_ws) {
        while (i < end && text[i] == ' ') i++;
        while (end > i && text[end - 1] == ' ') end--;
    }
    if (i < end && t->add_dummy_prefix) {
        norm[nl++] = ' ';
        sym[n_sym++] = (slm_symbol){0, 1, -1, -1};
    }
    while (i < end) {
        if (t->remove_extra_ws && text[i] == ' ' && text[i - 1] == ' ') { /* i > start: text[start] != ' ' */
            i++;
            continue;
        }
        int cl = slm_utf8_char_len((const unsigned char *)text + i, end - i);
        sym[n_sym] = (slm_symbol){(int)nl, cl ? cl : 3, n_sym - 1, -1};
        if (cl) memcpy(norm + nl, text + i, (size_t)cl), nl += (size_t)cl, i += (size_t)cl;
        else memcpy(norm + nl, FFFD, 3), nl += 3, i += 1;
        if (n_sym > 0) sym[n_sym - 1].next = n_sym;
        n_sym++;
    }
    /* 3: merge the best pair until none is left */
    int n_heap = 0;
    for (int k = 0; k + 1 < n_sym; k++) try_pair(t, norm, sym, k, k + 1, heap, &n_heap);
    while (n_heap > 0) {
        slm_merge_pair p = slm_pair_pop(heap, &n_heap);
        slm_symbol *l = &sym[p.left], *r = &sym[p.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != p.size || l->next != p.right) continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        try_pair(t, norm, sym, l->prev, p.left, heap, &n_heap);
        try_pair(t, norm, sym, p.left, l->next, heap, &n_heap);
    }
    /* 4: symbols to ids, byte fallback for the rest */
    int n = 0;
#define EMIT(id) do { if (n < cap) ids[n] = (id); n++; } while (0)
    if (add_bos) EMIT(t->bos);
    for (int k = n_sym > 0 ? 0 : -1; k >= 0; k = sym[k].next) {
        int id = lookup(t, norm + sym[k].start, (size_t)sym[k].len);
        if (id >= 0) {
            EMIT(id);
            continue;
        }
        for (int b = 0; b < sym[k].len; b++) {
            int bid = t->byte_id[(unsigned char)norm[sym[k].start + b]];
            EMIT(bid >= 0 ? bid : t->unk);
        }
    }
    if (add_eos) EMIT(t->eos);
#undef EMIT
    free(norm), free(sym), free(heap);
    *n_ids = n;
    return n <= cap ? SLM_OK : SLM_ERR_NOMEM;
}
