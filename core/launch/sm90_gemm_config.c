/* Heuristics of the SM90 GEMMs: a small cost model evaluated over every candidate
 * (BLOCK_M, BLOCK_N, cluster) — see docs/kernels.md for what each term stands for. */
#include "launch/sm90_gemm_config.h"

#define SLACK_BYTES 1024   /* the kernels align the dynamic smem base up to 1024 */
#define ROW_BYTES 128      /* A/B bytes per row per k-block (one 128B swizzle row) */
#define MAX_STAGES 12
#define GROUP_N 16         /* rasterization band (blocks of N); even, so clusters fit */

/* Cost-model constants (per SM, in SM clock cycles). They only rank candidates. */
#define L2_BYTES_PER_CLK 48.0           /* sustained L2 -> SMEM bandwidth of one SM */
#define KBLOCK_OVERHEAD 40.0            /* barrier round trip + wgmma issue per k-block */
#define EPILOGUE_FIXED 600.0            /* named barriers, TMA store issue, scheduler step */
#define EPILOGUE_BYTES_PER_CLK 64.0

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

size_t dlg_sm90_gemm_smem_bytes(int block_m, int block_n, int stages, int sfa_in_smem,
                                int out_bytes) {
  size_t d = ((size_t)block_m * block_n * out_bytes + 1023) / 1024 * 1024;
  size_t stage = (size_t)(block_m + block_n) * ROW_BYTES + (sfa_in_smem ? (size_t)block_m * 4 : 0);
  return SLACK_BYTES + d + (size_t)stages * stage + (size_t)stages * 16;
}

int dlg_sm90_epilogue_swizzle(int row_bytes) {
  return row_bytes % 128 == 0 ? 128 : (row_bytes % 64 == 0 ? 64 : 32);
}

static int max_stages(const dlg_sm90_gemm_shape_t* s, int bm, int bn) {
  size_t fixed = dlg_sm90_gemm_smem_bytes(bm, bn, 0, s->sfa_in_smem, s->out_bytes);
  size_t per = dlg_sm90_gemm_smem_bytes(bm, bn, 1, s->sfa_in_smem, s->out_bytes) - fixed;
  if (s->smem_limit <= fixed) return 0;
  size_t n = (s->smem_limit - fixed) / per;
  return n > MAX_STAGES ? MAX_STAGES : (int)n;
}

/* Modelled cycles of the whole GEMM for one candidate. */
static double estimate(const dlg_sm90_gemm_shape_t* s, int bm, int bn, int cm, int cn,
                       int stages, int64_t* tiles_out, int64_t* waves_out, unsigned* grid_out) {
  const int64_t tiles = cdiv(s->m, bm) * cdiv(s->n, bn);
  int grid_max = s->num_sms;
  if (cm * cn > 1) grid_max &= ~1;
  const int64_t waves = cdiv(tiles, grid_max);
  const double kblocks = (double)cdiv(s->k, s->fp8 ? 128 : 64);
  /* One k-block: the tensor cores' time vs the time to stream the slot in; the multicast
   * operand costs each CTA half its bytes. */
  /* Dense tensor-core rate per SM: 4096 FP8 or 2048 BF16 MAC/clk; a k-block is 128 FP8 or
   * 64 BF16 deep, so both take BLOCK_M*BLOCK_N/32 cycles. */
  const double mma = (double)bm * bn / 32.0;
  const double bytes = ((double)bm / cn + (double)bn / cm) * ROW_BYTES +
                       (s->sfa_in_smem ? bm * 4.0 : 0.0);
  const double load = bytes / L2_BYTES_PER_CLK;
  double per_kb = (mma > load ? mma : load) + KBLOCK_OVERHEAD;
  /* FP8 promotion (~1.5 instructions per accumulator pair per thread) is hidden behind the
   * other math warpgroup's wgmma when there are two; with one (BLOCK_M 64) it is not. */
  if (s->fp8 && bm == 64) per_kb += 0.75 * bn;
  /* Fewer than 4 slots cannot cover the TMA latency. */
  if (stages < 4) per_kb *= 1.0 + 0.15 * (4 - stages);
  const double epilogue = (double)bm * bn * s->out_bytes / EPILOGUE_BYTES_PER_CLK + EPILOGUE_FIXED;
  *tiles_out = tiles;
  *waves_out = waves;
  *grid_out = (unsigned)(tiles < grid_max ? tiles : grid_max);
  return (double)waves * (kblocks * per_kb + epilogue);
}

int dlg_sm90_gemm_choose(const dlg_sm90_gemm_shape_t* s, dlg_sm90_gemm_config_t* out) {
  static const int cluster_shapes[3][2] = {{1, 1}, {1, 2}, {2, 1}}; /* {cm, cn} */
  /* FP8 keeps two accumulator sets (partial + promoted): 2 x BLOCK_N/2 registers must fit
   * the math warpgroups' 232, so BLOCK_N <= 208 (256 spills). BF16 keeps one set. */
  const int max_bn = s->fp8 ? 208 : 256;
  int found = 0;
  dlg_sm90_gemm_config_t best = {0};
  for (int bm = 64; bm <= 128; bm += 64) {
    for (int bn = 16; bn <= max_bn; bn += 16) {
      const int stages = max_stages(s, bm, bn);
      if (stages < 2) continue;
      for (int c = 0; c < 3; ++c) {
        const int cm = cluster_shapes[c][0], cn = cluster_shapes[c][1];
        if (cm * cn > 1) {
          /* Both CTAs of a cluster need a tile of the same cluster tile: the clustered
           * dimension's block count must be even, and there must be 2 SMs. */
          if (s->num_sms < 2) continue;
          if (cm == 2 && cdiv(s->m, bm) % 2) continue;
          if (cn == 2 && cdiv(s->n, bn) % 2) continue;
        }
        int64_t tiles, waves;
        unsigned grid;
        const double cost = estimate(s, bm, bn, cm, cn, stages, &tiles, &waves, &grid);
        if (found && !(cost < best.est_cycles)) continue; /* ties keep the earlier one */
        found = 1;
        best.block_m = bm;
        best.block_n = bn;
        best.stages = stages;
        best.cluster_m = cm;
        best.cluster_n = cn;
        best.group_n = GROUP_N;
        best.threads = (bm / 64 + 1) * 128;
        best.d_swizzle = dlg_sm90_epilogue_swizzle(bn * s->out_bytes);
        best.smem_bytes = dlg_sm90_gemm_smem_bytes(bm, bn, stages, s->sfa_in_smem, s->out_bytes);
        best.grid = grid;
        best.tiles = tiles;
        best.waves = waves;
        best.est_cycles = cost;
      }
    }
  }
  if (found) *out = best;
  return found;
}
