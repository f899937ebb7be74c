/* train_tok.c — slm tokenizer train: BPE tokenizers from text files, read as a stream. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/train/merge.h"
#include "../src/train/train.h"
#include "cli.h"

static const char HELP[] =
    "usage: slm tokenizer train --vocab N [--special TOKEN]... [options] -o OUT.json INPUT...\n"
    "       slm tokenizer train --vocab N --byte-fallback [options] -o OUT.bin INPUT...\n"
    "\n"
    "Trains a byte-level BPE tokenizer (GPT-2 style: GPT-2's pre-tokenizer regex, merges of the most\n"
    "frequent pair, ties to the lexicographically greater pair) on the INPUT files and writes it as\n"
    "a Hugging Face tokenizer.json that slm loads (-z OUT.json). Special tokens (e.g.\n"
    "<|endoftext|>) come first in the vocabulary and never take part in merges.\n"
    "\n"
    "--byte-fallback trains SentencePiece-style BPE instead (what Llama 2 / tinyllamas tokenizers are):\n"
    "words start with the meta space, the characters covering 99.95% of the text form the alphabet,\n"
    "rarer ones fall back to the 256 byte tokens; written as a llama2.c tokenizer.bin.\n"
    "\n"
    "The INPUTs (- is stdin) are read one after another as one stream, in chunks; only the table of\n"
    "distinct words stays in memory, so they may be larger than memory.\n"
    "\n"
    "options:\n"
    "  -t, --threads N  threads counting words (default: the number of CPUs); every N trains the\n"
    "                   same tokenizer\n"
    "  --progress       progress on stderr (reading MB/s, then merges) even when it is not a terminal\n"
    "  --quiet          no progress and no summary: errors only\n";

/* Progress lines on stderr: redrawn in place on a terminal, else one line a second. */
typedef struct progress {
    int on, tty;
    int open;               /* a line is on the terminal without its newline */
    double start, last;     /* when the phase started, when a line was last printed */
    int merges, max_merges; /* so far, and the most there will be */
} progress;

static void progress_show(progress *p, int final, const char *fmt, ...) {
    double now = slm_time_seconds();
    if (!p->on || (!final && now - p->last < (p->tty ? 0.1 : 1.0))) return;
    va_list ap;
    va_start(ap, fmt);
    fputs(p->tty ? "\rslm tokenizer train: " : "slm tokenizer train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(p->tty ? (final ? "\x1b[K\n" : "\x1b[K") : "\n", stderr); /* a terminal: clear what is left of the line */
    va_end(ap);
    p->last = now, p->open = p->tty && !final;
}

static void show_reading(progress *p, int final, uint64_t bytes) {
    double mb = (double)bytes / 1e6, s = slm_time_seconds() - p->start;
    progress_show(p, final, "read %.1f MB, %.1f MB/s", mb, s > 0 ? mb / s : 0.0);
}

static void show_merges(progress *p, int final) {
    double s = slm_time_seconds() - p->start;
    progress_show(p, final, "merges %d / %d, %.0f per second", p->merges, p->max_merges, s > 0 ? p->merges / s : 0.0);
}

static void on_merge(void *user, int done, int total) {
    progress *p = user;
    p->merges = done, p->max_merges = total;
    show_merges(p, 0);
}

/* Feeds the file (or stdin for "-") to the counter through buf (of size). Returns 0 (message
 * printed) on failure. */
static int feed_file(const char *cmd, const char *path, slm_word_counter *wc, char *buf, size_t size, uint64_t *bytes,
                     progress *p) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error(cmd, "%s: cannot open: %s", path, strerror(errno));
        return 0;
    }
    size_t n;
    slm_error err;
    while ((n = fread(buf, 1, size, f)) > 0) {
        if (slm_word_counter_feed(wc, buf, n, &err) != SLM_OK) {
            cli_error(cmd, "%s", err.msg);
            break;
        }
        *bytes += n;
        show_reading(p, 0, *bytes);
    }
    int ok = n == 0 && !ferror(f);
    if (n == 0 && !ok) cli_error(cmd, "%s: cannot read: %s", path, strerror(errno));
    if (f != stdin) fclose(f);
    return ok;
}

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
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int vocab = 0, n_in = 0, n_sp = 0, rc = EXIT_FAIL, byte_fallback = 0, quiet = 0, show = isatty(STDERR_FILENO);
    int threads = cpus < 1 ? 1 : cpus > 1024 ? 1024 : (int)cpus;
    if (!inputs || !specials) return EXIT_FAIL;
    while (!a.failed && (arg = cli_next(&a))) {
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { fputs(HELP, stdout); free(inputs), free(specials); return 0; }
        else if (!strcmp(arg, "--vocab")) vocab = cli_int(&a, arg, 257, 1 << 20);
        else if (!strcmp(arg, "--special")) specials[n_sp++] = cli_value(&a, arg);
        else if (!strcmp(arg, "--byte-fallback")) byte_fallback = 1;
        else if (!strcmp(arg, "-t") || !strcmp(arg, "--threads")) threads = cli_int(&a, arg, 1, 1024);
        else if (!strcmp(arg, "--progress")) show = 1;
        else if (!strcmp(arg, "--quiet")) quiet = 1;
        else if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) out = cli_value(&a, arg);
        else if (arg[0] != '-' || !strcmp(arg, "-")) inputs[n_in++] = arg;
        else cli_unknown(&a, arg);
    }
    slm_split split = byte_fallback ? SLM_SPLIT_SPACES : SLM_SPLIT_GPT2;
    progress p = {show && !quiet, isatty(STDERR_FILENO), 0, slm_time_seconds(), 0, 0, 0};
    slm_word_counter *wc = NULL;
    const slm_words *words;
    slm_bpe_vocab v = {0};
    slm_error err;
    char *buf = NULL;
    uint64_t bytes = 0;
    if (a.failed) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (!vocab || !out || !n_in) {
        cli_error(a.cmd, "need --vocab N, -o OUT and at least one INPUT");
        rc = EXIT_USAGE;
        goto done;
    }
    if (byte_fallback && n_sp) {
        cli_error(a.cmd, "--special is for byte-level BPE (SentencePiece-style has <unk>, <s>, </s>)");
        rc = EXIT_USAGE;
        goto done;
    }
    if (slm_train_check_vocab(split, vocab, n_sp, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        rc = EXIT_USAGE;
        goto done;
    }
    /* count the words of the inputs, then merge */
    if (slm_word_counter_create(split, specials, n_sp, threads, 0, &wc, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    enum { READ_SIZE = 1 << 20 };
    if (!(buf = malloc(READ_SIZE))) goto done;
    for (int i = 0; i < n_in; i++)
        if (!feed_file(a.cmd, inputs[i], wc, buf, READ_SIZE, &bytes, &p)) goto done;
    if (slm_word_counter_finish(wc, &words, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    show_reading(&p, 1, bytes);
    p.start = slm_time_seconds();
    if (byte_fallback ? slm_spm_train_words(words, vocab, on_merge, &p, out, &err) != SLM_OK
                      : slm_bpe_train_words(words, specials, n_sp, vocab, on_merge, &p, &v, &err) != SLM_OK ||
                            slm_bpe_vocab_write_json(&v, out, &err) != SLM_OK) {
        cli_error(a.cmd, "%s", err.msg);
        goto done;
    }
    show_merges(&p, 1);
    if (!quiet && byte_fallback)
        fprintf(stderr, "slm tokenizer train: %llu bytes, %d distinct words -> SentencePiece-style BPE (%d merges) in %s\n",
                (unsigned long long)bytes, words->n, p.merges, out);
    else if (!quiet)
        fprintf(stderr, "slm tokenizer train: %llu bytes, %d distinct words -> %d tokens (%d merges) in %s\n",
                (unsigned long long)bytes, words->n, v.n, v.n_merges, out);
    rc = 0;
done:
    if (p.open) fputc('\n', stderr);
    slm_word_counter_free(wc);
    slm_bpe_vocab_free(&v);
    free(buf), free(inputs), free(specials);
    return rc;
}
