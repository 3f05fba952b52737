#define _POSIX_C_SOURCE 200809L
#include "shapes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* DeepGEMM's dense benchmark set (tests/generators.py, enumerate_normal): forward (N, K)
 * pairs of DeepSeek-V3's linear layers, run at M = 128 and 4096; the anchor figures in
 * shared/anchors-h100.md are for exactly these, plus 4096³ and 8192³. */
static const int64_t kFwdNK[][2] = {{2112, 7168}, {576, 7168},  {24576, 1536}, {32768, 512},
                                    {7168, 16384}, {4096, 7168}, {7168, 2048}};
static const int64_t kFwdM[] = {1, 64, 128, 4096}; /* 1 and 64: latency-bound decode sizes */
/* Backward (N, K) pairs, at M = 4096: dgrad is (M, K, N), wgrad is (N, M, K). */
static const int64_t kBwdNK[][2] = {{7168, 2112}, {1536, 24576}, {512, 32768},
                                    {16384, 7168}, {7168, 4096}, {2048, 7168}};
static const int64_t kBwdM = 4096;

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char* bench_pass_name(bench_pass_t pass) {
  switch (pass) {
    case BENCH_FWD: return "fwd";
    case BENCH_DGRAD: return "dgrad";
    case BENCH_WGRAD: return "wgrad";
  }
  return "?";
}

const char* bench_recipe_key(dlg_recipe_t recipe) {
  switch (recipe) {
    case DLG_RECIPE_FP8_1D2D: return "fp8_1d2d";
    case DLG_RECIPE_FP8_1D1D: return "fp8_1d1d";
    case DLG_RECIPE_FP8_PER_TENSOR: return "fp8_per_tensor";
    case DLG_RECIPE_BF16: return "bf16";
  }
  return "?";
}

dlg_recipe_t bench_parse_recipe(const char* s) {
  static const struct {
    const char* key;
    dlg_recipe_t recipe;
  } keys[] = {{"fp8_1d2d", DLG_RECIPE_FP8_1D2D},        {"1d2d", DLG_RECIPE_FP8_1D2D},
              {"fp8_1d1d", DLG_RECIPE_FP8_1D1D},        {"1d1d", DLG_RECIPE_FP8_1D1D},
              {"fp8_per_tensor", DLG_RECIPE_FP8_PER_TENSOR},
              {"per_tensor", DLG_RECIPE_FP8_PER_TENSOR}, {"tensor", DLG_RECIPE_FP8_PER_TENSOR},
              {"bf16", DLG_RECIPE_BF16}};
  for (int i = 0; i < COUNT(keys); ++i)
    if (strcmp(s, keys[i].key) == 0) return keys[i].recipe;
  return (dlg_recipe_t)0;
}

static int push(bench_shape_t* out, int count, dlg_recipe_t recipe, bench_pass_t pass,
                int64_t m, int64_t n, int64_t k, int d_f32, int accumulate) {
  if (count >= BENCH_MAX_SHAPES) return count;
  out[count] = (bench_shape_t){recipe, pass, m, n, k, d_f32, accumulate};
  return count + 1;
}

int bench_suite_append(dlg_recipe_t recipe, int quick, bench_shape_t* out, int count) {
  if (recipe == DLG_RECIPE_FP8_1D1D) {
    /* Weight gradients accumulate into an FP32 D; data gradients write bf16. */
    for (int i = 0; i < COUNT(kBwdNK); ++i) {
      const int64_t n = kBwdNK[i][0], k = kBwdNK[i][1];
      if (quick && i != 0 && i != 4) continue;
      count = push(out, count, recipe, BENCH_WGRAD, n, kBwdM, k, 1, 1);
      count = push(out, count, recipe, BENCH_DGRAD, kBwdM, k, n, 0, 0);
    }
    return count;
  }
  if (quick) {
    count = push(out, count, recipe, BENCH_FWD, 128, 2112, 7168, 0, 0);
    count = push(out, count, recipe, BENCH_FWD, 128, 7168, 2048, 0, 0);
    count = push(out, count, recipe, BENCH_FWD, 4096, 7168, 2048, 0, 0);
    count = push(out, count, recipe, BENCH_FWD, 4096, 4096, 4096, 0, 0);
    return count;
  }
  /* M innermost: consecutive shapes share B, which the bench then makes only once. */
  for (int i = 0; i < COUNT(kFwdNK); ++i)
    for (int mi = 0; mi < COUNT(kFwdM); ++mi)
      count = push(out, count, recipe, BENCH_FWD, kFwdM[mi], kFwdNK[i][0], kFwdNK[i][1], 0, 0);
  count = push(out, count, recipe, BENCH_FWD, 4096, 4096, 4096, 0, 0);
  count = push(out, count, recipe, BENCH_FWD, 8192, 8192, 8192, 0, 0);
  return count;
}

int bench_custom_append(dlg_recipe_t recipe, const char* mnk, bench_shape_t* out, int count) {
  long long m, n, k;
  char tail;
  if (sscanf(mnk, "%lldx%lldx%lld%c", &m, &n, &k, &tail) != 3 || m < 1 || n < 1 || k < 1)
    return -1;
  const int wgrad = recipe == DLG_RECIPE_FP8_1D1D;
  return push(out, count, recipe, wgrad ? BENCH_WGRAD : BENCH_FWD, m, n, k, wgrad, wgrad);
}

static int term_match(const char* key, const char* value, const bench_shape_t* s, char* why,
                      int cap) {
  char* end = NULL;
  if (!strcmp(key, "M") || !strcmp(key, "m") || !strcmp(key, "N") || !strcmp(key, "n") ||
      !strcmp(key, "K") || !strcmp(key, "k")) {
    long long v = strtoll(value, &end, 10);
    if (!*value || *end) {
      snprintf(why, (size_t)cap, "--filter: %s=%s is not a number", key, value);
      return -1;
    }
    const int64_t have = (key[0] | 0x20) == 'm' ? s->m : (key[0] | 0x20) == 'n' ? s->n : s->k;
    return have == v;
  }
  if (!strcmp(key, "pass") || !strcmp(key, "op")) return !strcmp(value, bench_pass_name(s->pass));
  if (!strcmp(key, "recipe")) {
    dlg_recipe_t r = bench_parse_recipe(value);
    if (!r) {
      snprintf(why, (size_t)cap, "--filter: unknown recipe '%s'", value);
      return -1;
    }
    return r == s->recipe;
  }
  snprintf(why, (size_t)cap, "--filter: unknown key '%s' (use M, N, K, pass, recipe)", key);
  return -1;
}

int bench_filter_match(const char* filter, const bench_shape_t* s, char* why, int cap) {
  if (!filter || !*filter) return 1;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", filter);
  int all = 1;
  for (char* save = NULL, *term = strtok_r(buf, ",", &save); term;
       term = strtok_r(NULL, ",", &save)) {
    char* eq = strchr(term, '=');
    if (!eq || eq == term) {
      snprintf(why, (size_t)cap, "--filter: '%s' is not key=value", term);
      return -1;
    }
    *eq = '\0';
    int r = term_match(term, eq + 1, s, why, cap);
    if (r < 0) return -1;
    all &= r;
  }
  return all;
}
