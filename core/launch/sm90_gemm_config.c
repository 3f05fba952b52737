/* Heuristics of the SM90 GEMMs: a small cost model evaluated over every candidate
 * (BLOCK_M, BLOCK_N, cluster, pipelined promotion) — see docs/kernels.md for what each term
 * stands for and how the constants were measured. */
#include "launch/sm90_gemm_config.h"

#include <stdlib.h>
#include <string.h>

#define SLACK_BYTES 1024   /* the kernels align the dynamic smem base up to 1024 */
#define ROW_BYTES 128      /* A/B bytes per row per k-block (one 128B swizzle row) */
#define MAX_STAGES 16
#define GROUP_N 16         /* rasterization band (blocks of N); even, so clusters fit */

/* Cost-model constants (per SM, in SM clock cycles at ~1.75 GHz). They only rank
 * candidates; fitted to the H100 sweep of docs/kernels.md ("Measured"). */
#define SLOT_BYTES_PER_CLK 48.0         /* a k-block's slot streams in at ~48 B/clk ... */
#define SLOT_LATENCY 250.0              /* ... after a fixed round trip (barriers, TMA issue) */
#define DRAM_BYTES_PER_CLK 12.0         /* ~2.8 TB/s / 132 SMs / 1.755 GHz */
#define MMA_EFFICIENCY_BASE 1.25        /* wgmma cycles / ideal, plus STAGE_LATENCY / stages */
#define STAGE_LATENCY 0.5
#define KBLOCK_OVERHEAD 40.0            /* barrier round trip + wgmma issue per k-block */
#define WGMMA_LATENCY 120.0             /* issue -> wait_group 0 of a k-block's chain */
#define EPILOGUE_FIXED 400.0            /* named barriers, TMA store issue, scheduler step */
#define EPILOGUE_BYTES_PER_CLK 32.0
#define C_LOAD_LATENCY 1500.0           /* C read by the epilogue itself (not prefetched) */
#define RING_CHUNK_CYCLES 100.0         /* slab ring: per chunk, two named barriers, a store, a wait */
#define ONE_WARPGROUP_PENALTY 1.15      /* per k-block, BLOCK_M 64 (one math warpgroup) */
#define SPLIT_REDUCE_FIXED 1200.0       /* split-K: two cluster barriers + DSMEM round trips */
#define DSMEM_BYTES_PER_CLK 32.0        /* split-K: partial tiles read across the cluster */
#define SPLIT_MIN_KBLOCKS 4             /* split-K: k-blocks per CTA at least (pipeline fill) */
#define MULTICAST_MIN_A_BYTES (48.0 * 1048576.0) /* FP8 1D2D / per-tensor: clusters below (L2: 50 MB) */
/* Split-K configs run slower than the rest of the model says (H100 sweep, docs/kernels.md:
 * cluster launch, short k-loops whose pipeline never reaches steady state): their estimate is
 * scaled and offset so that the model picks them only where the sweep measured a gain. */
#define SPLIT_SCALE 1.35
#define SPLIT_OFFSET 3000.0
#define SPLIT4_MAX_CTAS 112             /* clusters of 4: 32 of them ran as two waves */
/* CUDA-core instructions per accumulator per k-block of each promotion class. */
static const double k_promote_per_acc[4] = {0.0, 1.0, 1.3, 2.3};

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

size_t dlg_sm90_d_smem_bytes(int block_m, int block_n, int out_bytes, int direct, int ring) {
  if (direct) return 0;
  if (ring) { /* per math warpgroup two chunks of 64 rows x min(64, row) bytes (epilogue.cuh) */
    const size_t row = (size_t)block_n * out_bytes;
    return (size_t)(block_m == 64 ? 1 : 2) * 2 * 64 * (row < 64 ? row : 64);
  }
  return ((size_t)block_m * block_n * out_bytes + 1023) / 1024 * 1024;
}

int dlg_sm90_store_mode(const dlg_sm90_gemm_config_t* c) {
  return c->direct_store ? 1 : c->slab_ring ? 2 : 0;
}

size_t dlg_sm90_gemm_smem_bytes(int block_m, int block_n, int stages, int sfa_in_smem,
                                size_t d) {
  size_t stage = (size_t)(block_m + block_n) * ROW_BYTES;
  if (sfa_in_smem & DLG_SM90_SMEM_SFA) stage += (size_t)block_m * 4;
  /* TMA writes 128-byte aligned shared memory: the sfb column is padded. */
  if (sfa_in_smem & DLG_SM90_SMEM_SFB) stage += ((size_t)block_n * 4 + 127) / 128 * 128;
  /* 1D2D (A scales without a B column): the k-block's few B block scales, 16 bytes. */
  else if (sfa_in_smem & DLG_SM90_SMEM_SFA) stage += 16;
  return SLACK_BYTES + d + (size_t)stages * stage + (size_t)stages * 16 + 16;
}

int dlg_sm90_epilogue_swizzle(int row_bytes) {
  return row_bytes % 128 == 0 ? 128 : (row_bytes % 64 == 0 ? 64 : 32);
}

int dlg_sm90_fp8_max_block_n(int block_m, int pipelined, int promotion) {
  /* Not pipelined: acc + partial = BLOCK_N registers of 232 (two math warpgroups) or 255;
   * BLOCK_M 256 holds two accumulator sets (1.5 BLOCK_N) and is never pipelined.
   * Pipelined: 1.5 BLOCK_N; the 1D1D promotion's scale loads need a few registers more than
   * are left at 128 (ptxas spills 2-8 with either warpgroup count). */
  if (block_m == 256) return pipelined ? 0 : 128;
  if (!pipelined) return 208;
  return promotion == DLG_SM90_PROMOTE_ROW_COL ? 112 : 128;
}

static int promotion_of(const dlg_sm90_gemm_shape_t* s) {
  if (!s->fp8) return DLG_SM90_PROMOTE_NONE;
  if (s->promotion) return s->promotion;
  return (s->sfa_in_smem & DLG_SM90_SMEM_SFA) ? DLG_SM90_PROMOTE_ROW_BLOCK : DLG_SM90_PROMOTE_ADD;
}

/* Largest BLOCK_N the kernel of this shape takes at (BLOCK_M, pipelined): BF16 holds one
 * accumulator set per m64 row block (BLOCK_M 256: two). */
static int max_block_n(const dlg_sm90_gemm_shape_t* s, int block_m, int pipelined) {
  if (s->fp8) return dlg_sm90_fp8_max_block_n(block_m, pipelined, promotion_of(s));
  return block_m == 256 ? 192 : 256;
}

size_t dlg_sm90_config_smem_bytes(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  return dlg_sm90_gemm_smem_bytes(
      c->block_m, c->block_n, c->stages, s->sfa_in_smem,
      dlg_sm90_d_smem_bytes(c->block_m, c->block_n, s->out_bytes, c->direct_store, c->slab_ring));
}

static int max_stages(const dlg_sm90_gemm_shape_t* s, int bm, int bn, int direct, int ring) {
  const size_t d = dlg_sm90_d_smem_bytes(bm, bn, s->out_bytes, direct, ring);
  size_t fixed = dlg_sm90_gemm_smem_bytes(bm, bn, 0, s->sfa_in_smem, d);
  size_t per = dlg_sm90_gemm_smem_bytes(bm, bn, 1, s->sfa_in_smem, d) - fixed;
  if (s->smem_limit <= fixed) return 0;
  size_t n = (s->smem_limit - fixed) / per;
  return n > MAX_STAGES ? MAX_STAGES : (int)n;
}

/* CTAs that can run at once with a cluster size: clusters of 4 do not tile every GPC
 * (H100: 32 clusters of 4 on 132 SMs), clusters of 8 at most two per GPC. */
static int grid_limit(int num_sms, int cluster_size) {
  if (cluster_size == 4) return num_sms >= 64 ? (num_sms / 4 - 1) * 4 : num_sms / 4 * 4;
  if (cluster_size == 8) return num_sms >= 128 ? 112 : num_sms / 16 * 8;
  return num_sms - num_sms % cluster_size;
}

static int split_of(const dlg_sm90_gemm_config_t* c) { return c->split_k > 1 ? c->split_k : 1; }

/* M-blocks of the problem: masked groups are tiled one by one (a 256-row tile on a group of
 * 64 rows computes and loads four times the rows it writes). */
static int64_t m_blocks(const dlg_sm90_gemm_shape_t* s, int bm) {
  if (s->m_groups > 0) return s->m_groups * cdiv(cdiv(s->m, s->m_groups), bm);
  return cdiv(s->m, bm);
}

/* Modelled cycles of the whole GEMM for one config (tiles, waves, grid filled in). */
static double estimate(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* c) {
  const int bm = c->block_m, bn = c->block_n, cm = c->cluster_m, cn = c->cluster_n;
  const int split = split_of(c);
  const int64_t tiles = m_blocks(s, bm) * cdiv(s->n, bn);
  const int grid_max = grid_limit(s->num_sms, cm * cn * split);
  const int64_t waves = cdiv(tiles * split, grid_max);
  /* Split-K: each CTA of a tile's cluster runs a slice of the k-blocks. */
  const double kblocks = (double)cdiv(cdiv(s->k, s->fp8 ? 128 : 64), split);
  /* FP8 1D2D / per-tensor BLOCK_M 256 (not pipelined): each math warpgroup's two m64 waves
   * alternate on the tensor cores with the other warpgroup's, so a wave's promotion hides
   * behind the other's chain about as well as a pipelined 128-row tile's, and each slot
   * feeds two 128-row k-blocks of work (its latency counts half per stage). H100 sweeps at
   * a2fbf1a / 5f4e525 (docs/kernels.md): 256x128 1x2 ran 3-6 % (1D2D) and up to 5 %
   * (per-tensor, 8192^3) faster than 128x128 pipelined at M = 4096, once the k-loop's
   * overheads were cut. */
  const int promotion = promotion_of(s);
  const int wave_pairs = bm == 256 && (promotion == DLG_SM90_PROMOTE_ROW_BLOCK ||
                                       promotion == DLG_SM90_PROMOTE_ADD);
  /* Slots in flight, in 128-row k-blocks of work each. */
  const int slot_stages = c->stages * (wave_pairs ? 2 : 1);
  /* Dense tensor-core rate per SM: 4096 FP8 or 2048 BF16 MAC/clk; a k-block is 128 FP8 or
   * 64 BF16 deep, so both take BLOCK_M*BLOCK_N/32 cycles at the ideal rate. */
  const double mma =
      (double)bm * bn / 32.0 * (MMA_EFFICIENCY_BASE + STAGE_LATENCY / slot_stages);
  /* Streaming the slot in: a multicast operand costs each CTA half its bytes. */
  double bytes = ((double)bm / cn + (double)bn / cm) * ROW_BYTES;
  if (s->sfa_in_smem & DLG_SM90_SMEM_SFA) bytes += bm * 4.0;
  if (s->sfa_in_smem & DLG_SM90_SMEM_SFB) bytes += bn * 4.0;
  const double load = SLOT_LATENCY + bytes / SLOT_BYTES_PER_CLK;
  /* Promotion: per math warpgroup, BLOCK_N/2 accumulators per thread, one warp of it on each
   * SM sub-partition. Not pipelined, the warpgroup waits for its chain, then promotes (the
   * two warpgroups run in step, so the tensor cores idle meanwhile); pipelined, only one
   * promotion in a chain of 4 k-blocks is exposed, half of it covered by the other
   * warpgroup's chain. */
  double exposed = 0.0;
  if (promotion != DLG_SM90_PROMOTE_NONE) {
    const double alone = k_promote_per_acc[promotion] * bn / 2.0 + WGMMA_LATENCY;
    exposed = c->pipelined || wave_pairs ? alone / 4.0 * (bm >= 128 ? 0.5 : 1.0) : alone;
  }
  double per_kb = mma > load ? mma : load;
  per_kb += exposed + KBLOCK_OVERHEAD;
  /* One math warpgroup (BLOCK_M 64) issues, waits for and promotes every k-block alone: its
   * chain of round trips is longer than the two warpgroups' of BLOCK_M 128 (H100: 128x7168
   * x16384 FP8 64x112 58.1 us vs 128x64 54.9 us, BF16 107.4 vs 92.8 us). Only where
   * BLOCK_M 128 is an alternative (M > 64): it would not change the ranking among the
   * BLOCK_M 64 candidates, only their balance against the DRAM bound. */
  if (bm == 64 && s->m > 64) per_kb *= ONE_WARPGROUP_PENALTY;
  /* Fewer than 4 slots cover the TMA latency worse (measured: FP8 128x128 5 -> 4 stages
   * +3.5%). */
  if (slot_stages < 4) per_kb *= 1.0 + 0.04 * (4 - slot_stages);
  double epilogue = (double)bm * bn * (s->out_bytes + s->c_bytes) / EPILOGUE_BYTES_PER_CLK +
                    EPILOGUE_FIXED;
  if (s->c_bytes && (c->direct_store || c->slab_ring || !s->c_via_tma)) epilogue += C_LOAD_LATENCY;
  /* The slab ring stores each math warpgroup's rows in 64-byte wide chunks. */
  if (c->slab_ring)
    epilogue += (double)(bm == 256 ? 2 : 1) * cdiv((int64_t)bn * s->out_bytes, 64) * RING_CHUNK_CYCLES;
  /* Split-K: every CTA reads a BLOCK_M / split row share of each peer's f32 partial tile. */
  if (split > 1) epilogue += SPLIT_REDUCE_FIXED + (double)bm * bn * 4.0 / DSMEM_BYTES_PER_CLK;
  const double compute = (double)waves * (kblocks * per_kb + epilogue);
  /* Every byte comes from DRAM once at least, shared by the whole grid; the two overlap
   * mostly (the smaller one counts a quarter, so memory-bound candidates still rank). */
  const double b_copies = s->m_groups > 0 ? (double)s->m_groups : 1.0; /* masked: B per group */
  const double dram = ((double)s->m * s->k + b_copies * s->n * s->k) * (s->fp8 ? 1 : 2) +
                      (double)s->m * s->n * (s->out_bytes + s->c_bytes);
  const double dram_cycles = dram / (DRAM_BYTES_PER_CLK * s->num_sms);
  double cycles = compute > dram_cycles ? compute + 0.25 * dram_cycles
                                        : dram_cycles + 0.25 * compute;
  if (split > 1) cycles = cycles * SPLIT_SCALE + SPLIT_OFFSET;
  c->tiles = tiles;
  c->waves = waves;
  /* Split-K is not persistent: one cluster per tile. */
  c->grid = split > 1 ? (unsigned)(tiles * split) : (unsigned)(tiles < grid_max ? tiles : grid_max);
  return cycles;
}

/* Fills the derived fields of a config from its (bm, bn, stages, cm, cn, pipelined, direct). */
static void complete(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* c) {
  c->group_n = c->group_n ? c->group_n : GROUP_N;
  c->threads = (c->block_m == 64 ? 2 : 3) * 128; /* math warpgroups + the producer */
  c->d_swizzle = dlg_sm90_epilogue_swizzle(c->block_n * s->out_bytes);
  /* The slab ring stores 64-byte wide slabs at most (epilogue.cuh kMaxSwizzle). */
  if (c->slab_ring && c->d_swizzle > 64) c->d_swizzle = 64;
  c->smem_bytes = dlg_sm90_config_smem_bytes(s, c);
  c->est_cycles = estimate(s, c);
}

/* The CTAs of a cluster need the tiles of one cluster tile: each clustered dimension's block
 * count must be even, and the grid must hold a cluster. */
static int cluster_ok(const dlg_sm90_gemm_shape_t* s, int bm, int bn, int cm, int cn) {
  if ((cm != 1 && cm != 2) || (cn != 1 && cn != 2)) return 0;
  if (cm == 2 && s->m_grouped) return 0;
  if (cm * cn > s->num_sms) return 0;
  if (cm == 2 && m_blocks(s, bm) % 2) return 0;
  if (cn == 2 && cdiv(s->n, bn) % 2) return 0;
  return 1;
}

/* Configs the kernels compile without spilling (ptxas -v; sm90_kernels_test checks every
 * choice for the anchor shapes): the pipelined FP8 promotion leaves too few registers for
 * clusters with two CTAs along M (multicast B) above BLOCK_N 64 unless the epilogue
 * stores directly; 2x2 clusters compile clean only with small tiles. */
static int compiles_clean(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  /* The direct epilogue's C loads are all in flight at once on top of the accumulators. */
  if (c->direct_store && s->c_bytes && (c->block_n > 128 || c->block_m == 256)) return 0;
  if (!s->fp8) return 1;
  /* FP8 1D1D with 256-row tiles (bf16 D, the dgrad shapes): nvrtc_test found local memory in
   * every instance but the slab-ring epilogue without C on a 2-CTA cluster. */
  if (c->block_m == 256 && promotion_of(s) == DLG_SM90_PROMOTE_ROW_COL)
    return c->slab_ring && !c->direct_store && !s->c_bytes && c->cluster_m * c->cluster_n == 2;
  if (c->cluster_m == 2 && c->cluster_n == 2) return c->direct_store && c->block_n <= 64;
  if (c->cluster_m == 2 && c->block_n > 64 && !c->direct_store) return 0;
  return 1;
}

/* Split-K (common/split_k.cuh): FP8 1D2D / per-tensor and BF16 kernels, no multicast, BLOCK_M <= 128,
 * direct stores; the f32 partial tile [BLOCK_M][BLOCK_N + 4] must fit in the drained ring. */
static const char* split_k_invalid(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  if (c->split_k < 0 || c->split_k > 8) return "split: 0..8";
  if (c->split_k <= 1) return NULL;
  if (promotion_of(s) == DLG_SM90_PROMOTE_ROW_COL) return "split: not the FP8 1D1D kernel";
  if (c->block_m > 128) return "split: bm 64 or 128";
  if (c->cluster_m != 1 || c->cluster_n != 1) return "split: no multicast cluster (cm=1, cn=1)";
  if (!c->direct_store) return "split: direct stores (direct=1)";
  if ((size_t)c->stages * (size_t)(c->block_m + c->block_n) * ROW_BYTES <
      (size_t)c->block_m * (size_t)(c->block_n + 4) * 4)
    return "split: the partial tile does not fit in the pipeline ring";
  return NULL;
}

/* What the search tries with split-K: one wave of clusters of 2 or 4 (the point is to fill
 * the SMs when the tiles alone do not) with enough k-blocks per CTA to fill the pipeline. */
static int split_k_searched(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  const int split = split_of(c);
  const int64_t tiles = m_blocks(s, c->block_m) * cdiv(s->n, c->block_n);
  const int64_t most = split == 4 && grid_limit(s->num_sms, 4) > SPLIT4_MAX_CTAS
                           ? SPLIT4_MAX_CTAS
                           : grid_limit(s->num_sms, split);
  return tiles * split <= most && cdiv(cdiv(s->k, s->fp8 ? 128 : 64), split) >= SPLIT_MIN_KBLOCKS;
}

/* BLOCK_M 256 (two m64 row blocks per math warpgroup): BF16, or the FP8 kernels with a bf16
 * D and no TMA C prefetch (the staging tile of 256 rows leaves no room for it; FP8 1D1D
 * further needs the slab ring, see compiles_clean). */
static int block_m_256_ok(const dlg_sm90_gemm_shape_t* s) {
  if (!s->fp8) return 1;
  return s->out_bytes == 2 && !s->c_via_tma;
}

/* What the search tries at BLOCK_M 256 (the override takes every BLOCK_N the kernel does).
 * H100 sweep of docs/kernels.md: FP8 256x128 beats 128x128 only where tiles are short in K
 * (4096x32768x512: 145 vs 154 us) and loses 2-4 % at K >= 4096 (3 stages instead of 5);
 * 256x96 / 256x112 and every BF16 256-row tile lost, so the search leaves them out. */
static int block_m_256_searched(const dlg_sm90_gemm_shape_t* s, int bn) {
  return s->fp8 && bn == 128;
}

/* A 2-CTA cluster couples its CTAs' pipelines (a slot is refilled only when both have read
 * it); that pays for big tiles, whose L2 traffic it cuts, but not for a single wave of small
 * ones (decode-sized M): H100 sweep (docs/kernels.md) FP8 1x2112x7168 31.7 -> 24.3 us,
 * 128x7168x2048 11.8 -> 10.5 us, BF16 1x2112x7168 41.6 -> 29.4 us without the cluster,
 * while BF16 64x112 tiles lost without theirs (128x7168x16384 93.8 -> 105.2 us). */
static int multicast_pays(const dlg_sm90_gemm_shape_t* s, const dlg_sm90_gemm_config_t* c) {
  if (c->cluster_m * c->cluster_n == 1) return 1;
  /* Nor for tiles of few k-blocks (FP8 1D2D / per-tensor, K = 512: 4 k-blocks): the cluster
   * syncs and the coupled pipeline do not amortise. H100 sweep at bdcded8, 1x2 -> 1x1 (µs,
   * 1D2D / per-tensor): 4096x32768x512 137.3 -> 133.7 / 133.7 -> 130.9, 128x32768x512
   * 13.8 -> 12.5, 64x32768x512 12.3 -> 11.5 / 12.3 -> 11.3, 1x32768x512 12.1 -> 11.0 /
   * 11.9 -> 10.9. (1D1D and BF16 unmeasured there: left as they were.) */
  const int promotion = promotion_of(s);
  if (s->fp8 && (promotion == DLG_SM90_PROMOTE_ROW_BLOCK || promotion == DLG_SM90_PROMOTE_ADD) &&
      cdiv(s->k, 128) < 8)
    return 0;
  /* Nor (same kernels, dense) where A fits in L2 with room to spare: multicast saves L2 -> SM
   * traffic that L2 then serves anyway, and the coupling costs. H100 A/B at 2e44d97, two rounds,
   * kernel µs with the heuristic's tile, 1x2 -> 1x1, 1D2D / per-tensor: 4096x2112x7168 (A
   * 29 MiB) 102.0 -> 100.2 / 92.2 -> 90.8, 4096x4096x7168 176.6 -> 174.2 / 168.0 -> 166.9,
   * 4096x24576x1536 249.8 -> 246.3 / 241.5 -> 238.7, 4096x7168x2048 97.2 -> 95.0 / 93.0 ->
   * 91.3, 4096^3 105.0 -> 102.8 / 100.4 -> 98.4; but with A = 64 MiB (4096x7168x16384,
   * 8192^3) +0.5..1.4 %. BF16 within 0.5 % either way: left as it was. */
  if (s->fp8 && !s->m_grouped &&
      (promotion == DLG_SM90_PROMOTE_ROW_BLOCK || promotion == DLG_SM90_PROMOTE_ADD) &&
      (double)s->m * (double)s->k < MULTICAST_MIN_A_BYTES)
    return 0;
  return c->waves > 1;
}

/* A/B bytes a CTA loads from L2 per k-block (a multicast operand counts half). */
static double slot_l2_bytes(const dlg_sm90_gemm_config_t* c) {
  return ((double)c->block_m / c->cluster_n + (double)c->block_n / c->cluster_m) * ROW_BYTES;
}

int dlg_sm90_gemm_choose(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* out) {
  /* 2x2 clusters and the direct-store epilogue are available through the override but
   * measured slower on every shape of the H100 sweep (docs/kernels.md), so the search
   * leaves them out: 2x2 clusters of 4 co-reside on fewer SMs, direct stores of 16-byte
   * row pieces cost more than the async TMA store they replace. */
  static const int cluster_shapes[3][2] = {{1, 1}, {1, 2}, {2, 1}}; /* {cm, cn} */
  int found = 0;
  dlg_sm90_gemm_config_t best;
  memset(&best, 0, sizeof best);
  /* The slab-ring epilogue (BF16: its 16 KiB instead of the staged tile give 128x256 a 4th
   * stage; H100 sweep at 2026-11-23, µs, staged 128x208 1x2 -> ring 128x256 2x1: 4096^3
   * 189.7 -> 180.3, 4096x4096x7168 318.9 -> 307.0, 8192^3 1427.7 (128x192 2x1) -> 1426.6,
   * 4096x7168x2048 162.2 -> 162.6). FP8 1D2D 256x128 with a 4th stage measured within 1 % of
   * the staged choice on six large shapes, and FP8 1D1D reads C in the epilogue then (its
   * TMA C prefetch lands in the staged tile): 128x128 307 -> 384 µs at 7168x4096x4096. So
   * only BF16 searches it, where it buys a stage, and FP8 1D1D for its 256-row tiles. */
  for (int ring = 0; ring <= 1; ++ring) {
    const int direct = 0;
    /* The TMA C prefetch needs the staging tile; f32 C without it is read in the epilogue. */
    for (int pipe = 0; pipe <= (s->fp8 ? 1 : 0); ++pipe) {
      for (int bm = 64; bm <= 256; bm *= 2) {
        if (bm == 256 && !block_m_256_ok(s)) continue;
        /* FP8: the ring only for 1D1D's 256-row tiles (the one way they compile clean). */
        if (ring && s->fp8 && !(bm == 256 && promotion_of(s) == DLG_SM90_PROMOTE_ROW_COL)) continue;
        /* Masked groups: one math warpgroup lost on every shape measured (H100 at 6da11b5,
         * DeepGEMM's masked shapes: 64x128 212.8 / 107.4 us vs 128x128 179.3 / 98.0 at
         * m = 64, 710 / 307.6 vs 420.5 / 233.7 (256x128) at m = 192). */
        if (bm == 64 && s->m_groups > 0) continue;
        const int max_bn = max_block_n(s, bm, pipe);
        for (int bn = 16; bn <= max_bn; bn += 16) {
          if (bm == 256 && !block_m_256_searched(s, bn)) continue;
          const int stages = max_stages(s, bm, bn, direct, ring);
          if (stages < 2 || (ring && stages == max_stages(s, bm, bn, direct, 0))) continue;
          for (int c = 0; c < 3; ++c) {
            const int cm = cluster_shapes[c][0], cn = cluster_shapes[c][1];
            if (!cluster_ok(s, bm, bn, cm, cn)) continue;
            dlg_sm90_gemm_config_t cand;
            memset(&cand, 0, sizeof cand);
            cand.block_m = bm;
            cand.block_n = bn;
            cand.stages = stages;
            cand.cluster_m = cm;
            cand.cluster_n = cn;
            cand.pipelined = pipe;
            cand.direct_store = direct;
            cand.slab_ring = ring;
            if (!compiles_clean(s, &cand)) continue;
            complete(s, &cand);
            if (!multicast_pays(s, &cand)) continue;
            /* Ties (both bound by the tensor cores): the one moving fewer L2 bytes per
             * k-block (multicast: L2 traffic costs power, so clock under the H100's cap;
             * measured for the FP8 256x128 tiles; BF16, H100 A/B at dbb3e5c: 128x256 ring
             * 1x1 -> 2x1 4096^3 180.6 -> 179.1 us, 4096x4096x7168 310 -> 304, while 128x176
             * 1x2 -> 2x1 cost 4096x2112x7168 162.7 -> 164.4); then the earlier. */
            if (found && !(cand.est_cycles < best.est_cycles ||
                           (cand.est_cycles == best.est_cycles &&
                            slot_l2_bytes(&cand) < slot_l2_bytes(&best))))
              continue;
            found = 1;
            best = cand;
          }
        }
      }
    }
  }
  /* Split-K candidates: clusters of 2 or 4 CTAs per tile, direct stores, no multicast,
   * pipelined tiles (what the sweep measured). Only where the tiles alone leave a quarter of
   * the SMs idle, or for M <= 16 (a 64-row tile mostly empty: the H100 sweep measured split-K
   * 1.4-2x faster at M = 1, and 0.9-1.05x where the tiles alone fill the SMs at M = 64, 128).
   * $DLG_SM90_SPLIT_K=0 leaves them out (tuning A/B). */
  static const int splits[2] = {2, 4};
  const char* split_env = getenv("DLG_SM90_SPLIT_K");
  const int try_split = !(split_env && !strcmp(split_env, "0")) && !s->m_grouped &&
                        (!found || 4 * (int64_t)best.grid < 3 * (int64_t)s->num_sms || s->m <= 16);
  /* One promotion mode: pipelined for FP8, none for BF16. */
  const int pipe = s->fp8 ? 1 : 0;
  for (int bm = 64; try_split && bm <= 128; bm *= 2) {
    const int max_bn = max_block_n(s, bm, pipe);
    for (int bn = 16; bn <= max_bn; bn += 16) {
      for (int i = 0; i < 2; ++i) {
        dlg_sm90_gemm_config_t cand;
        memset(&cand, 0, sizeof cand);
        cand.block_m = bm;
        cand.block_n = bn;
        cand.stages = max_stages(s, bm, bn, 1, 0);
        cand.cluster_m = cand.cluster_n = 1;
        cand.pipelined = pipe;
        cand.direct_store = 1;
        cand.split_k = splits[i];
        if (cand.stages < 2 || split_k_invalid(s, &cand) || !split_k_searched(s, &cand) ||
            !compiles_clean(s, &cand))
          continue;
        complete(s, &cand);
        if (found && !(cand.est_cycles < best.est_cycles)) continue;
        found = 1;
        best = cand;
      }
    }
  }
  if (found) *out = best;
  return found;
}

int dlg_sm90_gemm_override(const dlg_sm90_gemm_shape_t* s, const char* spec,
                           dlg_sm90_gemm_config_t* cfg, const char** why) {
  const char* dummy;
  if (!why) why = &dummy;
  dlg_sm90_gemm_config_t c = *cfg;
  int stages_given = 0, shape_changed = 0;
  char buf[256];
  strncpy(buf, spec, sizeof buf - 1);
  buf[sizeof buf - 1] = '\0';
  for (char* save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char* eq = strchr(kv, '=');
    if (!eq) return *why = "expected key=value", 0;
    *eq = '\0';
    char* end = NULL;
    const long v = strtol(eq + 1, &end, 10);
    if (!eq[1] || *end || v < 0 || v > 4096) return *why = "value is not a small number", 0;
    if (!strcmp(kv, "bm")) c.block_m = (int)v, shape_changed = 1;
    else if (!strcmp(kv, "bn")) c.block_n = (int)v, shape_changed = 1;
    else if (!strcmp(kv, "stages")) c.stages = (int)v, stages_given = 1;
    else if (!strcmp(kv, "cm")) c.cluster_m = (int)v;
    else if (!strcmp(kv, "cn")) c.cluster_n = (int)v;
    else if (!strcmp(kv, "pipe")) c.pipelined = (int)v, shape_changed = 1;
    else if (!strcmp(kv, "direct")) c.direct_store = (int)v, shape_changed = 1;
    else if (!strcmp(kv, "ring")) c.slab_ring = (int)v, shape_changed = 1;
    else if (!strcmp(kv, "group")) c.group_n = (int)v;
    else if (!strcmp(kv, "split")) c.split_k = (int)v, shape_changed = 1;
    else return *why = "unknown key (bm, bn, stages, cm, cn, pipe, direct, ring, group, split)", 0;
  }
  if (c.block_m != 64 && c.block_m != 128 && c.block_m != 256) return *why = "bm: 64, 128 or 256", 0;
  if (c.block_m == 256 && !block_m_256_ok(s))
    return *why = "bm=256: BF16, or FP8 with a bf16 D and no TMA C", 0;
  if (c.block_m == 256 && c.pipelined) return *why = "bm=256: not pipelined (pipe=0)", 0;
  const int max_bn = max_block_n(s, c.block_m, c.pipelined);
  if (c.block_n < 16 || c.block_n > max_bn || c.block_n % 16)
    return *why = "bn: a multiple of 16 within the kernel's register budget", 0;
  if (c.pipelined && !s->fp8) return *why = "pipe: FP8 only", 0;
  if (c.pipelined < 0 || c.pipelined > 1) return *why = "pipe: 0 or 1", 0;
  if (c.direct_store < 0 || c.direct_store > 1) return *why = "direct: 0 or 1", 0;
  if (c.slab_ring < 0 || c.slab_ring > 1) return *why = "ring: 0 or 1", 0;
  if (c.slab_ring && c.direct_store) return *why = "ring=1 stages D through shared memory: direct=0", 0;
  if (!cluster_ok(s, c.block_m, c.block_n, c.cluster_m, c.cluster_n))
    return *why = "cluster does not divide the block counts", 0;
  if (c.group_n < 1 || c.group_n % c.cluster_n) return *why = "group: a multiple of cn", 0;
  const int most = max_stages(s, c.block_m, c.block_n, c.direct_store, c.slab_ring);
  if (!stages_given && shape_changed) c.stages = most;
  if (c.stages < 2 || c.stages > most) return *why = "stages: 2 .. what fits in shared memory", 0;
  const char* bad_split = split_k_invalid(s, &c);
  if (bad_split) return *why = bad_split, 0;
  if (s->m_grouped && (c.direct_store || c.slab_ring || c.split_k > 1))
    return *why = "m-grouped: the staged epilogue (direct=0, ring=0), no split-K", 0;
  complete(s, &c);
  *cfg = c;
  return 1;
}
