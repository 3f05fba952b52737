/* A minimal streaming JSON writer: enough for the results file, nothing more. */
#ifndef DLG_BENCH_JSON_H_
#define DLG_BENCH_JSON_H_

#include <stdint.h>
#include <stdio.h>

typedef struct bench_json {
  FILE* f;
  int depth;
  int first[16]; /* per nesting level: no element written yet */
} bench_json_t;

void bench_json_init(bench_json_t* j, FILE* f);
/* key may be NULL inside arrays (and at the top level). */
void bench_json_object_begin(bench_json_t* j, const char* key);
void bench_json_object_end(bench_json_t* j);
void bench_json_array_begin(bench_json_t* j, const char* key);
void bench_json_array_end(bench_json_t* j);
void bench_json_string(bench_json_t* j, const char* key, const char* value); /* NULL -> null */
void bench_json_int(bench_json_t* j, const char* key, int64_t value);
/* Non-finite values (and has_value == 0) are written as null. */
void bench_json_number(bench_json_t* j, const char* key, double value, int has_value);
void bench_json_bool(bench_json_t* j, const char* key, int value);
void bench_json_null(bench_json_t* j, const char* key);

#endif /* DLG_BENCH_JSON_H_ */
