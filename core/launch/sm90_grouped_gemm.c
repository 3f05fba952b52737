/* Launchers of the SM90 MoE grouped GEMMs: kernels/sm90_m_grouped_gemm.cuh (M-grouped
 * contiguous / masked; FP8 1D2D, FP8 per-tensor, BF16) and kernels/sm90_fp8_k_grouped_gemm.cuh
 * (K-grouped FP8 1D1D / per-tensor, f32 D += C). Nothing here reads the device-side group
 * data (row ids, offsets, masked_m, ks): the kernels do, so every launch is asynchronous and
 * CUDA-graph capturable. Declines with DLG_ERR_UNSUPPORTED (nothing launched): other archs,
 * non-K-major operands, TMA-misaligned tensors, packed UE8M0 scales, K == 0 (M-grouped),
 * K-grouped scales that are not MN-major. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "jit/dl.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "launch/sm90_gemm_common.h"
#include "launch/sm90_gemm_config.h"
#include "validate.h"

#define SMEM_OPTIN_FALLBACK 232448 /* H100: 227 KiB per block when the driver won't say */
#define MAX_STAGES 12
#define RASTER_GROUP_N 16

/* Byte-for-byte twin of dlg::Sm90MGroupedParams. */
typedef struct m_grouped_params {
  uint32_t m, n, k, num_groups;
  const int32_t* layout;
  int64_t layout_stride;
  const float* sfa;
  int64_t sfa_stride_g, sfa_stride_m, sfa_stride_k;
  const float* sfb;
  int64_t sfb_stride_g, sfb_stride_n, sfb_stride_k;
  uint32_t sfb_rows, flags; /* dlg_sm90_load_flags */
  void* d;
  int64_t d_stride_g, d_stride_m;
} m_grouped_params_t;
_Static_assert(sizeof(m_grouped_params_t) == 128, "must match dlg::Sm90MGroupedParams");

/* Byte-for-byte twin of dlg::Sm90KGroupedParams. */
typedef struct k_grouped_params {
  uint32_t m, n, num_groups, k_total;
  const int32_t* ks;
  int64_t ks_stride;
  const float* scale_a;
  int64_t scale_a_stride;
  const float* scale_b;
  int64_t scale_b_stride;
  const void* c;
  int64_t c_stride_g, c_stride_m;
  float* d;
  int64_t d_stride_g, d_stride_m;
} k_grouped_params_t;
_Static_assert(sizeof(k_grouped_params_t) == 112, "must match dlg::Sm90KGroupedParams");

typedef struct grouped_config {
  int block_m, block_n, stages, threads;
  int cluster_m; /* 1, or 2: CTA pairs on two m-blocks sharing B by multicast */
  size_t smem_bytes;
  unsigned grid;
  double est;
  int tma_epilogue; /* the kernel's kTmaEpilogue (staging tile in smem_bytes) */
} grouped_config_t;

/* ---- TMA ---------------------------------------------------------------------------------- */

/* Tiled tensor map of rank 2 or 3; strides in bytes for dims 1.. (rank - 1 of them). */
static dlg_status_t encode_map(CUtensorMap* map, int rank, const void* base,
                               CUtensorMapDataType dtype, const uint64_t* dims,
                               const uint64_t* strides, const uint32_t* box,
                               CUtensorMapSwizzle swizzle, const char* what) {
  if ((uintptr_t)base % 16)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 grouped kernel needs a 16-byte aligned base", what);
  for (int i = 0; i < rank; ++i) {
    if (dims[i] == 0 || dims[i] > (UINT64_C(1) << 32))
      return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: extent %llu outside TMA's 1..2^32", what,
                      (unsigned long long)dims[i]);
    if (box[i] == 0 || box[i] > 256)
      return dlg_fail(DLG_ERR_INTERNAL, "%s: TMA box %u outside 1..256", what, box[i]);
  }
  for (int i = 0; i < rank - 1; ++i)
    if (strides[i] % 16 || strides[i] >= (UINT64_C(1) << 40))
      return dlg_fail(DLG_ERR_UNSUPPORTED,
                      "%s: sm90 grouped kernel needs strides that are multiples of 16 bytes "
                      "(got %llu bytes)", what, (unsigned long long)strides[i]);
  const dlg_cuda_api_t* api;
  dlg_status_t s = dlg_cuda_open(&api);
  if (s != DLG_OK) return s;
  if (!api->tensor_map_encode_tiled)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: the CUDA driver has no cuTensorMapEncodeTiled", what);
  cuuint64_t d[3], st[2];
  cuuint32_t b[3], es[3] = {1, 1, 1};
  for (int i = 0; i < rank; ++i) {
    d[i] = dims[i];
    b[i] = box[i];
  }
  for (int i = 0; i < rank - 1; ++i) st[i] = strides[i];
  memset(map, 0, sizeof *map);
  CUresult r = api->tensor_map_encode_tiled(
      map, dtype, (cuuint32_t)rank, (void*)base, d, st, b, es, CU_TENSOR_MAP_INTERLEAVE_NONE,
      swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) return dlg_cu_fail(r, "%s: cuTensorMapEncodeTiled (rank %d)", what, rank);
  return DLG_OK;
}

/* A stride usable by TMA for a dimension of extent 1 (the driver still checks it). */
static uint64_t unit_dim_stride(uint64_t natural) { return (natural + 15) / 16 * 16; }

/* Operand [lead?, rows, K] K-major (lead: groups, or none) as a 3D map {K, rows, G} with
 * box {128 bytes of K, box_rows, 1} and 128B swizzle. */
static dlg_status_t map_operand(CUtensorMap* map, const DLTensor* t, int has_lead, int elem_bytes,
                                uint32_t box_rows, const char* what) {
  const int nd = t->ndim;
  const int64_t k = t->shape[nd - 1], rows = t->shape[nd - 2];
  const int64_t lead = has_lead ? t->shape[0] : 1;
  if (k > 1 && dlg_stride(t, nd - 1) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 grouped kernel needs K-major storage (stride(-1) == 1)", what);
  uint64_t row_stride = (uint64_t)dlg_stride(t, nd - 2) * (uint64_t)elem_bytes;
  if (rows == 1) row_stride = unit_dim_stride((uint64_t)k * (uint64_t)elem_bytes);
  if (rows > 1 && dlg_stride(t, nd - 2) < k)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 grouped kernel needs a row stride >= K", what);
  uint64_t lead_stride = has_lead ? (uint64_t)dlg_stride(t, 0) * (uint64_t)elem_bytes : 0;
  if (lead == 1 || dlg_stride(t, 0) < 0) lead_stride = row_stride * (uint64_t)rows;
  const uint64_t dims[3] = {(uint64_t)k, (uint64_t)rows, (uint64_t)lead};
  const uint64_t strides[2] = {row_stride, lead_stride};
  const uint32_t box[3] = {(uint32_t)(128 / elem_bytes), box_rows, 1};
  return encode_map(map, 3, dlg_data(t), elem_bytes == 1 ? CU_TENSOR_MAP_DATA_TYPE_UINT8
                                                         : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                    dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B, what);
}

/* MN-major f32 scales [MN, Kb] (stride(0) == 1) as a 2D map {MN, Kb}, box {block, 1}. */
static dlg_status_t map_mn_major_scales(CUtensorMap* map, const DLTensor* sf, uint32_t block,
                                        const char* what) {
  const int64_t mn = sf->shape[0], kb = sf->shape[1];
  if (mn > 1 && dlg_stride(sf, 0) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: sm90 grouped kernel needs MN-major scales (stride(0) == 1; see dlg_transform_sf)",
                    what);
  uint64_t ld = (uint64_t)dlg_stride(sf, 1) * 4;
  if (kb == 1) ld = unit_dim_stride((uint64_t)mn * 4);
  if (kb > 1 && dlg_stride(sf, 1) < mn)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 grouped kernel needs stride(1) >= rows", what);
  const uint64_t dims[2] = {(uint64_t)mn, (uint64_t)kb};
  const uint32_t box[2] = {block, 1};
  return encode_map(map, 2, dlg_data(sf), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, dims, &ld, box,
                    CU_TENSOR_MAP_SWIZZLE_NONE, what);
}

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct grouped_shape {
  int fp8, block_scaled, k_grouped;
  int masked;        /* M-grouped masked (cost model only) */
  int allow_pairs;   /* the kernel has the 2-CTA pair mode (M-grouped) */
  int max_block_n, block_n_step;
  int64_t m_units;   /* rows to tile, per "group unit": see tiles_of */
  int64_t units;     /* how many independent row sets (groups for masked / K-grouped, else 1) */
  int64_t n;
  int num_sms;
  size_t smem_limit;
  int tma_epilogue;  /* staging tile of BLOCK_M x BLOCK_N for the TMA epilogue */
  int out_bytes;     /* its element size: D bf16 (M-grouped) or f32 (K-grouped) */
  double kblocks;    /* k-blocks per tile (K-grouped: the average group) */
  int c_read;        /* the direct epilogue reads C (K-grouped) */
  int sfa_tma;       /* M-grouped contiguous 1D2D: BLOCK_M f32 of A scales per slot */
} grouped_shape_t;

/* Epilogue cycles per tile (H100 fits, 2026-11-22): direct stores of the accumulators cost
 * a fixed ~1000 + 24 B/clk, a synchronous C read ~1500 more; the staged TMA epilogue ~600
 * (its stores are asynchronous; K-grouped C is prefetched). Fitted so that the contiguous
 * shapes pick what measured best: 128x160 TMA pairs at K = 2048 (+11-15 % over 128x128
 * direct pairs), 128x128 direct pairs from K = 3072 up (128x160/176 TMA: -3..-9 %). Where the
 * tile is the same, the TMA epilogue always won (masked m = 1024: +4..+17 %). */
#define EPI_TMA 600.0
#define EPI_DIRECT_FIXED 1000.0
#define EPI_DIRECT_BYTES_PER_CLK 24.0
#define EPI_C_LATENCY 1500.0

static double epilogue_cycles(const grouped_shape_t* s, int bm, int bn, int tma) {
  if (tma) return EPI_TMA;
  return EPI_DIRECT_FIXED + (double)bm * bn * s->out_bytes / EPI_DIRECT_BYTES_PER_CLK +
         (s->c_read ? EPI_C_LATENCY : 0.0);
}

/* Shared memory besides the stages: alignment slack + barriers, and the TMA epilogue's
 * staging tile (1024-aligned, as the kernels carve it). */
static size_t fixed_bytes(const grouped_shape_t* s, int bm, int bn, int tma) {
  const size_t staging = tma ? ((size_t)bm * bn * (size_t)s->out_bytes + 1023) / 1024 * 1024 : 0;
  return 1024 + 64 + staging;
}

static size_t stage_bytes(const grouped_shape_t* s, int bm, int bn) {
  size_t b = (size_t)(bm + bn) * 128;
  if (s->k_grouped && s->block_scaled) b += (size_t)(bm + bn) * 4;
  else if (s->sfa_tma) b += (size_t)bm * 4;
  return b;
}

/* Whether the kernel pipelines its FP8 promotion at this BLOCK_N (two partial sets: the
 * promotion of a k-block hides behind the next one's wgmma). Mirrors kPipelined of
 * kernels/sm90_m_grouped_gemm.cuh / sm90_fp8_k_grouped_gemm.cuh (register limits). */
static int grouped_pipelined(const grouped_shape_t* s, int bn) {
  if (!s->fp8) return 0;
  if (s->k_grouped) return bn <= (s->block_scaled ? 112 : 128);
  const int straddles = s->block_scaled && 128 % bn != 0; /* two B scale blocks per tile */
  /* Masked 1D2D: the scheduler's cursor on top of the 128-wide partial sets spills. */
  return bn <= (straddles || (s->block_scaled && s->masked) ? 96 : 128);
}

static int grouped_pipelined(const grouped_shape_t* s, int bn);

/* Whether a tile config runs the TMA epilogue: wherever the shape allows it (the M-grouped
 * kernel's scale offsets are 32-bit so that its pipelined 128-wide FP8 tiles fit the
 * epilogue's extra state without spilling: nvrtc_test). $DLG_GROUPED_TMA_128=0 leaves the
 * 1D2D pipelined 128-wide tiles without it (A/B). */
static int config_tma_epilogue(const grouped_shape_t* s, int bm, int bn) {
  if (!s->tma_epilogue) return 0;
  if (s->k_grouped || !s->block_scaled || bm != 128 || bn < 128 || !grouped_pipelined(s, bn))
    return 1;
  const char* v = getenv("DLG_GROUPED_TMA_128");
  return !(v && !strcmp(v, "0"));
}

/* Picks BLOCK_M, BLOCK_N, the pair mode and stages with the dense kernels' cost-model shape:
 * waves x (k-blocks x per-k-block time (max of MMA and L2 load, + overhead; + unhidden
 * promotion with one math warpgroup) + the epilogue, direct or TMA). The L2
 * rate, ~29 B/clk per SM, is what 128x128 tiles pulled on the H100 when load-bound (pairs,
 * which fetch B once per two m-blocks, then won 12%); wider tiles were promotion-bound. */
static int choose_config(const grouped_shape_t* s, grouped_config_t* out) {
  int found = 0;
  for (int cm = 1; cm <= (s->allow_pairs ? 2 : 1); ++cm)
  for (int bm = 64; bm <= 128; bm += 64) {
    for (int bn = 32; bn <= s->max_block_n; bn += s->block_n_step) {
      const size_t per_stage = stage_bytes(s, bm, bn);
      const int tma = config_tma_epilogue(s, bm, bn);
      const size_t fixed = fixed_bytes(s, bm, bn, tma);
      if (s->smem_limit < fixed + 2 * (per_stage + 16)) continue;
      int stages = (int)((s->smem_limit - fixed) / (per_stage + 16));
      if (stages > MAX_STAGES) stages = MAX_STAGES;
      /* pairs: m-blocks rounded up to even per group (ghost halves cost a slot) */
      const int64_t m_blocks =
          s->units * dlg_ceil_div64(dlg_ceil_div64(s->m_units > 0 ? s->m_units : 1, bm), cm) * cm;
      const int64_t tiles = m_blocks * dlg_ceil_div64(s->n, bn);
      const int64_t waves = dlg_ceil_div64(tiles, cm > 1 ? (s->num_sms & ~1) : s->num_sms);
      /* mma: the tensor-core time at peak (BM·BN/32 clk per 128-K block) x1.8 for FP8 1D2D,
       * whose per-block promotion (BN/2 FFMA + scale selects per thread) does not fully hide
       * behind the other warpgroup's wgmma (fitted on the H100: 128x160 ~1170, 128x128 ~1020 clk/k-block) */
      /* Pipelined tiles hide the promotion (model: as K-grouped / per-tensor), and one math
       * warpgroup then loses a quarter of it instead of all of it. Measured (H100, tile
       * sweep 2026-11-22): contiguous 128x128 pipelined beats 128x160 by 2-17%; masked and
       * K-grouped shapes showed no consistent gain, so their model is left as fitted. */
      const int pipe = !s->masked && !s->k_grouped && grouped_pipelined(s, bn);
      const double mma = bm * bn / (s->block_scaled && !s->k_grouped && !pipe ? 17.5 : 24.0);
      const double load = (bm + (double)bn / cm) * 128.0 / 28.8;
      double per_kb = (mma > load ? mma : load) + 40.0;
      if (s->fp8 && bm == 64) per_kb += (pipe ? 0.25 : 0.75) * bn;
      if (stages < 4) per_kb *= 1.0 + 0.15 * (4 - stages);
      if (cm > 1) per_kb *= 1.05; /* the pair's lockstep (shared slots) costs a little */
      const double est =
          (double)waves * (s->kblocks * per_kb + epilogue_cycles(s, bm, bn, tma));
      if (!found || est < out->est - 1e-9) {
        found = 1;
        out->block_m = bm;
        out->block_n = bn;
        out->cluster_m = cm;
        out->stages = stages;
        out->threads = (bm / 64 + 1) * 128;
        out->smem_bytes = fixed + (size_t)stages * (per_stage + 16);
        out->grid = (unsigned)(tiles < s->num_sms ? (tiles > 0 ? tiles : 1) : s->num_sms);
        out->est = est;
        out->tma_epilogue = tma;
      }
    }
  }
  return found;
}

/* $DLG_GROUPED_TILE=BMxBN (e.g. 128x128) forces the tile of every grouped launch: a tuning
 * knob for the bench, not an API. Returns 1 and fills cfg when set and valid. */
static int forced_tile(const grouped_shape_t* s, grouped_config_t* cfg) {
  const char* v = getenv("DLG_GROUPED_TILE");
  int bm = 0, bn = 0;
  if (!v || sscanf(v, "%dx%d", &bm, &bn) != 2) return 0;
  if ((bm != 64 && bm != 128) || bn < 16 || bn > s->max_block_n || bn % s->block_n_step) return 0;
  const int cm = getenv("DLG_GROUPED_PAIRS") && atoi(getenv("DLG_GROUPED_PAIRS")) > 0 && s->allow_pairs ? 2 : 1;
  const int tma = config_tma_epilogue(s, bm, bn);
  const size_t per_stage = stage_bytes(s, bm, bn), fixed = fixed_bytes(s, bm, bn, tma);
  int stages = (int)((s->smem_limit - fixed) / (per_stage + 16));
  if (stages > MAX_STAGES) stages = MAX_STAGES;
  if (stages < 2) return 0;
  cfg->block_m = bm;
  cfg->block_n = bn;
  cfg->cluster_m = cm;
  cfg->tma_epilogue = tma;
  cfg->stages = stages;
  cfg->threads = (bm / 64 + 1) * 128;
  cfg->smem_bytes = fixed + (size_t)stages * (per_stage + 16);
  cfg->grid = (unsigned)s->num_sms;
  cfg->est = 0;
  return 1;
}

static dlg_status_t device_limits(dlg_context_t* ctx, int* sms, size_t* smem, int* arch) {
  DLG_TRY(dlg_gpu_num_sms(ctx, sms));
  DLG_TRY(dlg_gpu_arch(ctx, arch));
  dlg_device_info_t info;
  DLG_TRY(dlg_context_device_info(ctx, &info));
  *smem = info.max_smem_per_block ? info.max_smem_per_block : SMEM_OPTIN_FALLBACK;
  return DLG_OK;
}

static dlg_status_t launch(dlg_context_t* ctx, const char* source, const char* name,
                           const grouped_config_t* cfg, void** args, void* stream,
                           const char* what) {
  dlg_kernel_spec_t spec = {source, name, 90, cfg->smem_bytes};
  dlg_kernel_t kernel;
  DLG_TRY(dlg_jit_get(ctx, &spec, &kernel));
  /* With pairs, only as many CTAs as can be co-resident (a persistent pair that only starts
   * after others finish would double the time of its tiles). */
  const unsigned grid = dlg_jit_fit_cluster_grid(&kernel, cfg->grid, (unsigned)cfg->threads,
                                                 cfg->smem_bytes, (unsigned)cfg->cluster_m);
  dlg_launch_config_t lc = dlg_launch_config_1d(grid, (unsigned)cfg->threads,
      (unsigned)cfg->cluster_m, cfg->smem_bytes, dlg_context_get_pdl(ctx), stream);
  if (dlg_print_configs())
    fprintf(stderr,
            "dlgemm: %s -> %s: grid=%u block=%d smem=%zu regs=%d local=%d est=%.0f pdl=%d\n",
            what, name, cfg->grid, cfg->threads, cfg->smem_bytes, kernel.num_regs,
            kernel.local_bytes, cfg->est, lc.pdl);
  dlg_status_t s = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (s != DLG_OK) dlg_error_prefix(what);
  return s;
}

static int64_t group_stride_or_zero(const DLTensor* t) {
  return dlg_tensor_numel(t) == 1 ? 0 : dlg_stride(t, 0);
}

static const float* data_or_null(const DLTensor* t) {
  return t && t->data ? (const float*)dlg_data(t) : NULL;
}

static dlg_status_t need_sm90(dlg_context_t* ctx, int arch, const char* op) {
  (void)ctx;
  if (arch != 90)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: GPU kernel is for sm_90 (this device is sm_%d)", op, arch);
  return DLG_OK;
}

/* ---- the staged TMA epilogue (both grouped kernels) ---------------------------------------- */

static int getenv_is_zero(const char* name) {
  const char* v = getenv(name);
  return v && !strcmp(v, "0");
}

/* TMA map of D (or C) seen as `rows` rows of N elements (the last two dims; leading groups
 * back to back), the epilogue's boxes: 64 rows, one swizzle span of columns. */
static dlg_status_t map_rows(CUtensorMap* map, const DLTensor* t, int64_t rows, int elem_bytes,
                             int block_n, const char* what) {
  const int nd = t->ndim;
  const int swizzle = dlg_sm90_epilogue_swizzle(block_n * elem_bytes);
  const uint64_t dims[2] = {(uint64_t)t->shape[nd - 1], (uint64_t)rows};
  const uint64_t ld = (uint64_t)dlg_stride(t, nd - 2) * (uint64_t)elem_bytes;
  const uint32_t box[2] = {(uint32_t)(swizzle / elem_bytes), 64};
  return encode_map(map, 2, dlg_data(t),
                    elem_bytes == 4 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32
                                    : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                    dims, &ld, box,
                    swizzle == 128 ? CU_TENSOR_MAP_SWIZZLE_128B
                    : swizzle == 64 ? CU_TENSOR_MAP_SWIZZLE_64B
                                    : CU_TENSOR_MAP_SWIZZLE_32B,
                    what);
}

/* ---- M-grouped ---------------------------------------------------------------------------- */

/* The A scales through the slots (kSfaTma, FP8 1D2D): sfa [M, K/128] (contiguous) or
 * [G, max_m, K/128] (masked), MN-major and TMA-aligned (dlg_transform_sf's layout: 16-byte
 * k-block and group strides). Measured on the contiguous shapes: +10..+18 % over the two
 * global loads per math thread. $DLG_GROUPED_SFA_TMA=0 keeps those (A/B). */
static int m_grouped_sfa_tma_ok(const dlg_m_grouped_problem_t* p) {
  if (p->recipe != DLG_RECIPE_FP8_1D2D || getenv_is_zero("DLG_GROUPED_SFA_TMA")) return 0;
  const DLTensor* sf = p->sfa;
  const int lead = p->masked ? 1 : 0;
  if (sf->ndim != 2 + lead || (uintptr_t)dlg_data(sf) % 16) return 0;
  const int64_t mn = sf->shape[lead], kb = sf->shape[lead + 1];
  if (mn > 1 && dlg_stride(sf, lead) != 1) return 0;
  if (kb > 1 && (dlg_stride(sf, lead + 1) < mn || (dlg_stride(sf, lead + 1) * 4) % 16)) return 0;
  if (lead && sf->shape[0] > 1 &&
      (dlg_stride(sf, 0) < mn * kb || (dlg_stride(sf, 0) * 4) % 16 || dlg_stride(sf, 0) < 0))
    return 0;
  return 1;
}

/* TMA map of the A scales for kSfaTma: {M, K/128} (contiguous) or {max_m, K/128, G}
 * (masked), box {BLOCK_M, 1, 1}. Layout checked by m_grouped_sfa_tma_ok. */
static dlg_status_t map_sfa_slots(CUtensorMap* map, const dlg_m_grouped_problem_t* p,
                                  uint32_t block_m) {
  if (!p->masked) return map_mn_major_scales(map, p->sfa, block_m, "sfa");
  const DLTensor* sf = p->sfa;
  const int64_t g = sf->shape[0], mn = sf->shape[1], kb = sf->shape[2];
  const uint64_t ld = kb > 1 ? (uint64_t)dlg_stride(sf, 2) * 4 : unit_dim_stride((uint64_t)mn * 4);
  const uint64_t gs = g > 1 ? (uint64_t)dlg_stride(sf, 0) * 4 : ld * (uint64_t)kb;
  const uint64_t dims[3] = {(uint64_t)mn, (uint64_t)kb, (uint64_t)g};
  const uint64_t strides[2] = {ld, gs};
  const uint32_t box[3] = {block_m, 1, 1};
  return encode_map(map, 3, dlg_data(sf), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, dims, strides, box,
                    CU_TENSOR_MAP_SWIZZLE_NONE, "sfa");
}

/* Whether every element of t lies at a non-negative element offset below 2^32. */
static int offsets_fit_32(const DLTensor* t) {
  uint64_t last = 0;
  for (int d = 0; d < t->ndim; ++d) {
    if (t->shape[d] == 0) return 1;
    const int64_t st = dlg_stride(t, d);
    if (st < 0) return 0;
    last += (uint64_t)(t->shape[d] - 1) * (uint64_t)st;
    if (last >= (UINT64_C(1) << 32)) return 0;
  }
  return 1;
}

/* The staged TMA epilogue of the M-grouped kernel (kTmaEpilogue): D (bf16) row-major with
 * 16-byte rows and base, masked groups back to back ([G·max_m, N] for TMA). Whole valid row
 * blocks go through it; the kernel keeps direct stores for partial ones.
 * $DLG_M_GROUPED_TMA_EPILOGUE=0 turns it off (A/B). */
static int m_grouped_tma_epilogue_ok(const dlg_m_grouped_problem_t* p) {
  const DLTensor* d = p->d;
  const int dn = d->ndim;
  if (getenv_is_zero("DLG_M_GROUPED_TMA_EPILOGUE")) return 0;
  if (p->n > 1 && dlg_stride(d, dn - 1) != 1) return 0;
  const int64_t ld = dlg_stride(d, dn - 2);
  if (ld < p->n || (ld * 2) % 16 || (uintptr_t)dlg_data(d) % 16) return 0;
  if (p->masked && p->groups > 1 && dlg_stride(d, 0) != p->m * ld) return 0;
  return (p->masked ? p->groups * p->m : p->m) <= INT32_MAX;
}

/* ---- M-grouped FP8 on the dense body ------------------------------------------------------ */

/* Masked problems take the dense body from this expected m per group up. H100 bench at
 * fff06f1 / 0b650c1 (dense body vs grouped kernel): m = 192 (32 groups) 616 vs 701 us at
 * N 6144 K 7168, +10..+19 % on all four (N, K); m = 1024 +13..+22 %; m = 64 (16 groups,
 * DeepGEMM's anchor shapes) +6..+12 %; m = 20: -8..+1 % (the grouped kernel's 64-row tiles
 * waste less on groups that short). */
#define DENSE_BODY_MASKED_MIN_M 64

/* Whether an FP8 M-grouped problem runs on the dense kernels' body
 * (kernels/sm90_fp8_m_grouped_gemm.cuh: 256-row tiles, B scales in the
 * slots; H100 at M ~ 32768: the dense 1D2D kernel 1311-1387 TFLOPS, the grouped kernel
 * 1077-1194): 1D2D with the TMA-able sfa or per-tensor, D for the staged epilogue, A
 * TMA-able ([M, K] or [G, max_m, K], K-major, 16-byte strides and base).
 * $DLG_GROUPED_DENSE_BODY=0 keeps the grouped kernel, =1 takes the dense body for masked
 * problems of any expected m (A/B, tests). */
static int dense_body_ok(const dlg_m_grouped_problem_t* p, int sfa_tma, int tma_epilogue) {
  if (p->recipe == DLG_RECIPE_BF16 || getenv_is_zero("DLG_GROUPED_DENSE_BODY")) return 0;
  const char* knob = getenv("DLG_GROUPED_DENSE_BODY"); /* 1: whatever expected_m */
  if (p->masked && p->expected_m < DENSE_BODY_MASKED_MIN_M && !(knob && !strcmp(knob, "1")))
    return 0;
  if (p->recipe == DLG_RECIPE_FP8_1D2D && !sfa_tma) return 0;
  const DLTensor* a = p->a;
  const int nd = a->ndim;
  if (!tma_epilogue || nd != (p->masked ? 3 : 2)) return 0;
  const int64_t lda = dlg_stride(a, nd - 2);
  if (p->k > 1 && dlg_stride(a, nd - 1) != 1) return 0;
  if (a->shape[nd - 2] > 1 && (lda < p->k || lda % 16)) return 0;
  if (p->masked && p->groups > 1 && (dlg_stride(a, 0) % 16 || dlg_stride(a, 0) < 0)) return 0;
  return (uintptr_t)dlg_data(a) % 16 == 0;
}

/* Masked: the rows expected per group, in [1, max_m]. */
static int64_t masked_expected_rows(const dlg_m_grouped_problem_t* p) {
  return p->expected_m < 1 ? 1 : p->expected_m < p->m ? p->expected_m : p->m;
}

/* Load flags of an M-grouped launch: the tile rows that read each group's B are those of the
 * rows expected per group (masked: expected_m; contiguous: M / groups). */
static uint32_t m_grouped_load_flags(const dlg_m_grouped_problem_t* p, int block_m) {
  const int64_t rows = p->masked ? masked_expected_rows(p)
                                 : dlg_ceil_div64(p->m, p->groups > 0 ? p->groups : 1);
  return dlg_sm90_load_flags(dlg_ceil_div64(rows, block_m), 0);
}

static dlg_status_t launch_dense_body(dlg_context_t* ctx, const dlg_m_grouped_problem_t* p,
                                      int sms, size_t smem, void* stream, const char* op) {
  const int per_tensor = p->recipe == DLG_RECIPE_FP8_PER_TENSOR;
  dlg_sm90_gemm_shape_t shape;
  memset(&shape, 0, sizeof shape);
  /* Masked: each group is tiled on its own. */
  shape.m = p->masked ? p->groups * masked_expected_rows(p) : p->m;
  shape.n = p->n;
  shape.k = p->k;
  shape.fp8 = 1;
  shape.sfa_in_smem = per_tensor ? 0 : DLG_SM90_SMEM_SFA;
  shape.promotion = per_tensor ? DLG_SM90_PROMOTE_ADD : DLG_SM90_PROMOTE_ROW_BLOCK;
  shape.out_bytes = 2;
  shape.num_sms = sms;
  shape.smem_limit = smem;
  shape.m_grouped = 1;
  shape.m_groups = p->masked ? p->groups : 0;
  dlg_sm90_gemm_config_t cfg;
  if (!dlg_sm90_gemm_choose(&shape, &cfg))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: no tile config fits %zu bytes of shared memory", op, smem);
  dlg_sm90_apply_override(&shape, &cfg);

  if (p->masked) { /* the tiles there can be (every group full), not the expected ones */
    const int64_t most = p->groups * dlg_ceil_div64(p->m, cfg.block_m) *
                         dlg_ceil_div64(p->n, cfg.block_n);
    const int64_t fit = sms - sms % cfg.cluster_n;
    cfg.grid = (unsigned)(most < fit ? most : fit);
  }

  CUtensorMap map_a, map_b, map_sfa, map_d;
  memset(&map_sfa, 0, sizeof map_sfa);
  const uint32_t a_box = (uint32_t)(cfg.block_m / cfg.cluster_n);
  if (p->masked) DLG_TRY(map_operand(&map_a, p->a, 1, 1, a_box, "a"));
  else DLG_TRY(dlg_sm90_map_operand(&map_a, p->a, CU_TENSOR_MAP_DATA_TYPE_UINT8, a_box, "a"));
  DLG_TRY(map_operand(&map_b, p->b, 1, 1, (uint32_t)cfg.block_n, "b"));
  if (!per_tensor) DLG_TRY(map_sfa_slots(&map_sfa, p, (uint32_t)cfg.block_m));
  DLG_TRY(map_rows(&map_d, p->d, p->masked ? p->groups * p->m : p->m, 2, cfg.block_n, "d"));

  dlg_sm90_fp8_params_t q;
  memset(&q, 0, sizeof q);
  q.m = (uint32_t)p->m;
  q.n = (uint32_t)p->n;
  q.k = (uint32_t)p->k;
  if (per_tensor) {
    q.scale_a = data_or_null(p->sfa);
    q.scale_a_stride_g = p->sfa && p->masked ? group_stride_or_zero(p->sfa) : 0;
    q.scale_b = data_or_null(p->sfb);
    q.sfb_stride_g = p->sfb ? group_stride_or_zero(p->sfb) : 0;
  } else {
    q.sfb = (const float*)dlg_data(p->sfb);
    q.sfb_stride_g = dlg_stride(p->sfb, 0);
    q.sfb_stride_n = dlg_stride(p->sfb, 1);
    q.sfb_stride_k = dlg_stride(p->sfb, 2);
    q.sfb_rows = (uint32_t)p->sfb->shape[1];
  }
  q.d = dlg_data(p->d);
  q.ldd = dlg_stride(p->d, p->d->ndim - 2);
  q.layout = (const int32_t*)dlg_data(p->layout);
  q.layout_stride = dlg_stride(p->layout, 0);
  q.num_groups = (uint32_t)p->groups;
  q.flags = m_grouped_load_flags(p, cfg.block_m);

  /* kMode: GroupedMode (0 row ids, 1 offsets, 2 masked) */
  const int mode = p->masked ? 2 : p->layout_kind == DLG_GROUP_LAYOUT_ROW_IDS ? 0 : 1;
  char name[160], source[320];
  snprintf(name, sizeof name, "sm90_fp8_m_grouped_gemm<%d, %d, %d, %d, %d, %d, %d, %d>",
           cfg.block_m, cfg.block_n, cfg.stages, cfg.cluster_n, cfg.group_n, per_tensor, mode,
           cfg.pipelined);
  snprintf(source, sizeof source,
           "#include \"sm90_fp8_m_grouped_gemm.cuh\"\n"
           "template __global__ void %s(DLG_SM90_FP8_M_GROUPED_GEMM_SIGNATURE);\n", name);
  dlg_kernel_spec_t spec = {source, name, 90, cfg.smem_bytes};
  dlg_kernel_t kernel;
  DLG_TRY(dlg_jit_get(ctx, &spec, &kernel));
  dlg_sm90_fit_clusters(&kernel, &cfg);
  const int pdl = dlg_context_get_pdl(ctx);
  if (dlg_print_configs())
    fprintf(stderr,
            "dlgemm: %s -> %s: grid=%u block=%d smem=%zu regs=%d local=%d est=%.0f pdl=%d\n", op,
            name, cfg.grid, cfg.threads, cfg.smem_bytes, kernel.num_regs, kernel.local_bytes,
            cfg.est_cycles, pdl);
  dlg_launch_config_t lc = dlg_launch_config_1d(cfg.grid, (unsigned)cfg.threads,
      (unsigned)(cfg.cluster_m * cfg.cluster_n), cfg.smem_bytes, pdl, stream);
  void* args[] = {&q, &map_a, &map_b, &map_sfa, &map_d};
  dlg_status_t s = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (s != DLG_OK) dlg_error_prefix(op);
  return s;
}

dlg_status_t dlg_launch_sm90_m_grouped_gemm(dlg_context_t* ctx, const dlg_m_grouped_problem_t* p,
                                            void* stream) {
  const char* op = p->masked ? "m_grouped_gemm_masked" : "m_grouped_gemm_contiguous";
  int sms, arch;
  size_t smem;
  DLG_TRY(device_limits(ctx, &sms, &smem, &arch));
  DLG_TRY(need_sm90(ctx, arch, op));
  if (p->groups == 0 || p->m == 0 || p->n == 0) return DLG_OK; /* nothing to write */
  if (p->k == 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel needs K > 0", op);
  if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX || p->groups > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel takes extents below 2^31", op);
  const int fp8 = p->recipe != DLG_RECIPE_BF16;
  const int block_scaled = p->recipe == DLG_RECIPE_FP8_1D2D;
  const int kind = p->recipe == DLG_RECIPE_FP8_1D2D ? 0 : p->recipe == DLG_RECIPE_FP8_PER_TENSOR ? 1 : 2;
  if (block_scaled && (!dlg_dtype_is(p->sfa, DLG_DT_F32) || !dlg_dtype_is(p->sfb, DLG_DT_F32)))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sfa, sfb: sm90 kernel takes float32 scales (packed UE8M0 is SM100's)");
  /* The kernel addresses the 1D2D scales with 32-bit element offsets (registers). */
  if (block_scaled && (!offsets_fit_32(p->sfa) || !offsets_fit_32(p->sfb)))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "sfa, sfb: sm90 grouped kernel takes scale tensors whose elements lie within "
                    "2^32 of their start (non-negative strides)");
  /* D: written as bf16 pairs (4-byte stores). */
  const DLTensor* d = p->d;
  const int dn = d->ndim;
  if (p->n > 1 && dlg_stride(d, dn - 1) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 grouped kernel needs row-major D (stride(-1) == 1)");
  if ((p->m > 1 && dlg_stride(d, dn - 2) % 2 != 0) || (p->masked && p->groups > 1 && dlg_stride(d, 0) % 2 != 0) ||
      ((uintptr_t)dlg_data(d)) % 4 != 0)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 grouped kernel needs even strides and a 4-byte aligned base");

  const int sfa_tma = m_grouped_sfa_tma_ok(p), tma_epilogue = m_grouped_tma_epilogue_ok(p);
  if (dense_body_ok(p, sfa_tma, tma_epilogue))
    return launch_dense_body(ctx, p, sms, smem, stream, op);

  grouped_shape_t gs;
  memset(&gs, 0, sizeof gs);
  gs.fp8 = fp8;
  gs.block_scaled = block_scaled;
  gs.max_block_n = block_scaled ? 176 : fp8 ? 192 : 256; /* 1D2D at 192 spills (masked mode) */
  gs.allow_pairs = sms >= 2;
  gs.block_n_step = 16;
  gs.masked = p->masked;
  gs.m_units = p->masked ? (p->expected_m < p->m ? p->expected_m : p->m) : p->m;
  gs.units = p->masked ? p->groups : 1;
  gs.n = p->n;
  gs.num_sms = sms;
  gs.smem_limit = smem;
  gs.tma_epilogue = tma_epilogue;
  gs.out_bytes = 2;
  gs.sfa_tma = sfa_tma;
  gs.kblocks = (double)dlg_ceil_div64(p->k, fp8 ? 128 : 64);
  grouped_config_t cfg;
  if (!forced_tile(&gs, &cfg) && !choose_config(&gs, &cfg))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: no tile config fits %zu bytes of shared memory", op, smem);
  /* The grid covers the most tiles there can be (masked: every group full). */
  const int64_t max_tiles = (p->masked ? p->groups : 1) * dlg_ceil_div64(p->m, cfg.block_m) *
                            dlg_ceil_div64(p->n, cfg.block_n);
  cfg.grid = (unsigned)(max_tiles < sms ? max_tiles : sms);
  if (cfg.cluster_m == 2) {
    const int64_t pairs = (p->masked ? p->groups : 1) *
                          dlg_ceil_div64(dlg_ceil_div64(p->m, cfg.block_m), 2) *
                          dlg_ceil_div64(p->n, cfg.block_n);
    cfg.grid = (unsigned)(2 * pairs < (sms & ~1) ? 2 * pairs : (sms & ~1));
  }

  CUtensorMap map_a, map_b, map_d, map_sfa;
  memset(&map_d, 0, sizeof map_d);
  memset(&map_sfa, 0, sizeof map_sfa);
  if (gs.sfa_tma) DLG_TRY(map_sfa_slots(&map_sfa, p, (uint32_t)cfg.block_m));
  if (cfg.tma_epilogue)
    DLG_TRY(map_rows(&map_d, d, p->masked ? p->groups * p->m : p->m, 2, cfg.block_n, "d"));
  const int eb = fp8 ? 1 : 2;
  DLG_TRY(map_operand(&map_a, p->a, p->masked, eb, (uint32_t)cfg.block_m, "a"));
  DLG_TRY(map_operand(&map_b, p->b, 1, eb, (uint32_t)(cfg.block_n / cfg.cluster_m), "b"));

  m_grouped_params_t q;
  memset(&q, 0, sizeof q);
  q.m = (uint32_t)p->m;
  q.n = (uint32_t)p->n;
  q.k = (uint32_t)p->k;
  q.num_groups = (uint32_t)p->groups;
  q.layout = (const int32_t*)dlg_data(p->layout);
  q.layout_stride = dlg_stride(p->layout, 0);
  if (block_scaled) {
    const int a_lead = p->masked;
    q.sfa = (const float*)dlg_data(p->sfa);
    q.sfa_stride_g = a_lead ? dlg_stride(p->sfa, 0) : 0;
    q.sfa_stride_m = dlg_stride(p->sfa, a_lead);
    q.sfa_stride_k = dlg_stride(p->sfa, a_lead + 1);
    q.sfb = (const float*)dlg_data(p->sfb);
    q.sfb_stride_g = dlg_stride(p->sfb, 0);
    q.sfb_stride_n = dlg_stride(p->sfb, 1);
    q.sfb_stride_k = dlg_stride(p->sfb, 2);
    q.sfb_rows = (uint32_t)p->sfb->shape[1];
  } else if (kind == 1) {
    q.sfa = data_or_null(p->sfa);
    q.sfa_stride_g = p->sfa && p->masked ? group_stride_or_zero(p->sfa) : 0;
    q.sfb = data_or_null(p->sfb);
    q.sfb_stride_g = p->sfb ? group_stride_or_zero(p->sfb) : 0;
  }
  q.d = dlg_data(d);
  q.d_stride_g = p->masked ? dlg_stride(d, 0) : 0;
  q.d_stride_m = dlg_stride(d, dn - 2);
  q.flags = m_grouped_load_flags(p, cfg.block_m);

  const int mode = p->masked ? 2 : p->layout_kind == DLG_GROUP_LAYOUT_ROW_IDS ? 0 : 1;
  char name[160], source[320];
  /* kTmaEpilogue, kSfaTma last, left out when 0 (the other instances keep their names). */
  const char* tail = gs.sfa_tma ? (cfg.tma_epilogue ? ", 1, 1" : ", 0, 1")
                                : (cfg.tma_epilogue ? ", 1" : "");
  snprintf(name, sizeof name, "sm90_m_grouped_gemm<%d, %d, %d, %d, %d, %d, %d%s>", cfg.block_m,
           cfg.block_n, cfg.stages, RASTER_GROUP_N, mode, kind, cfg.cluster_m, tail);
  snprintf(source, sizeof source,
           "#include \"sm90_m_grouped_gemm.cuh\"\n"
           "template __global__ void %s(DLG_SM90_M_GROUPED_GEMM_SIGNATURE);\n", name);
  void* args[] = {&q, &map_a, &map_b, &map_d, &map_sfa};
  return launch(ctx, source, name, &cfg, args, stream, op);
}

/* ---- K-grouped ---------------------------------------------------------------------------- */

/* A [G, M, N] f32 tensor TMA can treat as one [G·M, N] matrix: row-major, groups back to
 * back, 16-byte rows and base. */
static int group_rows_ok(const DLTensor* t, int64_t groups, int64_t m, int64_t n) {
  if (!dlg_dtype_is(t, DLG_DT_F32)) return 0;
  if (n > 1 && dlg_stride(t, 2) != 1) return 0;
  const int64_t ld = dlg_stride(t, 1);
  if (ld < n || (ld * 4) % 16) return 0;
  if (groups > 1 && dlg_stride(t, 0) != m * ld) return 0;
  return (uintptr_t)dlg_data(t) % 16 == 0;
}

/* The staged TMA epilogue (kTmaEpilogue of the kernel): tiles must not straddle groups in the
 * [G·M, N] view (M a multiple of every BLOCK_M the search tries), D and any C f32 in that
 * layout. $DLG_K_GROUPED_TMA_EPILOGUE=0 turns it off (A/B). */
static int k_grouped_tma_epilogue_ok(const dlg_k_grouped_problem_t* p) {
  if (getenv_is_zero("DLG_K_GROUPED_TMA_EPILOGUE")) return 0;
  if (p->m % 128 || p->groups * p->m > INT32_MAX) return 0;
  if (!group_rows_ok(p->d, p->groups, p->m, p->n)) return 0;
  return !p->c || group_rows_ok(p->c, p->groups, p->m, p->n);
}


dlg_status_t dlg_launch_sm90_k_grouped_gemm(dlg_context_t* ctx, const dlg_k_grouped_problem_t* p,
                                            void* stream) {
  static const char op[] = "k_grouped_gemm_contiguous";
  int sms, arch;
  size_t smem;
  DLG_TRY(device_limits(ctx, &sms, &smem, &arch));
  DLG_TRY(need_sm90(ctx, arch, op));
  if (p->groups == 0 || p->m == 0 || p->n == 0) return DLG_OK;
  if (p->m > INT32_MAX || p->n > INT32_MAX || p->k_total > INT32_MAX || p->groups > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: sm90 kernel takes extents below 2^31", op);
  const int per_tensor = p->recipe == DLG_RECIPE_FP8_PER_TENSOR;
  if (!per_tensor && (!dlg_dtype_is(p->sfa, DLG_DT_F32) || !dlg_dtype_is(p->sfb, DLG_DT_F32)))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "sfa, sfb: sm90 kernel takes float32 scales (packed UE8M0 is SM100's)");
  const DLTensor *d = p->d, *c = p->c;
  if (p->n > 1 && dlg_stride(d, 2) != 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 k-grouped kernel needs row-major D (stride(2) == 1)");
  if ((p->m > 1 && dlg_stride(d, 1) % 2) || (p->groups > 1 && dlg_stride(d, 0) % 2) ||
      ((uintptr_t)dlg_data(d)) % 8)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "d: sm90 k-grouped kernel needs even strides and an 8-byte aligned base");
  int c_mode = 0;
  if (c) {
    c_mode = dlg_dtype_is(c, DLG_DT_F32) ? 2 : 1;
    if (p->n > 1 && dlg_stride(c, 2) != 1)
      return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 k-grouped kernel needs row-major C (stride(2) == 1)");
    if (c_mode == 2 && ((p->m > 1 && dlg_stride(c, 1) % 2) || (p->groups > 1 && dlg_stride(c, 0) % 2) ||
                        ((uintptr_t)dlg_data(c)) % 8))
      return dlg_fail(DLG_ERR_UNSUPPORTED, "c: sm90 k-grouped kernel needs even strides and an 8-byte aligned base");
  }

  grouped_shape_t gs;
  memset(&gs, 0, sizeof gs);
  gs.fp8 = 1;
  gs.block_scaled = !per_tensor;
  gs.k_grouped = 1;
  gs.max_block_n = per_tensor ? 192 : 128;
  gs.block_n_step = per_tensor ? 16 : 32; /* sfb slots stay 128-byte aligned for TMA */
  gs.m_units = p->m;
  gs.units = p->groups;
  gs.n = p->n;
  gs.num_sms = sms;
  gs.smem_limit = smem;
  gs.tma_epilogue = k_grouped_tma_epilogue_ok(p);
  gs.out_bytes = 4;
  gs.c_read = c != NULL;
  gs.kblocks = p->groups > 0 && p->k_total > 0 ? (double)p->k_total / (double)p->groups / 128.0 : 1.0;
  grouped_config_t cfg;
  if (!forced_tile(&gs, &cfg) && !choose_config(&gs, &cfg))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: no tile config fits %zu bytes of shared memory", op, smem);

  CUtensorMap map_a, map_b, map_sfa, map_sfb, map_d, map_c;
  memset(&map_d, 0, sizeof map_d);
  memset(&map_c, 0, sizeof map_c);
  if (cfg.tma_epilogue) {
    DLG_TRY(map_rows(&map_d, d, p->groups * p->m, 4, cfg.block_n, "d"));
    if (c) DLG_TRY(map_rows(&map_c, c, p->groups * p->m, 4, cfg.block_n, "c"));
  }
  memset(&map_a, 0, sizeof map_a);
  memset(&map_b, 0, sizeof map_b);
  memset(&map_sfa, 0, sizeof map_sfa);
  memset(&map_sfb, 0, sizeof map_sfb);
  if (p->k_total > 0) {
    DLG_TRY(map_operand(&map_a, p->a, 0, 1, (uint32_t)cfg.block_m, "a"));
    DLG_TRY(map_operand(&map_b, p->b, 0, 1, (uint32_t)cfg.block_n, "b"));
    if (!per_tensor) {
      DLG_TRY(map_mn_major_scales(&map_sfa, p->sfa, (uint32_t)cfg.block_m, "sfa"));
      DLG_TRY(map_mn_major_scales(&map_sfb, p->sfb, (uint32_t)cfg.block_n, "sfb"));
    }
  }

  k_grouped_params_t q;
  memset(&q, 0, sizeof q);
  q.m = (uint32_t)p->m;
  q.n = (uint32_t)p->n;
  q.num_groups = (uint32_t)p->groups;
  q.k_total = (uint32_t)p->k_total;
  q.ks = (const int32_t*)dlg_data(p->ks);
  q.ks_stride = dlg_stride(p->ks, 0);
  if (per_tensor) {
    q.scale_a = data_or_null(p->sfa);
    q.scale_a_stride = p->sfa ? group_stride_or_zero(p->sfa) : 0;
    q.scale_b = data_or_null(p->sfb);
    q.scale_b_stride = p->sfb ? group_stride_or_zero(p->sfb) : 0;
  }
  if (c) {
    q.c = dlg_data(c);
    q.c_stride_g = dlg_stride(c, 0);
    q.c_stride_m = dlg_stride(c, 1);
  }
  q.d = (float*)dlg_data(d);
  q.d_stride_g = dlg_stride(d, 0);
  q.d_stride_m = dlg_stride(d, 1);

  char name[160], source[320];
  /* kTmaEpilogue last, left out when 0 (the other instances keep their names). */
  snprintf(name, sizeof name, "sm90_fp8_k_grouped_gemm<%d, %d, %d, %d, %d, %d%s>", cfg.block_m,
           cfg.block_n, cfg.stages, RASTER_GROUP_N, per_tensor, c_mode,
           cfg.tma_epilogue ? ", 1" : "");
  snprintf(source, sizeof source,
           "#include \"sm90_fp8_k_grouped_gemm.cuh\"\n"
           "template __global__ void %s(DLG_SM90_FP8_K_GROUPED_GEMM_SIGNATURE);\n", name);
  void* args[] = {&q, &map_a, &map_b, &map_sfa, &map_sfb, &map_d, &map_c};
  return launch(ctx, source, name, &cfg, args, stream, op);
}
