/* data.c — slm data prepare / slm data info: token files for training. */
#include <stdlib.h>
#include <string.h>

#include "../src/train/train.h"
#include "cli.h"

static const char HELP[] =
    "usage: slm data prepare -z TOKENIZER -o OUT [--val FRACTION] INPUT...\n"
    "       slm data info FILE [-z TOKENIZER]\n"
    "\n"
    "prepare encodes documents — stories separated by <|endoftext|> (TinyStories), lines of a .jsonl\n"
    "file with a \"text\" field, or a whole plain-text file — each starting with BOS, into one token\n"
    "file: a header (token width, counts, tokenizer checksum), train and validation tokens, and\n"
    "document starts. A document goes to validation (default 1%) by a hash of its text, so the split\n"
    "is deterministic. The file is written atomically.\n"
    "info prints a token file's header; with -z it also checks the file was made with that tokenizer.\n";

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
    double val = 0.01;
    int n_in = 0, rc = EXIT_FAIL;
    if (!inputs) return EXIT_FAIL;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); free(inputs); return 0; }
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (prepare && (!strcmp(arg, "-o") || !strcmp(arg, "--output"))) out = cli_value(&a, arg);
        else if (prepare && !strcmp(arg, "--val")) val = cli_double(&a, arg, 0, 0.5);
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
        for (int i = 0; i < n_in; i++) fprintf(stderr, "slm data prepare: %s\n", inputs[i]);
        if (slm_data_prepare(tok, inputs, n_in, val, out, &info, &err) != SLM_OK) {
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
