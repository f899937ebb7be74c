/* trainer.h — training a Llama-family model in C: parameters, forward with saved activations,
 * backward layer by layer, AdamW. One trainer holds the fp32 parameters, their gradients and the
 * optimizer moments in three flat arrays with the same layout (the tensor table below), and the
 * activations of one micro-batch (B sequences of T tokens).
 *
 * Every result is independent of the thread count: each matrix-product tile, attention head and
 * token row is computed whole by one thread in a fixed order, and every reduction over tokens runs
 * in a fixed order. */
#ifndef SLM_TRAINER_H
#define SLM_TRAINER_H

#include "../model/model.h"

typedef struct slm_trainer slm_trainer;

typedef struct slm_trainer_opts {
    slm_config cfg;  /* model shape; head_dim is derived; rope_half must be 0 */
    int batch;       /* B: sequences per micro-batch */
    int seq;         /* T: tokens per sequence (<= cfg.seq_len) */
    float dropout;   /* on the embedding output and on each residual branch; 0 = none */
    int n_threads;
    int use_simd;
} slm_trainer_opts;

/* One parameter tensor: its GGUF name, shape and place in the flat arrays. */
typedef struct slm_ptensor {
    char name[48];
    int rows, cols;  /* rows = 0: a vector of cols values */
    size_t offset;   /* in floats */
    int decay;       /* AdamW weight decay applies (matrices, not norm weights) */
} slm_ptensor;

typedef struct slm_adamw {
    float beta1, beta2, eps, weight_decay;
} slm_adamw;

slm_status slm_trainer_create(const slm_trainer_opts *opts, slm_trainer **out, slm_error *err);
void slm_trainer_free(slm_trainer *tr);

const slm_trainer_opts *slm_trainer_options(const slm_trainer *tr);
size_t slm_trainer_n_params(const slm_trainer *tr);
const slm_ptensor *slm_trainer_tensors(const slm_trainer *tr, int *n);
/* The flat arrays (n_params each). */
float *slm_trainer_params(slm_trainer *tr);
float *slm_trainer_grads(slm_trainer *tr);
float *slm_trainer_adam_m(slm_trainer *tr);
float *slm_trainer_adam_v(slm_trainer *tr);
/* Bytes the trainer allocated (parameters, gradients, moments, activations, scratch). */
size_t slm_trainer_memory(const slm_trainer *tr);

/* Wall seconds spent so far in each phase of training (for benchmarks): forward and backward (each
 * including its attention), their attention alone, classifier + loss, optimizer. */
typedef enum {
    SLM_PHASE_FWD, SLM_PHASE_ATTN_FWD, SLM_PHASE_HEAD, SLM_PHASE_BWD, SLM_PHASE_ATTN_BWD, SLM_PHASE_OPT, SLM_PHASES
} slm_trainer_phase;
double slm_trainer_phase_seconds(const slm_trainer *tr, slm_trainer_phase ph);

/* llama2.c's init: every matrix ~ N(0, std), the residual output projections (attn_output,
 * ffn_down) ~ N(0, std / sqrt(2 * applied layers)), norm weights 1. Moments are zeroed. */
void slm_trainer_init_params(slm_trainer *tr, uint64_t seed, float std);

void slm_trainer_zero_grads(slm_trainer *tr);
/* Forward and backward over one micro-batch: tokens holds B rows of T + 1 ids (inputs are the
 * first T, targets the last T). Adds grad_scale * d(mean loss)/d(params) to the gradients and
 * returns the mean cross-entropy (nats). dropout_key selects the dropout masks (ignored when
 * dropout is 0). Ids must be < vocab_size (checked by the caller). */
double slm_trainer_forward_backward(slm_trainer *tr, const int32_t *tokens, float grad_scale, uint64_t dropout_key);
/* Forward only, no dropout: the summed cross-entropy (nats) over the B*T targets; when nll is
 * not NULL it receives each target's loss (B*T). */
double slm_trainer_eval(slm_trainer *tr, const int32_t *tokens, float *nll);
/* The L2 norm of all gradients. */
double slm_trainer_grad_norm(slm_trainer *tr);
/* One AdamW step (PyTorch semantics, decoupled weight decay on `decay` tensors) at step t
 * (1-based) with learning rate lr; gradients are multiplied by grad_mul first (clipping). */
void slm_trainer_adamw(slm_trainer *tr, const slm_adamw *h, float lr, float grad_mul, int64_t t);

/* Copies a loaded model's weights (same shape; any stored type, dequantized) into the parameters. */
slm_status slm_trainer_load(slm_trainer *tr, const slm_model *m, slm_error *err);

/* A model whose tensors point into the trainer's parameters (valid while the trainer lives and
 * its parameters do not move), for slm's forward pass and writers. With expand, a block_repeat
 * model is given as n_layers * block_repeat plain layers (for formats that cannot share). */
slm_status slm_trainer_model(slm_trainer *tr, int expand, slm_model **out, slm_error *err);

#endif
