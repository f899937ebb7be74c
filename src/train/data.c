/* data.c — token files for training. `slm data prepare` reads its inputs in chunks and cuts them
 * into documents: TinyStories' <|endoftext|>-separated stories (a file without one is a single
 * document), or the "text" field of each line of a .jsonl file. A document longer than
 * max_doc_bytes (default 256 KiB) is cut into pieces, each a document of its own: a piece ends
 * after the last blank line in the second half of the first max_doc_bytes, else after the last
 * newline there, else after the last space, else at a UTF-8 character boundary. Surrounding
 * whitespace is dropped and empty documents are skipped. The documents of a chunk are cut into
 * contiguous runs that n threads take one by one and encode, and written in input order: the file
 * is the same for any thread count and chunk size. It holds:
 *
 *   header (64 bytes, little-endian): "SLMDATA1", u32 version 1, u32 token_bytes (2 or 4),
 *     u64 train_tokens, u64 val_tokens, u64 train_docs, u64 val_docs, u64 tokenizer_checksum,
 *     u32 vocab_size, u32 reserved
 *   train tokens, validation tokens (token_bytes each)
 *   train document starts, validation document starts (u64 token offsets within their split)
 *
 * Every document starts with BOS. A document goes to validation when the 64-bit FNV-1a hash of its
 * bytes falls below val_fraction of the hash range: the split is deterministic and does not
 * depend on the order of the inputs. The file is written atomically: train tokens go to the
 * output's temporary file as they come, validation tokens and the two document tables to scratch
 * files beside it that are appended at the end, and the header is written last. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "train.h"

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>
#endif

static const char SEP[] = "<|endoftext|>";
enum { SEP_LEN = sizeof SEP - 1 };
#define DEFAULT_CHUNK ((size_t)4 << 20)
#define DEFAULT_MAX_DOC ((size_t)256 << 10)
#define MAX_LINE ((size_t)64 << 20) /* a longer JSONL line is refused; also the most max_doc_bytes */

uint64_t slm_tokenizer_checksum(const slm_tokenizer *t) {
    uint64_t h = SLM_FNV64_OFFSET;
    for (int i = 0; i < t->vocab_size; i++) {
        h = slm_fnv1a64(t->pieces[i], (size_t)t->lengths[i] + 1, h);
        h = slm_fnv1a64(&t->scores[i], sizeof(float), h);
        h = slm_fnv1a64(&t->types[i], 1, h);
    }
    return h;
}

/* Room for `need` elements of `size` bytes in p (capacity *cap): returns p, or its larger
 * reallocation, or NULL when out of memory (p is then still valid). */
static void *reserve(void *p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / size) return NULL;
    void *g = realloc(p, c * size);
    if (g) *cap = c;
    return g;
}

/* Where a text of len > max bytes is cut: after the last blank line in the second half of its
 * first max bytes, else the last newline there, else the last space, else before the last UTF-8
 * character start at or before max (max >= 64). */
static size_t cut_at(const char *s, size_t len, size_t max) {
    static const char *const BREAKS[] = {"\n\n", "\n", " "};
    if (len <= max) return len;
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(BREAKS[k]);
        for (size_t i = max; i >= max / 2 + n; i--)
            if (!memcmp(s + i - n, BREAKS[k], n)) return i;
    }
    size_t i = max;
    while (i > max - 3 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    return i;
}

/* Offset of the first <|endoftext|> in s[0..n), or n. */
static size_t find_sep(const char *s, size_t n) {
    for (const char *q = s; (q = memchr(q, '<', n - (size_t)(q - s))) != NULL; q++)
        if (n - (size_t)(q - s) >= SEP_LEN && !memcmp(q, SEP, SEP_LEN)) return (size_t)(q - s);
    return n;
}

static int is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

typedef struct item { size_t off, len; } item; /* a document's text: base[off .. off + len) */

typedef struct doc_tokens {
    size_t n_tokens;
    int val;
} doc_tokens;

/* A contiguous run of a batch's items and, once encoded, the tokens of their documents in order. */
typedef struct slice {
    size_t first, end; /* items first .. end - 1 */
    uint8_t *tokens;   /* (len) token_bytes each, little-endian */
    size_t len, cap;
    doc_tokens *docs;  /* (n_docs) */
    size_t n_docs, cap_docs;
    slm_status st;
    slm_error err;
} slice;

typedef struct scratch { int32_t *ids; size_t cap; } scratch; /* one thread's ids of one document */

/* The documents of one chunk, and the threads that encode them. */
typedef struct batch {
    const slm_tokenizer *tok;
    int width;
    size_t max_doc;
    uint64_t threshold; /* hash < threshold: validation */
    const char *base;   /* the text the items point into */
    item *items;        /* (n_items) in input order */
    size_t n_items, cap_items;
    slice *slices;      /* (n_slices) the items cut into runs of about equal bytes */
    int n_slices;
    atomic_int next;    /* the next slice a thread takes */
    scratch *scratch;   /* (n_threads) */
} batch;

/* Appends one document to e: BOS and the ids of text without its surrounding whitespace (nothing
 * when that is empty). len <= max_doc, so the ids fit an int. */
static slm_status encode_doc(const batch *b, slice *e, scratch *sc, const char *text, size_t len) {
    while (len && is_space(*text)) text++, len--;
    while (len && is_space(text[len - 1])) len--;
    if (!len) return SLM_OK;
    size_t need = 3 * len + 4; /* BOS + at most 3n + 3 ids */
    int32_t *ids = reserve(sc->ids, &sc->cap, need, sizeof *ids);
    if (!ids) return slm_fail(&e->err, SLM_ERR_NOMEM, "out of memory");
    sc->ids = ids;
    int n;
    slm_status st = slm_tokenizer_encode(b->tok, text, len, 0, 0, ids + 1, (int)need - 1, &n);
    if (st != SLM_OK) return slm_fail(&e->err, st, "cannot encode a document of %zu bytes", len);
    ids[0] = b->tok->bos, n++;
    uint8_t *tokens = reserve(e->tokens, &e->cap, e->len + (size_t)n * (size_t)b->width, 1);
    doc_tokens *docs = tokens ? reserve(e->docs, &e->cap_docs, e->n_docs + 1, sizeof *docs) : NULL;
    if (tokens) e->tokens = tokens;
    if (!docs) return slm_fail(&e->err, SLM_ERR_NOMEM, "out of memory");
    e->docs = docs;
    for (int i = 0; i < n; i++, e->len += (size_t)b->width) {
        uint32_t v = (uint32_t)ids[i];
        memcpy(e->tokens + e->len, &v, (size_t)b->width); /* little-endian hosts */
    }
    e->docs[e->n_docs++] = (doc_tokens){(size_t)n, slm_fnv1a64(text, len, SLM_FNV64_OFFSET) < b->threshold};
    return SLM_OK;
}

/* slm_pool_fn: each thread takes the next slice until none is left (so a thread that the machine
 * slows down takes fewer), and encodes each item as one document or, when longer than max_doc
 * (JSONL texts), as pieces. */
static void encode_slices(void *arg, int t, int n_threads) {
    (void)n_threads;
    batch *b = arg;
    for (int k; (k = atomic_fetch_add(&b->next, 1)) < b->n_slices;) {
        slice *e = &b->slices[k];
        e->len = e->n_docs = 0;
        e->st = SLM_OK;
        for (size_t i = e->first; i < e->end && e->st == SLM_OK; i++) {
            const char *text = b->base + b->items[i].off;
            for (size_t len = b->items[i].len; len && e->st == SLM_OK;) {
                size_t n = cut_at(text, len, b->max_doc);
                e->st = encode_doc(b, e, &b->scratch[t], text, n);
                text += n, len -= n;
            }
        }
    }
}

/* The whole run: the batch, the output and the running counts. */
typedef struct prep {
    batch b;
    int n_threads;
    slm_pool *pool;
    size_t chunk;
    char *buf;                 /* (cap) the unread rest of the input, then a chunk */
    size_t cap;
    char *texts;               /* (texts_cap) JSONL: the chunk's "text" strings, end to end */
    size_t texts_len, texts_cap;
    slm_file_writer *out;      /* header, train tokens, then the scratch files */
    slm_file_writer *side[3];  /* scratch: validation tokens, train starts, validation starts */
    uint64_t tokens[2], docs[2]; /* [0] train, [1] validation */
    slm_data_progress progress;
    double t0;
} prep;

static slm_status add_item(batch *b, size_t off, size_t len, slm_error *err) {
    item *items = reserve(b->items, &b->cap_items, b->n_items + 1, sizeof *items);
    if (!items) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    b->items = items;
    b->items[b->n_items++] = (item){off, len};
    return SLM_OK;
}

/* Text inputs: makes items of the documents complete in buf[0..len) (all of them at the end of
 * the input) and sets *used to where the rest begins. A document is complete when its separator
 * is there, or when enough is there to tell it is longer than max_doc: then its first piece is. */
static slm_status cut_documents(prep *p, size_t len, int eof, size_t *used, slm_error *err) {
    size_t pos = 0, max = p->b.max_doc;
    slm_status st = SLM_OK;
    while (st == SLM_OK) {
        size_t avail = len - pos, end = find_sep(p->buf + pos, avail);
        if (end < avail && end <= max) {
            st = add_item(&p->b, pos, end, err);
            pos += end + SEP_LEN;
        } else if (avail > max && (end < avail || eof || avail >= max + SEP_LEN)) {
            size_t n = cut_at(p->buf + pos, avail, max);
            st = add_item(&p->b, pos, n, err);
            pos += n;
        } else {
            if (eof && avail) st = add_item(&p->b, pos, avail, err), pos = len;
            break;
        }
    }
    *used = pos;
    return st;
}

/* JSONL inputs: makes items of the "text" of the lines complete in buf[0..len) (all of them at
 * the end of the input); *line is the number of buf's first line. Lines of only whitespace are
 * skipped. cJSON is not thread-safe (it records errors in a global), so lines are parsed here. */
static slm_status cut_lines(prep *p, size_t len, int eof, uint64_t *line, size_t *used, const char *path,
                            slm_error *err) {
    size_t pos = 0;
    slm_status st = SLM_OK;
    p->texts_len = 0;
    while (st == SLM_OK && pos < len) {
        const char *nl = memchr(p->buf + pos, '\n', len - pos), *s = p->buf + pos;
        size_t n = nl ? (size_t)(nl - s) : len - pos, blank = 0;
        if (!nl && !eof) {
            if (n > MAX_LINE) st = slm_fail(err, SLM_ERR_RANGE, "%s: line %llu is longer than 64 MiB", path, (unsigned long long)*line);
            break;
        }
        while (blank < n && is_space(s[blank])) blank++;
#ifndef SLM_NO_HF
        if (blank < n) {
            cJSON *j = cJSON_ParseWithLength(s, n);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
            size_t tl = cJSON_IsString(t) ? strlen(t->valuestring) : 0;
            char *texts = cJSON_IsString(t) ? reserve(p->texts, &p->texts_cap, p->texts_len + tl + 1, 1) : NULL;
            if (!cJSON_IsString(t))
                st = slm_fail(err, SLM_ERR_FORMAT, "%s: line %llu has no \"text\" string", path, (unsigned long long)*line);
            else if (!texts) st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            else if ((st = add_item(&p->b, p->texts_len, tl, err)) == SLM_OK) {
                p->texts = texts;
                memcpy(p->texts + p->texts_len, t->valuestring, tl);
                p->texts_len += tl;
            }
            cJSON_Delete(j);
        }
#endif
        pos += n + (nl != NULL);
        ++*line;
    }
    *used = pos;
    return st;
}

/* Cuts the batch into slices of about equal bytes, encodes them on all threads, then writes the
 * documents in input order. */
static slm_status write_batch(prep *p, const char *base, slm_error *err) {
    batch *b = &p->b;
    if (!b->n_items) return SLM_OK;
    uint64_t total = 0, sum = 0;
    for (size_t i = 0; i < b->n_items; i++) total += b->items[i].len;
    for (size_t k = 0, i = 0; k < (size_t)b->n_slices; k++) {
        b->slices[k].first = i;
        while (i < b->n_items && sum < total * (k + 1) / (size_t)b->n_slices) sum += b->items[i++].len;
        b->slices[k].end = k + 1 < (size_t)b->n_slices ? i : b->n_items;
    }
    b->base = base;
    atomic_store(&b->next, 0);
    slm_pool_run(p->pool, encode_slices, b);
    for (int k = 0; k < b->n_slices; k++)
        if (b->slices[k].st != SLM_OK) {
            if (err) *err = b->slices[k].err;
            return b->slices[k].st;
        }
    slm_status st = SLM_OK;
    for (int k = 0; k < b->n_slices; k++) {
        const slice *e = &b->slices[k];
        const uint8_t *tokens = e->tokens;
        for (size_t d = 0; d < e->n_docs && st == SLM_OK; d++) {
            int v = e->docs[d].val;
            size_t bytes = e->docs[d].n_tokens * (size_t)b->width;
            uint64_t start = p->tokens[v];
            st = slm_writer_write(v ? p->side[0] : p->out, tokens, bytes, err);
            if (st == SLM_OK) st = slm_writer_write(p->side[1 + v], &start, 8, err);
            p->tokens[v] += e->docs[d].n_tokens, p->docs[v]++;
            tokens += bytes;
        }
    }
    return st;
}

/* Reads one input a chunk at a time; after each chunk, encodes and writes the documents it
 * completes and keeps the rest for the next. */
static slm_status add_input(prep *p, int index, const char *path, const slm_data_options *opt, slm_error *err) {
    size_t n = strlen(path);
    int jsonl = n > 6 && !strcmp(path + n - 6, ".jsonl");
#ifdef SLM_NO_HF
    if (jsonl) return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: JSONL needs cJSON (built with NO_HF=1)", path);
#endif
    slm_file_stream *in = NULL;
    slm_status st = slm_stream_open(path, &in, err);
    size_t len = 0; /* bytes held in buf */
    uint64_t line = 1;
    p->progress.input = index;
    for (int eof = 0; st == SLM_OK && !eof;) {
        size_t got = 0, used = 0;
        char *buf = reserve(p->buf, &p->cap, len + p->chunk, 1);
        if (!buf) {
            st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
            break;
        }
        p->buf = buf;
        if ((st = slm_stream_read(in, buf + len, p->chunk, &got, err)) != SLM_OK) break;
        eof = got == 0, len += got;
        p->b.n_items = 0;
        st = jsonl ? cut_lines(p, len, eof, &line, &used, path, err) : cut_documents(p, len, eof, &used, err);
        if (st == SLM_OK) st = write_batch(p, jsonl ? p->texts : p->buf, err);
        if (st != SLM_OK) break;
        memmove(p->buf, p->buf + used, len - used);
        len -= used;
        p->progress.bytes_read += got;
        p->progress.docs = p->docs[0] + p->docs[1], p->progress.tokens = p->tokens[0] + p->tokens[1];
        p->progress.seconds = slm_time_seconds() - p->t0;
        if (opt->progress) opt->progress(&p->progress, opt->progress_user);
    }
    if (in) slm_stream_close(in);
    return st;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

slm_status slm_data_prepare(const slm_tokenizer *tok, const char *const *inputs, int n_inputs,
                            const slm_data_options *opt, const char *out_path, slm_data_info *info, slm_error *err) {
    double val = opt->val_fraction;
    size_t max_doc = opt->max_doc_bytes ? opt->max_doc_bytes : DEFAULT_MAX_DOC;
    if (!(val >= 0.0 && val < 1.0)) return slm_fail(err, SLM_ERR_ARG, "validation fraction %g out of [0, 1)", val);
    if (max_doc < 64 || max_doc > MAX_LINE) return slm_fail(err, SLM_ERR_ARG, "max document size %zu out of [64, 64 MiB]", max_doc);
    prep p = {.n_threads = opt->n_threads ? opt->n_threads : 1, .chunk = opt->chunk_bytes ? opt->chunk_bytes : DEFAULT_CHUNK};
    p.b = (batch){.tok = tok, .width = tok->vocab_size <= 65536 ? 2 : 4, .max_doc = max_doc,
                  .threshold = (uint64_t)(val * 18446744073709551615.0)};
    p.t0 = slm_time_seconds();
    slm_status st = p.n_threads >= 1 && p.n_threads <= 1024
                        ? SLM_OK
                        : slm_fail(err, SLM_ERR_ARG, "thread count %d out of range 1..1024", p.n_threads);
    if (st == SLM_OK && p.n_threads > 1) st = slm_pool_create(p.n_threads, &p.pool, err);
    p.b.n_slices = p.n_threads > 1 ? 8 * p.n_threads : 1;
    if (st == SLM_OK && (!(p.b.slices = calloc((size_t)p.b.n_slices, sizeof *p.b.slices)) ||
                         !(p.b.scratch = calloc((size_t)p.n_threads, sizeof *p.b.scratch))))
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    uint8_t hdr[64] = {0};
    if (st == SLM_OK) st = slm_writer_open(out_path, &p.out, err);
    if (st == SLM_OK) st = slm_writer_write(p.out, hdr, sizeof hdr, err); /* filled in at the end */
    for (int i = 0; i < 3 && st == SLM_OK; i++) st = slm_writer_open_scratch(out_path, &p.side[i], err);
    for (int i = 0; i < n_inputs && st == SLM_OK; i++) st = add_input(&p, i, inputs[i], opt, err);
    for (int i = 0; i < 3 && st == SLM_OK; i++) st = slm_writer_append(p.out, p.side[i], err);
    if (st == SLM_OK) {
        memcpy(hdr, "SLMDATA1", 8);
        put32(hdr + 8, 1), put32(hdr + 12, (uint32_t)p.b.width);
        put64(hdr + 16, p.tokens[0]), put64(hdr + 24, p.tokens[1]), put64(hdr + 32, p.docs[0]), put64(hdr + 40, p.docs[1]);
        put64(hdr + 48, slm_tokenizer_checksum(tok)), put32(hdr + 56, (uint32_t)tok->vocab_size);
        st = slm_writer_write_at(p.out, 0, hdr, sizeof hdr, err);
    }
    if (st == SLM_OK) st = slm_writer_commit(p.out, err);
    else slm_writer_abort(p.out);
    for (int i = 0; i < 3; i++) slm_writer_abort(p.side[i]);
    if (st == SLM_OK && info) {
        memset(info, 0, sizeof *info);
        info->token_bytes = p.b.width, info->vocab_size = tok->vocab_size;
        info->train_tokens = p.tokens[0], info->val_tokens = p.tokens[1];
        info->train_docs = p.docs[0], info->val_docs = p.docs[1];
        info->checksum = slm_tokenizer_checksum(tok);
    }
    for (int k = 0; p.b.slices && k < p.b.n_slices; k++) free(p.b.slices[k].tokens), free(p.b.slices[k].docs);
    for (int t = 0; p.b.scratch && t < p.n_threads; t++) free(p.b.scratch[t].ids);
    free(p.b.slices), free(p.b.scratch), free(p.b.items), free(p.buf), free(p.texts);
    slm_pool_free(p.pool);
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
