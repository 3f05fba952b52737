/* dlg_launch_gemm: the fastest launcher that covers the problem on the context's arch,
 * else the portable kernel. A launcher answers DLG_ERR_UNSUPPORTED (without launching) when
 * the problem is outside what it covers; any other status is final. */
#include <stdio.h>
#include "gpu.h"
#include "jit/jit.h"
#include "launch/launch.h"

dlg_status_t dlg_launch_gemm(dlg_context_t* ctx, const dlg_gemm_problem_t* p, void* stream,
                             int warmup_only) {
  int arch = 0;
  dlg_status_t s = dlg_gpu_arch(ctx, &arch);
  if (s != DLG_OK) return s;
  if (arch == 90) {
    if (p->recipe == DLG_RECIPE_BF16) s = dlg_launch_sm90_bf16_gemm(ctx, p, stream, warmup_only);
    else s = dlg_launch_sm90_fp8_gemm(ctx, p, stream, warmup_only);
    if (s != DLG_ERR_UNSUPPORTED) return s;
    /* Why the fast kernel passed is useful when tuning; the fallback is silent otherwise. */
    if (dlg_print_configs())
      fprintf(stderr, "dlgemm: gemm %s m=%lld n=%lld k=%lld: sm90 kernel declined (%s); using the portable kernel\n",
              dlg_recipe_name(p->recipe), (long long)p->m, (long long)p->n, (long long)p->k,
              dlg_last_error());
  }
  return dlg_launch_generic_gemm(ctx, p, stream, warmup_only);
}
