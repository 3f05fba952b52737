/* Recursive-descent JSON reader (RFC 8259 subset: everything except non-ASCII \u escapes). */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char* p;
  int line;
  char* err;
  size_t err_cap;
  int failed;
  int depth;
} parser_t;

static void fail(parser_t* ps, const char* what) {
  if (ps->failed) return;
  ps->failed = 1;
  snprintf(ps->err, ps->err_cap, "line %d: %s", ps->line, what);
}

static void skip_space(parser_t* ps) {
  for (;;) {
    char c = *ps->p;
    if (c == '\n') ++ps->line;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') ++ps->p;
    else return;
  }
}

static int parse_value(parser_t* ps, json_value_t* out);

static char* parse_string_raw(parser_t* ps) {
  if (*ps->p != '"') { fail(ps, "expected a string"); return NULL; }
  ++ps->p;
  size_t cap = 16, len = 0;
  char* s = malloc(cap);
  if (!s) { fail(ps, "out of memory"); return NULL; }
  for (;;) {
    char c = *ps->p++;
    if (c == '\0' || c == '\n') { fail(ps, "unterminated string"); free(s); return NULL; }
    if (c == '"') break;
    if (c == '\\') {
      char e = *ps->p++;
      switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            char h = *ps->p++;
            code <<= 4;
            if (h >= '0' && h <= '9') code |= (unsigned)(h - '0');
            else if (h >= 'a' && h <= 'f') code |= (unsigned)(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= (unsigned)(h - 'A' + 10);
            else { fail(ps, "bad \\u escape"); free(s); return NULL; }
          }
          c = code < 0x80 ? (char)code : '?';
          break;
        }
        default: fail(ps, "bad escape"); free(s); return NULL;
      }
    }
    if (len + 2 > cap) {
      cap *= 2;
      char* grown = realloc(s, cap);
      if (!grown) { fail(ps, "out of memory"); free(s); return NULL; }
      s = grown;
    }
    s[len++] = c;
  }
  s[len] = '\0';
  return s;
}

/* Appends one element to a growing items/keys array. */
static json_value_t* push_item(parser_t* ps, json_value_t* v, int* cap, char* key) {
  if (v->count == *cap) {
    int ncap = *cap ? *cap * 2 : 4;
    json_value_t* items = realloc(v->items, (size_t)ncap * sizeof *items);
    if (!items) { fail(ps, "out of memory"); return NULL; }
    v->items = items;
    if (v->type == JSON_OBJECT) {
      char** keys = realloc(v->keys, (size_t)ncap * sizeof *keys);
      if (!keys) { fail(ps, "out of memory"); return NULL; }
      v->keys = keys;
    }
    *cap = ncap;
  }
  if (v->type == JSON_OBJECT) v->keys[v->count] = key;
  json_value_t* item = &v->items[v->count++];
  memset(item, 0, sizeof *item);
  return item;
}

static int parse_container(parser_t* ps, json_value_t* out, int is_object) {
  char close = is_object ? '}' : ']';
  out->type = is_object ? JSON_OBJECT : JSON_ARRAY;
  int cap = 0;
  ++ps->p;
  if (++ps->depth > 64) { fail(ps, "nesting too deep"); return 0; }
  skip_space(ps);
  if (*ps->p == close) { ++ps->p; --ps->depth; return 1; }
  for (;;) {
    char* key = NULL;
    skip_space(ps);
    if (is_object) {
      key = parse_string_raw(ps);
      if (!key) return 0;
      skip_space(ps);
      if (*ps->p != ':') { free(key); fail(ps, "expected ':'"); return 0; }
      ++ps->p;
    }
    json_value_t* item = push_item(ps, out, &cap, key);
    if (!item) { free(key); return 0; }
    if (!parse_value(ps, item)) return 0;
    skip_space(ps);
    if (*ps->p == ',') { ++ps->p; continue; }
    if (*ps->p == close) { ++ps->p; --ps->depth; return 1; }
    fail(ps, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    return 0;
  }
}

static int parse_value(parser_t* ps, json_value_t* out) {
  skip_space(ps);
  char c = *ps->p;
  if (c == '{' || c == '[') return parse_container(ps, out, c == '{');
  if (c == '"') {
    out->type = JSON_STRING;
    out->string = parse_string_raw(ps);
    return out->string != NULL;
  }
  if (!strncmp(ps->p, "true", 4)) { out->type = JSON_BOOL; out->number = 1; ps->p += 4; return 1; }
  if (!strncmp(ps->p, "false", 5)) { out->type = JSON_BOOL; out->number = 0; ps->p += 5; return 1; }
  if (!strncmp(ps->p, "null", 4)) { out->type = JSON_NULL; ps->p += 4; return 1; }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char* end = NULL;
    out->type = JSON_NUMBER;
    out->number = strtod(ps->p, &end);
    if (end == ps->p) { fail(ps, "bad number"); return 0; }
    ps->p = end;
    return 1;
  }
  fail(ps, "unexpected character");
  return 0;
}

static void free_inner(json_value_t* v) {
  if (v->type == JSON_STRING) free(v->string);
  if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
    for (int i = 0; i < v->count; ++i) {
      free_inner(&v->items[i]);
      if (v->type == JSON_OBJECT) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
  }
}

void json_free(json_value_t* v) {
  if (!v) return;
  free_inner(v);
  free(v);
}

json_value_t* json_parse(const char* text, char* err, size_t err_cap) {
  parser_t ps = {text, 1, err, err_cap, 0, 0};
  json_value_t* root = calloc(1, sizeof *root);
  if (!root) { snprintf(err, err_cap, "out of memory"); return NULL; }
  if (parse_value(&ps, root)) {
    skip_space(&ps);
    if (*ps.p != '\0') fail(&ps, "trailing characters");
  }
  if (ps.failed) { json_free(root); return NULL; }
  return root;
}

json_value_t* json_parse_file(const char* path, char* err, size_t err_cap) {
  FILE* f = fopen(path, "rb");
  if (!f) { snprintf(err, err_cap, "cannot open %s", path); return NULL; }
  size_t cap = 4096, len = 0, got;
  char* buf = malloc(cap);
  while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += got;
    if (len + 1 == cap) {
      char* grown = realloc(buf, cap * 2);
      if (!grown) { free(buf); buf = NULL; break; }
      buf = grown;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf) { snprintf(err, err_cap, "out of memory reading %s", path); return NULL; }
  buf[len] = '\0';
  json_value_t* v = json_parse(buf, err, err_cap);
  free(buf);
  return v;
}

const json_value_t* json_get(const json_value_t* obj, const char* key) {
  if (!obj || obj->type != JSON_OBJECT) return NULL;
  for (int i = 0; i < obj->count; ++i)
    if (!strcmp(obj->keys[i], key)) return &obj->items[i];
  return NULL;
}

const char* json_get_string(const json_value_t* obj, const char* key) {
  const json_value_t* v = json_get(obj, key);
  return v && v->type == JSON_STRING ? v->string : NULL;
}

double json_get_number(const json_value_t* obj, const char* key, double fallback) {
  const json_value_t* v = json_get(obj, key);
  return v && (v->type == JSON_NUMBER || v->type == JSON_BOOL) ? v->number : fallback;
}
