#include "json.h"

#include <math.h>

void bench_json_init(bench_json_t* j, FILE* f) {
  j->f = f;
  j->depth = 0;
  j->first[0] = 1;
}

static void put_string(FILE* f, const char* s) {
  fputc('"', f);
  for (const unsigned char* p = (const unsigned char*)s; *p; ++p) {
    switch (*p) {
      case '"': fputs("\\\"", f); break;
      case '\\': fputs("\\\\", f); break;
      case '\n': fputs("\\n", f); break;
      case '\t': fputs("\\t", f); break;
      case '\r': fputs("\\r", f); break;
      default:
        if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
  }
  fputc('"', f);
}

/* Separator, indentation and key of the next element. */
static void element(bench_json_t* j, const char* key) {
  if (!j->first[j->depth]) fputc(',', j->f);
  j->first[j->depth] = 0;
  if (j->depth > 0) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; ++i) fputs("  ", j->f);
  }
  if (key) {
    put_string(j->f, key);
    fputs(": ", j->f);
  }
}

static void open_level(bench_json_t* j, const char* key, char bracket) {
  element(j, key);
  fputc(bracket, j->f);
  if (j->depth < 15) ++j->depth;
  j->first[j->depth] = 1;
}

static void close_level(bench_json_t* j, char bracket) {
  const int empty = j->first[j->depth];
  if (j->depth > 0) --j->depth;
  if (!empty) {
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; ++i) fputs("  ", j->f);
  }
  fputc(bracket, j->f);
  if (j->depth == 0) fputc('\n', j->f);
}

void bench_json_object_begin(bench_json_t* j, const char* key) { open_level(j, key, '{'); }
void bench_json_object_end(bench_json_t* j) { close_level(j, '}'); }
void bench_json_array_begin(bench_json_t* j, const char* key) { open_level(j, key, '['); }
void bench_json_array_end(bench_json_t* j) { close_level(j, ']'); }

void bench_json_string(bench_json_t* j, const char* key, const char* value) {
  element(j, key);
  if (value) put_string(j->f, value);
  else fputs("null", j->f);
}

void bench_json_int(bench_json_t* j, const char* key, int64_t value) {
  element(j, key);
  fprintf(j->f, "%lld", (long long)value);
}

void bench_json_number(bench_json_t* j, const char* key, double value, int has_value) {
  element(j, key);
  if (has_value && isfinite(value)) fprintf(j->f, "%.6g", value);
  else fputs("null", j->f);
}

void bench_json_bool(bench_json_t* j, const char* key, int value) {
  element(j, key);
  fputs(value ? "true" : "false", j->f);
}

void bench_json_null(bench_json_t* j, const char* key) {
  element(j, key);
  fputs("null", j->f);
}
