/* What the bench measured, and how it is printed (table) and saved (JSON). */
#ifndef DLG_BENCH_REPORT_H_
#define DLG_BENCH_REPORT_H_

#include <stdio.h>
#include "problem.h"
#include "shapes.h"
#include "timing.h"

/* One side (dlgemm or the baseline) of one shape. */
typedef struct bench_side {
  int ran;            /* timed successfully */
  int checked;        /* correctness check ran */
  char status[320];   /* why it did not run / check, empty if fine */
  bench_stats_t t;
  double tflops, gbps;
  bench_check_t check;
} bench_side_t;

typedef struct bench_record {
  bench_shape_t s;
  double bytes;
  bench_side_t dl, lt;
  const char* baseline; /* bench_lt_baseline_name(), or NULL when no baseline was attempted */
} bench_record_t;

/* One kernel's compile and load times (cache in a fresh directory). */
typedef struct bench_compile {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  int d_f32;
  int ok;
  char status[256];
  double cold_ms, disk_hit_ms, memory_hit_us;
} bench_compile_t;

/* Host time per call of a cached GEMM. */
typedef struct bench_overhead {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  int calls;
  double dl_us, lt_us; /* < 0: not measured */
  char status[256];
} bench_overhead_t;

typedef struct bench_report {
  char device[96];
  int sm_major, sm_minor, num_sms;
  int driver_version;        /* cuDriverGetVersion: the CUDA version of the driver API */
  char driver_release[32];   /* e.g. "580.159.04" from /proc/driver/nvidia/version, or "" */
  long cublaslt_version;
  char cublaslt_status[256]; /* why there is no baseline; empty if there is one */
  char commit[64], date[32];
  int iters, warmup;
  double flush_mib;
  int64_t check_rows;
  double timer_floor_us; /* median of an empty event pair after the flush; < 0 unknown */
  char kernel_timer[512]; /* bench_cupti_describe(): where kernel times come from, or why not */
  double elapsed_s;
  bench_record_t* records;
  int n_records;
  bench_compile_t compiles[16];
  int n_compiles;
  bench_overhead_t overheads[8];
  int n_overheads;
} bench_report_t;

/* calc_diff bound of the targets: 1e-3 for FP8 recipes, 1e-5 for BF16. */
double bench_diff_bound(dlg_recipe_t recipe);
/* 1 if the side's check ran, D was fully written and the diff is within the bound. */
int bench_side_correct(const bench_record_t* r, const bench_side_t* side);

void bench_table_header(FILE* f);
void bench_table_row(FILE* f, const bench_record_t* r);
/* Per recipe: geomean of dlgemm / cuBLASLt TFLOPS over shapes where both ran. */
void bench_table_summary(FILE* f, const bench_report_t* rep);

/* Writes the results JSON; 0 / -1 (with errno's story on stderr). */
int bench_write_json(const char* path, const bench_report_t* rep);

#endif /* DLG_BENCH_REPORT_H_ */
