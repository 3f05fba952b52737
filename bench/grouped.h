/* The MoE grouped GEMM suites of dlgemm_bench (`--op ...`, bench/grouped.c). */
#ifndef DLG_BENCH_GROUPED_H_
#define DLG_BENCH_GROUPED_H_

/* Runs when the command line holds `--op m_grouped_contiguous | m_grouped_masked | k_grouped
 * | casts | grouped` (all four). Returns the process exit code. */
int bench_grouped_main(int argc, char** argv);

/* 1 when `op` names one of the grouped suites. */
int bench_grouped_op(const char* op);

#endif /* DLG_BENCH_GROUPED_H_ */
