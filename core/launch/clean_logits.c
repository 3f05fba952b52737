/* Launcher of kernels/portable_clean_logits.cuh: -inf outside each row's valid range, any
 * arch. Everything travels in the parameter struct, so one compiled kernel per arch serves
 * every call. Used by dlg_clean_logits and by the MQA logits ops when clean_logits is set. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"
#include "validate.h"

#define CLEAN_THREADS 256
#define CLEAN_MAX_GRID (1 << 20) /* the kernel loops over rows beyond this */

/* Byte-for-byte twin of struct dlg_clean_logits_params in the kernel. */
typedef struct clean_params {
  void* logits;
  const int32_t* ks;
  const int32_t* ke;
  int64_t rows, width;
  int64_t out_stride0, out_stride1;
  int64_t ks_stride, ke_stride;
  int64_t lens_stride1;
  int32_t bf16, mode, next_n, n_kv;
} clean_params_t;
_Static_assert(sizeof(clean_params_t) == 96, "must match the kernel's params");

static const char k_source[] = "#include \"portable_clean_logits.cuh\"\n";

static dlg_status_t launch(dlg_context_t* ctx, const clean_params_t* q, void* stream) {
  int arch = 0;
  dlg_status_t s = dlg_gpu_arch(ctx, &arch);
  if (s != DLG_OK) return s;
  dlg_kernel_spec_t spec = {k_source, "portable_clean_logits", arch, 0};
  dlg_kernel_t kernel;
  if ((s = dlg_jit_get(ctx, &spec, &kernel)) != DLG_OK) return s;
  if (q->rows == 0 || q->width == 0) return DLG_OK;
  const unsigned grid = (unsigned)(q->rows < CLEAN_MAX_GRID ? q->rows : CLEAN_MAX_GRID);
  dlg_launch_config_t cfg = dlg_launch_config_1d(grid, CLEAN_THREADS, 0, 0,
                                                 dlg_context_get_pdl(ctx) && arch >= 90, stream);
  if (dlg_print_configs())
    fprintf(stderr, "dlgemm: clean_logits rows=%lld width=%lld mode %d -> portable_clean_logits "
                    "sm_%d: grid %u, block %u, %d regs\n",
            (long long)q->rows, (long long)q->width, q->mode, arch, cfg.grid[0], cfg.block[0],
            kernel.num_regs);
  clean_params_t copy = *q;
  void* args[] = {&copy};
  s = dlg_jit_launch(ctx, &kernel, &cfg, args);
  if (s != DLG_OK) dlg_error_prefix("clean_logits");
  return s;
}

/* The kernel's stores are element-aligned and, where rows are contiguous, 16-byte vectors
 * placed from the element address: a base off the element size would fault. */
static dlg_status_t check_logits(const DLTensor* logits) {
  size_t es = logits->dtype.bits / 8;
  if ((uintptr_t)dlg_data(logits) % es)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "logits: GPU kernels need an element-aligned base address");
  return DLG_OK;
}

static void fill_out(const DLTensor* logits, clean_params_t* q) {
  memset(q, 0, sizeof *q);
  q->logits = dlg_data(logits);
  q->rows = logits->shape[0];
  q->width = logits->shape[1];
  q->out_stride0 = dlg_stride(logits, 0);
  q->out_stride1 = dlg_stride(logits, 1);
  q->bf16 = dlg_dtype_is(logits, DLG_DT_BF16);
}

static void fill_ranges(const DLTensor* ks, const DLTensor* ke, clean_params_t* q) {
  q->next_n = 1;
  if (ks && ks->shape[0] > 0) {
    q->ks = (const int32_t*)dlg_data(ks);
    q->ks_stride = dlg_stride(ks, 0);
  }
  if (ke->shape[0] > 0) q->ke = (const int32_t*)dlg_data(ke);
  q->ke_stride = dlg_stride(ke, 0);
}

dlg_status_t dlg_launch_clean_logits(dlg_context_t* ctx, const DLTensor* ks, const DLTensor* ke,
                                     DLTensor* logits, void* stream) {
  DLG_TRY(check_logits(logits));
  clean_params_t q;
  fill_out(logits, &q);
  fill_ranges(ks, ke, &q);
  q.mode = 0;
  return launch(ctx, &q, stream);
}

dlg_status_t dlg_launch_clean_compressed_logits(dlg_context_t* ctx, const DLTensor* ks,
                                                const DLTensor* ke, int64_t n_kv,
                                                DLTensor* logits, void* stream) {
  DLG_TRY(check_logits(logits));
  if (n_kv < 0 || n_kv > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "kv: S_kv = %lld is outside the clean kernel's range",
                    (long long)n_kv);
  clean_params_t q;
  fill_out(logits, &q);
  fill_ranges(ks, ke, &q);
  q.mode = 3;
  q.n_kv = (int32_t)n_kv;
  return launch(ctx, &q, stream);
}

dlg_status_t dlg_launch_clean_paged_logits(dlg_context_t* ctx, const DLTensor* context_lens,
                                           int64_t next_n, DLTensor* logits, void* stream) {
  DLG_TRY(check_logits(logits));
  if (next_n < 1 || next_n > INT32_MAX)
    return dlg_fail(DLG_ERR_UNSUPPORTED, "q: next_n = %lld is outside the kernel's range",
                    (long long)next_n);
  clean_params_t q;
  fill_out(logits, &q);
  q.mode = context_lens->ndim == 2 ? 2 : 1;
  q.next_n = (int32_t)next_n;
  if (context_lens->shape[0] > 0) q.ke = (const int32_t*)dlg_data(context_lens);
  q.ke_stride = dlg_stride(context_lens, 0);
  q.lens_stride1 = context_lens->ndim == 2 ? dlg_stride(context_lens, 1) : 0;
  return launch(ctx, &q, stream);
}
