/* train_tok.c — slm tokenizer train: byte-level BPE from text files. */
#include <stdlib.h>
#include <string.h>

#include "../src/train/train.h"
#include "cli.h"

static const char HELP[] =
    "usage: slm tokenizer train --vocab N [--special TOKEN]... -o OUT.json INPUT...\n"
    "       slm tokenizer train --vocab N --byte-fallback -o OUT.bin INPUT...\n"
    "\n"
    "Trains a byte-level BPE tokenizer (GPT-2 style: GPT-2's pre-tokenizer regex, merges of the most\n"
    "frequent pair, ties to the lexicographically greater pair) on the INPUT files and writes it as\n"
    "a Hugging Face tokenizer.json that slm loads (-z OUT.json). Special tokens (e.g.\n"
    "<|endoftext|>) come first in the vocabulary and never take part in merges.\n"
    "\n"
    "--byte-fallback trains SentencePiece-style BPE instead (what Llama 2 / tinyllamas tokenizers are):\n"
    "words start with the meta space, the characters covering 99.95% of the text form the alphabet,\n"
    "rarer ones fall back to the 256 byte tokens; written as a llama2.c tokenizer.bin.\n";

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 1 || strcmp(argv[0], "train")) {
        if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
            fputs(HELP, stdout);
            return 0;
        }
        cli_error("tokenizer", "usage: slm tokenizer train ... (see slm tokenizer --help)");
        return EXIT_USAGE;
    }
    cli_args a = {"tokenizer train", argc - 1, 0, argv + 1, 0};
    const char *out = NULL, *arg, **inputs = malloc(sizeof(char *) * (size_t)argc), **specials = malloc(sizeof(char *) * (size_t)argc);
    int vocab = 0, n_in = 0, n_sp = 0, rc = EXIT_FAIL, byte_fallback = 0;
    if (!inputs || !specials) return EXIT_FAIL;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); free(inputs), free(specials); return 0; }
        else if (!strcmp(arg, "--vocab")) vocab = cli_int(&a, arg, 257, 1 << 20);
        else if (!strcmp(arg, "--special")) specials[n_sp++] = cli_value(&a, arg);
        else if (!strcmp(arg, "--byte-fallback")) byte_fallback = 1;
        else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) out = cli_value(&a, arg);
        else if (arg[0] != '-') inputs[n_in++] = arg;
        else cli_unknown(&a, arg);
    }
    char *text = NULL;
    size_t total = 0;
    slm_bpe_vocab v = {0};
    slm_error err;
    if (a.failed) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (!vocab || !out || !n_in) {
        cli_error(a.cmd, "need --vocab N, -o OUT.json and at least one INPUT");
        rc = EXIT_USAGE;
        goto done;
    }
    for (int i = 0; i < n_in; i++) { /* the inputs, one after another */
        size_t len;
        char *t = cli_read_file(a.cmd, inputs[i], &len);
        if (!t) goto done;
        char *g = realloc(text, total + len + 1);
        if (!g) {
            free(t);
            goto done;
        }
        text = g;
        memcpy(text + total, t, len);
        total += len;
        free(t);
    }
    if (byte_fallback) {
        if (slm_spm_train(text, total, vocab, out, &err) != SLM_OK) {
            cli_error(a.cmd, "%s", err.msg);
            goto done;
        }
        fprintf(stderr, "slm tokenizer train: %zu bytes -> SentencePiece-style BPE in %s\n", total, out);
        rc = 0;
        goto done;
    }
    if (slm_bpe_train(text, total, specials, n_sp, vocab, &v, &err) != SLM_OK ||
        slm_bpe_vocab_write_json(&v, out, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    fprintf(stderr, "slm tokenizer train: %zu bytes -> %d tokens (%d merges) in %s\n", total, v.n, v.n_merges, out);
    rc = 0;
done:
    slm_bpe_vocab_free(&v);
    free(text), free(inputs), free(specials);
    return rc;
}
