/* chat.c — slm chat: an interactive conversation that keeps its KV cache across turns. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char HELP[] =
    "usage: slm chat -m MODEL [options]     (one user message per line on stdin; EOF ends)\n"
    "\n"
    "  -m, --model FILE          model (GGUF with a chat template, or any model with --chat-template)\n"
    "  -z, --tokenizer FILE      tokenizer (default: the model's own, or one beside it)\n"
    "      --system TEXT         system prompt\n"
    "      --chat-template NAME  chatml | smollm2 | llama2 | zephyr | plain (default: recognised from\n"
    "                            the model's tokenizer.chat_template)\n"
    "  -n, --n-predict N         most tokens per reply (default 512)\n"
    "      --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, -s/--seed,\n"
    "  -t, --threads, -c, --ctx-size, -b, --batch-size, --kv-f16, --no-simd, --kernels   as for slm generate\n"
    "\n"
    "Replies stream to stdout and end at the template's end-of-turn token or EOS. When the context is\n"
    "full the conversation starts again from the system prompt (said on stderr).\n";

int cmd_chat(int argc, char **argv) {
    cli_args a = {"chat", argc, 0, argv, 0};
    const char *model_path = NULL, *tok_path = NULL, *system_prompt = NULL, *tpl = NULL, *arg;
    int n_predict = 512, seed_given = 0;
    slm_sampler_params sp = slm_sampler_default_params();
    slm_ctx_params cp = cli_ctx_params();
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); return 0; }
        else if (!strcmp(arg, "-m") || !strcmp(arg, "--model")) model_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "--system")) system_prompt = cli_value(&a, arg);
        else if (!strcmp(arg, "--chat-template")) tpl = cli_value(&a, arg);
        else if (!strcmp(arg, "-n") || !strcmp(arg, "--n-predict")) n_predict = cli_int(&a, arg, 1, 1 << 30);
        else if (cli_run_flag(&a, arg, &sp, &seed_given, &cp)) continue;
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    static const char *known[] = {"chatml", "smollm2", "llama2", "zephyr", "plain"};
    int tpl_ok = !tpl;
    for (int i = 0; i < 5 && tpl; i++) tpl_ok |= !strcmp(tpl, known[i]);
    if (!tpl_ok) {
        cli_error(a.cmd, "unknown chat template '%s' (chatml, smollm2, llama2, zephyr, plain)", tpl);
        return EXIT_USAGE;
    }
    if (!seed_given) sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int rc = EXIT_FAIL;
    slm_model *model = NULL;
    slm_tokenizer *tok = NULL;
    slm_ctx *ctx = NULL;
    slm_sampler *sampler = NULL;
    int32_t *ids = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    slm_error err;
    model_path = cli_model_path(model_path);
    if (!(model = cli_load_model(a.cmd, model_path, 0))) goto done;
    const slm_config *c = slm_model_config(model);
    if (!(tok = cli_load_tokenizer(a.cmd, tok_path, model_path, c->vocab_size))) goto done;
    if (!tpl) {
        tpl = slm_chat_template_guess(slm_tokenizer_chat_template(tok));
        if (!tpl) {
            cli_error(a.cmd, "%s has %s chat template; choose one with --chat-template (chatml, smollm2, llama2, zephyr, plain)",
                      model_path, slm_tokenizer_chat_template(tok) ? "an unrecognised" : "no");
            goto done;
        }
    }
    if (slm_ctx_create(model, &cp, &ctx, &err) != SLM_OK || slm_sampler_create(&sp, c->vocab_size, &sampler, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    int ctx_len = slm_ctx_n_ctx(ctx), cap = ctx_len + 16, pos = 0, first = 1, turn = 0;
    int32_t stop = slm_chat_end_of_turn(tok, tpl);
    if (!(ids = malloc(sizeof *ids * (size_t)cap))) goto done;
    fprintf(stderr, "[slm] chat template %s; context %d tokens\n", tpl, ctx_len);
    for (;;) {
        if (isatty(STDIN_FILENO)) fputs("> ", stderr);
        ssize_t got = getline(&line, &line_cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0) continue;
        slm_chat_message msgs[2];
        int nm = 0;
        int n;
        for (int attempt = 0; attempt < 2; attempt++) {
            nm = 0;
            if (first && system_prompt) msgs[nm++] = (slm_chat_message){"system", system_prompt};
            msgs[nm++] = (slm_chat_message){"user", line};
            slm_status st = slm_chat_encode(tok, tpl, msgs, nm, 1, first, ids, cap, &n, &err);
            if (st != SLM_OK && st != SLM_ERR_NOMEM) {
                cli_error(a.cmd, "%s", err.msg);
                goto done;
            }
            if (st == SLM_OK && pos + n + 8 <= ctx_len) break;
            if (first) {
                cli_error(a.cmd, "the message does not fit in the context of %d tokens", ctx_len);
                goto done;
            }
            fprintf(stderr, "[slm] context full (%d of %d tokens): starting the conversation again\n", pos, ctx_len);
            pos = 0, first = 1;
        }
        slm_generate_stats gs;
        slm_status st = slm_generate_tokens(ctx, tok, sampler, ids, n, pos, n_predict, stop, cli_print_token, NULL, &gs, &err);
        fputc('\n', stdout);
        fflush(stdout);
        if (st != SLM_OK) {
            cli_error(a.cmd, "%s", err.msg);
            goto done;
        }
        pos = gs.end_pos;
        /* close the turn in the cache as the template writes it */
        int nc = 0;
        int32_t close_ids[8];
        slm_chat_encode_close(tok, tpl, close_ids, 8, &nc, &err);
        if (pos + nc <= ctx_len && nc > 0 && slm_ctx_eval(ctx, close_ids, nc, pos, NULL, &err) == SLM_OK) pos += nc;
        first = 0;
        fprintf(stderr, "[slm] turn %d: %d prompt tokens, %d reply tokens, %.1f tok/s | context %d of %d\n", ++turn,
                gs.n_prompt, gs.n_generated, gs.gen_seconds > 0 ? gs.n_generated / gs.gen_seconds : 0.0, pos, ctx_len);
    }
    rc = 0;
done:
    free(line);
    free(ids);
    slm_sampler_free(sampler);
    slm_ctx_free(ctx);
    slm_tokenizer_free(tok);
    slm_model_free(model);
    return rc;
}
