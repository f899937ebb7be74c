/* test_chat.c — chat templates against hand-written expected texts, encoding of special tokens,
 * and slm chat over a pipe. */
#include "test.h"
#include "tests.h"

void chat_templates_render_expected_text(void) {
    const slm_chat_message conv[] = {{"system", "Be brief."}, {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "2+2?"}};
    const slm_chat_message no_system[] = {{"user", "Hi!"}};
    struct { const char *tpl; const slm_chat_message *m; int n; const char *expect; } cases[] = {
        {"chatml", conv, 4,
         "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
         "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"},
        {"chatml", no_system, 1, "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"},
        {"smollm2", no_system, 1,
         "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
         "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"},
        {"smollm2", conv, 2, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"},
        {"llama2", conv, 4, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] 2+2? [/INST]"},
        {"llama2", no_system, 1, "<s>[INST] Hi! [/INST]"},
        {"zephyr", conv, 4,
         "<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello.</s>\n<|user|>\n2+2?</s>\n<|assistant|>\n"},
        {"plain", conv, 2, "Be brief.\n\nHi!\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[1024];
        size_t len;
        slm_error err;
        CHECK(slm_chat_render_text(cases[i].tpl, cases[i].m, cases[i].n, 1, out, sizeof out, &len, &err) == SLM_OK, "%s", err.msg);
        CHECK(len == strlen(cases[i].expect) && !strcmp(out, cases[i].expect), "%s case %zu:\n[%s]\nexpected\n[%s]",
              cases[i].tpl, i, out, cases[i].expect);
    }
    slm_error err;
    char out[16];
    size_t len;
    CHECK(slm_chat_render_text("nope", conv, 1, 1, out, sizeof out, &len, &err) == SLM_ERR_ARG && strstr(err.msg, "nope"));
    CHECK(!strcmp(slm_chat_template_guess("{% for m in messages %}<|im_start|>{{ m.role }}..."), "chatml"));
    CHECK(!strcmp(slm_chat_template_guess("...You are a helpful AI assistant named SmolLM...<|im_start|>"), "smollm2"));
    CHECK(!strcmp(slm_chat_template_guess("{{ bos_token + '[INST] ' + content }}"), "llama2"));
    CHECK(!strcmp(slm_chat_template_guess("<|user|>\n{{ m }}</s>\n<|assistant|>\n"), "zephyr"));
    CHECK(slm_chat_template_guess("{{ something else }}") == NULL);
}

void chat_encode_specials_as_ids(void) {
    const char *lt = shared_path("models/tokenizer.bin"), *sc = shared_path("data/tokenizer-tests/ggml-vocab-starcoder.gguf");
    if (!lt) SKIP("../shared/models/tokenizer.bin is missing");
    slm_tokenizer *t;
    slm_error err;
    CHECK(slm_tokenizer_load_file(lt, 32000, &t, &err) == SLM_OK);
    const slm_chat_message m[] = {{"user", "Hi!"}};
    int32_t ids[64];
    int n;
    /* llama2: BOS as an id, then "[INST] Hi! [/INST]" as text (one dummy prefix) */
    CHECK(slm_chat_encode(t, "llama2", m, 1, 1, 1, ids, 64, &n, &err) == SLM_OK, "%s", err.msg);
    int32_t text_ids[64];
    int tn;
    slm_tokenizer_encode(t, "[INST] Hi! [/INST]", 18, 0, 0, text_ids, 64, &tn);
    CHECK(n == tn + 1 && ids[0] == 1 && !memcmp(ids + 1, text_ids, sizeof(int32_t) * (size_t)tn), "llama2 ids");
    /* chatml needs <|im_start|>, which the Llama 2 vocabulary lacks: a clear error */
    CHECK(slm_chat_encode(t, "chatml", m, 1, 1, 1, ids, 64, &n, &err) == SLM_ERR_MISMATCH && strstr(err.msg, "<|im_start|>"),
          "%s", err.msg);
    slm_tokenizer_free(t);
    /* a StarCoder-family vocabulary has no <|im_start|> either; SmolLM's has (not in shared data) */
#ifdef SLM_NO_PCRE2
    if (sc) { /* byte-level BPE: refused, with the reason */
        CHECK(slm_tokenizer_load_file(sc, 0, &t, &err) != SLM_OK && strstr(err.msg, "PCRE2"), "%s", err.msg);
        sc = NULL;
    }
#endif
    if (sc) {
        CHECK(slm_tokenizer_load_file(sc, 0, &t, &err) == SLM_OK);
        CHECK(slm_chat_end_of_turn(t, "chatml") == -1 && slm_chat_end_of_turn(t, "llama2") == slm_tokenizer_eos(t));
        slm_tokenizer_free(t);
    }
}

void chat_cli_keeps_the_conversation(void) {
    const char *mp = shared_path("models/stories260K.bin");
    if (!mp) SKIP("../shared/models/stories260K.bin is missing");
    char cmd[2048];
    /* two turns through a pipe, plain template, greedy: each reply streams, the context grows */
    snprintf(cmd, sizeof cmd, "printf 'Once upon a time\\nThe end\\n' | %s chat -m %s --chat-template plain -n 20 --temp 0 > %s 2> %s",
             getenv("SLM_BIN") ? getenv("SLM_BIN") : "build/slm", mp, tmp_path("chat.out"), tmp_path("chat.err"));
    CHECK(system(cmd) == 0);
    char *out = read_all(tmp_path("chat.out"), NULL), *errs = read_all(tmp_path("chat.err"), NULL);
    CHECK(out && strlen(out) > 20, "replies: %s", out ? out : "");
    CHECK(errs && strstr(errs, "turn 2") && strstr(errs, "context"), "stats per turn: %s", errs ? errs : "");
    free(out), free(errs);
    /* an unknown template is a usage error naming the choices */
    char args[1024], *e = NULL;
    snprintf(args, sizeof args, "chat -m %s --chat-template nope", mp);
    CHECK(run_slm(args, NULL, &e) == 2 && e && strstr(e, "chatml"), "%s", e ? e : "");
    free(e);
    /* generate --chat wraps one prompt */
    snprintf(args, sizeof args, "generate -m %s -p Lily --chat-template plain --system 'A story.' -n 8 --temp 0", mp);
    char *o = NULL;
    CHECK(run_slm(args, &o, &e) == 0 && o && strlen(o) > 5, "%s", e ? e : "");
    free(o), free(e);
    snprintf(args, sizeof args, "generate -m %s -p Lily --chat -n 8", mp);
    CHECK(run_slm(args, NULL, &e) == 1 && e && strstr(e, "--chat-template"), "%s", e ? e : "");
    free(e);
    /* a model without a template needs --chat-template */
    snprintf(args, sizeof args, "chat -m %s", mp);
    CHECK(run_slm(args, NULL, &e) == 1 && e && strstr(e, "--chat-template"), "%s", e ? e : "");
    free(e);
}
