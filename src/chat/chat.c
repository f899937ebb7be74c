/* chat.c — chat templates. A template turns messages into segments: text, or a special token named
 * by its piece ("<|im_start|>") or by role ("bos", "eos"). Text is encoded by the tokenizer;
 * specials become their ids, never text the user could have typed.
 *
 *   chatml   <|im_start|>{role}\n{content}<|im_end|>\n ...  <|im_start|>assistant\n
 *   smollm2  chatml; without a system message it adds SmolLM2's default one
 *   llama2   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] ...
 *   zephyr   <|system|>\n{system}</s>\n<|user|>\n{user}</s>\n<|assistant|>\n   (TinyLlama-chat)
 *   plain    {system}\n\n{user}\n   (no markup; for base models) */
#include <stdlib.h>
#include <string.h>

#include "../core/core.h"
#include "../tokenizer/tokenizer.h"

static const char SMOLLM2_SYSTEM[] = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

typedef struct {
    int special;      /* 1: `text` names a special token */
    const char *text;
    size_t len;
} segment;

typedef struct {
    segment *seg;
    int n, cap;
} segments;

static int add(segments *s, int special, const char *text) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        segment *g = realloc(s->seg, sizeof *g * (size_t)cap);
        if (!g) return 0;
        s->seg = g, s->cap = cap;
    }
    s->seg[s->n++] = (segment){special, text, strlen(text)};
    return 1;
}

enum { T_CHATML, T_SMOLLM2, T_LLAMA2, T_ZEPHYR, T_PLAIN };
static const char *const NAMES[] = {"chatml", "smollm2", "llama2", "zephyr", "plain"};

static int template_id(const char *name) {
    for (int i = 0; i < 5; i++)
        if (name && !strcmp(name, NAMES[i])) return i;
    return -1;
}

const char *slm_chat_template_guess(const char *jinja) {
    if (!jinja) return NULL;
    if (strstr(jinja, "<|im_start|>")) return strstr(jinja, "SmolLM") ? "smollm2" : "chatml";
    if (strstr(jinja, "[INST]")) return "llama2";
    if (strstr(jinja, "<|user|>") && strstr(jinja, "<|assistant|>")) return "zephyr";
    return NULL;
}

/* Builds the segments of messages [0, n); `first` says whether this starts the conversation (a
 * default system prompt and BOS go only there). */
static int render(int tpl, const slm_chat_message *m, int n, int add_assistant, int first, segments *s) {
    int ok = 1, i = 0;
    const char *system = NULL;
    if (n > 0 && !strcmp(m[0].role, "system")) system = m[0].content, i = 1;
    if (!system && first && tpl == T_SMOLLM2) system = SMOLLM2_SYSTEM;
    switch (tpl) {
    case T_CHATML:
    case T_SMOLLM2:
        if (system) ok &= add(s, 1, "<|im_start|>") && add(s, 0, "system\n") && add(s, 0, system) && add(s, 1, "<|im_end|>") && add(s, 0, "\n");
        for (; i < n; i++)
            ok &= add(s, 1, "<|im_start|>") && add(s, 0, m[i].role) && add(s, 0, "\n") && add(s, 0, m[i].content) &&
                  add(s, 1, "<|im_end|>") && add(s, 0, "\n");
        if (add_assistant) ok &= add(s, 1, "<|im_start|>") && add(s, 0, "assistant\n");
        break;
    case T_LLAMA2:
        for (int sys_done = 0; i < n; i++) {
            if (!strcmp(m[i].role, "user")) {
                ok &= add(s, 1, "bos") && add(s, 0, "[INST] ");
                if (system && !sys_done) ok &= add(s, 0, "<<SYS>>\n") && add(s, 0, system) && add(s, 0, "\n<</SYS>>\n\n");
                sys_done = 1;
                ok &= add(s, 0, m[i].content) && add(s, 0, " [/INST]");
            } else
                ok &= add(s, 0, " ") && add(s, 0, m[i].content) && add(s, 0, " ") && add(s, 1, "eos");
        }
        break;
    case T_ZEPHYR:
        if (system) ok &= add(s, 0, "<|system|>\n") && add(s, 0, system) && add(s, 1, "eos") && add(s, 0, "\n");
        for (; i < n; i++)
            ok &= add(s, 0, !strcmp(m[i].role, "user") ? "<|user|>\n" : "<|assistant|>\n") && add(s, 0, m[i].content) &&
                  add(s, 1, "eos") && add(s, 0, "\n");
        if (add_assistant) ok &= add(s, 0, "<|assistant|>\n");
        break;
    default:
        if (system) ok &= add(s, 0, system) && add(s, 0, "\n\n");
        for (; i < n; i++) ok &= add(s, 0, m[i].content) && add(s, 0, "\n");
        break;
    }
    return ok;
}

slm_status slm_chat_render_text(const char *name, const slm_chat_message *m, int n, int add_assistant, char *out,
                                 size_t cap, size_t *len, slm_error *err) {
    int tpl = template_id(name);
    if (tpl < 0) return slm_fail(err, SLM_ERR_ARG, "unknown chat template '%s' (chatml, smollm2, llama2, zephyr, plain)", name ? name : "");
    segments s = {0};
    if (!render(tpl, m, n, add_assistant, 1, &s)) {
        free(s.seg);
        return slm_fail(err, SLM_ERR_NOMEM, "chat: out of memory");
    }
    size_t total = 0;
    for (int i = 0; i < s.n; i++) {
        const char *t = s.seg[i].text;
        if (s.seg[i].special) t = !strcmp(t, "bos") ? "<s>" : !strcmp(t, "eos") ? "</s>" : t; /* shown by name */
        size_t l = strlen(t);
        if (total + l < cap) memcpy(out + total, t, l);
        total += l;
    }
    if (cap) out[total < cap ? total : cap - 1] = '\0';
    *len = total;
    free(s.seg);
    return total < cap ? SLM_OK : slm_fail(err, SLM_ERR_NOMEM, "chat: %zu bytes needed", total + 1);
}

/* Id of a special token written as `piece` in the vocabulary, or -1. */
static int32_t special_id(const slm_tokenizer *t, const char *piece) {
    if (!strcmp(piece, "bos")) return t->bos;
    if (!strcmp(piece, "eos")) return t->eos;
    size_t n = strlen(piece);
    for (int i = 0; i < t->vocab_size; i++)
        if ((size_t)t->lengths[i] == n && !memcmp(t->pieces[i], piece, n)) return i;
    return -1;
}

int32_t slm_chat_end_of_turn(const slm_tokenizer *t, const char *name) {
    int tpl = template_id(name);
    if (tpl == T_CHATML || tpl == T_SMOLLM2) return special_id(t, "<|im_end|>");
    return t->eos;
}

slm_status slm_chat_encode(const slm_tokenizer *t, const char *name, const slm_chat_message *m, int n, int add_assistant,
                           int first, int32_t *ids, int cap, int *n_ids, slm_error *err) {
    int tpl = template_id(name);
    if (tpl < 0) return slm_fail(err, SLM_ERR_ARG, "unknown chat template '%s' (chatml, smollm2, llama2, zephyr, plain)", name ? name : "");
    segments s = {0};
    if (!render(tpl, m, n, add_assistant, first, &s)) {
        free(s.seg);
        return slm_fail(err, SLM_ERR_NOMEM, "chat: out of memory");
    }
    slm_status st = SLM_OK;
    int total = 0;
    /* a plain text conversation starts with BOS where the tokenizer adds one (SentencePiece) */
    if (first && (tpl == T_PLAIN || tpl == T_ZEPHYR) && !t->bpe) {
        if (total < cap) ids[total] = t->bos;
        total++;
    }
    for (int i = 0; i < s.n && st == SLM_OK; i++) {
        if (s.seg[i].special) {
            int32_t id = special_id(t, s.seg[i].text);
            if (id < 0) {
                st = slm_fail(err, SLM_ERR_MISMATCH, "chat template %s needs the token %s, which the vocabulary lacks", name,
                              s.seg[i].text);
                break;
            }
            if (total < cap) ids[total] = id;
            total++;
            continue;
        }
        /* consecutive text segments are encoded together (one dummy prefix, as one string) */
        size_t len = 0;
        int j = i;
        while (j < s.n && !s.seg[j].special) len += s.seg[j++].len;
        char *text = malloc(len + 1);
        if (!text) {
            st = slm_fail(err, SLM_ERR_NOMEM, "chat: out of memory");
            break;
        }
        len = 0;
        for (int k = i; k < j; k++) memcpy(text + len, s.seg[k].text, s.seg[k].len), len += s.seg[k].len;
        int got = 0;
        slm_status e = slm_tokenizer_encode(t, text, len, 0, 0, total < cap ? ids + total : NULL, total < cap ? cap - total : 0, &got);
        free(text);
        if (e != SLM_OK && e != SLM_ERR_NOMEM) st = slm_fail(err, e, "chat: cannot encode the text");
        total += got;
        i = j - 1;
    }
    free(s.seg);
    *n_ids = total;
    if (st != SLM_OK) return st;
    return total <= cap ? SLM_OK : slm_fail(err, SLM_ERR_NOMEM, "chat: %d tokens do not fit in %d", total, cap);
}

slm_status slm_chat_encode_close(const slm_tokenizer *t, const char *name, int32_t *ids, int cap, int *n_ids,
                                 slm_error *err) {
    int tpl = template_id(name), n = 0;
    if (tpl < 0) return slm_fail(err, SLM_ERR_ARG, "unknown chat template '%s'", name ? name : "");
    int32_t end = tpl == T_CHATML || tpl == T_SMOLLM2 ? special_id(t, "<|im_end|>") : tpl == T_PLAIN ? -1 : t->eos;
    if (end >= 0 && n < cap) ids[n++] = end;
    if (tpl != T_LLAMA2) { /* a newline after the turn, as the template writes it */
        int got = 0;
        int32_t nl[8];
        slm_tokenizer_encode(t, "\n", 1, 0, 0, nl, 8, &got);
        /* SentencePiece adds its dummy space before "\n": keep only the newline's own token(s) */
        int skip = (!t->bpe && got > 1 && t->add_dummy_prefix) ? 1 : 0;
        for (int i = skip; i < got && n < cap; i++) ids[n++] = nl[i];
    }
    *n_ids = n;
    return SLM_OK;
}
