/* CPU reference paths: declarations shared by core/ops and core/ref. Not installed.
 * Reference functions run after the op validated its arguments (dtypes, shapes, devices,
 * overlap); they only check what lives in tensor values (group ids, masked_m, ks), before
 * writing anything. */
#ifndef DLG_REF_REF_H_
#define DLG_REF_REF_H_

#include "internal.h"
#include "launch/launch.h"

/* ===== GEMM family: dense and MoE grouped GEMMs (gemm_ref.c, moe_ref.c) ===== */

/* One operand matrix as rows x cols of a dtype, with element strides; `data` points at
 * element (0, 0). Sub-views (a group, a K segment) are just other pointers and extents. */
typedef struct dlg_ref_matrix {
  const char* data;
  DLDataType dtype;
  int64_t rows, cols;
  int64_t row_stride, col_stride;
} dlg_ref_matrix_t;

/* Scale factors of one operand, indexed by (row, K block). */
typedef enum dlg_ref_scale_kind {
  DLG_REF_SCALE_NONE = 0,  /* multiplier 1 */
  DLG_REF_SCALE_F32 = 1,   /* float32 elements */
  DLG_REF_SCALE_UE8M0 = 2  /* int32 words of four UE8M0 bytes, byte j = K block 4w+j */
} dlg_ref_scale_kind_t;

typedef struct dlg_ref_scales {
  dlg_ref_scale_kind_t kind;
  const char* data;          /* element (0, 0) */
  int64_t row_stride, col_stride; /* in elements (floats or int32 words) */
  int64_t rows_per_scale;    /* 1: per row; 128: per 128-row block (1D2D B); 0: one scalar */
  int64_t kb_offset;         /* K block of column 0 (a K segment inside a packed tensor) */
} dlg_ref_scales_t;

/* D = C + A·Bᵀ for one problem in the kernels' numerics: per 128-wide K block the exact
 * products are summed in FP32; block-scaled recipes (1D2D, 1D1D) add partial ×
 * (sfa[row, kb] · sfb[row of B, kb]) to an FP32 accumulator; FP8_PER_TENSOR and BF16 add the
 * partials and PER_TENSOR multiplies the total by (sfa · sfb) at the end. Then + C (FP32)
 * and rounding to D's dtype (RNE). `rows` (optional, m entries) maps row i of the problem to
 * the row of a, sfa, c and d it reads and writes, so a grouped op can run one group's
 * scattered rows. c may be NULL or alias d element for element. */
typedef struct dlg_ref_gemm_job {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  dlg_ref_matrix_t a, b;       /* a: [>= rows, k]; b: [n, k] */
  dlg_ref_scales_t sfa, sfb;
  const int64_t* rows;         /* NULL: identity */
  const dlg_ref_matrix_t* c;   /* NULL: zero */
  dlg_ref_matrix_t d;
} dlg_ref_gemm_job_t;

/* Runs one job (multi-threaded). Fails only on out-of-memory. */
dlg_status_t dlg_ref_gemm_run(const dlg_ref_gemm_job_t* job);

/* Views of a validated tensor: its matrix over (row_dim, col_dim) starting at element
 * `first` (an element offset), and scale descriptors. A NULL scale tensor means 1. */
dlg_ref_matrix_t dlg_ref_matrix_of(const DLTensor* t, int row_dim, int col_dim, int64_t first);
dlg_ref_scales_t dlg_ref_scales_of(const DLTensor* sf, int row_dim, int col_dim, int64_t first,
                                   int64_t rows_per_scale);
/* A one-element scale: element `index` of a 1-D tensor (index 0 of a scalar), or 1 if NULL. */
dlg_ref_scales_t dlg_ref_scalar_scale_of(const DLTensor* sf, int64_t index);

/* The dense op on validated CPU tensors (dlg_gemm's reference path). */
dlg_status_t dlg_ref_gemm(const dlg_gemm_problem_t* p);

/* The MoE ops on validated CPU tensors (same arguments as the public functions). They check
 * group ids / offsets, masked_m and ks first and fail with DLG_ERR_INVALID_ARGUMENT before
 * writing. */
dlg_status_t dlg_ref_m_grouped_contiguous(dlg_recipe_t recipe, const DLTensor* a,
                                          const DLTensor* sfa, const DLTensor* b,
                                          const DLTensor* sfb, const DLTensor* grouped_layout,
                                          dlg_group_layout_t layout_kind, DLTensor* d);
dlg_status_t dlg_ref_m_grouped_masked(dlg_recipe_t recipe, const DLTensor* a,
                                      const DLTensor* sfa, const DLTensor* b,
                                      const DLTensor* sfb, const DLTensor* masked_m,
                                      DLTensor* d);
dlg_status_t dlg_ref_k_grouped_contiguous(dlg_recipe_t recipe, const DLTensor* a,
                                          const DLTensor* sfa, const DLTensor* b,
                                          const DLTensor* sfb, const DLTensor* ks,
                                          const DLTensor* c, DLTensor* d);

/* ==== MQA logits, FP8 casts, scale layouts, testing (core/ref/attention_ref.c,
 * core/ref/quant_ref.c; used by core/ops/attention.c, core/ops/quant.c, core/testing.c) ====
 * Every dlg_ref_* function below takes tensors its op already validated (CPU memory, dtypes,
 * shapes, in-range values): it only computes. It returns DLG_ERR_OUT_OF_MEMORY when a scratch
 * allocation fails, before writing any output. */

/* Element offset (in elements, from the data pointer + byte_offset) of the element whose
 * row-major logical index is `linear`. */
int64_t dlg_ref_elem_offset(const DLTensor* t, int64_t linear);

/* logits[i, j] for j in [lo, hi) = [max(ks[i], 0), min(ke[i], S_kv)); -inf elsewhere when
 * clean_logits. compressed: logits [S, W], column c = key lo + c for c < min(hi - lo, W). */
dlg_status_t dlg_ref_mqa_logits(const DLTensor* q, const DLTensor* kv, const DLTensor* kv_scale,
                                const DLTensor* weights, const DLTensor* ks, const DLTensor* ke,
                                int clean_logits, int compressed, DLTensor* logits);

/* Valid length of paged row (b, t): context_lens [B, next_n] -> len[b, t]; [B] -> DeepGEMM's
 * len[b] - next_n + t + 1, clamped at 0. */
int64_t dlg_ref_paged_row_len(const DLTensor* context_lens, int64_t next_n, int64_t b, int64_t t);

dlg_status_t dlg_ref_paged_mqa_logits(const DLTensor* q, const DLTensor* kv_cache,
                                      const DLTensor* weights, const DLTensor* context_lens,
                                      const DLTensor* block_table, int clean_logits,
                                      DLTensor* logits);

/* The split documented in core/ops/attention.c. */
void dlg_ref_paged_mqa_logits_metadata(const DLTensor* context_lens, int64_t block_kv,
                                       int64_t num_sms, DLTensor* schedule_meta);

/* -inf outside [ks[r], ke[r]) ∩ [0, L); ks NULL = 0. */
void dlg_ref_clean_logits(const DLTensor* ks, const DLTensor* ke, DLTensor* logits);

/* FP8 cast of 2-D x by tiles of block_m × block_k (per token: 1 × 128, per block:
 * 128 × 128): sf[tile] = amax / 448 (UE8M0: rounded up to a power of two; all-zero tile: 1),
 * out = e4m3(x / sf), saturating. */
void dlg_ref_cast_fp8_tiles(const DLTensor* x, int64_t block_m, int64_t block_k, int use_ue8m0,
                            DLTensor* out, DLTensor* sf);
/* The same over the whole tensor (any ndim), one scale. */
void dlg_ref_cast_fp8_per_tensor(const DLTensor* x, DLTensor* out, DLTensor* sf);
/* Strided copy of f32 elements between two views of the same shape. */
void dlg_ref_copy_f32(const DLTensor* in, DLTensor* out);
/* sf [.., MN, Kb] f32 -> packed [.., MN, ceil(Kb/4)] int32 of UE8M0 bytes, little-endian. */
void dlg_ref_pack_ue8m0(const DLTensor* sf, DLTensor* packed);
/* ==== end of MQA logits / quant section ==== */

#endif /* DLG_REF_REF_H_ */
