/* train_speed.c — training throughput of slm's trainer on random tokens (no data needed):
 *   train_speed NAME DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ BATCH THREADS STEPS [PEAK_GFLOPS]
 * Runs one warm-up step, then STEPS steps of forward + backward + AdamW, and prints tokens/s and
 * the achieved GFLOP/s: 6 * params * tokens (matrix products of the forward and backward passes,
 * the classifier included, the embedding lookup not) plus attention (6 * layers * T * dim per
 * token for q.k and att.v, forward and backward, counting the causal half). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "../src/train/trainer.h"

int main(int argc, char **argv) {
    if (argc < 13) {
        fprintf(stderr, "usage: %s NAME DIM HIDDEN LAYERS HEADS KV_HEADS VOCAB SEQ BATCH THREADS STEPS PEAK_GFLOPS\n", argv[0]);
        return 2;
    }
    slm_config c = {.dim = atoi(argv[2]), .hidden_dim = atoi(argv[3]), .n_layers = atoi(argv[4]), .block_repeat = 1,
                    .n_heads = atoi(argv[5]), .n_kv_heads = atoi(argv[6]), .vocab_size = atoi(argv[7]),
                    .seq_len = atoi(argv[8]), .tied_classifier = 1, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    int B = atoi(argv[9]), threads = atoi(argv[10]), steps = atoi(argv[11]);
    double peak = atof(argv[12]);
    slm_trainer_opts o = {.cfg = c, .batch = B, .seq = c.seq_len, .n_threads = threads, .use_simd = 1};
    slm_trainer *tr;
    slm_error err;
    if (slm_trainer_create(&o, &tr, &err) != SLM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    slm_trainer_init_params(tr, 1, 0.02f);
    int T = c.seq_len;
    int32_t *tok = malloc(sizeof(int32_t) * B * (T + 1));
    uint64_t s = 42;
    for (int i = 0; i < B * (T + 1); i++) s = s * 6364136223846793005ULL + 1, tok[i] = (int32_t)((s >> 33) % c.vocab_size);
    slm_adamw h = {0.9f, 0.95f, 1e-8f, 0.1f};
    double t0 = 0, c0 = 0;
    struct rusage ru;
    for (int step = 0; step <= steps; step++) {
        if (step == 1) {
            t0 = slm_time_seconds();
            getrusage(RUSAGE_SELF, &ru);
            c0 = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
        }
        slm_trainer_zero_grads(tr);
        slm_trainer_forward_backward(tr, tok, 1.0f, 0);
        slm_trainer_adamw(tr, &h, 1e-4f, 1.0f, step + 1);
    }
    double dt = slm_time_seconds() - t0, tokens = (double)steps * B * T;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 - c0;
    double params = (double)slm_trainer_n_params(tr);
    double flops = tokens * (6.0 * params + 6.0 * c.n_layers * (double)T * c.dim);
    printf("%-12s params %.3fM  batch %dx%d  threads %d  %.0f tok/s  %.1f GFLOP/s (%.0f%% of %.0f peak)  %.0f MiB  "
           "(%.1f user-CPU GFLOP/s per thread)\n",
           argv[1], params / 1e6, B, T, threads, tokens / dt, flops / dt / 1e9, 100.0 * flops / dt / 1e9 / peak, peak,
           slm_trainer_memory(tr) / 1048576.0, flops / cpu / 1e9);
    printf("%-12s seconds per step: forward %.3f (attention %.3f), classifier+loss %.3f, backward %.3f (attention "
           "%.3f), optimizer %.3f\n",
           "", slm_trainer_phase_seconds(tr, SLM_PHASE_FWD) / (steps + 1), slm_trainer_phase_seconds(tr, SLM_PHASE_ATTN_FWD) / (steps + 1),
           slm_trainer_phase_seconds(tr, SLM_PHASE_HEAD) / (steps + 1), slm_trainer_phase_seconds(tr, SLM_PHASE_BWD) / (steps + 1),
           slm_trainer_phase_seconds(tr, SLM_PHASE_ATTN_BWD) / (steps + 1), slm_trainer_phase_seconds(tr, SLM_PHASE_OPT) / (steps + 1));
    slm_trainer_free(tr);
    free(tok);
    return 0;
}
