/* train.c — slm train: train a model from a token file, with checkpoints and exact resume. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/train/run.h"
#include "cli.h"

static volatile int stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void help(FILE *f) {
    fputs("usage: slm train -d DATA.tok -z TOKENIZER -o DIR [options]\n"
          "       slm train --resume DIR [--steps N] [-t N] [...]\n"
          "\n"
          "Trains a Llama-family model (RMSNorm, RoPE, GQA, SwiGLU, tied embeddings, MobileLLM block repeat)\n"
          "on a token file made by `slm data prepare` with the same tokenizer. DIR receives model.gguf (the\n"
          "tokenizer inside; slm and llama.cpp load it), checkpoint.slmc (weights, AdamW state, step, history,\n"
          "config; written atomically every --checkpoint-every steps, at the end and on Ctrl-C), log.csv and\n"
          "loss.svg (train and validation loss). --resume DIR continues from the checkpoint and ends with the\n"
          "same weights, bit for bit, as a run that was never stopped. Batches are random windows of the\n"
          "train split; validation uses consecutive windows of the validation split.\n"
          "\n"
          "  -d, --data FILE         token file          -z, --tokenizer FILE   its tokenizer\n"
          "  -o, --out DIR           run directory       --config FILE          'key = value' lines (keys below)\n"
          "  -t, --threads N         (= --threads)       --export llama2c       also write DIR/model.bin (v0)\n"
          "  --resume DIR            continue a run      --quiet / --progress   progress line off / forced on\n"
          "\n"
          "settings (--name VALUE or 'name = value' in a config file; [R]: may change on --resume):\n",
          f);
    int n;
    const slm_train_field *fs = slm_train_fields(&n);
    slm_train_config d;
    slm_train_config_defaults(&d);
    for (int i = 0; i < n; i++) {
        const char *p = (const char *)&d + fs[i].offset;
        char def[64];
        switch (fs[i].kind) {
        case SLM_TF_INT:
        case SLM_TF_BOOL: snprintf(def, sizeof def, "%d", *(const int *)p); break;
        case SLM_TF_LL: snprintf(def, sizeof def, "%lld", *(const long long *)p); break;
        case SLM_TF_FLOAT: snprintf(def, sizeof def, "%g", *(const float *)p); break;
        default: snprintf(def, sizeof def, "-"); break;
        }
        fprintf(f, "  --%-17s %-8s %s%s\n", fs[i].name, def, fs[i].model ? "" : "[R] ", fs[i].help);
    }
}

typedef struct view {
    int tty, quiet;
    long long log_every;
} view;

static void fmt_time(char *out, size_t cap, double s) {
    if (!(s >= 0) || s > 1e8) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
}

static void on_progress(void *ud, const slm_train_status *s) {
    view *v = ud;
    if (v->quiet) return;
    char eta[32], el[32];
    fmt_time(eta, sizeof eta, s->eta_s), fmt_time(el, sizeof el, s->elapsed_s);
    if (s->event == 0 || s->event == 1) {
        int show = v->tty || s->event == 1 || s->step % v->log_every == 0 || s->step == 1;
        if (!show) return;
        fprintf(stderr, "%sstep %lld/%lld  loss %.4f  lr %.2e  |g| %.2f  %.0f tok/s  %s elapsed, ETA %s", v->tty ? "\r\033[K" : "",
                s->step, s->steps, s->loss, s->lr, s->grad_norm, s->tokens_per_s, el, eta);
        if (s->event == 1) fprintf(stderr, "  | val loss %.4f  bpb %.4f", s->val_loss, s->val_bpb);
        if (!v->tty || s->event == 1) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s%s at step %lld\n", v->tty ? "\r\033[K" : "",
                s->event == 2 ? "checkpoint written" : s->event == 3 ? "finished; model and checkpoint written"
                                                                      : "stopped; checkpoint written",
                s->step);
    }
}

int cmd_train(int argc, char **argv) {
    if (argc < 1) {
        help(stderr);
        return EXIT_USAGE;
    }
    slm_train_config c;
    slm_train_config_defaults(&c);
    slm_error err;
    const char *out = NULL, *resume = NULL, *config = NULL;
    view v = {isatty(2), 0, 0};
    int force_progress = 0;
    /* the config file first, so flags override it */
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) config = argv[i + 1];
    for (int i = 0; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--resume")) resume = argv[i + 1];
    if (resume && config) {
        cli_error("train", "--config cannot be used with --resume (the checkpoint holds the configuration)");
        return EXIT_USAGE;
    }
    if (config && slm_train_config_file(&c, config, &err) != SLM_OK) {
        cli_error("train", "%s", err.msg);
        return EXIT_USAGE;
    }
    if (resume && slm_train_checkpoint_config(resume, &c, &err) != SLM_OK) {
        cli_error("train", "%s", err.msg);
        return EXIT_FAIL;
    }
    int n_fields;
    const slm_train_field *fs = slm_train_fields(&n_fields);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL, *name = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) { v.quiet = 1; continue; }
        if (!strcmp(a, "--progress")) { force_progress = 1; continue; }
        if (!val) {
            cli_error("train", "%s needs a value, or is unknown (see slm train --help)", a);
            return EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--config") || !strcmp(a, "--resume")) continue;
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) { out = val; continue; }
        if (!strcmp(a, "--export")) {
            if (strcmp(val, "llama2c")) {
                cli_error("train", "--export: '%s' is not a format (llama2c)", val);
                return EXIT_USAGE;
            }
            name = "export-llama2c", val = "1";
        } else if (!strcmp(a, "-d")) name = "data";
        else if (!strcmp(a, "-z")) name = "tokenizer";
        else if (!strcmp(a, "-t")) name = "threads";
        else if (!strncmp(a, "--", 2)) name = a + 2;
        else {
            cli_error("train", "unexpected argument '%s' (see slm train --help)", a);
            return EXIT_USAGE;
        }
        const slm_train_field *f = NULL;
        for (int k = 0; k < n_fields; k++)
            if (!strcmp(fs[k].name, name)) f = &fs[k];
        if (!f) {
            cli_error("train", "unknown option %s (see slm train --help)", a);
            return EXIT_USAGE;
        }
        if (resume && f->model) {
            cli_error("train", "--%s is fixed by the checkpoint in %s and cannot change on --resume", name, resume);
            return EXIT_USAGE;
        }
        if (slm_train_config_set(&c, name, val, &err) != SLM_OK) {
            cli_error("train", "--%s", err.msg);
            return EXIT_USAGE;
        }
    }
    if (resume) out = resume;
    if (!out || (!resume && (!c.data[0] || !c.tokenizer[0]))) {
        cli_error("train", "need -d DATA, -z TOKENIZER and -o DIR (or --resume DIR); see slm train --help");
        return EXIT_USAGE;
    }
    if (force_progress) v.tty = 1;
    v.log_every = c.log_every;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    slm_status st = slm_train_run(&c, out, resume != NULL, &stop_requested, on_progress, &v, &err);
    if (st == SLM_ERR_STOPPED) {
        fprintf(stderr, "slm train: %s\n", err.msg);
        return 0;
    }
    if (st != SLM_OK) {
        cli_error("train", "%s", err.msg);
        return EXIT_FAIL;
    }
    return 0;
}
