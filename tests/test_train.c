/* test_train.c — tokenizer training against the reference in ../shared/data/bpe-train. */
#include "../src/train/train.h"
#include "json.h"
#include "test.h"
#include "tests.h"

void bpe_train_reproduces_reference(void) {
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
    CHECK(slm_data_prepare(t, inputs, 2, 0.0, tmp_path("d1.tok"), &a, &err) == SLM_OK, "%s", err.msg);
    CHECK(a.train_docs == 5 && a.val_docs == 0 && a.token_bytes == 2, "docs %llu/%llu", (unsigned long long)a.train_docs,
          (unsigned long long)a.val_docs);
    CHECK(slm_data_prepare(t, inputs, 2, 0.0, tmp_path("d2.tok"), &b, &err) == SLM_OK);
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
    CHECK(slm_data_prepare(t, inputs, 2, 0.4, tmp_path("d3.tok"), &a, &err) == SLM_OK);
    CHECK(slm_data_prepare(t, inputs, 2, 0.4, tmp_path("d4.tok"), &b, &err) == SLM_OK);
    CHECK(a.train_docs + a.val_docs == 5 && a.val_docs == b.val_docs && a.val_tokens == b.val_tokens);
    free(f1), free(f2);
    slm_tokenizer_free(t), slm_tokenizer_free(other);
}
