/* generate.c — prompt -> tokens -> forward -> sample -> streamed text. */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "model.h"

slm_status slm_generate(slm_ctx *ctx, const slm_tokenizer *tok, slm_sampler *sampler, const char *prompt,
                        int n_predict, slm_token_fn fn, void *user, slm_generate_stats *stats, slm_error *err) {
    if (!ctx || !tok) return slm_fail(err, SLM_ERR_ARG, "slm_generate: NULL argument");
    size_t plen = prompt ? strlen(prompt) : 0;
    int n_ctx = slm_ctx_n_ctx(ctx), cap = (int)(plen < (size_t)n_ctx ? 3 * plen + 3 : (size_t)3 * n_ctx + 3), n;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return slm_fail(err, SLM_ERR_NOMEM, "out of memory for %d prompt tokens", cap);
    slm_status st = slm_tokenizer_encode(tok, prompt ? prompt : "", plen, slm_tokenizer_add_bos(tok), 0, ids, cap, &n);
    if (st == SLM_OK && n == 0) ids[n++] = slm_tokenizer_bos(tok); /* an empty prompt still needs a first token */
    if (st == SLM_ERR_NOMEM) {
        free(ids);
        return slm_fail(err, SLM_ERR_RANGE, "prompt has more than %d tokens but the context holds %d", cap, n_ctx);
    }
    if (st != SLM_OK) {
        free(ids);
        return slm_fail(err, st, "cannot encode the prompt: %s", slm_strerror(st));
    }
    st = slm_generate_tokens(ctx, tok, sampler, ids, n, 0, n_predict, -1, fn, user, stats, err);
    free(ids);
    return st;
}

slm_status slm_generate_tokens(slm_ctx *ctx, const slm_tokenizer *tok, slm_sampler *sampler, const int32_t *ids, int n,
                               int pos, int n_predict, int32_t stop_token, slm_token_fn fn, void *user,
                               slm_generate_stats *stats, slm_error *err) {
    slm_generate_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!ctx || !tok || !sampler || (!ids && n > 0)) return slm_fail(err, SLM_ERR_ARG, "slm_generate: NULL argument");
    if (n_predict < 0 || n < 1 || pos < 0) return slm_fail(err, SLM_ERR_ARG, "slm_generate: bad count or position");
    const slm_config *c = slm_model_config(slm_ctx_model(ctx));
    if (slm_tokenizer_vocab_size(tok) != c->vocab_size)
        return slm_fail(err, SLM_ERR_MISMATCH, "tokenizer has %d tokens but the model's vocab_size is %d",
                        slm_tokenizer_vocab_size(tok), c->vocab_size);
    int n_ctx = slm_ctx_n_ctx(ctx);
    if (pos + n > n_ctx)
        return slm_fail(err, SLM_ERR_RANGE, "prompt is %d tokens long but the context holds %d", pos + n, n_ctx);
    stats->n_prompt = n;
    double t0 = slm_time_seconds();
    slm_status st = slm_ctx_eval(ctx, ids, n, pos, NULL, err);
    for (int i = 0; i < n && st == SLM_OK; i++) slm_sampler_accept(sampler, ids[i]);
    stats->prompt_seconds = slm_time_seconds() - t0;
    int32_t prev = ids[n - 1];
    if (st != SLM_OK) return st;
    slm_utf8_stream stream = {{0}, 0};
    char *out = malloc(3 * ((size_t)slm_tokenizer_max_piece_len(tok) + 8));
    if (!out) return slm_fail(err, SLM_ERR_NOMEM, "out of memory");
    pos += n;
    t0 = slm_time_seconds();
    while (stats->n_generated < n_predict) {
        int32_t next = slm_sampler_sample(sampler, slm_ctx_logits(ctx));
        if (next == slm_tokenizer_bos(tok) || next == slm_tokenizer_eos(tok) || next == stop_token) {
            stats->stopped_by = 1;
            break;
        }
        stats->n_generated++;
        size_t len;
        const char *piece = slm_tokenizer_piece(tok, prev, next, &len);
        prev = next;
        size_t o = slm_utf8_stream_feed(&stream, piece, len, out);
        if (fn && fn(user, next, out, o)) {
            stats->stopped_by = 3;
            break;
        }
        if (stats->n_generated >= n_predict) break;
        if (pos >= n_ctx) {
            stats->stopped_by = 2;
            break;
        }
        if ((st = slm_ctx_eval(ctx, &next, 1, pos++, NULL, err)) != SLM_OK) break;
    }
    stats->gen_seconds = slm_time_seconds() - t0;
    stats->end_pos = pos;
    size_t o = slm_utf8_stream_flush(&stream, out);
    if (o > 0 && fn) fn(user, -1, out, o);
    free(out);
    return st;
}
