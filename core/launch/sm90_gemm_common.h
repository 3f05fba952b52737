/* Pieces shared by the SM90 GEMM launchers (sm90_fp8_gemm.c, sm90_bf16_gemm.c): what the TMA
 * kernels can take, the problem -> shape for the heuristics, tensor maps, config printing.
 * Coverage checks return DLG_OK or DLG_ERR_UNSUPPORTED with a message naming the tensor
 * (the dispatcher then falls back to the portable kernel). */
#ifndef DLG_LAUNCH_SM90_GEMM_COMMON_H_
#define DLG_LAUNCH_SM90_GEMM_COMMON_H_

#include "jit/jit.h"
#include "launch/gemm_plan_cache.h"
#include "launch/launch.h"
#include "launch/sm90_gemm_config.h"
#include "launch/tma.h"

/* Byte-for-byte twin of dlg::Sm90Fp8GemmParams (kernels/common/fp8_gemm_body.cuh): the
 * dense FP8 kernels' and the FP8 M-grouped (dense-body) kernels' arguments besides the maps. */
typedef struct dlg_sm90_fp8_params {
  uint32_t m, n, k;
  const float* sfb;
  int64_t sfb_stride_n, sfb_stride_k;
  uint32_t sfb_rows;
  const float* scale_a;
  const float* scale_b;
  const void* c;
  int64_t ldc;
  void* d;
  int64_t ldd;
  const int32_t* layout; /* M-grouped: row ids | offsets | masked_m */
  int64_t layout_stride;
  int64_t sfb_stride_g;
  uint32_t num_groups, flags; /* dlg_sm90_load_flags */
  int64_t scale_a_stride_g; /* per-tensor masked */
} dlg_sm90_fp8_params_t;
_Static_assert(sizeof(dlg_sm90_fp8_params_t) == 136, "must match dlg::Sm90Fp8GemmParams");

/* A or B as [rows, K], K-major, with a TMA-compatible base and row stride. `check_ptr` = 0
 * skips the base-address test (warm-up has no data). */
dlg_status_t dlg_sm90_check_operand(const char* name, const DLTensor* t, int elem_bytes,
                                    int check_ptr);

/* D row-major with a TMA-compatible row stride; C (optional) row-major, pair-aligned. */
dlg_status_t dlg_sm90_check_output(const dlg_gemm_problem_t* p, int check_ptr);

/* 0: no C, 1: bf16 C, 2: f32 C (the kernels' kCMode). */
int dlg_sm90_c_mode(const dlg_gemm_problem_t* p);

/* The heuristics' input for p on the context's device. */
dlg_status_t dlg_sm90_make_shape(dlg_context_t* ctx, const dlg_gemm_problem_t* p, int fp8,
                                 int sfa_in_smem, dlg_sm90_gemm_shape_t* out);

/* The kernels' load flags (kLoadBEvictFirst, kernels/common/scheduler.cuh): B's loads
 * evict-first in L2 where a B line is read by tiles that run at about the same time and then
 * never again: at most two tile rows read each B operand (`b_tile_rows`), or every tile is
 * resident at once (`one_wave`). $DLG_SM90_B_EVICT_FIRST=0 / 1 forces it off / on (A/B runs;
 * read at the first call). */
uint32_t dlg_sm90_load_flags(int64_t b_tile_rows, int one_wave);
/* The same for a dense launch of p with cfg (B read by ceil(M / BLOCK_M) tile rows). */
uint32_t dlg_sm90_dense_load_flags(const dlg_gemm_problem_t* p, const dlg_sm90_gemm_config_t* cfg);

/* Tensor map of A or B ([rows, K] K-major, 128B swizzle, box {128 bytes of K, box_rows}). */
dlg_status_t dlg_sm90_map_operand(CUtensorMap* map, const DLTensor* t, CUtensorMapDataType dtype,
                                  uint32_t box_rows, const char* what);

/* Tensor map of D for the epilogue's TMA stores (box {swizzle span, 64 rows}). */
dlg_status_t dlg_sm90_map_output(CUtensorMap* map, const DLTensor* d,
                                 const dlg_sm90_gemm_config_t* cfg);
/* The same map for any [M, N] row-major epilogue tensor (D, or C when the kernel prefetches
 * it with TMA); `what` names it in messages. */
dlg_status_t dlg_sm90_map_epilogue(CUtensorMap* map, const DLTensor* t,
                                   const dlg_sm90_gemm_config_t* cfg, const char* what);

/* $DLG_SM90_GEMM_CONFIG, when set, replaces the heuristics' choice (tuning; see
 * dlg_sm90_gemm_override). An invalid spec is ignored (said under DLG_PRINT_CONFIGS). */
void dlg_sm90_apply_override(const dlg_sm90_gemm_shape_t* shape, dlg_sm90_gemm_config_t* cfg);

/* The kernel instance of a config: `name` is the NVRTC name expression (template arguments =
 * the whole config), `source` the translation unit that instantiates it. Defined beside each
 * launcher; also used by core/launch/sm90_kernels_test.c. */
void dlg_sm90_fp8_gemm_source(const dlg_sm90_gemm_config_t* cfg, int per_tensor, int f32_out,
                              int c_mode, char* name, size_t name_cap, char* source,
                              size_t source_cap);
/* The FP8 kernel of a recipe (1D2D, per-tensor: sm90_fp8_gemm_1d2d; 1D1D: sm90_fp8_gemm_1d1d). */
void dlg_sm90_fp8_recipe_source(const dlg_sm90_gemm_config_t* cfg, dlg_recipe_t recipe,
                                int f32_out, int c_mode, char* name, size_t name_cap,
                                char* source, size_t source_cap);
void dlg_sm90_bf16_gemm_source(const dlg_sm90_gemm_config_t* cfg, int f32_out, int c_mode,
                               char* name, size_t name_cap, char* source, size_t source_cap);
/* The BF16 GEMV kernel (M <= 4: kernels/sm90_bf16_gemv.cuh) for m rows of A, `split` warps
 * per B row; and the split the launcher picks for (n, k) on num_sms SMs. */
void dlg_sm90_bf16_gemv_source(int m, int split, int f32_out, int c_mode, char* name,
                               size_t name_cap, char* source, size_t source_cap);
int dlg_sm90_bf16_gemv_split(int64_t n, int64_t k, int num_sms);

/* With a 2-CTA cluster, shrinks cfg->grid to what can be co-resident (cuOccupancyMax-
 * ActiveClusters): a persistent CTA that only starts after others finish would double the
 * time of its tiles. No-op without a cluster or when the driver lacks the query. */
void dlg_sm90_fit_clusters(const dlg_kernel_t* k, dlg_sm90_gemm_config_t* cfg);

/* One line on stderr when $DLG_PRINT_CONFIGS is set. */
void dlg_sm90_print_config(const char* kernel, const dlg_gemm_problem_t* p,
                           const dlg_sm90_gemm_config_t* c, const dlg_kernel_t* k, int pdl);

/* Makes a launch plan (heuristics, source generation, JIT) for p; c_tma only matters to FP8. */
typedef dlg_status_t (*dlg_sm90_plan_maker_t)(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                              int c_tma, int num_sms, dlg_gemm_plan_t* out);

/* The launch plan of p on this context: found in the context's plan cache (a repeated call
 * skips heuristics, source generation and the JIT lookup), else made by `make` and cached
 * (kept in *fresh when the cache is full). *cfg and *kernel are the plan's, the grid fitted to
 * the cluster occupancy (once per plan) unless warmup_only. */
dlg_status_t dlg_sm90_find_plan(dlg_context_t* ctx, int launcher, const dlg_gemm_problem_t* p,
                                int c_tma, int warmup_only, dlg_sm90_plan_maker_t make,
                                dlg_gemm_plan_t* fresh, const dlg_gemm_plan_t** plan,
                                dlg_sm90_gemm_config_t* cfg, dlg_kernel_t* kernel);

#endif /* DLG_LAUNCH_SM90_GEMM_COMMON_H_ */
