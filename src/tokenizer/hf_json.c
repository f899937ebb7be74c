/* hf_json.c — Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, SmolLM, Qwen2,
 * Llama-3 style): model.vocab and model.merges (strings "a b" or pairs), added_tokens (special ones
 * become control tokens, the others user-defined, cut out of the text first), and the pre-tokenizer
 * (Sequence of Split regex / Digits / ByteLevel) turned into the PCRE2 expressions bpe.c applies.
 * SentencePiece-style tokenizer.json (byte_fallback BPE with U+2581 spaces) goes to slm's
 * SentencePiece encoder with scores derived from the merge ranks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "tokenizer.h"

int slm_hf_tokenizer_is(const void *data, size_t size) {
    const char *s = data;
    size_t i = 0;
    while (i < size && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    if (i >= size || s[i] != '{') return 0;
    /* a tokenizer.json names its model; look in the first 4 MiB only */
    size_t n = size < ((size_t)4 << 20) ? size : ((size_t)4 << 20);
    for (size_t k = i; k + 7 <= n; k++)
        if (!memcmp(s + k, "\"model\"", 7)) return 1;
    return 0;
}

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>

enum { MAX_EXPRS = 4 };

/* In the loaders below: record the error and jump to their cleanup. */
#define FAIL(status, ...)                          \
    do {                                           \
        st = slm_fail(err, status, __VA_ARGS__);   \
        goto done;                                 \
    } while (0)

/* Appends the expressions of one pre-tokenizer node; returns 0 for an unsupported node. */
static int pre_exprs(const cJSON *node, const char **out, int *n, int *byte_level) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (!cJSON_IsString(type)) return 0;
    const char *ty = type->valuestring;
    if (!strcmp(ty, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(node, "pretokenizers")) if (!pre_exprs(e, out, n, byte_level)) return 0;
        return 1;
    }
    if (*n >= MAX_EXPRS) return 0;
    if (!strcmp(ty, "Split")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "pattern"), "Regex");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(node, "behavior");
        if (!cJSON_IsString(re) || (cJSON_IsString(beh) && strcmp(beh->valuestring, "Isolated"))) return 0;
        out[(*n)++] = re->valuestring;
        return 1;
    }
    if (!strcmp(ty, "Digits")) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(node, "individual_digits"))) return 0;
        out[(*n)++] = "\\p{N}";
        return 1;
    }
    if (!strcmp(ty, "ByteLevel")) {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(node, "add_prefix_space"))) return 0;
        *byte_level = 1;
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(node, "use_regex");
        if (!use || cJSON_IsTrue(use)) {
            const char *g[MAX_EXPRS];
            int k = slm_bpe_named_regexes("gpt-2", g);
            for (int i = 0; i < k && *n < MAX_EXPRS; i++) out[(*n)++] = g[i];
        }
        return 1;
    }
    return 0;
}

/* The vocabulary size a tokenizer.json implies (largest id + 1 over model.vocab and added_tokens,
 * every id checked), at least `min` and equal to vocab_size when that is > 0. */
static slm_status json_vocab_size(const cJSON *vocab, const cJSON *added, const char *name, int min, int vocab_size, int *out,
                                  slm_error *err) {
    const cJSON *e;
    int n = 0;
    if (!cJSON_IsObject(vocab)) return slm_fail(err, SLM_ERR_FORMAT, "%s: model.vocab is not an object", name);
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (1 << 22))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: vocab id of %.40s", name, e->string);
        if ((int)e->valuedouble + 1 > n) n = (int)e->valuedouble + 1;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 22) || !cJSON_IsString(content))
            return slm_fail(err, SLM_ERR_FORMAT, "%s: an added token lacks an id or content", name);
        if ((int)id->valuedouble + 1 > n) n = (int)id->valuedouble + 1;
    }
    if (n < min) return slm_fail(err, SLM_ERR_FORMAT, "%s: a vocabulary of %d entries", name, n);
    if (vocab_size > 0 && n != vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "%s: tokenizer has %d entries but the model's vocab_size is %d", name, n, vocab_size);
    *out = n;
    return SLM_OK;
}

/* Does the tokenizer.json write spaces as U+2581 and prepend one (SentencePiece-style)? Normalizer
 * Sequence[Prepend("▁"), Replace(" " -> "▁")], or a Metaspace pre-tokenizer. Returns 0 when the
 * spaces are not replaced (unsupported), else 1 and *prefix. */
static int metaspace(const cJSON *root, int *prefix) {
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer"), *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(norm, "normalizers"), *e;
    int replace = 0;
    *prefix = 0;
    if (norm && !list) list = NULL;
    cJSON_ArrayForEach(e, list) {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(e, "type");
        if (!cJSON_IsString(ty)) continue;
        if (!strcmp(ty->valuestring, "Prepend")) *prefix = 1;
        if (!strcmp(ty->valuestring, "Replace")) replace = 1;
    }
    const cJSON *pty = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (cJSON_IsString(pty) && !strcmp(pty->valuestring, "Metaspace")) {
        replace = 1;
        const cJSON *ap = cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space"), *ps = cJSON_GetObjectItemCaseSensitive(pre, "prepend_scheme");
        *prefix = cJSON_IsTrue(ap) || (cJSON_IsString(ps) && strcmp(ps->valuestring, "never"));
    }
    return replace;
}

/* SentencePiece-style BPE with byte fallback (Llama, TinyLlama, MobileLLM): encoded by slm's
 * SentencePiece encoder with each piece scored by minus the rank of the first merge that makes it,
 * so that the merge of lowest rank (leftmost on ties) always goes first, as Hugging Face's BPE
 * does. Pieces no merge makes get the lowest scores. */
static slm_status load_spm_style(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                                 slm_error *err) {
    cJSON *root = cJSON_ParseWithLength(data, size);
    slm_status st = SLM_OK;
    slm_tokenizer *t = NULL;
    const char **piece = NULL;
    int *type = NULL, n = 0, prefix = 0;
    float *score = NULL;
    if (!root) FAIL(SLM_ERR_FORMAT, "%s: not valid JSON", name);
    if (!metaspace(root, &prefix)) FAIL(SLM_ERR_UNSUPPORTED, "%s: byte_fallback tokenizer without U+2581 spaces", name);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model"), *e;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if ((st = json_vocab_size(vocab, added, name, 3, vocab_size, &n, err)) != SLM_OK) goto done;
    piece = calloc((size_t)n, sizeof *piece), type = calloc((size_t)n, sizeof *type), score = malloc(sizeof *score * (size_t)n);
    if (!piece || !type || !score) FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    cJSON_ArrayForEach(e, vocab) {
        int id = (int)e->valuedouble;
        const char *p = e->string;
        piece[id] = p;
        type[id] = (strlen(p) == 6 && !strncmp(p, "<0x", 3) && p[5] == '>') ? 6 : 1;
        if (cJSON_IsString(unk) && !strcmp(p, unk->valuestring)) type[id] = 2;
    }
    cJSON_ArrayForEach(e, added) {
        int id = (int)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (cJSON_IsString(c)) piece[id] = c->valuestring;
        if (type[id] != 2) type[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? 3 : 4;
    }
    /* scores: minus the rank of the first merge producing the piece */
    for (int i = 0; i < n; i++) score[i] = -1e9f - (float)i;
    size_t bytes = 0;
    int max_len = 1;
    for (int i = 0; i < n; i++) {
        size_t l = piece[i] ? strlen(piece[i]) : 0;
        bytes += l + 1;
        if ((int)l > max_len) max_len = (int)l;
    }
    if (!(t = slm_tok_alloc(n, bytes, max_len))) FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    /* first pass: store pieces so that lookup works; scores are patched after the merges */
    char *p = t->storage;
    for (int i = 0; i < n; i++) p = slm_tok_set(t, i, p, piece[i] ? piece[i] : "", piece[i] ? strlen(piece[i]) : 0, 0.0f, piece[i] ? type[i] : 3, 1);
    for (int i = 0; i < n; i++) t->scores[i] = score[i];
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int rank = 0;
    char buf[1024];
    cJSON_ArrayForEach(e, mj) {
        const char *a, *b;
        char *sp = NULL;
        if (cJSON_IsString(e)) {
            snprintf(buf, sizeof buf, "%s", e->valuestring);
            sp = strchr(buf, ' ');
            if (!sp) FAIL(SLM_ERR_FORMAT, "%s: merge %d has no space", name, rank);
            *sp = '\0', a = buf, b = sp + 1;
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            a = cJSON_GetArrayItem(e, 0)->valuestring, b = cJSON_GetArrayItem(e, 1)->valuestring;
        } else
            FAIL(SLM_ERR_FORMAT, "%s: merge %d is neither \"a b\" nor [a, b]", name, rank);
        /* the merged piece, with U+2581 as the space slm stores */
        char merged[1024];
        size_t ml = 0;
        for (const char *s2 = a; *s2 && ml + 4 < sizeof merged;) {
            if (!strncmp(s2, "\xe2\x96\x81", 3)) merged[ml++] = ' ', s2 += 3;
            else merged[ml++] = *s2++;
        }
        for (const char *s2 = b; *s2 && ml + 4 < sizeof merged;) {
            if (!strncmp(s2, "\xe2\x96\x81", 3)) merged[ml++] = ' ', s2 += 3;
            else merged[ml++] = *s2++;
        }
        int id = slm_tok_lookup(t, merged, ml);
        if (id >= 0 && t->scores[id] < -5e8f) t->scores[id] = -(float)rank;
        rank++;
    }
    t->add_dummy_prefix = prefix;
    t->add_bos = 1;
    for (int i = 0; i < n; i++) {
        if (t->types[i] == TYPE_UNKNOWN) t->unk = i;
        if (piece[i] && !strcmp(piece[i], "<s>")) t->bos = i;
        if (piece[i] && !strcmp(piece[i], "</s>")) t->eos = i;
    }
    *out = t;
    t = NULL;
done:
    free(piece), free(type), free(score);
    slm_tokenizer_free(t);
    cJSON_Delete(root);
    return st;
}

slm_status slm_hf_tokenizer_load(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                                 slm_error *err) {
    cJSON *root = cJSON_ParseWithLength(data, size);
    slm_status st = SLM_OK;
    slm_tokenizer *t = NULL;
    const char **merges = NULL;
    size_t *merge_lens = NULL;
    char **owned = NULL;
    int n_owned = 0, n_merges = 0;
    if (!root) FAIL(SLM_ERR_FORMAT, "%s: not valid JSON", name);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (!cJSON_IsString(mtype) || strcmp(mtype->valuestring, "BPE"))
        FAIL(SLM_ERR_UNSUPPORTED, "%s: model type %s is not supported (BPE)", name, cJSON_IsString(mtype) ? mtype->valuestring : "(missing)");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback"))) {
        cJSON_Delete(root);
        return load_spm_style(data, size, name, vocab_size, out, err);
    }
    const char *exprs[MAX_EXPRS];
    int n_exprs = 0, byte_level = 0;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!pre || !pre_exprs(pre, exprs, &n_exprs, &byte_level) || !byte_level || !n_exprs)
        FAIL(SLM_ERR_UNSUPPORTED, "%s: pre_tokenizer is not a byte-level one slm supports (Split/Digits/ByteLevel)", name);
    /* normalizer: none, or NFC (Qwen2): slm does not re-normalize, so NFC text (what nearly all text
     * is) encodes exactly and other text as it is; anything else is refused */
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer"), *nty = cJSON_GetObjectItemCaseSensitive(norm, "type");
    if (norm && !cJSON_IsNull(norm) && !(cJSON_IsString(nty) && !strcmp(nty->valuestring, "NFC")))
        FAIL(SLM_ERR_UNSUPPORTED, "%s: normalizer %s is not supported (none, NFC)", name,
             cJSON_IsString(nty) ? nty->valuestring : "(unknown)");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *e;
    int n = 0;
    if ((st = json_vocab_size(vocab, added, name, 1, vocab_size, &n, err)) != SLM_OK) goto done;
    /* pieces by id, with their GGUF-style types */
    const char **piece = calloc((size_t)n, sizeof *piece);
    int *type = calloc((size_t)n, sizeof *type);
    size_t bytes = 0;
    int max_len = 1;
    if (!piece || !type) {
        free(piece), free(type);
        FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    }
    cJSON_ArrayForEach(e, vocab) piece[(int)e->valuedouble] = e->string, type[(int)e->valuedouble] = 1;
    cJSON_ArrayForEach(e, added) {
        int id = (int)cJSON_GetObjectItemCaseSensitive(e, "id")->valuedouble;
        piece[id] = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        type[id] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) ? 3 : 4;
    }
    for (int i = 0; i < n; i++) {
        size_t l = piece[i] ? strlen(piece[i]) : 0;
        bytes += l + 1;
        if ((int)l > max_len) max_len = (int)l;
    }
    if (!(t = slm_tok_alloc(n, bytes, max_len))) {
        free(piece), free(type);
        FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    }
    char *p = t->storage;
    for (int i = 0; i < n; i++) /* unlisted ids: empty control entries */
        p = slm_tok_set(t, i, p, piece[i] ? piece[i] : "", piece[i] ? strlen(piece[i]) : 0, 0.0f, piece[i] ? type[i] : 3, 0);
    free(piece), free(type);
    t->add_dummy_prefix = 0, t->add_bos = 0;
    t->bos = t->eos = t->unk = 0;
    /* merges: "a b" strings, or ["a", "b"] pairs (newer files) */
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int count = cJSON_GetArraySize(mj);
    merges = malloc(sizeof *merges * ((size_t)count + 1));
    merge_lens = malloc(sizeof *merge_lens * ((size_t)count + 1));
    owned = malloc(sizeof *owned * ((size_t)count + 1));
    if (!merges || !merge_lens || !owned) FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
    cJSON_ArrayForEach(e, mj) {
        if (cJSON_IsString(e)) {
            merges[n_merges] = e->valuestring, merge_lens[n_merges++] = strlen(e->valuestring);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            const char *a = cJSON_GetArrayItem(e, 0)->valuestring, *b = cJSON_GetArrayItem(e, 1)->valuestring;
            size_t la = strlen(a), lb = strlen(b);
            char *m = malloc(la + lb + 2);
            if (!m) FAIL(SLM_ERR_NOMEM, "%s: out of memory", name);
            memcpy(m, a, la), m[la] = ' ', memcpy(m + la + 1, b, lb + 1);
            owned[n_owned++] = m;
            merges[n_merges] = m, merge_lens[n_merges++] = la + lb + 1;
        } else
            FAIL(SLM_ERR_FORMAT, "%s: merge %d is neither \"a b\" nor [a, b]", name, n_merges);
    }
    if ((st = slm_bpe_create(t, name, "tokenizer.json", exprs, n_exprs, merges, merge_lens, n_merges, err)) != SLM_OK) goto done;
    /* special tokens: BOS/EOS by their usual names */
    static const char *const eos_names[] = {"<|endoftext|>", "<|im_end|>", "</s>", "<|end_of_text|>", "<|eot_id|>"};
    static const char *const bos_names[] = {"<|begin_of_text|>", "<s>", "<|endoftext|>", "<|im_start|>"};
    for (int k = (int)(sizeof eos_names / sizeof eos_names[0]) - 1; k >= 0; k--)
        for (int i = 0; i < n; i++)
            if (t->types[i] == TYPE_CONTROL && !strcmp(t->pieces[i], eos_names[k])) t->eos = i;
    for (int k = (int)(sizeof bos_names / sizeof bos_names[0]) - 1; k >= 0; k--)
        for (int i = 0; i < n; i++)
            if (t->types[i] == TYPE_CONTROL && !strcmp(t->pieces[i], bos_names[k])) t->bos = i;
    *out = t;
    t = NULL;
done:
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(owned), free(merges), free(merge_lens);
    slm_tokenizer_free(t);
    cJSON_Delete(root);
    return st;
}

/* tokenizer_config.json beside a tokenizer.json: chat_template, bos_token / eos_token (strings or
 * {"content": ...}), add_bos_token; then generation_config.json's bos/eos ids, which win. */
void slm_hf_tokenizer_config(slm_tokenizer *t, const char *tokenizer_path) {
    const char *slash = strrchr(tokenizer_path, '/');
    char path[4200];
    snprintf(path, sizeof path, "%.*stokenizer_config.json", slash ? (int)(slash - tokenizer_path) + 1 : 0, tokenizer_path);
    const void *data;
    size_t size;
    if (slm_map_file(path, &data, &size, NULL) != SLM_OK) return;
    cJSON *c = cJSON_ParseWithLength(data, size);
    slm_unmap(data, size);
    if (!c) return;
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "chat_template");
    if (cJSON_IsString(ct) && !t->chat_template) {
        size_t n = strlen(ct->valuestring);
        if ((t->chat_template = malloc(n + 1))) memcpy(t->chat_template, ct->valuestring, n + 1);
    }
    const char *keys[2] = {"bos_token", "eos_token"};
    int32_t *ids[2] = {&t->bos, &t->eos};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, keys[k]);
        if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
        if (!cJSON_IsString(v)) continue;
        for (int i = 0; i < t->vocab_size; i++)
            if (!strcmp(t->pieces[i], v->valuestring)) {
                *ids[k] = i;
                break;
            }
    }
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(c, "add_bos_token");
    if (cJSON_IsBool(ab)) t->add_bos = cJSON_IsTrue(ab);
    cJSON_Delete(c);
    /* generation_config.json: bos_token_id / eos_token_id (a number, or a list whose first counts) */
    snprintf(path, sizeof path, "%.*sgeneration_config.json", slash ? (int)(slash - tokenizer_path) + 1 : 0, tokenizer_path);
    if (slm_map_file(path, &data, &size, NULL) != SLM_OK) return;
    c = cJSON_ParseWithLength(data, size);
    slm_unmap(data, size);
    const char *id_keys[2] = {"bos_token_id", "eos_token_id"};
    for (int k = 0; c && k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, id_keys[k]);
        if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
        if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < t->vocab_size) *ids[k] = (int)v->valuedouble;
    }
    cJSON_Delete(c);
}

#else
void slm_hf_tokenizer_config(slm_tokenizer *t, const char *tokenizer_path) { (void)t, (void)tokenizer_path; }
slm_status slm_hf_tokenizer_load(const void *data, size_t size, const char *name, int vocab_size, slm_tokenizer **out,
                                 slm_error *err) {
    (void)data, (void)size, (void)vocab_size, (void)out;
    return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: this build reads no tokenizer.json (built with NO_HF=1)", name);
}
#endif
