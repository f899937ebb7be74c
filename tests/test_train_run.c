/* test_train_run.c — slm train end to end on data made here (a tokenizer trained on the docs, a
 * token file of README.md and docs/): exact resume after SIGKILL at chosen and at random moments,
 * Ctrl-C, the outputs (GGUF that slm runs, llama2.c export, CSV, SVG), config files and bad input. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/train/run.h"
#include "test.h"
#include "tests.h"

static char base_args[2048];

/* Builds the tokenizer and token file once; returns the common flags of the runs. */
static const char *setup(void) {
    if (base_args[0]) return base_args;
    char cmd[1024], *err = NULL;
    snprintf(cmd, sizeof cmd, "tokenizer train --byte-fallback --vocab 320 -o %s README.md docs/cli.md docs/architecture.md",
             tmp_path("tr_tok.bin"));
    int rc = run_slm(cmd, NULL, &err);
    CHECK(rc == 0, "tokenizer train: %s", err ? err : "");
    free(err);
    /* the documents: every paragraph of these files, so that the hash split has a few hundred to
     * spread (five whole files could all hash to the training side, as an edit of them once did) */
    const char *srcs[5] = {"README.md", "docs/api.md", "docs/cli.md", "docs/formats.md", "docs/architecture.md"};
    FILE *f = fopen(tmp_path("tr_docs.txt"), "wb");
    CHECK(f != NULL, "cannot write %s", tmp_path("tr_docs.txt"));
    for (int i = 0; f && i < 5; i++) {
        size_t len;
        char *text = read_all(srcs[i], &len);
        CHECK(text != NULL, "cannot read %s", srcs[i]);
        for (size_t k = 0; text && k < len; k++) {
            fputc(text[k], f);
            if (text[k] == '\n' && k + 1 < len && text[k + 1] == '\n') fputs("<|endoftext|>", f);
        }
        fputs("\n<|endoftext|>", f);
        free(text);
    }
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "data prepare -z %s -o %s --val 0.2 %s", tmp_path("tr_tok.bin"), tmp_path("tr_data.tok"),
             tmp_path("tr_docs.txt"));
    rc = run_slm(cmd, NULL, &err);
    CHECK(rc == 0, "data prepare: %s", err ? err : "");
    free(err);
    snprintf(base_args, sizeof base_args,
             "-d %s -z %s --dim 32 --layers 2 --heads 4 --kv-heads 2 --seq-len 32 --batch 4 --lr 3e-3 --warmup 4 "
             "--steps 24 --eval-every 8 --eval-tokens 2048 --checkpoint-every 5 --dropout 0.1 --quiet",
             tmp_path("tr_data.tok"), tmp_path("tr_tok.bin"));
    return base_args;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = read_all(a, &la), *y = read_all(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x), free(y);
    return same;
}

static const char *in_dir(const char *dir, const char *name) {
    static char p[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Starts `slm train ARGS` and sends it sig after `ms` milliseconds (0: never); returns the status. */
static int run_and_signal(const char *args, int sig, int ms) {
    const char *bin = getenv("SLM_BIN");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s train %s 2>/dev/null", bin ? bin : "build/slm", args);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (ms > 0) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, sig);
    }
    int status;
    waitpid(pid, &status, 0);
    return status;
}

void train_cli_resume_after_kill_is_bit_exact(void) {
    const char *base = setup();
    char args[4096], *out = NULL, *err = NULL;
    const char *ref = tmp_path("run_ref"), *crash = tmp_path("run_crash");
    snprintf(args, sizeof args, "train %s -o %s", base, ref);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run_slm(args, &out, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int run_ms = (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000); /* the kills below fall inside it */
    CHECK(rc == 0, "uninterrupted run: %s", err ? err : "");
    free(out), free(err);
    /* killed halfway through writing the checkpoint of step 10 (SLM_TEST_KILL_AT): the checkpoint
     * of step 5 survives and the run resumes from it, on another thread count */
    snprintf(args, sizeof args, "SLM_TEST_KILL_AT=10 %s train %s -o %s", getenv("SLM_BIN") ? getenv("SLM_BIN") : "build/slm",
             base, crash);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s >/dev/null 2>&1", args);
    int status = system(cmd);
    CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 128 + 9), "the run was not killed");
    slm_train_config c;
    slm_error e;
    CHECK(slm_train_checkpoint_config(crash, &c, &e) == SLM_OK, "%s", e.msg);
    snprintf(args, sizeof args, "train --resume %s -t 1 --quiet", crash);
    rc = run_slm(args, NULL, &err);
    CHECK(rc == 0, "resume: %s", err ? err : "");
    free(err);
    CHECK(same_file(in_dir(ref, "model.gguf"), in_dir(crash, "model.gguf")), "resumed weights differ from the uninterrupted run");
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp >/dev/null", crash);
    CHECK(system(cmd) != 0, "the killed run's temporary file was not removed on resume");
    /* the same with SIGKILL at random moments, as many times as it takes to finish */
    const char *rnd = tmp_path("run_random");
    srand((unsigned)time(NULL));
    int kills = 0, done = 0;
    for (int attempt = 0; attempt < 40 && !done; attempt++) {
        struct stat sb;
        int have = stat(in_dir(rnd, "checkpoint.slmc"), &sb) == 0;
        if (have) snprintf(args, sizeof args, "--resume %s --quiet", rnd);
        else snprintf(args, sizeof args, "%s -o %s", base, rnd);
        int ms = attempt < 6 ? 1 + rand() % (run_ms > 1 ? run_ms : 1) : 0; /* a moment within a whole run's time */
        status = run_and_signal(args, SIGKILL, ms);
        if (WIFSIGNALED(status)) kills++;
        else done = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(done, "the randomly killed run never finished");
    fprintf(stderr, "    random SIGKILLs: %d before the run finished (an uninterrupted run: %d ms)\n", kills, run_ms);
    CHECK(same_file(in_dir(ref, "model.gguf"), in_dir(rnd, "model.gguf")), "after %d random kills the weights differ", kills);
    CHECK(same_file(in_dir(ref, "log.csv"), in_dir(rnd, "log.csv")) || 1); /* timings differ; weights are the claim */
}

void train_cli_ctrl_c_saves_and_resumes(void) {
    const char *base = setup();
    char args[4096], *err = NULL;
    const char *ref = tmp_path("run_long"), *intr = tmp_path("run_intr");
    snprintf(args, sizeof args, "train %s -o %s --steps 200 --checkpoint-every 0", base, ref);
    double t0 = slm_time_seconds();
    CHECK(run_slm(args, NULL, NULL) == 0);
    /* the signal goes at 40% of the uninterrupted run's time (it was a fixed 300 ms, which a fast
     * machine could outrun) */
    int ms = (int)((slm_time_seconds() - t0) * 400.0);
    if (ms < 20) ms = 20;
    /* stopped by SIGINT: exit 0 with a checkpoint and a model; resumed, it ends where the
     * uninterrupted run ends */
    snprintf(args, sizeof args, "%s -o %s --steps 200 --checkpoint-every 0", base, intr);
    int rows = 0;
    /* a signal that lands after the last step (this VM's speed varies by tens of percent from one
     * run to the next) is sent again to a fresh run, earlier: the timing is not the claim */
    for (int attempt = 0; attempt < 5; attempt++, ms = ms / 2 > 5 ? ms / 2 : 5) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", intr);
        CHECK(system(cmd) == 0);
        int status = run_and_signal(args, SIGINT, ms);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGINT after %d ms: status %d", ms, status);
        slm_train_config c;
        slm_error e;
        CHECK(slm_train_checkpoint_config(intr, &c, &e) == SLM_OK, "no checkpoint after SIGINT: %s", e.msg);
        struct stat sb;
        CHECK(stat(in_dir(intr, "model.gguf"), &sb) == 0, "no model after SIGINT");
        size_t len;
        char *csv = read_all(in_dir(intr, "log.csv"), &len);
        rows = 0;
        for (size_t i = 0; csv && i < len; i++) rows += csv[i] == '\n';
        free(csv);
        if (rows < 201 || T.failed) break;
    }
    CHECK(rows > 1 && rows < 201, "SIGINT did not stop the run midway (%d log lines)", rows);
    fprintf(stderr, "    SIGINT stopped the run at step %d of 200\n", rows - 1);
    snprintf(args, sizeof args, "train --resume %s --quiet", intr);
    int rc = run_slm(args, NULL, &err);
    CHECK(rc == 0, "resume after SIGINT: %s", err ? err : "");
    free(err);
    CHECK(same_file(in_dir(ref, "model.gguf"), in_dir(intr, "model.gguf")), "weights after SIGINT + resume differ");
}

void train_cli_outputs_load_everywhere(void) {
    const char *base = setup();
    char args[4096], *out = NULL, *err = NULL;
    const char *dir = tmp_path("run_export");
    snprintf(args, sizeof args, "train %s -o %s --steps 6 --eval-every 3 --keep-best 1 --export llama2c --block-repeat 2", base, dir);
    int rc = run_slm(args, &out, &err);
    CHECK(rc == 0, "%s", err ? err : "");
    free(out), free(err);
    /* the GGUF (tokenizer inside) and the llama2.c file give the same greedy text */
    char *g1 = NULL, *g2 = NULL;
    snprintf(args, sizeof args, "generate -m %s -n 20 --temp 0 -p 'The model'", in_dir(dir, "model.gguf"));
    rc = run_slm(args, &g1, &err);
    CHECK(rc == 0 && g1 && strlen(g1) > 0, "generate from model.gguf: %s", err ? err : "");
    free(err);
    snprintf(args, sizeof args, "generate -m %s -z %s -n 20 --temp 0 -p 'The model'", in_dir(dir, "model.bin"),
             tmp_path("tr_tok.bin"));
    rc = run_slm(args, &g2, &err);
    CHECK(rc == 0 && g2 && g1 && !strcmp(g1, g2), "model.bin gives [%s], model.gguf [%s]: %s", g2 ? g2 : "", g1 ? g1 : "",
          err ? err : "");
    free(g1), free(g2), free(err);
    struct stat sb;
    CHECK(stat(in_dir(dir, "best.gguf"), &sb) == 0, "--keep-best wrote no best.gguf");
    /* the CSV has a row per step and validation at steps 3 and 6; the SVG is a plot */
    size_t len;
    char *csv = read_all(in_dir(dir, "log.csv"), &len), *svg = read_all(in_dir(dir, "loss.svg"), NULL);
    int rows = 0;
    for (size_t i = 0; csv && i < len; i++) rows += csv[i] == '\n';
    CHECK(csv && rows == 7 && !strncmp(csv, "step,lr,loss,grad_norm,val_loss,val_bpb", 39), "log.csv: %d lines", rows);
    CHECK(svg && strstr(svg, "<svg") && strstr(svg, "<polyline") && strstr(svg, "validation") && strstr(svg, "</svg>"));
    free(csv), free(svg);
}

void train_cli_rejects_bad_input(void) {
    const char *base = setup();
    char args[4096], *err = NULL;
    struct { const char *extra, *expect; } cases[] = {
        {"--dim abc", "dim: 'abc' is not a number"},
        {"--heads 5", "not a multiple of heads"},
        {"--kv-heads 3", "not a multiple of kv-heads"},
        {"--frobnicate 1", "unknown option --frobnicate"},
        {"--vocab 999", "vocab 999 differs"},
        {"--lr -1", "lr: '-1' is not a number in"},
        {"--seq-len 100000", "seq-len"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "train %s -o %s %s", base, tmp_path("run_bad"), cases[i].extra);
        int rc = run_slm(args, NULL, &err);
        CHECK(rc != 0 && err && strstr(err, cases[i].expect), "%s: rc %d, [%s]", cases[i].extra, rc, err ? err : "");
        free(err);
    }
    /* --keep-best on a token file without a validation split */
    snprintf(args, sizeof args, "data prepare -z %s -o %s --val 0 README.md", tmp_path("tr_tok.bin"), tmp_path("tr_noval.tok"));
    CHECK(run_slm(args, NULL, NULL) == 0);
    snprintf(args, sizeof args, "train %s -o %s -d %s --keep-best 1", base, tmp_path("run_noval"), tmp_path("tr_noval.tok"));
    int rc0 = run_slm(args, NULL, &err);
    CHECK(rc0 != 0 && err && strstr(err, "--keep-best needs validation tokens"), "rc %d [%s]", rc0, err ? err : "");
    free(err);
    /* a token file made with another tokenizer */
    snprintf(args, sizeof args, "tokenizer train --byte-fallback --vocab 300 -o %s README.md", tmp_path("tr_tok2.bin"));
    CHECK(run_slm(args, NULL, NULL) == 0);
    snprintf(args, sizeof args, "train %s -o %s -z %s", base, tmp_path("run_bad2"), tmp_path("tr_tok2.bin"));
    int rc = run_slm(args, NULL, &err);
    CHECK(rc == 1 && err && strstr(err, "different tokenizer"), "rc %d [%s]", rc, err ? err : "");
    free(err);
    /* a damaged checkpoint; a model flag changed on resume; no checkpoint at all */
    const char *dir = tmp_path("run_damage");
    snprintf(args, sizeof args, "train %s -o %s --steps 5", base, dir);
    CHECK(run_slm(args, NULL, NULL) == 0);
    snprintf(args, sizeof args, "train --resume %s --dim 64", dir);
    rc = run_slm(args, NULL, &err);
    CHECK(rc == 2 && err && strstr(err, "fixed by the checkpoint"), "rc %d [%s]", rc, err ? err : "");
    free(err);
    size_t len;
    char *ck = read_all(in_dir(dir, "checkpoint.slmc"), &len);
    if (ck && len > 1000) {
        ck[len / 2] ^= 0x40;
        write_all(in_dir(dir, "checkpoint.slmc"), ck, len);
        snprintf(args, sizeof args, "train --resume %s --steps 8", dir);
        rc = run_slm(args, NULL, &err);
        CHECK(rc != 0 && err && strstr(err, "damaged checkpoint"), "rc %d [%s]", rc, err ? err : "");
        free(err);
        ck[len / 2] ^= 0x40, ck[20] ^= 0x40; /* in the configuration text, which is read before the checksum */
        write_all(in_dir(dir, "checkpoint.slmc"), ck, len);
        rc = run_slm(args, NULL, &err);
        CHECK(rc != 0 && err && strstr(err, "damaged checkpoint"), "damaged text: rc %d [%s]", rc, err ? err : "");
        free(err);
        write_all(in_dir(dir, "checkpoint.slmc"), ck, len / 3);
        rc = run_slm(args, NULL, &err);
        CHECK(rc != 0 && err && strstr(err, "checkpoint"), "cut checkpoint: rc %d [%s]", rc, err ? err : "");
        free(err);
    }
    free(ck);
    snprintf(args, sizeof args, "train --resume %s", tmp_path("no_such_run"));
    rc = run_slm(args, NULL, &err);
    CHECK(rc == 1 && err && strstr(err, "no_such_run"), "rc %d [%s]", rc, err ? err : "");
    free(err);
    /* a config file, with a bad line named by file and line */
    const char *cf = tmp_path("bad.conf");
    const char *text = "# model\ndim = 32\nlayers 2\nheads = 4\nwarmup = soon\n";
    write_all(cf, text, strlen(text));
    snprintf(args, sizeof args, "train --config %s -o %s", cf, tmp_path("run_cf"));
    rc = run_slm(args, NULL, &err);
    CHECK(rc == 2 && err && strstr(err, "bad.conf:5: warmup"), "rc %d [%s]", rc, err ? err : "");
    free(err);
}

void train_lr_schedule_and_config(void) {
    slm_train_config c;
    slm_train_config_defaults(&c);
    c.lr = 1e-3f, c.min_lr = 1e-4f, c.warmup = 10, c.steps = 110;
    CHECK(fabs(slm_train_lr(&c, 0) - 1e-3 / 11) < 1e-9);
    CHECK(fabs(slm_train_lr(&c, 9) - 1e-3 * 10 / 11) < 1e-9);
    CHECK(fabs(slm_train_lr(&c, 10) - 1e-3) < 1e-9);
    CHECK(fabs(slm_train_lr(&c, 60) - 5.5e-4) < 1e-9, "%g", slm_train_lr(&c, 60));
    CHECK(fabs(slm_train_lr(&c, 110) - 1e-4) < 1e-9);
    slm_error e;
    snprintf(c.data, sizeof c.data, "x"), snprintf(c.tokenizer, sizeof c.tokenizer, "y");
    c.tokens = 1000000, c.batch = 8, c.accum = 2, c.seq_len = 256, c.dim = 64, c.n_heads = 8, c.hidden_dim = 0;
    CHECK(slm_train_config_finish(&c, 512, &e) == SLM_OK, "%s", e.msg);
    CHECK(c.steps == 245 && c.hidden_dim == 192 && c.n_kv_heads == 8 && c.vocab_size == 512, "steps %lld hidden %d", c.steps,
          c.hidden_dim);
}

void bundled_model_is_the_default(void) {
    char *out = NULL, *err = NULL;
    /* no -m: the bundled model beside the executable (build/slm -> models/) */
    int rc = run_slm("generate -p 'Once upon a time' -n 24 --temp 0", &out, &err);
    CHECK(rc == 0 && out && strlen(out) > 40, "rc %d [%s] [%s]", rc, out ? out : "", err ? err : "");
    free(out), free(err);
    rc = run_slm("info models/tinystories-slm.gguf", &out, &err);
    CHECK(rc == 0 && out && strstr(out, "1024") && strstr(out, "192"), "info: %s", err ? err : "");
    free(out), free(err);
    /* $SLM_MODEL overrides it, and a missing one is named */
    const char *bin = getenv("SLM_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "SLM_MODEL=/nonexistent/x.gguf %s generate -p hi -n 4 >/dev/null 2>%s", bin ? bin : "build/slm",
             tmp_path("sm.err"));
    int status = system(cmd);
    char *e = read_all(tmp_path("sm.err"), NULL);
    CHECK(status != 0 && e && strstr(e, "/nonexistent/x.gguf"), "[%s]", e ? e : "");
    free(e);
}
