/* tokenize.c — slm tokenize / slm detokenize. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char HELP_TOK[] =
    "usage: slm tokenize -z TOKENIZER (-p TEXT | -f FILE) [--ids | --pieces] [--no-bos] [--parse-special]\n"
    "\n"
    "Prints the token ids (default) or pieces of the whole text on one line, space-separated.\n"
    "BOS is included unless --no-bos. Pieces are printed as stored (spaces as ' ').\n"
    "--parse-special turns control tokens written in the text (\"<|im_start|>\", \"</s>\") into their ids.\n";

static const char HELP_DETOK[] =
    "usage: slm detokenize -z TOKENIZER [--special] ID...\n"
    "\n"
    "Prints the text of the token ids (byte tokens as bytes; control tokens such as BOS/EOS are\n"
    "dropped, or shown with --special).\n";

int cmd_tokenize(int argc, char **argv) {
    cli_args a = {"tokenize", argc, 0, argv, 0};
    const char *tok_path = NULL, *text_arg = NULL, *file = NULL, *arg;
    int pieces = 0, bos = 1, parse_special = 0;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP_TOK, stdout); return 0; }
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "-p") || !strcmp(arg, "--prompt")) text_arg = cli_value(&a, arg);
        else if (!strcmp(arg, "-f") || !strcmp(arg, "--file")) file = cli_value(&a, arg);
        else if (!strcmp(arg, "--ids")) pieces = 0;
        else if (!strcmp(arg, "--pieces")) pieces = 1;
        else if (!strcmp(arg, "--no-bos")) bos = 0;
        else if (!strcmp(arg, "--parse-special")) parse_special = 1;
        else cli_unknown(&a, arg);
    }
    if (a.failed) return EXIT_USAGE;
    if ((text_arg != NULL) == (file != NULL)) {
        cli_error(a.cmd, "give exactly one of -p TEXT or -f FILE");
        return EXIT_USAGE;
    }
    slm_tokenizer *tok = cli_load_tokenizer(a.cmd, tok_path, NULL, 0);
    if (!tok) return EXIT_FAIL;
    if (parse_special) slm_tokenizer_parse_special(tok, 1);
    size_t len = text_arg ? strlen(text_arg) : 0;
    char *text = file ? cli_read_file(a.cmd, file, &len) : NULL;
    int rc = EXIT_FAIL, n = 0;
    int32_t *ids = NULL;
    if (file && !text) goto done;
    if (len > (size_t)1 << 28) {
        cli_error(a.cmd, "text too long (%zu bytes)", len);
        goto done;
    }
    ids = malloc((3 * len + 3) * sizeof *ids);
    if (!ids || slm_tokenizer_encode(tok, text ? text : text_arg, len, bos, 0, ids, (int)(3 * len + 3), &n) != SLM_OK) {
        cli_error(a.cmd, "cannot tokenize the text");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (i) putchar(' ');
        if (pieces) fputs(slm_tokenizer_token(tok, ids[i]), stdout);
        else printf("%d", ids[i]);
    }
    putchar('\n');
    rc = 0;
done:
    free(ids);
    free(text);
    slm_tokenizer_free(tok);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    cli_args a = {"detokenize", argc, 0, argv, 0};
    const char *tok_path = NULL, *arg;
    int32_t *ids = malloc(((size_t)argc + 1) * sizeof *ids);
    int n = 0, special = 0;
    if (!ids) return EXIT_FAIL;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP_DETOK, stdout); free(ids); return 0; }
        else if (!strcmp(arg, "-z") || !strcmp(arg, "--tokenizer")) tok_path = cli_value(&a, arg);
        else if (!strcmp(arg, "--special")) special = 1;
        else if (arg[0] >= '0' && arg[0] <= '9') {
            char *end;
            errno = 0;
            long v = strtol(arg, &end, 10);
            if (*end || errno || v > INT32_MAX) {
                cli_error(a.cmd, "'%s' is not a token id", arg);
                a.failed = 1;
            } else
                ids[n++] = (int32_t)v;
        } else
            cli_unknown(&a, arg);
    }
    if (a.failed) {
        free(ids);
        return EXIT_USAGE;
    }
    slm_tokenizer *tok = cli_load_tokenizer(a.cmd, tok_path, NULL, 0);
    int rc = EXIT_FAIL;
    if (!tok) goto done;
    slm_tokenizer_show_special(tok, special);
    for (int i = 0; i < n; i++)
        if (ids[i] >= slm_tokenizer_vocab_size(tok)) {
            cli_error(a.cmd, "token id %d is outside the vocabulary [0, %d)", ids[i], slm_tokenizer_vocab_size(tok));
            goto done;
        }
    size_t len;
    slm_tokenizer_decode(tok, ids, n, NULL, 0, &len);
    char *out = malloc(len + 1);
    if (!out) goto done;
    slm_tokenizer_decode(tok, ids, n, out, len + 1, &len);
    fwrite(out, 1, len, stdout);
    putchar('\n');
    free(out);
    rc = 0;
done:
    free(ids);
    slm_tokenizer_free(tok);
    return rc;
}
