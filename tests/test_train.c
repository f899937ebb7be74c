/* test_train.c — tokenizer training against the reference in ../shared/data/bpe-train; token files. */
#include "../src/train/merge.h"
#include "../src/train/train.h"
#include "json.h"
#include "test.h"
#include "tests.h"

void bpe_train_reproduces_reference(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: byte-level tokenizers are written as tokenizer.json");
#endif
    const char *cp = shared_path("data/bpe-train/corpus.en"), *mp = shared_path("data/bpe-train/train-bpe-reference-merges.txt"),
               *vp = shared_path("data/bpe-train/train-bpe-reference-vocab.json");
    if (!cp || !mp || !vp) SKIP("../shared/data/bpe-train is missing");
    size_t len, ml, vl;
    char *text = read_all(cp, &len), *merges = read_all(mp, &ml), *vjson = read_all(vp, &vl);
    const char *specials[1] = {"<|endoftext|>"};
    slm_bpe_vocab v;
    slm_error err;
    CHECK(slm_bpe_train(text, len, specials, 1, 500, &v, &err) == SLM_OK, "%s", err.msg);
    CHECK(v.n == 500 && v.n_merges == 243, "vocabulary %d, merges %d", v.n, v.n_merges);
    CHECK(slm_bpe_vocab_write_json(&v, tmp_path("trained.json"), &err) == SLM_OK, "%s", err.msg);
    /* merges, in order, as the reference writes them (GPT-2 alphabet, "a b" per line) */
    size_t jl;
    char *written = read_all(tmp_path("trained.json"), &jl);
    json *j = written ? json_parse(written, jl) : NULL;
    const json *jm = json_get(json_get(j, "model"), "merges"), *jv = json_get(json_get(j, "model"), "vocab");
    int line = 0, same = 0;
    for (char *p = merges; p && *p && jm; line++) {
        char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (line < jm->n && strlen(jm->items[line].str) == n && !memcmp(jm->items[line].str, p, n)) same++;
        else if (line < jm->n) fprintf(stderr, "    merge %d: reference [%.*s] trained [%s]\n", line, (int)n, p, jm->items[line].str);
        p = e ? e + 1 : p + n;
    }
    CHECK(jm && line == 243 && same == 243 && jm->n == 243, "%d of %d merges identical", same, line);
    /* the vocabulary: every id and piece as in the reference (plus the special token) */
    json *ref = json_parse(vjson, vl);
    int vsame = 0;
    for (int i = 0; ref && jv && i < ref->n; i++) {
        const json *mine = json_get(jv, ref->items[i].key);
        if (mine && mine->num == ref->items[i].num) vsame++;
        else if (!strcmp(ref->items[i].key, "<|endoftext|>") && ref->items[i].num == 0) vsame++; /* an added token */
    }
    CHECK(ref && ref->n == 500 && vsame == 500, "%d of 500 vocabulary entries identical", vsame);
    printf("    corpus.en, vocab 500: %d/243 merges and %d/500 vocabulary entries identical\n", same, vsame);
    /* the trained tokenizer.json loads and round-trips text */
    slm_tokenizer *t = NULL;
    CHECK(slm_tokenizer_load_file(tmp_path("trained.json"), 500, &t, &err) == SLM_OK, "%s", err.msg);
    if (t) {
        const char *s = "iron cement is a ready for use paste<|endoftext|>";
        int n;
        CHECK(test_round_trip(t, s, 35, 0, &n) && n < 20, "%d tokens", n);
        slm_tokenizer_free(t);
    }
    json_delete(ref), json_delete(j);
    free(written), free(text), free(merges), free(vjson);
    slm_bpe_vocab_free(&v);
}

void cli_tokenizer_train(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: byte-level tokenizers are written as tokenizer.json");
#endif
    const char *cp = shared_path("data/bpe-train/corpus.en");
    if (!cp) SKIP("../shared/data/bpe-train is missing");
    char args[1024], *out = NULL, *errs = NULL;
    snprintf(args, sizeof args, "tokenizer train --vocab 300 --special '<|endoftext|>' -o %s %s", tmp_path("t300.json"), cp);
    CHECK(run_slm(args, NULL, &errs) == 0 && errs && strstr(errs, "300 tokens (43 merges)"), "%s", errs ? errs : "");
    free(errs);
    snprintf(args, sizeof args, "tokenize -z %s -p 'iron cement' --no-bos", tmp_path("t300.json"));
    CHECK(run_slm(args, &out, NULL) == 0 && out && strlen(out) > 3, "%s", out ? out : "");
    free(out);
    CHECK(run_slm("tokenizer train --vocab 100 -o x.json y", NULL, &errs) == 2 && errs && strstr(errs, "'100' is not an integer"), "%s",
          errs ? errs : "");
    free(errs);
}

void spm_train_byte_fallback_round_trips(void) {
    const char *tp = shared_path("data/tinystories/train-head-2MiB.txt");
    if (!tp) SKIP("../shared/data/tinystories is missing");
    size_t len;
    char *text = read_all(tp, &len);
    if (len > 400000) len = 400000;
    slm_error err;
    CHECK(slm_spm_train(text, len, 512, tmp_path("a.bin"), &err) == SLM_OK, "%s", err.msg);
    CHECK(slm_spm_train(text, len, 512, tmp_path("b.bin"), &err) == SLM_OK, "%s", err.msg);
    size_t la, lb;
    char *a = read_all(tmp_path("a.bin"), &la), *b = read_all(tmp_path("b.bin"), &lb);
    CHECK(a && b && la == lb && !memcmp(a, b, la), "training is deterministic");
    slm_tokenizer *t = NULL;
    CHECK(slm_tokenizer_load_file(tmp_path("a.bin"), 512, &t, &err) == SLM_OK, "%s", err.msg);
    if (t) {
        const char *s = "Once upon a time, Lily saw a big red ball.\nShe smiled. 🍕 Zürich";
        int n;
        CHECK(test_round_trip(t, s, strlen(s), 1, &n), "round trip");
        /* it compresses: fewer tokens than bytes by a wide margin on its own kind of text */
        int32_t *all = malloc(sizeof(int32_t) * (3 * 20000 + 3));
        slm_tokenizer_encode(t, text + len - 20000, 20000, 0, 0, all, 3 * 20000 + 3, &n);
        printf("    trained 512-token SentencePiece-style BPE: %.2f bytes per token\n", 20000.0 / n);
        CHECK(20000.0 / n > 1.8, "%.2f bytes per token", 20000.0 / n);
        free(all);
        slm_tokenizer_free(t);
    }
    CHECK(slm_spm_train(text, len, 100, tmp_path("c.bin"), &err) == SLM_ERR_ARG && strstr(err.msg, "260"));
    free(a), free(b), free(text);
}

void data_prepare_token_files(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: its inputs include JSONL");
#endif
    const char *tp = shared_path("models/tok512.bin"), *lt = shared_path("models/tokenizer.bin");
    if (!tp || !lt) SKIP("../shared/models is missing");
    const char *text = "Once upon a time there was a cat.<|endoftext|>\nLily liked the park.<|endoftext|>  <|endoftext|>The end.";
    write_all(tmp_path("docs.txt"), text, strlen(text));
    const char *jsonl = "{\"text\": \"A jsonl document.\"}\n{\"text\": \"Another one.\", \"meta\": 1}\n";
    write_all(tmp_path("docs.jsonl"), jsonl, strlen(jsonl));
    slm_tokenizer *t, *other;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    CHECK(slm_tokenizer_load_file(lt, 32000, &other, &err) == SLM_OK);
    const char *inputs[2] = {tmp_path("docs.txt"), tmp_path("docs.jsonl")};
    slm_data_info a, b, c;
    slm_data_options opt = {0};
    CHECK(slm_data_prepare(t, inputs, 2, &opt, tmp_path("d1.tok"), &a, &err) == SLM_OK, "%s", err.msg);
    CHECK(a.train_docs == 5 && a.val_docs == 0 && a.token_bytes == 2, "docs %llu/%llu", (unsigned long long)a.train_docs,
          (unsigned long long)a.val_docs);
    CHECK(slm_data_prepare(t, inputs, 2, &opt, tmp_path("d2.tok"), &b, &err) == SLM_OK);
    size_t l1, l2;
    char *f1 = read_all(tmp_path("d1.tok"), &l1), *f2 = read_all(tmp_path("d2.tok"), &l2);
    CHECK(f1 && f2 && l1 == l2 && !memcmp(f1, f2, l1), "preparing is deterministic");
    /* the first document decodes back to the first story; it starts with BOS */
    if (f1) {
        uint16_t ids[64];
        int n = 0;
        uint64_t start2;
        memcpy(&start2, f1 + 64 + a.train_tokens * 2 + 8, 8);
        for (uint64_t i = 0; i < start2 && n < 64; i++) memcpy(&ids[n++], f1 + 64 + i * 2, 2);
        int32_t ids32[64];
        for (int i = 0; i < n; i++) ids32[i] = ids[i];
        char back[256];
        size_t bl;
        slm_tokenizer_decode(t, ids32, n, back, sizeof back, &bl);
        CHECK(ids32[0] == 1 && !strcmp(back, "Once upon a time there was a cat."), "[%s]", back);
    }
    /* the check: right tokenizer ok, a different one refused, a truncated file refused */
    CHECK(slm_data_check(tmp_path("d1.tok"), t, &c, &err) == SLM_OK && c.train_tokens == a.train_tokens, "%s", err.msg);
    CHECK(slm_data_check(tmp_path("d1.tok"), other, &c, &err) == SLM_ERR_MISMATCH && strstr(err.msg, "different tokenizer"),
          "%s", err.msg);
    if (f1) write_all(tmp_path("cut.tok"), f1, l1 - 3);
    CHECK(slm_data_check(tmp_path("cut.tok"), t, &c, &err) == SLM_ERR_FORMAT && strstr(err.msg, "do not match the file size"),
          "%s", err.msg);
    /* a validation share moves whole documents, always the same ones */
    opt.val_fraction = 0.4;
    CHECK(slm_data_prepare(t, inputs, 2, &opt, tmp_path("d3.tok"), &a, &err) == SLM_OK);
    CHECK(slm_data_prepare(t, inputs, 2, &opt, tmp_path("d4.tok"), &b, &err) == SLM_OK);
    CHECK(a.train_docs + a.val_docs == 5 && a.val_docs == b.val_docs && a.val_tokens == b.val_tokens);
    free(f1), free(f2);
    slm_tokenizer_free(t), slm_tokenizer_free(other);
}

/* ---- streaming, threads and the incremental merger */

/* Counts text[0..len) fed in pieces of `piece` bytes (0: at once); *ws lives in the returned
 * counter (NULL on failure). */
static slm_word_counter *count_words(slm_split split, const char *const *specials, int n_specials, const char *text, size_t len,
                                     int threads, size_t chunk, size_t piece, const slm_words **ws) {
    slm_word_counter *wc;
    slm_error err;
    if (slm_word_counter_create(split, specials, n_specials, threads, chunk, &wc, &err) != SLM_OK) return NULL;
    slm_status st = SLM_OK;
    for (size_t i = 0; i < len && st == SLM_OK; i += piece ? piece : len)
        st = slm_word_counter_feed(wc, text + i, piece && len - i > piece ? piece : len - i, &err);
    if (st == SLM_OK) st = slm_word_counter_finish(wc, ws, &err);
    if (st != SLM_OK) slm_word_counter_free(wc), wc = NULL;
    return wc;
}

/* Whether two tables hold the same words with the same counts in the same order. */
static int same_words(const slm_words *a, const slm_words *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->w[i].len != b->w[i].len || a->w[i].count != b->w[i].count ||
            memcmp(a->bytes + a->w[i].off, b->bytes + b->w[i].off, a->w[i].len))
            return 0;
    return 1;
}

static int same_files(const char *p, const char *q) {
    size_t lp, lq;
    char *a = read_all(p, &lp), *b = read_all(q, &lq);
    int same = a && b && lp == lq && !memcmp(a, b, lp);
    free(a), free(b);
    return same;
}

void tokenizer_train_same_for_1_2_3_threads(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: byte-level tokenizers are written as tokenizer.json");
#endif
    const char *wp = shared_path("data/text/war-and-peace.txt"), *tp = shared_path("data/tinystories/train-head-2MiB.txt");
    if (!wp || !tp) SKIP("../shared/data/text or tinystories is missing");
    size_t lw, lt, half = 600000;
    char *w = read_all(wp, &lw), *t = read_all(tp, &lt), *text = malloc(2 * half);
    memcpy(text, w, half), memcpy(text + half, t, half); /* half of each: stories with <|endoftext|> */
    const char *sp[1] = {"<|endoftext|>"};
    for (int split = SLM_SPLIT_GPT2; split <= SLM_SPLIT_SPACES; split++) {
        const slm_words *ref, *ws;
        int n_sp = split == SLM_SPLIT_GPT2;
        slm_word_counter *rc = count_words(split, sp, n_sp, text, 2 * half, 1, 4 * half, 0, &ref);
        CHECK(rc && ref->n > 10000, "%d words", rc ? ref->n : 0);
        for (int threads = 1; rc && threads <= 3; threads++) {
            /* 64 KiB chunks: many batches, each split between the threads */
            slm_word_counter *wc = count_words(split, sp, n_sp, text, 2 * half, threads, 64 << 10, 100000, &ws);
            CHECK(wc && same_words(ref, ws), "split %d, %d threads: the words differ from one thread in one chunk", split, threads);
            char path[32];
            snprintf(path, sizeof path, "threads%d-%d", split, threads);
            slm_error err;
            slm_bpe_vocab v = {0};
            if (wc && split == SLM_SPLIT_GPT2) {
                CHECK(slm_bpe_train_words(ws, sp, 1, 1000, NULL, NULL, &v, &err) == SLM_OK && v.n == 1000, "%s", err.msg);
                CHECK(slm_bpe_vocab_write_json(&v, tmp_path(path), &err) == SLM_OK, "%s", err.msg);
            } else if (wc)
                CHECK(slm_spm_train_words(ws, 1000, NULL, NULL, tmp_path(path), &err) == SLM_OK, "%s", err.msg);
            if (threads > 1) {
                char first[32];
                snprintf(first, sizeof first, "threads%d-1", split);
                CHECK(same_files(tmp_path(first), tmp_path(path)), "split %d: %d threads trained another tokenizer", split, threads);
            }
            slm_bpe_vocab_free(&v);
            slm_word_counter_free(wc);
        }
        slm_word_counter_free(rc);
    }
    free(w), free(t), free(text);
}

void tokenizer_train_same_for_any_chunk_size(void) {
    /* text that tries every kind of place to cut: runs of white space, CRLF, Unicode spaces
     * before line ends (U+3000, U+2028, NBSP), invalid UTF-8, special tokens (one with spaces
     * inside) and a word longer than SentencePiece-style words keep; fed in pieces of 1, 31 and
     * 961 bytes, which split words and special tokens anywhere */
    static const char *const pieces[] = {"Once upon a time, Lily's cat didn't run.", "\n", "\n\n", "  ", " ", "\t", "\r\n",
                                         "<|endoftext|>", "<|end of text|>", "\xe3\x80\x80\n\n", "\xc2\xa0 ", "x\xff\xfe y",
                                         "123 4567", "\xe2\x80\xa8\n", "\xe6\x97\xa5\xe6\x9c\xac \xe8\xaa\x9e\n", "it's  ",
                                         "a\n\n\nb", "\xf0\x9f\x8d\x95!\n", "?\n \n"};
    size_t cap = 64 << 10, len = 0;
    char *text = malloc(cap);
    uint32_t r = 1;
    while (len + 64 < cap - 6000) {
        r = r * 1103515245u + 12345u;
        const char *p = pieces[(r >> 16) % (sizeof pieces / sizeof *pieces)];
        memcpy(text + len, p, strlen(p)), len += strlen(p);
        if (len > cap / 2 && len < cap / 2 + 64) memset(text + len, 'a', 5000), len += 5000;
    }
    const char *sp[2] = {"<|endoftext|>", "<|end of text|>"};
    static const size_t chunks[] = {1, 2, 3, 7, 16, 100};
    int first_split = SLM_SPLIT_GPT2;
#ifdef SLM_NO_PCRE2
    first_split = SLM_SPLIT_SPACES; /* GPT-2's pre-tokenizer is a PCRE2 regex */
    fprintf(stderr, "    built with NO_PCRE2=1: GPT-2 word splitting not checked\n");
#endif
    for (int split = first_split; split <= SLM_SPLIT_SPACES; split++) {
        const slm_words *ref, *ws;
        int n_sp = split == SLM_SPLIT_GPT2 ? 2 : 0, differ = 0, runs = 0;
        slm_word_counter *rc = count_words(split, sp, n_sp, text, len, 1, 0, 0, &ref);
        CHECK(rc && ref->n > 40, "%d words", rc ? ref->n : 0);
        for (int i = 0; rc && split == SLM_SPLIT_GPT2 && i < ref->n; i++) /* special tokens are never words */
            CHECK(!memchr(ref->bytes + ref->w[i].off, '|', ref->w[i].len), "word %d holds a special token", i);
        for (size_t c = 0; rc && c < sizeof chunks / sizeof *chunks; c++)
            for (int threads = 1; threads <= 3; threads += 2)
                for (size_t piece = 1; piece <= 1000; piece *= 31) {
                    slm_word_counter *wc = count_words(split, sp, n_sp, text, len, threads, chunks[c], piece, &ws);
                    runs++;
                    if (!wc || !same_words(ref, ws)) {
                        differ++;
                        fprintf(stderr, "    split %d, chunk %zu, %d threads, pieces of %zu: other words\n", split, chunks[c],
                                threads, piece);
                    }
                    slm_word_counter_free(wc);
                }
        CHECK(runs == 36 && differ == 0, "%d of %d ways of counting differ", differ, runs);
        slm_word_counter_free(rc);
    }
    free(text);
}

/* The best pair by counting every pair of every word (what the trainer did before the merger),
 * with the merger's tie order. Returns how many pairs have its count (0: no pair at all). */
static int best_pair_by_recount(const slm_words *ws, const int *sym, const int *n_sym, const slm_symbols *sy,
                                const char *frozen, int n_frozen, int *ba, int *bb, int64_t *bc) {
    typedef struct {
        int a, b;
        int64_t count;
    } slot;
    size_t cap = 1024, total = 0;
    for (int i = 0; i < ws->n; i++) total += (size_t)n_sym[i];
    while (cap < 2 * total) cap *= 2;
    slot *tab = malloc(sizeof *tab * cap);
    for (size_t i = 0; i < cap; i++) tab[i].a = -1;
    for (int i = 0; i < ws->n; i++)
        for (int j = 0; j + 1 < n_sym[i]; j++) {
            int x = sym[ws->w[i].off + j], y = sym[ws->w[i].off + j + 1];
            if ((x < n_frozen && frozen[x]) || (y < n_frozen && frozen[y])) continue;
            size_t h = ((size_t)x * 40503u + (size_t)y * 2654435761u) & (cap - 1);
            while (tab[h].a >= 0 && (tab[h].a != x || tab[h].b != y)) h = (h + 1) & (cap - 1);
            if (tab[h].a < 0) tab[h].a = x, tab[h].b = y, tab[h].count = 0;
            tab[h].count += ws->w[i].count;
        }
    int found = 0;
    for (size_t i = 0; i < cap; i++) {
        if (tab[i].a < 0) continue;
        int c = 0;
        if (found && tab[i].count == *bc) {
            size_t la = sy->len[tab[i].a], lb = sy->len[*ba];
            c = memcmp(sy->bytes[tab[i].a], sy->bytes[*ba], la < lb ? la : lb);
            if (!c) c = la < lb ? -1 : la > lb;
            if (!c) {
                la = sy->len[tab[i].b], lb = sy->len[*bb];
                c = memcmp(sy->bytes[tab[i].b], sy->bytes[*bb], la < lb ? la : lb);
                if (!c) c = la < lb ? -1 : la > lb;
            }
            if (!c) c = tab[i].a != *ba ? *ba - tab[i].a : *bb - tab[i].b;
        }
        if (!found || tab[i].count > *bc || (tab[i].count == *bc && c > 0))
            *ba = tab[i].a, *bb = tab[i].b, *bc = tab[i].count, found = 1;
    }
    int n_best = 0;
    for (size_t i = 0; i < cap; i++) n_best += tab[i].a >= 0 && tab[i].count == *bc;
    free(tab);
    return n_best;
}

void bpe_merger_matches_full_recount_and_tie_order(void) {
    const char *cp = shared_path("data/bpe-train/corpus.en");
    if (!cp) SKIP("../shared/data/bpe-train is missing");
    size_t len;
    char *text = read_all(cp, &len);
    const slm_words *ws;
    slm_word_counter *wc = count_words(SLM_SPLIT_SPACES, NULL, 0, text, len, 1, 0, 0, &ws);
    CHECK(wc != NULL);
    if (!wc) {
        free(text);
        return;
    }
    /* symbols: the 256 bytes, 'q', 'z' and the non-ASCII bytes frozen; a copy of every word's
     * symbols that the test merges itself */
    slm_symbols sy = {0};
    char frozen[256] = {0};
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        slm_symbols_add(&sy, &c, 1);
        frozen[b] = b == 'q' || b == 'z' || b >= 0x80;
    }
    slm_merger m;
    CHECK(slm_merger_init(&m, ws, &sy));
    int *mine = malloc(sizeof(int) * (ws->n_bytes + 1)), *n_mine = malloc(sizeof(int) * ((size_t)ws->n + 1));
    for (int i = 0; i < ws->n; i++) {
        for (size_t k = 0; k < ws->w[i].len; k++) mine[ws->w[i].off + k] = m.sym[ws->w[i].off + k] = (unsigned char)ws->bytes[ws->w[i].off + k];
        n_mine[i] = m.n_sym[i] = (int)ws->w[i].len;
    }
    CHECK(slm_merger_count(&m, frozen, 256));
    int same = 0, ties = 0, mismatch = 0;
    for (int merge = 0; merge < 1500; merge++) {
        int a = -1, b = -1, ra = -1, rb = -1, s;
        int64_t count = 0, rcount = 0;
        int got = slm_merger_best(&m, &a, &b, &count), n_best = best_pair_by_recount(ws, mine, n_mine, &sy, frozen, 256, &ra, &rb, &rcount);
        if (got != (n_best > 0) || (got && (a != ra || b != rb || count != rcount))) {
            fprintf(stderr, "    merge %d: merger (%d %d) x%lld, recount (%d %d) x%lld\n", merge, a, b, (long long)count, ra, rb,
                    (long long)rcount);
            mismatch = 1;
            break;
        }
        if (!got) break;
        same++, ties += n_best > 1;
        for (int i = 0; i < ws->n; i++) { /* the merge, on the test's copy (the new symbol is sy.n) */
            int *w = mine + ws->w[i].off, o = 0;
            for (int j = 0; j < n_mine[i]; j++) {
                if (j + 1 < n_mine[i] && w[j] == a && w[j + 1] == b) w[o++] = sy.n, j++;
                else w[o++] = w[j];
            }
            n_mine[i] = o;
        }
        CHECK((s = slm_symbols_add_merge(&sy, a, b)) == sy.n - 1 && slm_merger_merge(&m, a, b, s));
    }
    int words_same = 1;
    for (int i = 0; i < ws->n; i++)
        words_same &= n_mine[i] == m.n_sym[i] && !memcmp(mine + ws->w[i].off, m.sym + ws->w[i].off, sizeof(int) * (size_t)n_mine[i]);
    printf("    corpus.en: %d merges as a full recount picks them (%d of them broke a tie in count)\n", same, ties);
    CHECK(!mismatch && same == 1500 && ties > 100 && words_same, "%d merges agree, %d ties, words %s", same, ties,
          words_same ? "same" : "differ");
    slm_merger_free(&m), slm_symbols_free(&sy), slm_word_counter_free(wc);
    free(mine), free(n_mine), free(text);
    /* a full tie: two symbols spell "ab" (one from a+b, one from another merge), each followed by
     * 'c' as often: the lower ids go first */
    slm_words two = {0};
    slm_words_add(&two, "abc", 3, slm_fnv1a("abc", 3), 3);
    slm_words_add(&two, "abc!", 4, slm_fnv1a("abc!", 4), 3);
    slm_symbols ab = {0};
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        slm_symbols_add(&ab, &c, 1);
    }
    int ab1 = slm_symbols_add(&ab, "ab", 2), ab2 = slm_symbols_add(&ab, "ab", 2), a, b;
    int64_t count;
    CHECK(slm_merger_init(&m, &two, &ab));
    m.sym[two.w[0].off] = ab2, m.sym[two.w[0].off + 1] = 'c', m.n_sym[0] = 2; /* the later one first in the words */
    m.sym[two.w[1].off] = ab1, m.sym[two.w[1].off + 1] = 'c', m.n_sym[1] = 2;
    CHECK(slm_merger_count(&m, NULL, 0) && slm_merger_best(&m, &a, &b, &count) && a == ab1 && b == 'c' && count == 3, "(%d %d)", a, b);
    slm_merger_free(&m), slm_symbols_free(&ab), slm_words_free(&two);
}

void cli_tokenizer_train_threads_progress_quiet(void) {
    const char *cp = shared_path("data/bpe-train/corpus.en");
    if (!cp) SKIP("../shared/data/bpe-train is missing");
    char args[1024], *errs = NULL;
    const char *one = tmp_path("cli-t1.bin"), *three = tmp_path("cli-t3.bin");
    snprintf(args, sizeof args, "tokenizer train --vocab 400 --byte-fallback -t 1 -o %s %s", one, cp);
    CHECK(run_slm(args, NULL, &errs) == 0 && errs && strstr(errs, "distinct words -> SentencePiece-style BPE"), "%s", errs ? errs : "");
    free(errs);
    /* --progress writes the reading rate and the merges even to a file; -t 3 trains the same */
    snprintf(args, sizeof args, "tokenizer train --vocab 400 --byte-fallback -t 3 --progress -o %s %s", three, cp);
    CHECK(run_slm(args, NULL, &errs) == 0 && errs && strstr(errs, "MB/s") && strstr(errs, "merges 62 / 62"), "%s", errs ? errs : "");
    free(errs);
    CHECK(same_files(one, three), "-t 3 trained another tokenizer than -t 1");
    snprintf(args, sizeof args, "tokenizer train --vocab 400 --byte-fallback --quiet --progress -o %s %s", tmp_path("q.bin"), cp);
    CHECK(run_slm(args, NULL, &errs) == 0 && errs && !*errs, "[%s]", errs ? errs : "");
    free(errs);
    /* - reads stdin */
    const char *bin = getenv("SLM_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s tokenizer train --vocab 400 --byte-fallback --quiet -o %s - < %s", bin ? bin : "build/slm",
             tmp_path("stdin.bin"), cp);
    CHECK(system(cmd) == 0 && same_files(one, tmp_path("stdin.bin")), "stdin");
    /* bad values are usage errors, found before reading */
    CHECK(run_slm("tokenizer train --vocab 400 -t 0 -o x.json y", NULL, &errs) == 2 && errs && strstr(errs, "'0' is not an integer"),
          "%s", errs ? errs : "");
    free(errs);
    CHECK(run_slm("tokenizer train --vocab 259 --byte-fallback -o x.bin /nonexistent", NULL, &errs) == 2 && errs &&
              strstr(errs, "[260, 65536]"), "%s", errs ? errs : "");
    free(errs);
    CHECK(run_slm("tokenizer train --vocab 400 --byte-fallback --special '<s>' -o x.bin /nonexistent", NULL, &errs) == 2 && errs &&
              strstr(errs, "--special is for byte-level BPE"), "%s", errs ? errs : "");
    free(errs);
}

static char *token_file_doc(const char *f, const slm_tokenizer *t, int val, uint64_t k) {
    uint32_t width;
    uint64_t h[4]; /* train tokens, validation tokens, train docs, validation docs */
    memcpy(&width, f + 12, 4), memcpy(h, f + 16, sizeof h);
    if (k >= h[2 + val]) return NULL;
    const char *tokens = f + 64 + (val ? h[0] * width : 0), *starts = f + 64 + (h[0] + h[1]) * width + (val ? h[2] * 8 : 0);
    uint64_t from, to = h[val];
    memcpy(&from, starts + k * 8, 8);
    if (k + 1 < h[2 + val]) memcpy(&to, starts + (k + 1) * 8, 8);
    int32_t *ids = calloc(to - from + 1, sizeof *ids);
    for (uint64_t i = from; i < to; i++) memcpy(&ids[i - from], tokens + i * width, width); /* little-endian hosts */
    size_t n = 0;
    slm_tokenizer_decode(t, ids, (int)(to - from), NULL, 0, &n);
    char *text = malloc(n + 1);
    slm_tokenizer_decode(t, ids, (int)(to - from), text, n + 1, &n);
    int bos = to > from && ids[0] == slm_tokenizer_bos(t);
    free(ids);
    if (!bos) text[0] = '\0'; /* every document starts with BOS: an empty text tells a test it did not */
    return text;
}

/* Prepares inputs into `out` with threads and chunk size; returns the file (NULL on failure, message noted). */
static char *prepare_file(const slm_tokenizer *t, const char *const *inputs, int n, slm_data_options o, int threads,
                          size_t chunk, const char *out, size_t *len, slm_data_info *info) {
    slm_error err;
    o.n_threads = threads, o.chunk_bytes = chunk;
    slm_status st = slm_data_prepare(t, inputs, n, &o, out, info, &err);
    CHECK(st == SLM_OK, "threads %d chunk %zu: %s", threads, chunk, err.msg);
    return st == SLM_OK ? read_all(out, len) : NULL;
}

/* Appends {"text": "<s[0..n) escaped>"} and a newline. */
static size_t json_line(char *out, const char *s, size_t n) {
    size_t k = (size_t)sprintf(out, "{\"id\": 7, \"text\": \"");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') out[k++] = '\\', out[k++] = s[i];
        else if (s[i] == '\n') out[k++] = '\\', out[k++] = 'n';
        else if ((unsigned char)s[i] >= 0x20) out[k++] = s[i];
    }
    return k + (size_t)sprintf(out + k, "\"}\n");
}

void data_prepare_same_file_for_any_thread_count_and_chunk_size(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: its inputs include JSONL");
#endif
    const char *tp = shared_path("models/tok512.bin"), *sp = shared_path("data/tinystories/train-head-2MiB.txt"),
               *bp = shared_path("data/text/war-and-peace.txt");
    if (!tp || !sp || !bp) SKIP("../shared is missing tok512.bin, train-head-2MiB.txt or war-and-peace.txt");
    size_t sl, bl, jl = 0;
    char *stories = read_all(sp, &sl), *book = read_all(bp, &bl), *jsonl = malloc(64 << 10);
    /* 48 KiB of stories (the last one cut short), 24 KiB of a book (one document, so cut into pieces of
     * at most 4 KiB), and JSONL lines of 2 KiB of stories each, one of them 9 KiB */
    for (size_t off = 200 << 10, n; off < (224 << 10); off += n) jl += json_line(jsonl + jl, stories + off, n = off == (210 << 10) ? 9 << 10 : 2 << 10);
    char in[3][512], *ref;
    snprintf(in[0], 512, "%s", tmp_path("stories.txt")), snprintf(in[1], 512, "%s", tmp_path("book.txt"));
    snprintf(in[2], 512, "%s", tmp_path("stories.jsonl"));
    write_all(in[0], stories, 48 << 10), write_all(in[1], book + (100 << 10), 24 << 10), write_all(in[2], jsonl, jl);
    const char *inputs[3] = {in[0], in[1], in[2]};
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    slm_data_options o = {.val_fraction = 0.2, .max_doc_bytes = 4096};
    slm_data_info a, b;
    size_t rl, xl;
    ref = prepare_file(t, inputs, 3, o, 1, 0, tmp_path("ref.tok"), &rl, &a);
    CHECK(a.train_docs + a.val_docs > 60 && a.val_docs > 5, "docs %llu + %llu", (unsigned long long)a.train_docs,
          (unsigned long long)a.val_docs);
    CHECK(slm_data_check(tmp_path("ref.tok"), t, &b, &err) == SLM_OK && b.train_tokens == a.train_tokens, "%s", err.msg);
    static const struct { int threads; size_t chunk; } cases[] = {{2, 0}, {3, 0}, {1, 7}, {3, 7}, {2, 1000}, {3, 4109}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *x = prepare_file(t, inputs, 3, o, cases[i].threads, cases[i].chunk, tmp_path("x.tok"), &xl, &b);
        CHECK(ref && x && xl == rl && !memcmp(x, ref, rl), "threads %d, chunk %zu: the file differs", cases[i].threads,
              cases[i].chunk);
        free(x);
    }
    /* every document starts with BOS and is at most 4 KiB; the book alone is cut into 6 or more */
    for (int v = 0; v < 2 && ref; v++)
        for (uint64_t k = 0; k < (v ? a.val_docs : a.train_docs); k++) {
            char *d = token_file_doc(ref, t, v, k);
            CHECK(d && *d && strlen(d) <= 4096, "document %d/%llu: no BOS, or %zu bytes", v, (unsigned long long)k,
                  d ? strlen(d) : 0);
            free(d);
        }
    free(prepare_file(t, inputs + 1, 1, o, 2, 0, tmp_path("book.tok"), &xl, &b));
    CHECK(b.train_docs + b.val_docs >= 6, "the book: %llu documents", (unsigned long long)(b.train_docs + b.val_docs));
    free(ref), free(stories), free(book), free(jsonl);
    slm_tokenizer_free(t);
}

void data_prepare_documents_across_chunk_boundaries(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: its inputs include JSONL");
#endif
    const char *tp = shared_path("models/tok512.bin");
    if (!tp) SKIP("../shared/models is missing");
    const char *text = "Once upon a time there was a cat.<|endoftext|>\nLily liked the park.<|endoftext|>  <|endoftext|>The end.";
    const char *jsonl = "{\"text\": \"A jsonl \\u00e9 document.\"}\r\n\n  \n{\"text\": \"Another one.\", \"meta\": 1}";
    const char *want[] = {"Once upon a time there was a cat.", "Lily liked the park.", "The end.", "A jsonl \xc3\xa9 document.",
                          "Another one."};
    char in[2][512];
    snprintf(in[0], 512, "%s", tmp_path("docs.txt")), snprintf(in[1], 512, "%s", tmp_path("docs.jsonl"));
    write_all(in[0], text, strlen(text)), write_all(in[1], jsonl, strlen(jsonl));
    const char *inputs[2] = {in[0], in[1]};
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    slm_data_options o = {0};
    slm_data_info a;
    size_t rl, xl;
    char *ref = prepare_file(t, inputs, 2, o, 1, 0, tmp_path("big.tok"), &rl, &a);
    /* chunks of 1, 5 and 12 bytes: every document and every separator crosses chunk boundaries */
    static const size_t chunks[] = {1, 5, 12};
    for (size_t c = 0; c < 3; c++) {
        char *x = prepare_file(t, inputs, 2, o, 2, chunks[c], tmp_path("small.tok"), &xl, &a);
        CHECK(ref && x && xl == rl && !memcmp(x, ref, rl), "chunk %zu: the file differs", chunks[c]);
        CHECK(a.train_docs == 5 && a.val_docs == 0, "chunk %zu: %llu documents", chunks[c], (unsigned long long)a.train_docs);
        for (int k = 0; k < 5 && x; k++) {
            char *d = token_file_doc(x, t, 0, (uint64_t)k);
            CHECK(d && !strcmp(d, want[k]), "chunk %zu, document %d: [%s]", chunks[c], k, d ? d : "");
            free(d);
        }
        free(x);
    }
    /* a document of exactly max_doc bytes stays whole while its separator is still arriving */
    char exact[128] = {0};
    for (int i = 0; i < 64; i++) exact[i] = i % 8 == 7 ? ' ' : (char)('a' + i % 8);
    exact[63] = '.';
    strcat(exact, "<|endoftext|>Tail.");
    write_all(in[0], exact, strlen(exact));
    o.max_doc_bytes = 64;
    for (size_t chunk = 1; chunk <= 80; chunk += 3) {
        char *x = prepare_file(t, inputs, 1, o, 1, chunk, tmp_path("exact.tok"), &xl, &a), *d = x ? token_file_doc(x, t, 0, 0) : NULL;
        CHECK(a.train_docs == 2 && d && strlen(d) == 64, "chunk %zu: %llu documents, the first [%s]", chunk,
              (unsigned long long)a.train_docs, d ? d : "");
        free(x), free(d);
    }
    free(ref);
    slm_tokenizer_free(t);
}

void data_prepare_cuts_long_documents_at_paragraphs_then_characters(void) {
    const char *tp = shared_path("models/tok512.bin");
    if (!tp) SKIP("../shared/models is missing");
    /* 40 paragraphs of 100..400 bytes; and 2000 three-byte characters with no space at all */
    char *paras = malloc(20000), *euros = malloc(6001);
    size_t pl = 0;
    for (int i = 0; i < 40; i++) {
        pl += (size_t)sprintf(paras + pl, "%sParagraph %d", i ? "\n\n" : "", i);
        for (int w = 0; w < 10 + (i * 7) % 30; w++) pl += (size_t)sprintf(paras + pl, " word%d", w);
        paras[pl++] = '.';
    }
    for (int i = 0; i < 2000; i++) memcpy(euros + 3 * i, "\xe2\x82\xac", 3);
    char in[2][512];
    snprintf(in[0], 512, "%s", tmp_path("paras.txt")), snprintf(in[1], 512, "%s", tmp_path("euros.txt"));
    write_all(in[0], paras, pl), write_all(in[1], euros, 6000);
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    slm_data_options o = {.max_doc_bytes = 1000};
    slm_data_info a;
    size_t len;
    const char *inputs[2] = {in[0], in[1]};
    char *f = prepare_file(t, inputs, 2, o, 2, 333, tmp_path("cut.tok"), &len, &a), *joined = calloc(1, 30000);
    uint64_t k = 0;
    char *d = NULL;
    /* paragraphs: each piece ends a paragraph, is at most 1000 bytes, and the pieces joined by blank lines are the text */
    for (; f && (d = token_file_doc(f, t, 0, k)) != NULL && strncmp(d, "\xe2\x82\xac", 3); k++, free(d)) {
        CHECK(strlen(d) <= 1000 && d[strlen(d) - 1] == '.', "piece %llu: %zu bytes", (unsigned long long)k, strlen(d));
        if (k) strcat(joined, "\n\n");
        strcat(joined, d);
    }
    CHECK(k >= 2 && strlen(joined) == pl && !memcmp(joined, paras, pl), "%llu pieces", (unsigned long long)k);
    /* no space: cut at a character boundary, 333 characters a piece */
    joined[0] = '\0';
    for (uint64_t e = 0; f && d; e++, d = token_file_doc(f, t, 0, ++k)) {
        CHECK(strlen(d) == (e < 6 ? 999 : 6), "euro piece %llu: %zu bytes", (unsigned long long)e, strlen(d));
        strcat(joined, d), free(d);
    }
    CHECK(strlen(joined) == 6000 && !memcmp(joined, euros, 6000), "the characters come back whole");
    CHECK(a.train_docs == k, "%llu documents, %llu read", (unsigned long long)a.train_docs, (unsigned long long)k);
    free(f), free(joined), free(paras), free(euros);
    slm_tokenizer_free(t);
}

void data_prepare_jsonl_errors_name_the_line(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: JSONL needs cJSON");
#endif
    const char *tp = shared_path("models/tok512.bin");
    if (!tp) SKIP("../shared/models is missing");
    const char *bad = "{\"text\": \"one\"}\n\n{\"txt\": \"two\"}\n{\"text\": 3}\n";
    char in[512], out[512];
    snprintf(in, 512, "%s", tmp_path("bad.jsonl")), snprintf(out, 512, "%s", tmp_path("bad.tok"));
    write_all(in, bad, strlen(bad));
    const char *inputs[1] = {in};
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    for (int threads = 1; threads <= 3; threads += 2)
        for (size_t chunk = 4; chunk <= 4096; chunk *= 1024) {
            slm_data_options o = {.n_threads = threads, .chunk_bytes = chunk};
            CHECK(slm_data_prepare(t, inputs, 1, &o, out, NULL, &err) == SLM_ERR_FORMAT &&
                      strstr(err.msg, "bad.jsonl: line 3 has no \"text\" string"), "threads %d, chunk %zu: %s", threads, chunk,
                  err.msg);
            CHECK(!read_all(out, NULL), "no output is left behind");
        }
    slm_tokenizer_free(t);
}

void data_prepare_empty_input_adds_nothing(void) {
#ifdef SLM_NO_HF
    SKIP("built with NO_HF=1: its inputs include JSONL");
#endif
    const char *tp = shared_path("models/tok512.bin");
    if (!tp) SKIP("../shared/models is missing");
    const char *text = "Once upon a time.<|endoftext|>The end.";
    char in[3][512];
    snprintf(in[0], 512, "%s", tmp_path("empty.txt")), snprintf(in[1], 512, "%s", tmp_path("two.txt"));
    snprintf(in[2], 512, "%s", tmp_path("empty.jsonl"));
    write_all(in[0], "", 0), write_all(in[1], text, strlen(text)), write_all(in[2], "", 0);
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(tp, 512, &t, &err) == SLM_OK);
    slm_data_options o = {.n_threads = 2};
    slm_data_info a;
    size_t el, wl, ol;
    const char *only_empty[1] = {in[0]}, *with_empty[3] = {in[0], in[1], in[2]}, *without[1] = {in[1]};
    char *e = prepare_file(t, only_empty, 1, o, 2, 0, tmp_path("e.tok"), &el, &a);
    CHECK(e && el == 64 && a.train_docs + a.val_docs + a.train_tokens + a.val_tokens == 0, "%zu bytes", el);
    CHECK(slm_data_check(tmp_path("e.tok"), t, &a, &err) == SLM_OK, "%s", err.msg);
    char *w = prepare_file(t, with_empty, 3, o, 2, 0, tmp_path("w.tok"), &wl, &a);
    char *x = prepare_file(t, without, 1, o, 2, 0, tmp_path("o.tok"), &ol, &a);
    CHECK(w && x && wl == ol && !memcmp(w, x, wl) && a.train_docs == 2, "empty inputs change nothing");
    free(e), free(w), free(x);
    slm_tokenizer_free(t);
}

void data_prepare_cli_threads_progress_quiet(void) {
    const char *tp = shared_path("models/tok512.bin");
    if (!tp) SKIP("../shared/models is missing");
    const char *text = "Once upon a time.<|endoftext|>The end.";
    char in[512], args[2048], *out = NULL, *errs = NULL;
    snprintf(in, 512, "%s", tmp_path("cli.txt"));
    write_all(in, text, strlen(text));
    snprintf(args, sizeof args, "data prepare -z %s -o %s -t 2 --progress %s", tp, tmp_path("cli.tok"), in);
    CHECK(run_slm(args, &out, &errs) == 0 && out && strstr(out, "\"train_docs\":2") && errs && strstr(errs, "MB/s") &&
              strstr(errs, "2 docs"), "%s%s", out ? out : "", errs ? errs : "");
    free(out), free(errs);
    snprintf(args, sizeof args, "data prepare -z %s -o %s --progress --quiet %s", tp, tmp_path("cli.tok"), in);
    CHECK(run_slm(args, &out, &errs) == 0 && errs && !*errs, "quiet: [%s]", errs ? errs : "");
    free(out), free(errs);
    snprintf(args, sizeof args, "data prepare -z %s -o %s %s", tp, tmp_path("cli.tok"), in);
    CHECK(run_slm(args, &out, &errs) == 0 && errs && !*errs, "stderr is not a terminal: [%s]", errs ? errs : "");
    free(out), free(errs);
    snprintf(args, sizeof args, "data prepare -z %s -o %s -t 0 %s", tp, tmp_path("cli.tok"), in);
    CHECK(run_slm(args, NULL, NULL) == 2, "-t 0 is a usage error");
}
