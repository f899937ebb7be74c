/* json.h — a minimal JSON reader for test reference files (not part of the library). */
#ifndef SLM_TEST_JSON_H
#define SLM_TEST_JSON_H

#include <stddef.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } json_type;

typedef struct json {
    json_type type;
    double num;
    char *str;           /* J_STR; object member key lives in `key` */
    char *key;
    struct json *items;  /* J_ARR / J_OBJ children */
    int n;
} json;

json *json_parse(const char *text, size_t len); /* NULL on a syntax error */
void json_free(json *j);   /* frees the children of j */
void json_delete(json *j); /* json_free + free(j), for json_parse results */
const json *json_get(const json *obj, const char *key);
#endif
