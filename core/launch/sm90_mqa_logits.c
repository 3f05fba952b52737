/* Launcher of kernels/sm90_fp8_mqa_logits.cuh (non-paged MQA logits, SM90). Declines
 * (DLG_ERR_UNSUPPORTED, nothing launched) what the kernel does not cover: other archs, H not
 * dividing 128, D not a multiple of 32 up to 128, operands TMA cannot read (q's head rows
 * must form one [S·H, D] matrix, kv K-major, 16-byte rows and bases). Writes only the valid
 * entries; the op runs dlg_launch_clean_logits after it for clean_logits. `compressed`:
 * logits [S, W], row i's column c is key lo_i + c (dlg_mqa_logits_compressed). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "launch/sm90_mqa_logits.h"
#include "launch/tma.h"
#include "validate.h"

#include <stdlib.h>

/* Math warpgroups of the kernel: 4 (one accumulator set each; the default for H >= 64 since
 * 2026-11-22) or 2 (two sets each, the kernel before; DLG_MQA_MATH_WG=2 for A/B). Plus one
 * producer. H < 64 stays on 2: its 4+ queries per warpgroup do not fit 112 registers. */
static int mqa_math_wgs(int heads) {
  const char* e = getenv("DLG_MQA_MATH_WG");
  return heads < 64 || (e && atoi(e) == 2) ? 2 : 4;
}

int dlg_sm90_mqa_logits_threads(int heads) { return 128 * mqa_math_wgs(heads) + 128; }
#define MQA_KEYS 64
#define MQA_ROW_BYTES 128
#define MQA_SMEM_LIMIT (227 * 1024)
#define MQA_MAX_STAGES 12

/* Byte-for-byte twin of dlg::mqa::Sm90MqaLogitsParams. */
typedef struct sm90_mqa_params {
  const int32_t* ks;
  const int32_t* ke;
  const float* kv_scale;
  const float* weights;
  void* logits;
  int64_t ks_stride, ke_stride, scale_stride;
  int64_t w_stride0, w_stride1;
  int64_t out_stride0, out_stride1;
  int32_t seq_len, seq_len_kv;
  int32_t compressed_width, pad;
} sm90_mqa_params_t;
_Static_assert(sizeof(sm90_mqa_params_t) == 112, "must match dlg::mqa::Sm90MqaLogitsParams");

int dlg_sm90_mqa_heads_ok(int64_t h) { return h >= 16 && h <= 128 && 128 % h == 0; }

/* Shared memory of a config: alignment slack, two Q slots of 256 rows, the KV ring, barriers. */
size_t dlg_sm90_mqa_logits_smem(int stages) {
  return 1024 + 2 * 2 * 128 * MQA_ROW_BYTES + (size_t)stages * MQA_KEYS * MQA_ROW_BYTES +
         (size_t)(2 * stages + 4) * 8;
}

void dlg_sm90_mqa_logits_source(int heads, int head_dim, int stages, int bf16_out, char* name,
                                size_t name_cap, char* source, size_t source_cap) {
  snprintf(name, name_cap, "sm90_fp8_mqa_logits<%d, %d, %d, %d, %d>", heads, head_dim, stages,
           bf16_out, mqa_math_wgs(heads));
  snprintf(source, source_cap,
           "#include \"sm90_fp8_mqa_logits.cuh\"\n"
           "template __global__ void %s(DLG_SM90_MQA_LOGITS_SIGNATURE);\n", name);
}

/* [rows, D] FP8 matrix with 128-byte-wide boxes of box_rows rows, 128B swizzle. */
dlg_status_t dlg_sm90_mqa_map_rows(CUtensorMap* map, const void* base, int64_t rows, int64_t d,
                                   int64_t row_stride, uint32_t box_rows, const char* what) {
  dlg_tma_2d_t v;
  memset(&v, 0, sizeof v);
  v.base = base;
  v.dtype = CU_TENSOR_MAP_DATA_TYPE_UINT8;
  v.inner = (uint64_t)d;
  v.outer = (uint64_t)rows;
  v.row_stride_bytes = (uint64_t)row_stride;
  v.box_inner = MQA_ROW_BYTES;
  v.box_outer = box_rows;
  v.swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  v.l2_promotion = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  return dlg_tma_encode_2d(map, &v, what);
}

static dlg_status_t check_tma_rows(const char* name, const DLTensor* t, int64_t row_stride) {
  if ((uintptr_t)dlg_data(t) % 16)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "%s: the SM90 MQA kernel needs a 16-byte aligned base", name);
  if (row_stride % 16)
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "%s: the SM90 MQA kernel needs a row stride that is a multiple of 16 bytes, "
                    "got %lld", name, (long long)row_stride);
  return DLG_OK;
}

dlg_status_t dlg_launch_sm90_mqa_logits(dlg_context_t* ctx, const DLTensor* q, const DLTensor* kv,
                                        const DLTensor* kv_scale, const DLTensor* weights,
                                        const DLTensor* ks, const DLTensor* ke, int compressed,
                                        DLTensor* logits, void* stream) {
  const int64_t s = q->shape[0], h = q->shape[1], d = q->shape[2], s_kv = kv->shape[0];
  int arch = 0;
  dlg_status_t st = dlg_gpu_arch(ctx, &arch);
  if (st != DLG_OK) return st;
  if (arch != 90)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "mqa_logits: GPU kernel is SM90 only (device is sm_%d)", arch);
  if (!dlg_sm90_mqa_heads_ok(h))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q: SM90 MQA kernel takes H in {16, 32, 64, 128}, got %lld",
                    (long long)h);
  if (d < 32 || d > 128 || d % 32)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q: SM90 MQA kernel takes D in {32, 64, 96, 128}, got %lld",
                    (long long)d);
  if (s > INT32_MAX / 2 || s * h > INT32_MAX / 2 || s_kv > INT32_MAX / 2)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q, kv: SM90 MQA kernel takes S·H and S_kv below 2^30");
  if (s == 0 || s_kv == 0) return DLG_OK; /* nothing valid to write */
  /* q as one [S·H, D] matrix of K-major rows. */
  const int64_t q_row = dlg_stride(q, 1);
  if (dlg_stride(q, 2) != 1 || (s > 1 && dlg_stride(q, 0) != h * q_row))
    return dlg_fail(DLG_ERR_UNSUPPORTED,
                    "q: SM90 MQA kernel needs strides [H·r, r, 1] (heads of a token adjacent), got "
                    "[%lld, %lld, %lld]", (long long)dlg_stride(q, 0), (long long)q_row,
                    (long long)dlg_stride(q, 2));
  DLG_TRY(check_tma_rows("q", q, q_row));
  if (dlg_stride(kv, 1) != 1 && d > 1)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "kv: SM90 MQA kernel needs K-major rows (stride(1) == 1)");
  DLG_TRY(check_tma_rows("kv", kv, dlg_stride(kv, 0)));
  if ((uintptr_t)dlg_data(logits) % (logits->dtype.bits / 8))
    return dlg_fail(DLG_ERR_UNSUPPORTED, "logits: GPU kernels need an element-aligned base address");

  /* An even ring: the 4-warpgroup kernel's parity split needs it (see the kernel). */
  int stages = MQA_MAX_STAGES;
  while (stages > 2 && dlg_sm90_mqa_logits_smem(stages) > MQA_SMEM_LIMIT) stages -= 2;
  const int bf16 = dlg_dtype_is(logits, DLG_DT_BF16);
  char name[96], source[256];
  dlg_sm90_mqa_logits_source((int)h, (int)d, stages, bf16, name, sizeof name, source,
                             sizeof source);
  const size_t smem = dlg_sm90_mqa_logits_smem(stages);
  dlg_kernel_spec_t spec = {source, name, 90, smem};
  dlg_kernel_t kernel;
  if ((st = dlg_jit_get(ctx, &spec, &kernel)) != DLG_OK) return st;

  CUtensorMap map_q, map_kv;
  const uint32_t q_box = (uint32_t)(2 * 128); /* two math warpgroups × 128 (query, head) rows */
  DLG_TRY(dlg_sm90_mqa_map_rows(&map_q, dlg_data(q), s * h, d, q_row, q_box, "q"));
  DLG_TRY(dlg_sm90_mqa_map_rows(&map_kv, dlg_data(kv), s_kv, d, dlg_stride(kv, 0), MQA_KEYS, "kv"));

  sm90_mqa_params_t p;
  memset(&p, 0, sizeof p);
  p.ks = (const int32_t*)dlg_data(ks);
  p.ke = (const int32_t*)dlg_data(ke);
  p.kv_scale = (const float*)dlg_data(kv_scale);
  p.weights = (const float*)dlg_data(weights);
  p.logits = dlg_data(logits);
  p.ks_stride = dlg_stride(ks, 0);
  p.ke_stride = dlg_stride(ke, 0);
  p.scale_stride = dlg_stride(kv_scale, 0);
  p.w_stride0 = dlg_stride(weights, 0);
  p.w_stride1 = dlg_stride(weights, 1);
  p.out_stride0 = dlg_stride(logits, 0);
  p.out_stride1 = dlg_stride(logits, 1);
  p.seq_len = (int32_t)s;
  p.seq_len_kv = (int32_t)s_kv;
  /* Wider than S_kv changes nothing (no row has more keys): clamping keeps it an int32. */
  if (compressed) p.compressed_width = (int32_t)(logits->shape[1] < s_kv ? logits->shape[1] : s_kv);

  int sms = 0;
  DLG_TRY(dlg_gpu_num_sms(ctx, &sms));
  const int64_t block_q = 2 * (128 / h);
  const int64_t q_blocks = dlg_ceil_div64(s, block_q);
  dlg_launch_config_t lc = dlg_launch_config_1d((unsigned)(q_blocks < sms ? q_blocks : sms),
      (unsigned)dlg_sm90_mqa_logits_threads((int)h), 0, smem, dlg_context_get_pdl(ctx), stream);
  if (dlg_print_configs())
    fprintf(stderr,
            "dlgemm: mqa_logits s=%lld s_kv=%lld h=%lld d=%lld -> %s: grid %u, block %u, smem %zu, "
            "%d regs, %d B local, pdl %d\n",
            (long long)s, (long long)s_kv, (long long)h, (long long)d, name, lc.grid[0],
            lc.block[0], smem, kernel.num_regs, kernel.local_bytes, lc.pdl);
  void* args[] = {&p, &map_q, &map_kv};
  st = dlg_jit_launch(ctx, &kernel, &lc, args);
  if (st != DLG_OK) dlg_error_prefix("sm90 mqa_logits");
  return st;
}
