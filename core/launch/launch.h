/* One launcher per kernel family: heuristics, source generation, launch. The ops call these
 * after validation, for CUDA tensors only. A launcher returns DLG_ERR_UNSUPPORTED with a
 * message when no kernel covers the case (layout, arch, dtype), so the op can report it. */
#ifndef DLG_LAUNCH_LAUNCH_H_
#define DLG_LAUNCH_LAUNCH_H_

#include "internal.h"

/* Validated dense GEMM problem (shared by dense and grouped launchers). */
typedef struct dlg_gemm_problem {
  dlg_recipe_t recipe;
  int64_t m, n, k;
  const DLTensor *a, *sfa, *b, *sfb, *c; /* sfa/sfb/c may be NULL */
  DLTensor* d;
  int a_k_major, b_k_major;              /* layouts read from strides */
} dlg_gemm_problem_t;

/* Dispatch (core/launch/gemm.c): the fastest launcher that covers p on the context's arch,
 * else the generic kernel. warmup_only = 1 compiles/loads without launching (tensors'
 * data may then be NULL). */
dlg_status_t dlg_launch_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* stream,
                             int warmup_only);

/* The launchers dlg_launch_gemm tries, in order. Each returns DLG_ERR_UNSUPPORTED when it
 * does not cover p (recipe, layout, alignment, arch), and then must not have launched. */
dlg_status_t dlg_launch_sm90_fp8_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                      void* stream, int warmup_only);
dlg_status_t dlg_launch_sm90_bf16_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                       void* stream, int warmup_only);
/* Portable SIMT kernel (any arch, any recipe and layout): correct, not fast. */
dlg_status_t dlg_launch_generic_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p,
                                     void* stream, int warmup_only);

/* ---- MoE grouped GEMMs (core/launch/sm90_grouped_gemm.c), validated by core/ops/moe.c ---- */

/* M-grouped problem: contiguous (a [M, K], d [M, N], layout = row ids [M] or offsets [G+1])
 * or masked (a [G, max_m, K], d [G, max_m, N], layout = masked_m [G]). b [G, N, K]. */
typedef struct dlg_m_grouped_problem {
  dlg_recipe_t recipe;              /* FP8_1D2D, FP8_PER_TENSOR or BF16 */
  int masked;                       /* 0: contiguous, 1: masked */
  dlg_group_layout_t layout_kind;   /* contiguous only */
  int expected_m;                   /* masked only: rows per group, a hint */
  int64_t groups, m, n, k;          /* m: rows of a (contiguous) or max_m (masked) */
  const DLTensor *a, *sfa, *b, *sfb, *layout;
  DLTensor* d;
} dlg_m_grouped_problem_t;

/* K-grouped problem: a [M, K_total], b [N, K_total], ks [G] on the device, c optional (may
 * alias d), d f32 [G, M, N]. */
typedef struct dlg_k_grouped_problem {
  dlg_recipe_t recipe;              /* FP8_1D1D or FP8_PER_TENSOR */
  int64_t groups, m, n, k_total;
  const DLTensor *a, *sfa, *b, *sfb, *ks, *c;
  DLTensor* d;
} dlg_k_grouped_problem_t;

/* SM90 kernels for the grouped GEMMs; DLG_ERR_UNSUPPORTED (nothing launched) when the arch,
 * a layout or an alignment is not covered. Empty problems return DLG_OK without a launch. */
dlg_status_t dlg_launch_sm90_m_grouped_gemm(dlg_context_t* ctx, const dlg_m_grouped_problem_t* p,
                                            void* stream);
dlg_status_t dlg_launch_sm90_k_grouped_gemm(dlg_context_t* ctx, const dlg_k_grouped_problem_t* p,
                                            void* stream);

/* ---- FP8 casts and scale layouts (core/launch/fp8_cast.c), validated by core/ops/quant.c:
 * portable kernels (any arch), bit-exact with core/ref/quant_ref.c. ---- */
dlg_status_t dlg_launch_fp8_cast_tiles(dlg_context_t* ctx, const DLTensor* x, int64_t block_m,
                                       int use_ue8m0, DLTensor* out, DLTensor* sf, void* stream);
dlg_status_t dlg_launch_fp8_cast_per_tensor(dlg_context_t* ctx, const DLTensor* x, DLTensor* out,
                                            DLTensor* sf, void* stream);
dlg_status_t dlg_launch_transform_sf(dlg_context_t* ctx, const DLTensor* sf_in, DLTensor* sf_out,
                                     void* stream);
dlg_status_t dlg_launch_pack_ue8m0(dlg_context_t* ctx, const DLTensor* sf, DLTensor* packed,
                                   void* stream);

/* MQA logits (attention.h; core/launch/sm90_mqa_logits.c, sm90_paged_mqa_logits.c,
 * clean_logits.c). Arguments validated by core/ops/attention.c. The non-paged kernel writes
 * only valid entries (clean_logits is a separate launch; `compressed`: logits [S, W] whose
 * column c of row i is key ks_i + c); the paged launcher cleans itself.
 * UNSUPPORTED (nothing launched) when a kernel does not cover the case. */
dlg_status_t dlg_launch_sm90_mqa_logits(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                                        const DLTensor* kv_scale, const DLTensor* weights,
                                        const DLTensor* ks, const DLTensor* ke, int compressed,
                                        DLTensor* logits, void* stream);
dlg_status_t dlg_launch_sm90_paged_mqa_logits(dlg_context_t* ctx, const DLTensor* q,
                                              const DLTensor* kv_cache, const DLTensor* weights,
                                              const DLTensor* context_lens,
                                              const DLTensor* block_table,
                                              const DLTensor* schedule_meta, int clean_logits,
                                              DLTensor* logits, void* stream);
dlg_status_t dlg_launch_paged_mqa_metadata(dlg_context_t* ctx, const DLTensor* context_lens,
                                           int block_kv, int num_sms, DLTensor* schedule_meta,
                                           void* stream);
/* -inf outside [ks[r], ke[r]) (ks may be NULL = 0). */
dlg_status_t dlg_launch_clean_logits(dlg_context_t* ctx, const DLTensor* ks, const DLTensor* ke,
                                     DLTensor* logits, void* stream);
/* Compressed logits [S, W] (dlg_mqa_logits_compressed): -inf on columns c >= min(hi - lo, W),
 * lo / hi being [ks[r], ke[r]) clamped to [0, n_kv]. */
dlg_status_t dlg_launch_clean_compressed_logits(dlg_context_t* ctx, const DLTensor* ks,
                                                const DLTensor* ke, int64_t n_kv,
                                                DLTensor* logits, void* stream);
/* -inf outside [0, len(b, t)) of row b·next_n + t (context_lens [B] or [B, next_n]). */
dlg_status_t dlg_launch_clean_paged_logits(dlg_context_t* ctx, const DLTensor* context_lens,
                                           int64_t next_n, DLTensor* logits, void* stream);
/* Kernel instances and shared-memory sizes (also used by core/launch/mqa_determinism_test.c). */
size_t dlg_sm90_mqa_logits_smem(int stages);
/* Threads per CTA of the non-paged kernel for H heads (math warpgroups + the producer). */
int dlg_sm90_mqa_logits_threads(int heads);
void dlg_sm90_mqa_logits_source(int heads, int head_dim, int stages, int bf16_out, char* name,
                                size_t name_cap, char* source, size_t source_cap);
size_t dlg_sm90_paged_mqa_logits_smem(int d, int n, int stages);
void dlg_sm90_paged_mqa_logits_source(int heads, int head_dim, int next_n, int stages,
                                      int bf16_out, int epilogue, char* name, size_t name_cap,
                                      char* source, size_t source_cap);

#endif /* DLG_LAUNCH_LAUNCH_H_ */
