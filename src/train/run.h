/* run.h — a training run: its configuration (one table of named fields drives the command-line
 * flags, config files and the copy stored in checkpoints), the loop (data sampling, schedule,
 * evaluation, checkpoints, exact resume) and its outputs (GGUF model, CSV log, SVG loss plot). */
#ifndef SLM_RUN_H
#define SLM_RUN_H

#include "trainer.h"

typedef struct slm_train_config {
    /* model */
    int dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, seq_len, tied, block_repeat;
    float rope_theta, norm_eps, dropout, init_std;
    /* optimization */
    int batch, accum;
    float lr, min_lr, beta1, beta2, eps, weight_decay, clip;
    long long warmup, steps, tokens;
    long long eval_every, eval_tokens, checkpoint_every, log_every;
    long long seed;
    int threads;
    /* files */
    char data[512], tokenizer[512], val_data[512];
    int export_llama2c, keep_best;
} slm_train_config;

/* Field kinds for the table. */
enum { SLM_TF_INT, SLM_TF_LL, SLM_TF_FLOAT, SLM_TF_STR, SLM_TF_BOOL };

typedef struct slm_train_field {
    const char *name;  /* flag --name, config file key */
    int kind;
    size_t offset;
    double lo, hi;     /* range of numbers */
    int model;         /* 1: fixed once the run starts (shape and data); 0: may change on resume */
    const char *help;
} slm_train_field;

const slm_train_field *slm_train_fields(int *n);
void slm_train_config_defaults(slm_train_config *c);
/* Sets field `name` from text (range-checked). SLM_ERR_ARG with a message naming the field. */
slm_status slm_train_config_set(slm_train_config *c, const char *name, const char *value, slm_error *err);
/* Reads "key = value" lines (# comments) from a config file. */
slm_status slm_train_config_file(slm_train_config *c, const char *path, slm_error *err);
/* Fills derived defaults (hidden_dim, kv heads, min_lr, steps from tokens) and checks the whole. */
slm_status slm_train_config_finish(slm_train_config *c, int vocab_size, slm_error *err);

/* What the loop reports. */
typedef struct slm_train_status {
    long long step, steps;      /* steps done, total */
    double loss, lr, grad_norm; /* of the last step */
    double val_loss, val_bpb;   /* of the last evaluation (NaN before the first) */
    double tokens_per_s, elapsed_s, eta_s;
    long long tokens;           /* trained so far */
    int event;                  /* 0 step, 1 evaluation, 2 checkpoint written, 3 finished, 4 stopped */
} slm_train_status;

typedef void (*slm_train_progress_fn)(void *ud, const slm_train_status *s);

/* Runs (or with resume continues) training in directory out_dir: checkpoint.slmc, model.gguf,
 * log.csv, loss.svg (and model.bin with export_llama2c). *stop is polled after every step: when it
 * becomes non-zero a checkpoint is written and the run returns SLM_ERR_STOPPED. */
slm_status slm_train_run(const slm_train_config *cfg, const char *out_dir, int resume, volatile int *stop,
                         slm_train_progress_fn progress, void *ud, slm_error *err);

/* Reads the configuration stored in a run directory's checkpoint (for resume): its header, sizes
 * and configuration text are checked, not the checksum over the whole file, which slm_train_run
 * checks when it resumes (so a resume reads the file once). */
slm_status slm_train_checkpoint_config(const char *out_dir, slm_train_config *cfg, slm_error *err);

/* The learning rate at step (0-based): linear warmup to lr, cosine decay to min_lr at `steps`. */
double slm_train_lr(const slm_train_config *c, long long step);

/* Writes a loss plot: train loss per step (light, and a moving average), validation loss at
 * evaluation steps. NaN entries are skipped. */
slm_status slm_plot_loss_svg(const char *path, const char *title, const long long *steps, const float *train,
                             const float *val, long long n, slm_error *err);

#endif
