/* generate.c — slm generate: stream a continuation of a prompt. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char HELP[] =
    "usage: slm generate [-m MODEL] [options]\n"
    "\n"
    "  -m, --model FILE        model: llama2.c .bin v0/v1/v2, GGUF or a Hugging Face folder (default:\n"
    "                          $SLM_MODEL, else the bundled models/" SLM_DEFAULT_MODEL ")\n"
    "  -z, --tokenizer FILE    tokenizer.bin, tokenizer.model or GGUF (default: a GGUF model's own,\n"
    "                          else tok<vocab>.bin, tokenizer.bin or tokenizer.model beside the model)\n"
    "  -p, --prompt TEXT       prompt (default: empty, generation starts from BOS)\n"
    "  -f, --file FILE         read the prompt from a file\n"
    "  -n, --n-predict N       tokens to generate (default 256; -1 = until the context is full)\n"
    "      --temp T            temperature, 0 = greedy (default 0.8)\n"
    "      --top-k K           keep the K most likely tokens, 0 = off (default 40)\n"
    "      --top-p P           nucleus sampling, 1 = off (default 0.95)\n"
    "      --min-p P           drop tokens below P * p(best), 0 = off (default 0.05)\n"
    "      --repeat-penalty R  penalize recent tokens, 1 = off (default 1.0)\n"
    "      --repeat-last-n N   window of the penalty (default 64)\n"
    "  -s, --seed S            sampling seed (default: from the clock; printed)\n"
    "  -t, --threads N         threads (default 1)\n"
    "  -c, --ctx-size N        context length (default: the model's seq_len)\n"
    "  -b, --batch-size N      prompt tokens evaluated together (default 256; 1 = one at a time)\n"
    "      --kv-f16            keep the KV cache in f16 (half the memory)\n"
    "      --no-simd           use the portable scalar kernels\n"
    "      --kernels NAME      this kernel table: scalar, avx2, avx512, avx512bf16, neon (default: the fastest here)\n"
    "      --chat              wrap the prompt in the model's chat template (as a user message)\n"
    "      --chat-template N   chatml | smollm2 | llama2 | zephyr | plain (implies --chat)\n"
    "      --system TEXT       system prompt for --chat\n"
    "\n"
    "Text goes to stdout; statistics (tokens, tok/s, peak memory) to stderr.\n";

int cmd_generate(int argc, char **argv) {
    cli_args a = {"generate", argc, 0, argv, 0};
    const char *model_path = NULL, *tok_path = NULL, *prompt = "", *prompt_file = NULL;
    int n_predict = 256;
    slm_sampler_params sp = slm_sampler_default_params();
    slm_ctx_params cp = cli_ctx_params();
    int seed_given = 0, chat = 0;
    const char *tpl = NULL, *system_prompt = NULL;
    const char *arg;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); return 0; }
        else if (!strcmp(arg, "-m") || !strcmp(arg, "--model")) model_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt")) prompt = cli_value(&a, arg);
        else if (!strcmp(arg, "-f") || !strcmp(arg, "--file")) prompt_file = cli_value(&a, arg);
        else if (!strcmp(arg, "-n") || !strcmp(arg, "--n-predict")) n_predict = cli_int(&a, arg, -1, 1 << 30);
        else if (cli_run_flag(&a, arg, &sp, &seed_given, &cp)) continue;
        else if (!strcmp(arg, "--chat")) chat = 1;
        else if (!strcmp(arg, "--chat-template")) tpl = cli_value(&a, arg), chat = 1;
        else if (!strcmp(arg, "--system")) system_prompt = cli_value(&a, arg);
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    if (!seed_given) sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);

    int rc = EXIT_FAIL;
    char *file_prompt = NULL;
    slm_model *model = NULL;
    slm_tokenizer *tok = NULL;
    slm_ctx *ctx = NULL;
    slm_sampler *sampler = NULL;
    slm_error err;
    if (prompt_file) {
        size_t len;
        if (!(file_prompt = cli_read_file(a.cmd, prompt_file, &len))) goto done;
        if (strlen(file_prompt) != len) {
            cli_error(a.cmd, "%s: prompt file contains a NUL byte", prompt_file);
            goto done;
        }
        prompt = file_prompt;
    }
    model_path = cli_model_path(model_path);
    if (!(model = cli_load_model(a.cmd, model_path, 0))) goto done;
    const slm_config *c = slm_model_config(model);
    if (!(tok = cli_load_tokenizer(a.cmd, tok_path, model_path, c->vocab_size))) goto done;
    if (slm_ctx_create(model, &cp, &ctx, &err) != SLM_OK || slm_sampler_create(&sp, c->vocab_size, &sampler, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    if (n_predict < 0) n_predict = slm_ctx_n_ctx(ctx);
    slm_generate_stats stats;
    slm_status st;
    if (chat) {
        if (!tpl && !(tpl = slm_chat_template_guess(slm_tokenizer_chat_template(tok)))) {
            cli_error(a.cmd, "%s has no recognised chat template; choose one with --chat-template "
                      "(chatml, smollm2, llama2, zephyr, plain)", model_path);
            goto done;
        }
        slm_chat_message msgs[2];
        int nm = 0, n, cap = 3 * (int)strlen(prompt) + 64 + (system_prompt ? 3 * (int)strlen(system_prompt) : 0) + 256;
        if (system_prompt) msgs[nm++] = (slm_chat_message){"system", system_prompt};
        msgs[nm++] = (slm_chat_message){"user", prompt};
        int32_t *ids = malloc(sizeof *ids * (size_t)cap);
        if (!ids || slm_chat_encode(tok, tpl, msgs, nm, 1, 1, ids, cap, &n, &err) != SLM_OK) {
            if (ids) cli_error(a.cmd, "%s", err.msg);
            free(ids);
            goto done;
        }
        st = slm_generate_tokens(ctx, tok, sampler, ids, n, 0, n_predict, slm_chat_end_of_turn(tok, tpl), cli_print_token, NULL,
                                 &stats, &err);
        free(ids);
    } else
        st = slm_generate(ctx, tok, sampler, prompt, n_predict, cli_print_token, NULL, &stats, &err);
    fputc('\n', stdout); /* end the text with a newline, as llama2.c's run does */
    fflush(stdout);
    if (st != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    static const char *why[] = {"token limit", "end of text", "context full", "callback"};
    fprintf(stderr, "[slm] prompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | stop: %s | "
                    "seed %llu | threads %d | kernels %s | peak memory %.1f MiB\n",
            stats.n_prompt, stats.prompt_seconds > 0 ? stats.n_prompt / stats.prompt_seconds : 0.0,
            stats.n_generated, stats.gen_seconds > 0 ? stats.n_generated / stats.gen_seconds : 0.0,
            why[stats.stopped_by], (unsigned long long)sp.seed, cp.n_threads, slm_ctx_kernels(ctx), cli_peak_rss_mib());
    rc = 0;
done:
    slm_sampler_free(sampler);
    slm_ctx_free(ctx);
    slm_tokenizer_free(tok);
    slm_model_free(model);
    free(file_prompt);
    return rc;
}
