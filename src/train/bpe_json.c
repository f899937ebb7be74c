/* bpe_json.c — writes a trained byte-level BPE vocabulary as a Hugging Face tokenizer.json:
 * ids are the special tokens, the 256 bytes in GPT-2's alphabet order, then the merges; pieces and
 * merges are written in GPT-2's byte-to-unicode alphabet. */
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/tokenizer.h"
#include "train.h"

/* Symbol s's bytes in GPT-2's alphabet, NUL-terminated, into out (2 * len + 1 bytes). */
static void gpt2_text(const slm_bpe_vocab *v, int s, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < v->sym_len[s]; i++) {
        int cp = slm_gpt2_byte_cp((unsigned char)v->sym_bytes[s][i]);
        if (cp < 0x80) out[o++] = (char)cp;
        else out[o++] = (char)(0xC0 | (cp >> 6)), out[o++] = (char)(0x80 | (cp & 63));
    }
    out[o] = '\0';
}

#ifndef SLM_NO_HF
#include <cjson/cJSON.h>

slm_status slm_bpe_vocab_write_json(const slm_bpe_vocab *v, const char *path, slm_error *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON *model = cJSON_AddObjectToObject(root, "model"), *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab"), *merges = cJSON_AddArrayToObject(model, "merges");
    size_t maxlen = 1;
    for (int s = 0; s < v->n_sym; s++) maxlen = v->sym_len[s] > maxlen ? v->sym_len[s] : maxlen;
    char *a = malloc(2 * maxlen + 1), *b = malloc(2 * maxlen + 1), *m = malloc(4 * maxlen + 2);
    int id = 0;
    for (int k = 0; k < v->n_special; k++, id++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "id", id);
        cJSON_AddStringToObject(t, "content", v->special[k]);
        cJSON_AddTrueToObject(t, "special");
        cJSON_AddItemToArray(added, t);
    }
    for (int cp = 0; cp < 324 && a; cp++) /* the bytes, by their code point in the alphabet */
        for (int byte = 0; byte < 256; byte++)
            if (slm_gpt2_byte_cp(byte) == cp) {
                gpt2_text(v, byte, a);
                cJSON_AddNumberToObject(vocab, a, id++);
            }
    for (int i = 0; i < v->n_merges && a && b && m; i++) {
        gpt2_text(v, 256 + i, a);
        cJSON_AddNumberToObject(vocab, a, id++);
        gpt2_text(v, v->merge_a[i], a);
        gpt2_text(v, v->merge_b[i], b);
        strcpy(m, a), strcat(m, " "), strcat(m, b);
        cJSON_AddItemToArray(merges, cJSON_CreateString(m));
    }
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddFalseToObject(pre, "add_prefix_space");
    cJSON_AddTrueToObject(pre, "use_regex");
    char *text = (a && b && m) ? cJSON_Print(root) : NULL;
    free(a), free(b), free(m);
    cJSON_Delete(root);
    if (!text) return slm_fail(err, SLM_ERR_NOMEM, "%s: out of memory", path);
    slm_file_writer *w;
    slm_status st = slm_writer_open(path, &w, err);
    if (st == SLM_OK) {
        if ((st = slm_writer_write(w, text, strlen(text), err)) == SLM_OK) st = slm_writer_commit(w, err);
        else slm_writer_abort(w);
    }
    free(text);
    return st;
}
#else
slm_status slm_bpe_vocab_write_json(const slm_bpe_vocab *v, const char *path, slm_error *err) {
    (void)v, (void)gpt2_text;
    return slm_fail(err, SLM_ERR_UNSUPPORTED, "%s: writing tokenizer.json needs cJSON (built with NO_HF=1)", path);
}
#endif
