/* The README's C example: a BF16 GEMM D = A·Bᵀ on CPU tensors through the public ABI.
 * Build: cc gemm.c -I<prefix>/include -ldlgemm (or `pkg-config --cflags --libs dlgemm`). */
#include <dlgemm.h>
#include <stdio.h>

int main(void) {
  enum { M = 4, N = 3, K = 8 };
  uint16_t a[M * K], b[N * K], d[M * N]; /* bf16 bits */
  for (int i = 0; i < M * K; ++i) a[i] = 0x3F80; /* 1.0 */
  for (int i = 0; i < N * K; ++i) b[i] = 0x4000; /* 2.0 */

  int64_t a_shape[2] = {M, K}, b_shape[2] = {N, K}, d_shape[2] = {M, N};
  DLTensor ta = {a, {kDLCPU, 0}, 2, {kDLBfloat, 16, 1}, a_shape, NULL, 0};
  DLTensor tb = {b, {kDLCPU, 0}, 2, {kDLBfloat, 16, 1}, b_shape, NULL, 0};
  DLTensor td = {d, {kDLCPU, 0}, 2, {kDLBfloat, 16, 1}, d_shape, NULL, 0};

  dlg_context_t* ctx = NULL;
  if (dlg_context_create(-1, &ctx) != DLG_OK) return 1; /* -1: a CPU-only context */
  dlg_status_t st = dlg_gemm(ctx, DLG_RECIPE_BF16, &ta, NULL, &tb, NULL, NULL, &td, NULL);
  if (st != DLG_OK) {
    fprintf(stderr, "dlg_gemm: %s: %s\n", dlg_status_string(st), dlg_last_error());
    dlg_context_destroy(ctx);
    return 1;
  }
  /* Every element is K * 1.0 * 2.0 = 16.0, bf16 0x4180. */
  int ok = 1;
  for (int i = 0; i < M * N; ++i) ok &= d[i] == 0x4180;
  printf("dlgemm %s: D[0,0] bits 0x%04x -> %s\n", dlg_version_string(), d[0], ok ? "ok" : "WRONG");

  /* Bad input gets a status and a message naming the argument, never a crash. */
  tb.dtype.code = kDLFloat8_e4m3fn;
  tb.dtype.bits = 8;
  st = dlg_gemm(ctx, DLG_RECIPE_BF16, &ta, NULL, &tb, NULL, NULL, &td, NULL);
  printf("bad dtype -> %s: %s\n", dlg_status_name(st), dlg_last_error());
  dlg_context_destroy(ctx);
  return ok && st == DLG_ERR_DTYPE ? 0 : 1;
}
