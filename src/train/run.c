/* run.c — a training run (see run.h).
 *
 * Determinism: the batch of step s, micro-batch u, row b is the window of seq_len + 1 train tokens
 * at offset hash(seed, s, u, b) mod (train tokens - seq_len); dropout masks are keyed by
 * hash(seed, s, u). Nothing else is random, so a run is a function of (config, step) and resuming
 * from a checkpoint (parameters, AdamW moments, step, history) ends bit for bit where an
 * uninterrupted run ends.
 *
 * Checkpoint file (little-endian), written atomically (temp file, fsync, rename):
 *   "SLMCKPT1", u32 version 1, u32 config text length, config text ("key = value" lines)
 *   u64 step, u64 n_params, u64 n_history, u64 tokenizer checksum
 *   f32 params[n_params], f32 adam_m[n_params], f32 adam_v[n_params]
 *   history records: i64 step, f32 loss, lr, grad_norm, val_loss, val_bpb, tokens_per_s, f64 elapsed_s
 *   u64 FNV-1a 64 of every byte before it */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../formats/formats.h"
#include "../tokenizer/tokenizer.h"
#include "run.h"
#include "train.h"

/* ---------------------------------------------------------------- configuration */

#define F(name, kind, field, lo, hi, model, help) {name, kind, offsetof(slm_train_config, field), lo, hi, model, help}
static const slm_train_field FIELDS[] = {
    F("dim", SLM_TF_INT, dim, 8, 65536, 1, "model width"),
    F("layers", SLM_TF_INT, n_layers, 1, 1024, 1, "stored transformer blocks"),
    F("heads", SLM_TF_INT, n_heads, 1, 1024, 1, "query heads"),
    F("kv-heads", SLM_TF_INT, n_kv_heads, 0, 1024, 1, "key/value heads (0: = heads)"),
    F("hidden", SLM_TF_INT, hidden_dim, 0, 1 << 20, 1, "SwiGLU width (0: llama2.c's rule, 8/3 dim rounded up to 32)"),
    F("vocab", SLM_TF_INT, vocab_size, 0, 1 << 24, 1, "vocabulary (0: the tokenizer's; else must equal it)"),
    F("seq-len", SLM_TF_INT, seq_len, 2, 1 << 16, 1, "context length trained"),
    F("tied", SLM_TF_BOOL, tied, 0, 1, 1, "classifier tied to the token embedding (1) or its own matrix (0)"),
    F("block-repeat", SLM_TF_INT, block_repeat, 1, 16, 1, "each stored block runs this many times in a row (MobileLLM-LS)"),
    F("rope-theta", SLM_TF_FLOAT, rope_theta, 1, 1e9, 1, "RoPE base"),
    F("norm-eps", SLM_TF_FLOAT, norm_eps, 1e-12, 1e-2, 1, "RMSNorm epsilon"),
    F("dropout", SLM_TF_FLOAT, dropout, 0, 0.9, 1, "dropout on the embedding and each residual branch"),
    F("init-std", SLM_TF_FLOAT, init_std, 0, 1, 1, "init: N(0, std); residual projections / sqrt(2 x applied layers)"),
    F("batch", SLM_TF_INT, batch, 1, 1 << 16, 1, "sequences per micro-batch"),
    F("accum", SLM_TF_INT, accum, 1, 1 << 16, 1, "micro-batches per step (gradient accumulation)"),
    F("lr", SLM_TF_FLOAT, lr, 0, 10, 1, "peak learning rate"),
    F("min-lr", SLM_TF_FLOAT, min_lr, -1, 10, 1, "learning rate at the end of the cosine decay (-1: lr / 10)"),
    F("warmup", SLM_TF_LL, warmup, 0, 1e12, 1, "steps of linear warmup"),
    F("beta1", SLM_TF_FLOAT, beta1, 0, 0.999999, 1, "AdamW beta1"),
    F("beta2", SLM_TF_FLOAT, beta2, 0, 0.999999, 1, "AdamW beta2"),
    F("eps", SLM_TF_FLOAT, eps, 0, 1, 1, "AdamW epsilon"),
    F("weight-decay", SLM_TF_FLOAT, weight_decay, 0, 10, 1, "decoupled weight decay (matrices and embeddings, not norms)"),
    F("clip", SLM_TF_FLOAT, clip, 0, 1e6, 1, "clip gradients to this global L2 norm (0: off)"),
    F("seed", SLM_TF_LL, seed, 0, 9.2e18, 1, "seed of init, batches and dropout"),
    F("data", SLM_TF_STR, data, 0, 0, 1, "token file from slm data prepare"),
    F("tokenizer", SLM_TF_STR, tokenizer, 0, 0, 1, "the tokenizer the token file was made with"),
    F("val-data", SLM_TF_STR, val_data, 0, 0, 1, "validate on all tokens of this token file instead of data's validation split"),
    F("steps", SLM_TF_LL, steps, 0, 1e12, 0, "optimizer steps (the cosine schedule ends there)"),
    F("tokens", SLM_TF_LL, tokens, 0, 1e15, 0, "budget in tokens instead of steps"),
    F("eval-every", SLM_TF_LL, eval_every, 0, 1e12, 0, "steps between validation evaluations (0: only at the end)"),
    F("eval-tokens", SLM_TF_LL, eval_tokens, 0, 1e12, 0, "validation tokens evaluated (0: all)"),
    F("checkpoint-every", SLM_TF_LL, checkpoint_every, 0, 1e12, 0, "steps between checkpoints (0: only at the end)"),
    F("log-every", SLM_TF_LL, log_every, 1, 1e12, 0, "steps between progress lines when stderr is not a terminal"),
    F("threads", SLM_TF_INT, threads, 1, 256, 0, "threads (results do not depend on it)"),
    F("export-llama2c", SLM_TF_BOOL, export_llama2c, 0, 1, 0, "also write model.bin, a llama2.c v0 file"),
    F("keep-best", SLM_TF_BOOL, keep_best, 0, 1, 0, "also write best.gguf whenever the validation loss is the lowest so far (needs validation tokens)"),
};
#undef F

const slm_train_field *slm_train_fields(int *n) {
    *n = (int)(sizeof FIELDS / sizeof *FIELDS);
    return FIELDS;
}

void slm_train_config_defaults(slm_train_config *c) {
    memset(c, 0, sizeof *c);
    c->dim = 288, c->n_layers = 6, c->n_heads = 6, c->seq_len = 256, c->tied = 1, c->block_repeat = 1;
    c->rope_theta = 10000.0f, c->norm_eps = 1e-5f, c->init_std = 0.02f;
    c->batch = 8, c->accum = 1, c->lr = 5e-4f, c->min_lr = -1, c->warmup = 100;
    c->beta1 = 0.9f, c->beta2 = 0.95f, c->eps = 1e-8f, c->weight_decay = 0.1f, c->clip = 1.0f;
    c->steps = 1000, c->eval_every = 200, c->eval_tokens = 0, c->checkpoint_every = 200, c->log_every = 10;
    c->seed = 1337, c->threads = 2;
}

static const slm_train_field *find_field(const char *name) {
    for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; i++)
        if (!strcmp(FIELDS[i].name, name)) return &FIELDS[i];
    return NULL;
}

slm_status slm_train_config_set(slm_train_config *c, const char *name, const char *value, slm_error *err) {
    const slm_train_field *f = find_field(name);
    if (!f) return slm_fail(err, SLM_ERR_ARG, "unknown setting '%s'", name);
    char *p = (char *)c + f->offset, *end;
    if (f->kind == SLM_TF_STR) {
        if (strlen(value) >= 512) return slm_fail(err, SLM_ERR_ARG, "%s: path too long", name);
        snprintf(p, 512, "%s", value);
        return SLM_OK;
    }
    double x = strtod(value, &end);
    if (end == value || *end || !(x >= f->lo && x <= f->hi))
        return slm_fail(err, SLM_ERR_ARG, "%s: '%s' is not a number in [%g, %g]", name, value, f->lo, f->hi);
    if (f->kind != SLM_TF_FLOAT && x != floor(x)) return slm_fail(err, SLM_ERR_ARG, "%s: '%s' is not an integer", name, value);
    switch (f->kind) {
    case SLM_TF_INT:
    case SLM_TF_BOOL: *(int *)p = (int)x; break;
    case SLM_TF_LL: *(long long *)p = (long long)x; break;
    default: *(float *)p = (float)x; break;
    }
    return SLM_OK;
}

/* One "key = value" line (or "key value"); blank lines and # comments are skipped. */
static slm_status config_line(slm_train_config *c, char *line, const char *src, int lineno, slm_error *err) {
    char *h = strchr(line, '#');
    if (h) *h = 0;
    char *k = line;
    while (*k == ' ' || *k == '\t') k++;
    if (!*k || *k == '\n' || *k == '\r') return SLM_OK;
    char *e = k;
    while (*e && *e != ' ' && *e != '\t' && *e != '=') e++;
    char *v = e;
    while (*v == ' ' || *v == '\t' || *v == '=') v++;
    *e = 0;
    size_t n = strlen(v);
    while (n && (v[n - 1] == '\n' || v[n - 1] == '\r' || v[n - 1] == ' ' || v[n - 1] == '\t')) v[--n] = 0;
    slm_status st = slm_train_config_set(c, k, v, err);
    if (st != SLM_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return slm_fail(err, st, "%s:%d: %s", src, lineno, msg);
    }
    return SLM_OK;
}

slm_status slm_train_config_file(slm_train_config *c, const char *path, slm_error *err) {
    FILE *f = fopen(path, "r");
    if (!f) return slm_fail(err, SLM_ERR_IO, "%s: cannot open config file", path);
    char line[1024];
    int lineno = 0;
    slm_status st = SLM_OK;
    while (st == SLM_OK && fgets(line, sizeof line, f)) st = config_line(c, line, path, ++lineno, err);
    fclose(f);
    return st;
}

/* The config as text, one field per line (what checkpoints store). */
static size_t config_text(const slm_train_config *c, char *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < sizeof FIELDS / sizeof *FIELDS; i++) {
        const slm_train_field *f = &FIELDS[i];
        const char *p = (const char *)c + f->offset;
        char v[600];
        switch (f->kind) {
        case SLM_TF_INT:
        case SLM_TF_BOOL: snprintf(v, sizeof v, "%d", *(const int *)p); break;
        case SLM_TF_LL: snprintf(v, sizeof v, "%lld", *(const long long *)p); break;
        case SLM_TF_FLOAT: snprintf(v, sizeof v, "%.9g", *(const float *)p); break;
        default: snprintf(v, sizeof v, "%s", p); break;
        }
        int w = snprintf(out + n, n < cap ? cap - n : 0, "%s = %s\n", f->name, v);
        n += (size_t)w;
    }
    return n;
}

slm_status slm_train_config_finish(slm_train_config *c, int vocab_size, slm_error *err) {
    if (c->vocab_size && c->vocab_size != vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "vocab %d differs from the tokenizer's %d", c->vocab_size, vocab_size);
    c->vocab_size = vocab_size;
    if (!c->n_kv_heads) c->n_kv_heads = c->n_heads;
    if (!c->hidden_dim) c->hidden_dim = slm_default_hidden_dim(c->dim);
    if (c->min_lr < 0) c->min_lr = c->lr / 10;
    if (c->dim % c->n_heads) return slm_fail(err, SLM_ERR_ARG, "dim %d is not a multiple of heads %d", c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return slm_fail(err, SLM_ERR_ARG, "heads %d is not a multiple of kv-heads %d", c->n_heads, c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2) return slm_fail(err, SLM_ERR_ARG, "head size dim/heads = %d must be even", c->dim / c->n_heads);
    if (c->tokens > 0) {
        long long per = (long long)c->batch * c->accum * c->seq_len;
        c->steps = (c->tokens + per - 1) / per;
        c->tokens = 0;
    }
    if (c->steps < 1) return slm_fail(err, SLM_ERR_ARG, "nothing to train: steps is 0");
    if (!c->data[0] || !c->tokenizer[0]) return slm_fail(err, SLM_ERR_ARG, "need a token file (data) and its tokenizer");
    return SLM_OK;
}

double slm_train_lr(const slm_train_config *c, long long step) {
    if (step < c->warmup) return c->lr * (double)(step + 1) / (double)(c->warmup + 1);
    double span = (double)(c->steps - c->warmup), t = span > 0 ? (double)(step - c->warmup) / span : 1.0;
    if (t > 1) t = 1;
    return c->min_lr + 0.5 * (1.0 + cos(3.141592653589793 * t)) * (c->lr - c->min_lr);
}

static slm_config model_config(const slm_train_config *c) {
    slm_config m = {0};
    m.dim = c->dim, m.hidden_dim = c->hidden_dim, m.n_layers = c->n_layers, m.block_repeat = c->block_repeat;
    m.n_heads = c->n_heads, m.n_kv_heads = c->n_kv_heads, m.head_dim = c->dim / c->n_heads;
    m.vocab_size = c->vocab_size, m.seq_len = c->seq_len, m.tied_classifier = c->tied;
    m.norm_eps = c->norm_eps, m.rope_theta = c->rope_theta;
    return m;
}

/* ---------------------------------------------------------------- checkpoints */

typedef struct hist {
    long long step;
    float loss, lr, grad_norm, val_loss, val_bpb, tok_s;
    double elapsed;
} hist;
enum { HIST_BYTES = 8 + 6 * 4 + 8 };

typedef struct ck_writer {
    slm_file_writer *w;
    uint64_t h;
    slm_status st;
    slm_error *err;
} ck_writer;

static void ck_put(ck_writer *w, const void *p, size_t n) {
    if (w->st != SLM_OK) return;
    w->h = slm_fnv1a64(p, n, w->h);
    w->st = slm_writer_write(w->w, p, n, w->err);
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* The test hook SLM_TEST_KILL_AT=N: the process kills itself (SIGKILL) halfway through writing the
 * checkpoint of step N, leaving a partial temp file: the previous checkpoint must survive. */
static void maybe_die(long long step, int half) {
    const char *e = getenv("SLM_TEST_KILL_AT");
    if (e && half && atoll(e) == step) raise(SIGKILL);
}

static slm_status write_checkpoint(const char *dir, const slm_train_config *c, slm_trainer *tr, long long step,
                                   const hist *h, long long n_hist, uint64_t tok_sum, slm_error *err) {
    char path[1100], text[16384];
    path_in(path, sizeof path, dir, "checkpoint.slmc");
    size_t tl = config_text(c, text, sizeof text);
    if (tl >= sizeof text) return slm_fail(err, SLM_ERR_ARG, "config too long");
    ck_writer w = {NULL, SLM_FNV64_OFFSET, SLM_OK, err};
    slm_status st = slm_writer_open(path, &w.w, err);
    if (st != SLM_OK) return st;
    uint32_t ver = 1, len = (uint32_t)tl;
    uint64_t n = slm_trainer_n_params(tr), head[4] = {(uint64_t)step, n, (uint64_t)n_hist, tok_sum};
    ck_put(&w, "SLMCKPT1", 8), ck_put(&w, &ver, 4), ck_put(&w, &len, 4), ck_put(&w, text, tl);
    ck_put(&w, head, sizeof head);
    ck_put(&w, slm_trainer_params(tr), n * 4);
    maybe_die(step, 1);
    ck_put(&w, slm_trainer_adam_m(tr), n * 4), ck_put(&w, slm_trainer_adam_v(tr), n * 4);
    for (long long i = 0; i < n_hist; i++) {
        unsigned char b[HIST_BYTES];
        float f[6] = {h[i].loss, h[i].lr, h[i].grad_norm, h[i].val_loss, h[i].val_bpb, h[i].tok_s};
        memcpy(b, &h[i].step, 8), memcpy(b + 8, f, 24), memcpy(b + 32, &h[i].elapsed, 8);
        ck_put(&w, b, sizeof b);
    }
    uint64_t sum = w.h;
    ck_put(&w, &sum, 8);
    if (w.st != SLM_OK) {
        slm_writer_abort(w.w);
        return w.st;
    }
    return slm_writer_commit(w.w, err);
}

typedef struct ckpt {
    const unsigned char *map;
    size_t size;
    slm_train_config cfg;
    uint64_t step, n_params, n_hist, tok_sum;
    const unsigned char *params, *hist;
} ckpt;

/* Whether the checksum in the last 8 bytes of a checkpoint matches the bytes before it (a pass
 * over every byte: 1.9 s per GB on this machine). */
static int checksum_ok(const unsigned char *p, size_t size) {
    uint64_t sum;
    memcpy(&sum, p + size - 8, 8);
    return slm_fnv1a64(p, size - 8, SLM_FNV64_OFFSET) == sum;
}

/* Maps and checks a run directory's checkpoint: its header, sizes and configuration always; with
 * `verify` also the checksum (without it, only when the configuration does not parse, to say why). */
static slm_status read_checkpoint(const char *dir, ckpt *ck, int verify, slm_error *err) {
    char path[1100];
    path_in(path, sizeof path, dir, "checkpoint.slmc");
    memset(ck, 0, sizeof *ck);
    const void *data;
    slm_status st = slm_map_file(path, &data, &ck->size, err);
    if (st != SLM_OK) return st;
    ck->map = data;
    const unsigned char *p = data;
    uint32_t ver = 0, len = 0;
    if (ck->size < 16 + 32 + 8 || memcmp(p, "SLMCKPT1", 8)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: not an slm checkpoint", path);
        goto fail;
    }
    memcpy(&ver, p + 8, 4), memcpy(&len, p + 12, 4);
    if (ver != 1 || len > ck->size - 56 || (verify && !checksum_ok(p, ck->size))) goto damaged;
    uint64_t head[4];
    memcpy(head, p + 16 + len, 32);
    ck->step = head[0], ck->n_params = head[1], ck->n_hist = head[2], ck->tok_sum = head[3];
    size_t need = 16 + (size_t)len + 32 + 8;
    if (ck->n_params > ck->size / 12 || ck->n_hist > ck->size / HIST_BYTES ||
        need + ck->n_params * 12 + ck->n_hist * HIST_BYTES != ck->size) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: damaged checkpoint (sizes do not add up)", path);
        goto fail;
    }
    ck->params = p + 16 + len + 32;
    ck->hist = ck->params + ck->n_params * 12;
    slm_train_config_defaults(&ck->cfg);
    char *text = malloc((size_t)len + 1);
    if (!text) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(text, p + 16, len);
    text[len] = 0;
    int lineno = 0;
    for (char *line = text, *next; st == SLM_OK && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        st = config_line(&ck->cfg, line, path, ++lineno, err);
    }
    free(text);
    if (st == SLM_OK) return SLM_OK;
    if (!verify && !checksum_ok(p, ck->size)) goto damaged; /* say why the text is bad */
    goto fail;
damaged:
    st = slm_fail(err, SLM_ERR_FORMAT, "%s: damaged checkpoint (version or checksum does not match)", path);
fail:
    slm_unmap(ck->map, ck->size);
    ck->map = NULL;
    return st;
}

slm_status slm_train_checkpoint_config(const char *out_dir, slm_train_config *cfg, slm_error *err) {
    ckpt ck;
    slm_status st = read_checkpoint(out_dir, &ck, 0, err); /* slm_train_run checks the checksum */
    if (st != SLM_OK) return st;
    *cfg = ck.cfg;
    slm_unmap(ck.map, ck.size);
    return SLM_OK;
}

/* ---------------------------------------------------------------- outputs */

static slm_status write_log(const char *dir, const hist *h, long long n, slm_error *err) {
    char path[1100];
    path_in(path, sizeof path, dir, "log.csv");
    slm_file_writer *w;
    slm_status st = slm_writer_open(path, &w, err);
    if (st != SLM_OK) return st;
    char line[256];
    int len = snprintf(line, sizeof line, "step,lr,loss,grad_norm,val_loss,val_bpb,tokens_per_s,elapsed_s\n");
    st = slm_writer_write(w, line, (size_t)len, err);
    for (long long i = 0; i < n && st == SLM_OK; i++) {
        char vl[32] = "", vb[32] = "";
        if (h[i].val_loss == h[i].val_loss) snprintf(vl, sizeof vl, "%.6f", h[i].val_loss);
        if (h[i].val_bpb == h[i].val_bpb) snprintf(vb, sizeof vb, "%.6f", h[i].val_bpb);
        len = snprintf(line, sizeof line, "%lld,%.6g,%.6f,%.6g,%s,%s,%.1f,%.3f\n", h[i].step, h[i].lr, h[i].loss,
                       h[i].grad_norm, vl, vb, h[i].tok_s, h[i].elapsed);
        st = slm_writer_write(w, line, (size_t)len, err);
    }
    if (st != SLM_OK) {
        slm_writer_abort(w);
        return st;
    }
    return slm_writer_commit(w, err);
}

static slm_status write_plot(const char *dir, const slm_train_config *c, const hist *h, long long n, slm_error *err) {
    char path[1100], title[256];
    path_in(path, sizeof path, dir, "loss.svg");
    long long *steps = malloc(sizeof(long long) * (size_t)(n + 1));
    float *tl = malloc(sizeof(float) * (size_t)(n + 1)), *vl = malloc(sizeof(float) * (size_t)(n + 1));
    slm_status st;
    if (!steps || !tl || !vl) st = slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    else {
        for (long long i = 0; i < n; i++) steps[i] = h[i].step, tl[i] = h[i].loss, vl[i] = h[i].val_loss;
        snprintf(title, sizeof title, "dim %d, %d layers%s, %d heads / %d kv, vocab %d, seq %d, batch %dx%d, lr %g",
                 c->dim, c->n_layers, c->block_repeat > 1 ? " (repeated)" : "", c->n_heads, c->n_kv_heads,
                 c->vocab_size, c->seq_len, c->batch, c->accum, c->lr);
        st = slm_plot_loss_svg(path, title, steps, tl, vl, n, err);
    }
    free(steps), free(tl), free(vl);
    return st;
}

/* Writes the model as DIR/name (GGUF), and with exports also the llama2.c file when asked for. */
static slm_status write_models(const char *dir, const slm_train_config *c, slm_trainer *tr, const slm_tokenizer *tok,
                               const char *name, int exports, slm_error *err) {
    char path[1100];
    slm_model *m;
    slm_status st = slm_trainer_model(tr, 0, &m, err);
    if (st != SLM_OK) return st;
    path_in(path, sizeof path, dir, name);
    st = slm_gguf_write(m, tok, path, SLM_DTYPE_F32, -1, 0, err);
    slm_model_free(m);
    if (st == SLM_OK && exports && c->export_llama2c) {
        if ((st = slm_trainer_model(tr, 1, &m, err)) != SLM_OK) return st;
        path_in(path, sizeof path, dir, "model.bin");
        st = slm_llama2c_write(m, path, SLM_LLAMA2C_V0, 0, err);
        slm_model_free(m);
    }
    return st;
}

/* Removes temporary files that a killed run left in dir (name.tmp.PID of a process that is gone). */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t) continue;
        char *end, path[1100];
        long pid = strtol(t + 5, &end, 10);
        if (!*end && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            path_in(path, sizeof path, dir, e->d_name);
            remove(path);
        }
    }
    closedir(d);
}

/* ---------------------------------------------------------------- the loop */

typedef struct data {
    const unsigned char *map, *val_map;
    size_t size, val_size;
    slm_data_info info;
    const unsigned char *train, *val;
    uint64_t n_val;     /* validation tokens at val */
    int val_bytes;      /* their width */
} data;

static int32_t token_at(int width, const unsigned char *base, uint64_t i) {
    if (width == 2) return (int32_t)(base[2 * i] | (base[2 * i + 1] << 8));
    uint32_t v;
    memcpy(&v, base + 4 * i, 4);
    return (int32_t)v;
}

/* Combines a key with one more number (batch windows, dropout keys). */
static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t s = a ^ (b * 0xD1B54A32D192ED03ULL);
    return slm_splitmix64(&s);
}

/* Fills B windows of T+1 train tokens for (step, micro). Returns 0 if an id is out of range. */
static int fill_batch(const data *d, const slm_train_config *c, long long step, int micro, int32_t *out) {
    uint64_t span = d->info.train_tokens - (uint64_t)c->seq_len;
    for (int b = 0; b < c->batch; b++) {
        uint64_t off = mix(mix(mix((uint64_t)c->seed, (uint64_t)step), (uint64_t)micro), (uint64_t)b) % span;
        for (int t = 0; t <= c->seq_len; t++) {
            int32_t id = token_at(d->info.token_bytes, d->train, off + (uint64_t)t);
            if (id < 0 || id >= c->vocab_size) return 0;
            out[(size_t)b * (c->seq_len + 1) + t] = id;
        }
    }
    return 1;
}

typedef struct evalset {
    int32_t *windows;   /* (n, T+1) */
    double *bytes;      /* bytes of each window's targets */
    long long n;
} evalset;

/* Validation windows: consecutive, overlapping by one token, up to eval_tokens targets. */
static int build_eval(const data *d, const slm_train_config *c, const slm_tokenizer *tok, evalset *e) {
    memset(e, 0, sizeof *e);
    if (d->n_val < 2) return 1;
    long long T = c->seq_len, n = (long long)((d->n_val - 1) / (uint64_t)T);
    if (c->eval_tokens > 0 && n > c->eval_tokens / T) n = c->eval_tokens / T > 0 ? c->eval_tokens / T : 1;
    if (n < 1) return 1;
    e->windows = malloc(sizeof(int32_t) * (size_t)(n * (T + 1)));
    e->bytes = calloc((size_t)n, sizeof(double));
    if (!e->windows || !e->bytes) return 0;
    e->n = n;
    for (long long w = 0; w < n; w++)
        for (long long t = 0; t <= T; t++) {
            int32_t id = token_at(d->val_bytes, d->val, (uint64_t)(w * T + t));
            if (id < 0 || id >= c->vocab_size) return 0;
            e->windows[w * (T + 1) + t] = id;
            if (t > 0) {
                size_t len = 0;
                slm_tokenizer_piece(tok, e->windows[w * (T + 1) + t - 1], id, &len);
                e->bytes[w] += (double)len;
            }
        }
    return 1;
}

/* Mean validation loss (nats per token) and bits per byte. */
static void evaluate(slm_trainer *tr, const slm_train_config *c, const evalset *e, int32_t *batch, double *loss,
                     double *bpb) {
    double nll = 0, bytes = 0;
    long long tokens = 0;
    size_t row = (size_t)c->seq_len + 1;
    float *per = malloc(sizeof(float) * (size_t)c->batch * c->seq_len);
    for (long long w0 = 0; per && w0 < e->n; w0 += c->batch) {
        int rows = e->n - w0 < c->batch ? (int)(e->n - w0) : c->batch;
        for (int b = 0; b < c->batch; b++) /* a short last batch repeats its first window; not counted */
            memcpy(batch + b * row, e->windows + (size_t)(w0 + (b < rows ? b : 0)) * row, sizeof(int32_t) * row);
        slm_trainer_eval(tr, batch, per);
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < c->seq_len; t++) nll += per[(size_t)b * c->seq_len + t];
            bytes += e->bytes[w0 + b];
            tokens += c->seq_len;
        }
    }
    free(per);
    *loss = tokens ? nll / (double)tokens : NAN;
    *bpb = bytes > 0 ? nll / log(2.0) / bytes : NAN;
}

slm_status slm_train_run(const slm_train_config *cfg_in, const char *dir, int resume, volatile int *stop,
                         slm_train_progress_fn progress, void *ud, slm_error *err) {
    slm_train_config c = *cfg_in;
    slm_status st;
    slm_tokenizer *tok = NULL;
    slm_trainer *tr = NULL;
    data d = {0};
    evalset ev = {0};
    hist *h = NULL;
    int32_t *batch = NULL;
    ckpt ck = {0};
    long long step = 0, n_hist = 0;
    if (mkdir(dir, 0777) != 0 && !resume) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return slm_fail(err, SLM_ERR_IO, "%s: cannot create the run directory", dir);
    }
    remove_stale_temps(dir);
    if ((st = slm_tokenizer_load_file(c.tokenizer, 0, &tok, err)) != SLM_OK) goto done;
    if ((st = slm_train_config_finish(&c, slm_tokenizer_vocab_size(tok), err)) != SLM_OK) goto done;
    if ((st = slm_data_check(c.data, tok, &d.info, err)) != SLM_OK) goto done;
    if (d.info.train_tokens < (uint64_t)c.seq_len + 2) {
        st = slm_fail(err, SLM_ERR_ARG, "%s: %llu train tokens; need more than seq-len %d", c.data,
                      (unsigned long long)d.info.train_tokens, c.seq_len);
        goto done;
    }
    {
        const void *map;
        if ((st = slm_map_file(c.data, &map, &d.size, err)) != SLM_OK) goto done;
        d.map = map;
        d.train = d.map + 64;
        d.val = d.train + d.info.train_tokens * (uint64_t)d.info.token_bytes;
        d.n_val = d.info.val_tokens, d.val_bytes = d.info.token_bytes;
    }
    if (c.val_data[0]) { /* a held-out file: its train and validation splits, which are adjacent */
        slm_data_info vi;
        const void *map;
        if ((st = slm_data_check(c.val_data, tok, &vi, err)) != SLM_OK) goto done;
        if ((st = slm_map_file(c.val_data, &map, &d.val_size, err)) != SLM_OK) goto done;
        d.val_map = map;
        d.val = d.val_map + 64, d.n_val = vi.train_tokens + vi.val_tokens, d.val_bytes = vi.token_bytes;
    }
    if (!build_eval(&d, &c, tok, &ev)) {
        st = slm_fail(err, SLM_ERR_FORMAT, "%s: a validation token is outside the vocabulary (or out of memory)", c.data);
        goto done;
    }
    if (c.keep_best && !ev.n) { /* asked for a model chosen by validation loss, with nothing to validate on */
        st = slm_fail(err, SLM_ERR_ARG, "--keep-best needs validation tokens: %s has too few for one window of seq-len %d "
                      "(slm data prepare --val FRACTION, or --val-data FILE)", c.val_data[0] ? c.val_data : c.data, c.seq_len);
        goto done;
    }
    slm_trainer_opts o = {model_config(&c), c.batch, c.seq_len, c.dropout, c.threads, 1};
    if ((st = slm_trainer_create(&o, &tr, err)) != SLM_OK) goto done;
    size_t n = slm_trainer_n_params(tr);
    if (!(h = malloc(sizeof(hist) * (size_t)(c.steps + 1))) ||
        !(batch = malloc(sizeof(int32_t) * (size_t)c.batch * (c.seq_len + 1)))) {
        st = slm_fail(err, SLM_ERR_NOMEM, "out of memory for the history of %lld steps", c.steps);
        goto done;
    }
    uint64_t tok_sum = slm_tokenizer_checksum(tok);
    if (resume) {
        if ((st = read_checkpoint(dir, &ck, 1, err)) != SLM_OK) goto done;
        if (ck.n_params != n || ck.tok_sum != tok_sum) {
            st = slm_fail(err, SLM_ERR_MISMATCH, "%s: the checkpoint does not match this configuration or tokenizer", dir);
            goto done;
        }
        if ((long long)ck.step > c.steps || (long long)ck.n_hist != (long long)ck.step) {
            st = slm_fail(err, SLM_ERR_ARG, "%s: the checkpoint is at step %llu, past steps %lld", dir,
                          (unsigned long long)ck.step, c.steps);
            goto done;
        }
        memcpy(slm_trainer_params(tr), ck.params, n * 4);
        memcpy(slm_trainer_adam_m(tr), ck.params + n * 4, n * 4);
        memcpy(slm_trainer_adam_v(tr), ck.params + n * 8, n * 4);
        step = (long long)ck.step, n_hist = (long long)ck.n_hist;
        for (long long i = 0; i < n_hist; i++) {
            const unsigned char *b = ck.hist + i * HIST_BYTES;
            float f[6];
            memcpy(&h[i].step, b, 8), memcpy(f, b + 8, 24), memcpy(&h[i].elapsed, b + 32, 8);
            h[i].loss = f[0], h[i].lr = f[1], h[i].grad_norm = f[2], h[i].val_loss = f[3], h[i].val_bpb = f[4], h[i].tok_s = f[5];
        }
        slm_unmap(ck.map, ck.size);
        ck.map = NULL;
    } else {
        slm_trainer_init_params(tr, (uint64_t)c.seed, c.init_std);
    }
    slm_adamw aw = {c.beta1, c.beta2, c.eps, c.weight_decay};
    slm_train_status s = {0};
    s.steps = c.steps, s.val_loss = s.val_bpb = NAN;
    double elapsed0 = n_hist ? h[n_hist - 1].elapsed : 0, t_start = slm_time_seconds(), step_ema = 0;
    long long step_tokens = (long long)c.batch * c.accum * c.seq_len;
    float best_val = INFINITY;
    for (long long i = 0; i < n_hist; i++)
        if (h[i].val_loss < best_val) best_val = h[i].val_loss;
    for (long long i = n_hist - 1; i >= 0; i--)
        if (h[i].val_loss == h[i].val_loss) {
            s.val_loss = h[i].val_loss, s.val_bpb = h[i].val_bpb;
            break;
        }
    while (step < c.steps) {
        double t0 = slm_time_seconds(), lr = slm_train_lr(&c, step), loss = 0;
        slm_trainer_zero_grads(tr);
        for (int u = 0; u < c.accum; u++) {
            if (!fill_batch(&d, &c, step, u, batch)) {
                st = slm_fail(err, SLM_ERR_FORMAT, "%s: a train token is outside the vocabulary", c.data);
                goto done;
            }
            loss += slm_trainer_forward_backward(tr, batch, 1.0f / (float)c.accum, mix(mix((uint64_t)c.seed, (uint64_t)step), (uint64_t)u + 7)) / c.accum;
        }
        double gn = slm_trainer_grad_norm(tr);
        float mul = c.clip > 0 && gn > c.clip ? (float)(c.clip / gn) : 1.0f;
        slm_trainer_adamw(tr, &aw, (float)lr, mul, step + 1);
        step++;
        double dt = slm_time_seconds() - t0;
        step_ema = step_ema ? 0.9 * step_ema + 0.1 * dt : dt;
        hist *r = &h[n_hist++];
        r->step = step, r->loss = (float)loss, r->lr = (float)lr, r->grad_norm = (float)gn, r->val_loss = r->val_bpb = NAN;
        r->tok_s = (float)(step_tokens / dt);
        s.step = step, s.loss = loss, s.lr = lr, s.grad_norm = gn, s.tokens = step * step_tokens;
        s.tokens_per_s = step_tokens / step_ema, s.eta_s = step_ema * (double)(c.steps - step), s.event = 0;
        int last = step == c.steps, stopping = stop && *stop;
        if (ev.n && (last || (c.eval_every > 0 && step % c.eval_every == 0))) {
            double vl, vb;
            evaluate(tr, &c, &ev, batch, &vl, &vb);
            r->val_loss = (float)vl, r->val_bpb = (float)vb;
            s.val_loss = vl, s.val_bpb = vb;
            s.event = 1;
            if (c.keep_best && r->val_loss < best_val) { /* the best model so far, by validation loss */
                best_val = r->val_loss;
                if ((st = write_models(dir, &c, tr, tok, "best.gguf", 0, err)) != SLM_OK) goto done;
            }
        }
        r->elapsed = elapsed0 + slm_time_seconds() - t_start;
        s.elapsed_s = r->elapsed;
        if (progress) progress(ud, &s);
        if (last || stopping || (c.checkpoint_every > 0 && step % c.checkpoint_every == 0)) {
            if ((st = write_checkpoint(dir, &c, tr, step, h, n_hist, tok_sum, err)) != SLM_OK ||
                (st = write_log(dir, h, n_hist, err)) != SLM_OK || (st = write_plot(dir, &c, h, n_hist, err)) != SLM_OK ||
                (st = write_models(dir, &c, tr, tok, "model.gguf", 1, err)) != SLM_OK)
                goto done;
            s.event = last ? 3 : stopping ? 4 : 2;
            if (progress) progress(ud, &s);
        }
        if (stopping && !last) {
            st = slm_fail(err, SLM_ERR_STOPPED, "stopped at step %lld; checkpoint written (continue with --resume)", step);
            goto done;
        }
    }
    if (n_hist && step == c.steps && s.step == 0) { /* resumed a finished run: refresh the outputs */
        if ((st = write_models(dir, &c, tr, tok, "model.gguf", 1, err)) == SLM_OK) st = write_log(dir, h, n_hist, err);
        if (st == SLM_OK) st = write_plot(dir, &c, h, n_hist, err);
    }
done:
    if (ck.map) slm_unmap(ck.map, ck.size);
    if (d.map) slm_unmap(d.map, d.size);
    if (d.val_map) slm_unmap(d.val_map, d.val_size);
    free(ev.windows), free(ev.bytes), free(h), free(batch);
    slm_trainer_free(tr);
    slm_tokenizer_free(tok);
    return st;
}
