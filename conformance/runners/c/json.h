/* A small JSON reader for the conformance runner: parses a whole document into a tree.
 * Enough for case files and expected-value files (UTF-8 passes through; \u escapes outside
 * ASCII are kept as '?', case files never need them). */
#ifndef DLG_CONF_JSON_H_
#define DLG_CONF_JSON_H_

#include <stddef.h>

typedef enum {
  JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type_t;

typedef struct json_value {
  json_type_t type;
  double number;           /* JSON_NUMBER; JSON_BOOL: 0 or 1 */
  char* string;            /* JSON_STRING */
  int count;               /* JSON_ARRAY / JSON_OBJECT: number of items */
  struct json_value* items; /* array elements or object values */
  char** keys;             /* JSON_OBJECT: keys, parallel to items */
} json_value_t;

/* Parses `text`; NULL on error with a message in err ("line 3: expected ':'"). */
json_value_t* json_parse(const char* text, char* err, size_t err_cap);
/* Reads and parses a file. */
json_value_t* json_parse_file(const char* path, char* err, size_t err_cap);
void json_free(json_value_t* v);

/* Object member by key, NULL when absent or `obj` is not an object. */
const json_value_t* json_get(const json_value_t* obj, const char* key);
/* Typed accessors: NULL / fallback when absent or of another type. */
const char* json_get_string(const json_value_t* obj, const char* key);
double json_get_number(const json_value_t* obj, const char* key, double fallback);

#endif /* DLG_CONF_JSON_H_ */
