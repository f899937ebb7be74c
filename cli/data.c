/* data.c — slm data prepare / slm data info: token files for training. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/train/train.h"
#include "cli.h"

static const char HELP[] =
    "usage: slm data prepare -z TOKENIZER -o OUT [--val FRACTION] [-t THREADS] [--progress | --quiet] INPUT...\n"
    "       slm data info FILE [-z TOKENIZER]\n"
    "\n"
    "prepare encodes documents — stories separated by <|endoftext|> (TinyStories), lines of a .jsonl\n"
    "file with a \"text\" field, or a whole plain-text file — each starting with BOS, into one token\n"
    "file: a header (token width, counts, tokenizer checksum), train and validation tokens, and\n"
    "document starts. A document longer than 256 KiB is cut into documents of at most that, at a blank\n"
    "line, newline or space where it can. A document goes to validation (default 1%) by a hash of its\n"
    "text, so the split is deterministic. Inputs are read 4 MiB at a time and each chunk's documents\n"
    "are encoded on THREADS threads (default 1); the file is the same for any thread count, and is\n"
    "written atomically. Progress (MB read, MB/s, documents, tokens) goes to stderr when it is a\n"
    "terminal, or always with --progress; --quiet silences it.\n"
    "info prints a token file's header; with -z it also checks the file was made with that tokenizer.\n";

/* Progress on stderr: one line rewritten in place on a terminal, a line per update elsewhere. */
typedef struct progress_out {
    const char *const *inputs;
    int n_inputs, tty, shown;
} progress_out;

static void show_progress(const slm_data_progress *p, void *user) {
    progress_out *o = user;
    double mb = (double)p->bytes_read / 1e6;
    fprintf(stderr, "%sslm data prepare: [%d/%d] %s: %.1f MB read, %.1f MB/s, %llu docs, %llu tokens%s", o->tty ? "\r" : "",
            p->input + 1, o->n_inputs, o->inputs[p->input], mb, p->seconds > 0 ? mb / p->seconds : 0.0,
            (unsigned long long)p->docs, (unsigned long long)p->tokens, o->tty ? "\033[K" : "\n");
    o->shown = 1;
}

int cmd_data(int argc, char **argv) {
    if (argc < 1 || (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        fputs(HELP, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : 0;
    }
    int prepare = !strcmp(argv[0], "prepare");
    if (!prepare && strcmp(argv[0], "info")) {
        cli_error("data", "unknown subcommand '%s' (prepare, info)", argv[0]);
        return EXIT_USAGE;
    }
    cli_args a = {prepare ? "data prepare" : "data info", argc - 1, 0, argv + 1, 0};
    const char *tok_path = NULL, *out = NULL, *arg, **inputs = malloc(sizeof(char *) * (size_t)argc);
    slm_data_options opt = {.val_fraction = 0.01, .n_threads = 1};
    int n_in = 0, rc = EXIT_FAIL, progress = isatty(STDERR_FILENO);
    if (!inputs) return EXIT_FAIL;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); free(inputs); return 0; }
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (prepare && (!strcmp(arg, "-o") || !strcmp(arg, "--output"))) out = cli_value(&a, arg);
        else if (prepare && !strcmp(arg, "--val")) opt.val_fraction = cli_double(&a, arg, 0, 0.5);
        else if (prepare && (!strcmp(arg, "-t") || !strcmp(arg, "--threads"))) opt.n_threads = cli_int(&a, arg, 1, 1024);
        else if (prepare && !strcmp(arg, "--progress")) progress = 1;
        else if (prepare && (!strcmp(arg, "-q") || !strcmp(arg, "--quiet"))) progress = 0;
        else if (arg[0] != '-') inputs[n_in++] = arg;
        else cli_unknown(&a, arg);
    }
    slm_tokenizer *tok = NULL;
    slm_data_info info;
    slm_error err;
    if (a.failed) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (prepare ? (!tok_path || !out || !n_in) : n_in != 1) {
        cli_error(a.cmd, prepare ? "need -z TOKENIZER, -o OUT and at least one INPUT" : "need exactly one FILE");
        rc = EXIT_USAGE;
        goto done;
    }
    if (tok_path && !(tok = cli_load_tokenizer(a.cmd, tok_path, NULL, 0))) goto done;
    if (prepare) {
        progress_out po = {inputs, n_in, isatty(STDERR_FILENO), 0};
        if (progress) opt.progress = show_progress, opt.progress_user = &po;
        slm_status st = slm_data_prepare(tok, inputs, n_in, &opt, out, &info, &err);
        if (po.shown && po.tty) fputc('\n', stderr);
        if (st != SLM_OK) {
            cli_error(a.cmd, "%s", err.msg);
            goto done;
        }
    } else if (slm_data_check(inputs[0], tok, &info, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    printf("{\"train_tokens\":%llu,\"val_tokens\":%llu,\"train_docs\":%llu,\"val_docs\":%llu,\"token_bytes\":%d,"
           "\"vocab_size\":%d,\"tokenizer_checksum\":\"%016llx\"}\n",
           (unsigned long long)info.train_tokens, (unsigned long long)info.val_tokens, (unsigned long long)info.train_docs,
           (unsigned long long)info.val_docs, info.token_bytes, info.vocab_size, (unsigned long long)info.checksum);
    rc = 0;
done:
    slm_tokenizer_free(tok);
    free(inputs);
    return rc;
}
