/* json.c — a minimal recursive-descent JSON reader for the tests' reference files. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s, *end;
    int depth;
} parser;

static void skip_ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\t' || *p->s == '\r')) p->s++;
}

static int parse_value(parser *p, json *out);

static char *parse_string(parser *p) {
    if (p->s >= p->end || *p->s != '"') return NULL;
    p->s++;
    size_t cap = 16, n = 0;
    char *buf = malloc(cap);
    while (buf && p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if (c == '\\' && p->s < p->end) {
            char e = *p->s++;
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
            if (e == 'u') { /* tests only need ASCII escapes; keep the code point's low byte */
                if (p->end - p->s < 4) break;
                c = (char)strtol((char[5]){p->s[0], p->s[1], p->s[2], p->s[3], 0}, NULL, 16);
                p->s += 4;
            }
        }
        if (n + 2 > cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g) free(buf);
            buf = g;
            if (!buf) return NULL;
        }
        buf[n++] = c;
    }
    if (!buf || p->s >= p->end) {
        free(buf);
        return NULL;
    }
    p->s++;
    buf[n] = '\0';
    return buf;
}

static int parse_items(parser *p, json *out, char close, int with_keys) {
    int cap = 8;
    out->items = malloc((size_t)cap * sizeof *out->items);
    out->n = 0;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return 1;
    }
    for (;;) {
        if (!out->items) return 0;
        json item;
        memset(&item, 0, sizeof item);
        skip_ws(p);
        if (with_keys) {
            if (!(item.key = parse_string(p))) return 0;
            skip_ws(p);
            if (p->s >= p->end || *p->s++ != ':') {
                free(item.key);
                return 0;
            }
        }
        if (!parse_value(p, &item)) {
            json_free(&item);
            return 0;
        }
        if (out->n == cap) {
            json *g = realloc(out->items, (size_t)(cap *= 2) * sizeof *g);
            if (!g) return 0;
            out->items = g;
        }
        out->items[out->n++] = item;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return 1;
        }
        return 0;
    }
}

static int parse_value(parser *p, json *out) {
    skip_ws(p);
    if (p->s >= p->end || ++p->depth > 64) return 0;
    int ok = 1;
    char c = *p->s;
    if (c == '{') p->s++, out->type = J_OBJ, ok = parse_items(p, out, '}', 1);
    else if (c == '[') p->s++, out->type = J_ARR, ok = parse_items(p, out, ']', 0);
    else if (c == '"') out->type = J_STR, ok = (out->str = parse_string(p)) != NULL;
    else if (!strncmp(p->s, "true", 4)) out->type = J_BOOL, out->num = 1, p->s += 4;
    else if (!strncmp(p->s, "false", 5)) out->type = J_BOOL, p->s += 5;
    else if (!strncmp(p->s, "null", 4)) out->type = J_NULL, p->s += 4;
    else {
        char *end;
        out->type = J_NUM;
        out->num = strtod(p->s, &end);
        ok = end != p->s;
        p->s = end;
    }
    p->depth--;
    return ok;
}

json *json_parse(const char *text, size_t len) {
    parser p = {text, text + len, 0};
    json *j = calloc(1, sizeof *j);
    if (j && !parse_value(&p, j)) {
        json_delete(j);
        return NULL;
    }
    return j;
}

void json_delete(json *j) {
    json_free(j);
    free(j);
}

void json_free(json *j) {
    if (!j) return;
    for (int i = 0; i < j->n; i++) json_free(&j->items[i]);
    free(j->items);
    free(j->str);
    free(j->key);
    j->items = NULL, j->str = NULL, j->key = NULL, j->n = 0;
}

const json *json_get(const json *obj, const char *key) {
    if (!obj || obj->type != J_OBJ) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (obj->items[i].key && !strcmp(obj->items[i].key, key)) return &obj->items[i];
    return NULL;
}
