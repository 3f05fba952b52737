/* The shape suite: DeepGEMM's benchmark set per recipe, filters and custom shapes. */
#ifndef DLG_BENCH_SHAPES_H_
#define DLG_BENCH_SHAPES_H_

#include <stdint.h>
#include "dlgemm.h"

/* Which pass of a linear layer a GEMM stands for. */
typedef enum bench_pass { BENCH_FWD = 0, BENCH_DGRAD = 1, BENCH_WGRAD = 2 } bench_pass_t;

typedef struct bench_shape {
  dlg_recipe_t recipe;
  bench_pass_t pass;
  int64_t m, n, k;
  int d_f32;      /* D is f32 (else bf16) */
  int accumulate; /* D += A·Bᵀ (C aliases D while timing) */
} bench_shape_t;

#define BENCH_MAX_SHAPES 512

const char* bench_pass_name(bench_pass_t pass);
/* "fp8_1d2d", "fp8_1d1d", "fp8_per_tensor", "bf16". */
const char* bench_recipe_key(dlg_recipe_t recipe);
/* Parses one recipe key (also accepts "1d2d", "1d1d", "per_tensor", "tensor"). 0 = unknown. */
dlg_recipe_t bench_parse_recipe(const char* s);

/* Appends the suite of `recipe` to `out` (capacity BENCH_MAX_SHAPES); returns the new
 * count. full: the whole DeepGEMM set; quick: a handful of representative shapes. */
int bench_suite_append(dlg_recipe_t recipe, int quick, bench_shape_t* out, int count);
/* Appends a custom "MxNxK" shape for `recipe` (f32 D + accumulate for 1D1D). -1 if the
 * text does not parse. */
int bench_custom_append(dlg_recipe_t recipe, const char* mnk, bench_shape_t* out, int count);

/* Filter: comma-separated key=value terms, all must hold: M=, N=, K= (numbers), pass=
 * (fwd|dgrad|wgrad), recipe=. Returns 1 if the shape passes, 0 if not; -1 (and a message in
 * why) for a malformed filter. */
int bench_filter_match(const char* filter, const bench_shape_t* s, char* why, int cap);

#endif /* DLG_BENCH_SHAPES_H_ */
