/* dlgemm_bench --op mqa | paged_mqa | attention (bench/mqa.c): the MQA logits ops. */
#ifndef DLG_BENCH_MQA_H_
#define DLG_BENCH_MQA_H_

/* Parses its own options (--op, --iters, --warmup, --reruns, --flush-mib, --json, --quick),
 * runs, and returns the exit status (0 ok, 1 a shape failed, 2 setup, 64 usage). */
int bench_mqa_main(int argc, char** argv);
/* 1 for the --op values bench_mqa_main takes. */
int bench_mqa_is_op(const char* op);

#endif /* DLG_BENCH_MQA_H_ */
