/* Launchers of the paged MQA logits: kernels/sm90_fp8_paged_mqa_logits.cuh (SM90) and the
 * schedule metadata, kernels/portable_paged_mqa_metadata.cuh (any arch, bit-identical to the
 * CPU reference). The paged kernel declines (DLG_ERR_UNSUPPORTED, nothing launched) other
 * archs, block_kv != 64, next_n·H > 128, D not in {32, 64, 128}, block strides D does not
 * divide, and q layouts whose (b, t, h) rows are not one [B·next_n·H, D] matrix. With
 * clean_logits the kernel writes the -inf entries itself (epilogue 0: portable_clean_logits
 * afterwards, as when there is nothing to launch). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "launch/sm90_mqa_logits.h"
#include "launch/tma.h"
#include "validate.h"

#define PAGED_THREADS 512 /* 3 math warpgroups + the producer */
#define PAGED_KEYS 64
#define PAGED_ROW_BYTES 128
#define PAGED_SMEM_LIMIT (227 * 1024)
/* Ring stages: multiples of the 3 math warpgroups (the kernel's NOTES). */
#define PAGED_STAGES 9
#define PAGED_MAX_STAGES 21
#define PAGED_EVICT_FIRST_BYTES (1024.0 * 1024 * 1024) /* see the kernel's kPagedKvEvictFirst */
#define META_THREADS 1024

/* Byte-for-byte twin of dlg::mqa::Sm90PagedMqaLogitsParams. */
typedef struct sm90_paged_params {
  const int32_t* context_lens;
  const int32_t* block_table;
  const int32_t* schedule_meta;
  const float* weights;
  void* logits;
  int64_t lens_stride0, lens_stride1;
  int64_t bt_stride0, bt_stride1;
  int64_t meta_stride0, meta_stride1;
  int64_t w_stride0, w_stride1;
  int64_t out_stride0, out_stride1;
  int64_t block_rows;
  int32_t batch, next_n, lens_2d, max_blocks, num_blocks, width, clean, producer;
} sm90_paged_params_t;
_Static_assert(sizeof(sm90_paged_params_t) == 160, "must match dlg::mqa::Sm90PagedMqaLogitsParams");

/* Byte-for-byte twin of struct dlg_paged_mqa_metadata_params. */
typedef struct meta_params {
  const int32_t* lens;
  int32_t* meta;
  int64_t lens_stride0, lens_stride1;
  int64_t meta_stride0, meta_stride1;
  int32_t batch, cols, block_kv, num_sms;
} meta_params_t;
_Static_assert(sizeof(meta_params_t) == 64, "must match dlg_paged_mqa_metadata_params");

/* The kernel's epilogue (its kEpilogue; the kernel's NOTES): 1 (default) = the FP32 head sum
 * in registers, one select + compare + store per slot (PagedStores) and -inf written by the
 * kernel itself when cleaning (no second launch); 2 = as 1 with relu + bf16 pack and the head
 * sum as a second wgmma (calc_diff ~3e-6 instead of ~1e-8, measured no faster on the H100:
 * kept opt-in); 0 = the kernel before 2026-11-22 (store_sums, separate clean launch).
 * DLG_PAGED_MQA_EPILOGUE=0|1|2 overrides (A/B benchmarks); 2 needs next_n <= 2. */
static int paged_epilogue(int next_n) {
  const char* env = getenv("DLG_PAGED_MQA_EPILOGUE");
  int e = env && env[0] >= '0' && env[0] <= '2' && !env[1] ? env[0] - '0' : 1;
  return e == 2 && next_n > 2 ? 1 : e;
}

static size_t tile_rows(int d) { return PAGED_KEYS + PAGED_KEYS * 4 / (size_t)d; }

/* Alignment slack, 2 Q slots, the stages, 3 warpgroups x 2 slots of the head-sum B (one
 * 1024-byte atom per 64 Q rows; epilogue 2 only), the barriers. */
static size_t paged_smem(int d, int n, int stages, int epilogue) {
  size_t stage = (tile_rows(d) * PAGED_ROW_BYTES + 1023) / 1024 * 1024;
  size_t q = ((size_t)n * PAGED_ROW_BYTES + 1023) / 1024 * 1024;
  size_t head_b = epilogue == 2 ? (size_t)(n + 63) / 64 * 1024 : 0;
  return 1024 + 2 * q + (size_t)stages * stage + 6 * head_b + (size_t)(2 * stages + 4) * 8;
}

/* The bound over every epilogue (launch.h). */
size_t dlg_sm90_paged_mqa_logits_smem(int d, int n, int stages) {
  return paged_smem(d, n, stages, 2);
}

/* Ring stages: PAGED_STAGES, fewer where shared memory is short; DLG_PAGED_MQA_STAGES = another
 * multiple of 3 up to PAGED_MAX_STAGES overrides (A/B). More is not faster: on the H100 (L2
 * flushed) 18 and 21 stages (smem allows 21 for D 128 with epilogue 1) measured 1-2 % slower
 * than 15 on every bench shape, and 9 (~76 KB in flight per SM) 2-3 % faster than 15 on the
 * short B 256 shapes, within 0.3 % on the others (docs/mqa_logits.md). */
static int paged_stages(int d, int n, int epilogue) {
  int stages = PAGED_STAGES;
  const char* env = getenv("DLG_PAGED_MQA_STAGES");
  if (env) {
    const int want = atoi(env) / 3 * 3;
    if (want >= 3 && want <= PAGED_MAX_STAGES) stages = want;
  }
  while (stages > 3 && paged_smem(d, n, stages, epilogue) > PAGED_SMEM_LIMIT) stages -= 3;
  return stages;
}

void dlg_sm90_paged_mqa_logits_source(int heads, int head_dim, int next_n, int stages,
                                      int bf16_out, int epilogue, char* name, size_t name_cap,
                                      char* source, size_t source_cap) {
  snprintf(name, name_cap, "sm90_fp8_paged_mqa_logits<%d, %d, %d, %d, %d, %d>", heads,
           head_dim, next_n, stages, bf16_out, epilogue);
  snprintf(source, source_cap,
           "#include \"sm90_fp8_paged_mqa_logits.cuh\"\n"
           "template __global__ void %s(DLG_SM90_PAGED_MQA_LOGITS_SIGNATURE);\n", name);
}

dlg_status_t dlg_launch_sm90_paged_mqa_logits(dlg_context_t* ctx, const DLTensor* q,
                                              const DLTensor* kv_cache, const DLTensor* weights,
                                              const DLTensor* context_lens,
                                              const DLTensor* block_table,
                                              const DLTensor* schedule_meta, int clean_logits,
                                              DLTensor* logits, void* stream) {
  const int64_t batch = q->shape[0], next_n = q->shape[1], h = q->shape[2], d = q->shape[3];
  const int64_t num_blocks = kv_cache->shape[0], block_kv = kv_cache->shape[1];
  int arch = 0;
  dlg_status_t st = dlg_gpu_arch(ctx, &arch);
  if (st != DLG_OK) return st;
  if (arch != 90)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "paged_mqa_logits: GPU kernel is SM90 only (device is sm_%d)",
                    arch);
  if (block_kv != PAGED_KEYS)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "kv_cache: SM90 paged kernel takes block_kv = 64, got %lld",
                    (long long)block_kv);
  if (!dlg_sm90_mqa_heads_ok(h) || next_n < 1 || next_n * h > 128)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "q: SM90 paged kernel takes H in {16, 32, 64, 128} with next_n·H <= 128, got "
                    "H = %lld, next_n = %lld", (long long)h, (long long)next_n);
  if (d != 32 && d != 64 && d != 128)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q: SM90 paged kernel takes D in {32, 64, 128}, got %lld",
                    (long long)d);
  /* The cache as a [num_blocks·R, D] matrix of D-byte rows, R = block stride / D. */
  const int64_t block_bytes = block_kv * (d + 4);
  const int64_t block_stride = num_blocks > 1 ? dlg_stride(kv_cache, 0) : block_bytes;
  if (block_stride % d)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "kv_cache: SM90 paged kernel needs a block stride that D = %lld divides, got "
                    "%lld bytes", (long long)d, (long long)block_stride);
  const int64_t block_rows = block_stride / d;
  if (batch * next_n * h > INT32_MAX / 2 || num_blocks * block_rows > INT32_MAX / 2 ||
      logits->shape[1] > INT32_MAX || block_table->shape[1] > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q, kv_cache: SM90 paged kernel takes extents below 2^30");
  if ((uintptr_t)dlg_data(kv_cache) % 16)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "kv_cache: SM90 paged kernel needs a 16-byte aligned base");
  const int64_t q_row = dlg_stride(q, 2);
  if (dlg_stride(q, 3) != 1 || (next_n > 1 && dlg_stride(q, 1) != h * q_row) ||
      (batch > 1 && dlg_stride(q, 0) != next_n * h * q_row))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "q: SM90 paged kernel needs (b, t, h) rows of one [B·next_n·H, D] matrix "
                    "(strides [next_n·H·r, H·r, r, 1])");
  if ((uintptr_t)dlg_data(q) % 16 || q_row % 16)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "q: SM90 paged kernel needs a 16-byte aligned base and row stride");
  if ((uintptr_t)dlg_data(logits) % (logits->dtype.bits / 8))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "logits: GPU kernels need an element-aligned base address");
  const int64_t grid = schedule_meta->shape[0] - 1;
  if (grid > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "schedule_meta: too many rows");
  if (grid == 0 || batch == 0 || num_blocks == 0 || logits->shape[1] == 0)
    return clean_logits ? dlg_launch_clean_paged_logits(ctx, context_lens, next_n, logits, stream)
                        : DLG_OK;

  const int n = (int)(next_n * h);
  const int epilogue = paged_epilogue((int)next_n);
  const int stages = paged_stages((int)d, n, epilogue);
  const int bf16 = dlg_dtype_is(logits, DLG_DT_BF16);
  char name[112], source[288];
  dlg_sm90_paged_mqa_logits_source((int)h, (int)d, (int)next_n, stages, bf16, epilogue, name,
                                   sizeof name, source, sizeof source);
  const size_t smem = paged_smem((int)d, n, stages, epilogue);
  dlg_kernel_spec_t spec = {source, name, 90, smem};
  dlg_kernel_t kernel;
  if ((st = dlg_jit_get(ctx, &spec, &kernel)) != DLG_OK) return st;

  CUtensorMap map_q, map_kv;
  DLG_TRY(dlg_sm90_mqa_map_rows(&map_q, dlg_data(q), batch * next_n * h, d, q_row, (uint32_t)n, "q"));
  DLG_TRY(dlg_sm90_mqa_map_rows(&map_kv, dlg_data(kv_cache), num_blocks * block_rows, d, d,
                                (uint32_t)tile_rows((int)d), "kv_cache"));

  sm90_paged_params_t p;
  memset(&p, 0, sizeof p);
  p.context_lens = (const int32_t*)dlg_data(context_lens);
  p.block_table = (const int32_t*)dlg_data(block_table);
  p.schedule_meta = (const int32_t*)dlg_data(schedule_meta);
  p.weights = (const float*)dlg_data(weights);
  p.logits = dlg_data(logits);
  p.lens_stride0 = dlg_stride(context_lens, 0);
  p.lens_stride1 = context_lens->ndim == 2 ? dlg_stride(context_lens, 1) : 0;
  p.bt_stride0 = dlg_stride(block_table, 0);
  p.bt_stride1 = dlg_stride(block_table, 1);
  p.meta_stride0 = dlg_stride(schedule_meta, 0);
  p.meta_stride1 = dlg_stride(schedule_meta, 1);
  p.w_stride0 = dlg_stride(weights, 0);
  p.w_stride1 = dlg_stride(weights, 1);
  p.out_stride0 = dlg_stride(logits, 0);
  p.out_stride1 = dlg_stride(logits, 1);
  p.block_rows = block_rows;
  p.batch = (int32_t)batch;
  p.next_n = (int32_t)next_n;
  p.lens_2d = context_lens->ndim == 2;
  p.max_blocks = (int32_t)block_table->shape[1];
  p.num_blocks = (int32_t)num_blocks;
  p.width = (int32_t)logits->shape[1];
  /* Epilogue 0 leaves it to portable_clean_logits; DLG_PAGED_MQA_FUSE_CLEAN=0 too (A/B). */
  const char* fuse = getenv("DLG_PAGED_MQA_FUSE_CLEAN");
  p.clean = clean_logits && epilogue != 0 && !(fuse && fuse[0] == '0');
  /* The producer warp reads the block table 32 entries at a time (the kernel's kPagedBtWarp;
   * DLG_PAGED_MQA_BT_WARP=0: one thread, one entry per block, for A/B). KV tiles are loaded
   * evict_first (kPagedKvEvictFirst) when the table covers at most PAGED_EVICT_FIRST_BYTES of
   * cache: a short kernel then keeps the dirty lines earlier kernels left in L2 instead of
   * paying their write-back (H100, L2 flushed by a memset: B 256 x ctx 8192 2-3 % faster); on
   * the long streams it measured 1-2 % slower. DLG_PAGED_MQA_KV_EVICT_FIRST=0|1 forces it. */
  const char* bt_warp = getenv("DLG_PAGED_MQA_BT_WARP");
  const char* evict_first = getenv("DLG_PAGED_MQA_KV_EVICT_FIRST");
  const double table_bytes = (double)batch * (double)block_table->shape[1] * (double)block_bytes;
  const int use_evict_first = evict_first && (evict_first[0] == '0' || evict_first[0] == '1')
                                  ? evict_first[0] == '1'
                                  : table_bytes <= PAGED_EVICT_FIRST_BYTES;
  p.producer = (bt_warp && bt_warp[0] == '0' ? 0 : 1) | (use_evict_first ? 2 : 0);

  dlg_launch_config_t lc = dlg_launch_config_1d((unsigned)grid, PAGED_THREADS, 0, smem,
      dlg_context_get_pdl(ctx), stream);
  if (dlg_print_configs())
    fprintf(stderr,
            "dlgemm: paged_mqa_logits b=%lld next_n=%lld h=%lld d=%lld blocks=%lld -> %s: grid "
            "%u, block %u, smem %zu, %d regs, %d B local, pdl %d, producer %d\n",
            (long long)batch, (long long)next_n, (long long)h, (long long)d,
            (long long)num_blocks, name, lc.grid[0], lc.block[0], smem, kernel.num_regs,
            kernel.local_bytes, lc.pdl, p.producer);
  void* args[] = {&p, &map_q, &map_kv};
  st = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (st != DLG_OK) {
    dlg_error_prefix("sm90 paged_mqa_logits");
    return st;
  }
  return clean_logits && !p.clean
             ? dlg_launch_clean_paged_logits(ctx, context_lens, next_n, logits, stream)
             : DLG_OK;
}

static const char k_meta_source[] = "#include \"portable_paged_mqa_metadata.cuh\"\n";

dlg_status_t dlg_launch_paged_mqa_metadata(dlg_context_t* ctx, const DLTensor* context_lens,
                                           int block_kv, int num_sms, DLTensor* schedule_meta,
                                           void* stream) {
  const int64_t batch = context_lens->shape[0];
  if (batch > INT32_MAX - 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "context_lens: batch %lld too large", (long long)batch);
  int arch = 0;
  dlg_status_t st = dlg_gpu_arch(ctx, &arch);
  if (st != DLG_OK) return st;
  dlg_kernel_spec_t spec = {k_meta_source, "portable_paged_mqa_metadata", arch, 0};
  dlg_kernel_t kernel;
  if ((st = dlg_jit_get(ctx, &spec, &kernel)) != DLG_OK) return st;
  meta_params_t p;
  memset(&p, 0, sizeof p);
  p.lens = batch > 0 ? (const int32_t*)dlg_data(context_lens) : NULL;
  p.meta = (int32_t*)dlg_data(schedule_meta);
  p.lens_stride0 = dlg_stride(context_lens, 0);
  p.lens_stride1 = context_lens->ndim == 2 ? dlg_stride(context_lens, 1) : 0;
  p.meta_stride0 = dlg_stride(schedule_meta, 0);
  p.meta_stride1 = dlg_stride(schedule_meta, 1);
  p.batch = (int32_t)batch;
  p.cols = context_lens->ndim == 2 ? (int32_t)context_lens->shape[1] : 1;
  p.block_kv = block_kv;
  p.num_sms = num_sms;
  dlg_launch_config_t lc = dlg_launch_config_1d(1, META_THREADS, 0, 0,
      dlg_context_get_pdl(ctx) && arch >= 90, stream);
  void* args[] = {&p};
  st = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (st != DLG_OK) dlg_error_prefix("paged_mqa_logits_metadata");
  return st;
}
