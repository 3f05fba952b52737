/* FP8 casts and scale-factor layouts (quant.h): argument validation, then the CPU reference
 * or, for CUDA tensors, the portable GPU kernels (core/launch/fp8_cast.c). */
#include "gpu.h"
#include "launch/launch.h"
#include "ref/ref.h"
#include "validate.h"


/* Granularity of the FP8 scales along K (and M for per-block): DeepGEMM's 128. */
#define DLG_QUANT_BLOCK 128

static dlg_status_t check_ctx(dlg_context_t* ctx) {
  if (!ctx) return dlg_fail(DLG_ERR_INVALID_ARGUMENT, "ctx: must not be NULL");
  return DLG_OK;
}

static dlg_status_t check_device(dlg_context_t* ctx, const char* name, const DLTensor* t,
                                 const char* ref_name, const DLTensor* ref) {
  DLG_TRY(dlg_check_same_device(name, t, ref_name, ref));
  return dlg_check_context_device(ctx, name, t);
}

/* out and sf: writable layouts, disjoint from x and from each other. */
static dlg_status_t check_cast_outputs(dlg_context_t* ctx, const DLTensor* x, const DLTensor* out,
                                       const DLTensor* sf) {
  DLG_TRY(check_device(ctx, "x", x, "x", x));
  DLG_TRY(check_device(ctx, "out", out, "x", x));
  DLG_TRY(check_device(ctx, "sf", sf, "x", x));
  DLG_TRY(dlg_check_distinct_elements("out", out));
  DLG_TRY(dlg_check_distinct_elements("sf", sf));
  DLG_TRY(dlg_check_no_overlap("out", out, "x", x));
  DLG_TRY(dlg_check_no_overlap("sf", sf, "x", x));
  DLG_TRY(dlg_check_no_overlap("sf", sf, "out", out));
  return DLG_OK;
}

/* Shared by the per-token (block_m 1) and per-block (block_m 128) casts. */
static dlg_status_t cast_tiles(dlg_context_t* ctx, const char* op, const DLTensor* x,
                               int64_t block_m, int use_ue8m0, DLTensor* out, DLTensor* sf,
                               void* stream) {
  DLG_TRY(check_ctx(ctx));
  DLG_TRY(dlg_check_tensor("x", x));
  DLG_TRY(dlg_check_tensor("out", out));
  DLG_TRY(dlg_check_tensor("sf", sf));
  DLG_TRY(dlg_check_dtype2("x", x, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_ndim("x", x, 2));
  int64_t m = x->shape[0], k = x->shape[1];
  DLG_TRY(dlg_check_dtype("out", out, DLG_DT_E4M3));
  DLG_TRY(dlg_check_ndim("out", out, 2));
  DLG_TRY(dlg_check_dim("out", out, 0, m, "M, from x"));
  DLG_TRY(dlg_check_dim("out", out, 1, k, "K, from x"));
  DLG_TRY(dlg_check_dtype("sf", sf, DLG_DT_F32));
  DLG_TRY(dlg_check_ndim("sf", sf, 2));
  DLG_TRY(dlg_check_dim("sf", sf, 0, dlg_ceil_div64(m, block_m),
                    block_m == 1 ? "M, from x" : "ceil(M / 128), from x"));
  DLG_TRY(dlg_check_dim("sf", sf, 1, dlg_ceil_div64(k, DLG_QUANT_BLOCK), "ceil(K / 128), from x"));
  DLG_TRY(check_cast_outputs(ctx, x, out, sf));
  if (!dlg_on_cpu(x)) {
    DLG_TRY(dlg_gpu_enter(ctx, x));
    dlg_status_t st = dlg_launch_fp8_cast_tiles(ctx, x, block_m, use_ue8m0, out, sf, stream);
    if (st != DLG_OK) dlg_error_prefix(op);
    return st;
  }
  dlg_ref_cast_fp8_tiles(x, block_m, DLG_QUANT_BLOCK, use_ue8m0, out, sf);
  return DLG_OK;
}

dlg_status_t dlg_cast_fp8_per_token(dlg_context_t* ctx, const DLTensor* x, int use_ue8m0,
                                    DLTensor* out, DLTensor* sf, void* stream) {
  return cast_tiles(ctx, "cast_fp8_per_token", x, 1, use_ue8m0, out, sf, stream);
}

dlg_status_t dlg_cast_fp8_per_block(dlg_context_t* ctx, const DLTensor* x, int use_ue8m0,
                                    DLTensor* out, DLTensor* sf, void* stream) {
  return cast_tiles(ctx, "cast_fp8_per_block", x, DLG_QUANT_BLOCK, use_ue8m0, out, sf, stream);
}

dlg_status_t dlg_cast_fp8_per_tensor(dlg_context_t* ctx, const DLTensor* x, DLTensor* out,
                                     DLTensor* sf, void* stream) {
  DLG_TRY(check_ctx(ctx));
  DLG_TRY(dlg_check_tensor("x", x));
  DLG_TRY(dlg_check_tensor("out", out));
  DLG_TRY(dlg_check_tensor("sf", sf));
  DLG_TRY(dlg_check_dtype2("x", x, DLG_DT_F32, DLG_DT_BF16));
  DLG_TRY(dlg_check_dtype("out", out, DLG_DT_E4M3));
  DLG_TRY(dlg_check_ndim("out", out, x->ndim));
  for (int i = 0; i < x->ndim; ++i) DLG_TRY(dlg_check_dim("out", out, i, x->shape[i], "from x"));
  DLG_TRY(dlg_check_dtype("sf", sf, DLG_DT_F32));
  DLG_TRY(dlg_check_scalar("sf", sf));
  DLG_TRY(check_cast_outputs(ctx, x, out, sf));
  if (!dlg_on_cpu(x)) {
    DLG_TRY(dlg_gpu_enter(ctx, x));
    return dlg_launch_fp8_cast_per_tensor(ctx, x, out, sf, stream);
  }
  dlg_ref_cast_fp8_per_tensor(x, out, sf);
  return DLG_OK;
}

/* Scale tensors [.., MN, Kb]: at least two dims. */
static dlg_status_t check_sf_matrix(const char* name, const DLTensor* t) {
  if (t->ndim < 2)
    return dlg_fail(DLG_ERR_SHAPE, "%s: expected [.., MN, Kb] (at least 2 dimensions), got %d",
                    name, t->ndim);
  return DLG_OK;
}

dlg_status_t dlg_transform_sf(dlg_context_t* ctx, const DLTensor* sf_in, DLTensor* sf_out,
                              void* stream) {
  DLG_TRY(check_ctx(ctx));
  DLG_TRY(dlg_check_tensor("sf_in", sf_in));
  DLG_TRY(dlg_check_tensor("sf_out", sf_out));
  DLG_TRY(dlg_check_dtype("sf_in", sf_in, DLG_DT_F32));
  DLG_TRY(check_sf_matrix("sf_in", sf_in));
  DLG_TRY(dlg_check_dtype("sf_out", sf_out, DLG_DT_F32));
  DLG_TRY(dlg_check_ndim("sf_out", sf_out, sf_in->ndim));
  for (int i = 0; i < sf_in->ndim; ++i)
    DLG_TRY(dlg_check_dim("sf_out", sf_out, i, sf_in->shape[i], "from sf_in"));
  DLG_TRY(check_device(ctx, "sf_in", sf_in, "sf_in", sf_in));
  DLG_TRY(check_device(ctx, "sf_out", sf_out, "sf_in", sf_in));
  DLG_TRY(dlg_check_distinct_elements("sf_out", sf_out));
  int same = dlg_same_view(sf_in, sf_out); /* in place: nothing to move */
  if (!same) DLG_TRY(dlg_check_no_overlap("sf_out", sf_out, "sf_in", sf_in));
  if (!dlg_on_cpu(sf_in)) {
    if (same) return DLG_OK;
    DLG_TRY(dlg_gpu_enter(ctx, sf_in));
    return dlg_launch_transform_sf(ctx, sf_in, sf_out, stream);
  }
  if (!same) dlg_ref_copy_f32(sf_in, sf_out);
  return DLG_OK;
}

dlg_status_t dlg_pack_ue8m0(dlg_context_t* ctx, const DLTensor* sf, DLTensor* packed,
                            void* stream) {
  DLG_TRY(check_ctx(ctx));
  DLG_TRY(dlg_check_tensor("sf", sf));
  DLG_TRY(dlg_check_tensor("packed", packed));
  DLG_TRY(dlg_check_dtype("sf", sf, DLG_DT_F32));
  DLG_TRY(check_sf_matrix("sf", sf));
  DLG_TRY(dlg_check_dtype("packed", packed, DLG_DT_I32));
  int nd = sf->ndim;
  DLG_TRY(dlg_check_ndim("packed", packed, nd));
  for (int i = 0; i < nd - 1; ++i) DLG_TRY(dlg_check_dim("packed", packed, i, sf->shape[i], "from sf"));
  DLG_TRY(dlg_check_dim("packed", packed, nd - 1, dlg_ceil_div64(sf->shape[nd - 1], 4),
                    "ceil(Kb / 4), from sf"));
  DLG_TRY(check_device(ctx, "sf", sf, "sf", sf));
  DLG_TRY(check_device(ctx, "packed", packed, "sf", sf));
  DLG_TRY(dlg_check_distinct_elements("packed", packed));
  DLG_TRY(dlg_check_no_overlap("packed", packed, "sf", sf));
  if (!dlg_on_cpu(sf)) {
    DLG_TRY(dlg_gpu_enter(ctx, sf));
    return dlg_launch_pack_ue8m0(ctx, sf, packed, stream);
  }
  dlg_ref_pack_ue8m0(sf, packed);
  return DLG_OK;
}

int64_t dlg_tma_aligned_size(int64_t mn, int64_t elem_size) {
  if (elem_size != 1 && elem_size != 2 && elem_size != 4 && elem_size != 8) return -1;
  if (mn < 0 || mn > (INT64_MAX - 16) / elem_size) return -1;
  return (mn * elem_size + 15) / 16 * 16 / elem_size;
}
