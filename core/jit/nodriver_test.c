/* Without a CUDA driver (forced with DLG_CUDA_DRIVER_PATH=/nonexistent, so this holds on a
 * GPU machine too) every GPU entry point fails with DLG_ERR_NO_DRIVER and a clear message,
 * and without NVRTC compilation fails with DLG_ERR_NO_NVRTC. The driver and NVRTC are
 * opened once per process, so each scenario runs in a forked child. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "dlg_test.h"
#include "gpu.h"
#include "jit/jit_internal.h"
#include "jit/jit_test_env.h"
#include "launch/launch.h"

/* Runs fn in a child; the child's checks decide its exit status. */
static void in_child(void (*fn)(void), const char* what) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dlg_test_failures = 0;
    fn();
    fflush(NULL);
    _exit(dlg_test_failures ? 1 : 0);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  CHECK(ok);
  if (!ok) fprintf(stderr, "  scenario '%s' failed\n", what);
}

static int has(const char* s, const char* part) { return strstr(s, part) != NULL; }

static void no_driver(void) {
  setenv("DLG_CUDA_DRIVER_PATH", "/nonexistent/libcuda.so.1", 1);
  dlg_context_t* ctx = NULL;
  CHECK_OK(dlg_context_create(0, &ctx)); /* creating a GPU context makes no CUDA call */
  void* p = (void*)1;
  CHECK_STATUS(dlg_device_alloc(ctx, 256, &p), DLG_ERR_NO_DRIVER);
  CHECK(has(dlg_last_error(), "libcuda.so.1 not found"));
  CHECK(has(dlg_last_error(), "DLG_CUDA_DRIVER_PATH=/nonexistent/libcuda.so.1"));
  CHECK(p == NULL);
  dlg_device_info_t info;
  CHECK_STATUS(dlg_context_device_info(ctx, &info), DLG_ERR_NO_DRIVER);
  int arch = 0;
  CHECK_STATUS(dlg_gpu_arch(ctx, &arch), DLG_ERR_NO_DRIVER);
  CHECK_STATUS(dlg_gpu_sync(ctx, NULL), DLG_ERR_NO_DRIVER);
  dlg_kernel_spec_t spec = {"extern \"C\" __global__ void k() {}", "k", 90, 0};
  dlg_kernel_t k;
  CHECK_STATUS(dlg_jit_get(ctx, &spec, &k), DLG_ERR_NO_DRIVER);

  /* A dense GEMM on (fake) CUDA tensors passes validation and stops at the driver. */
  int64_t shape_a[2] = {64, 128}, shape_b[2] = {32, 128}, shape_d[2] = {64, 32};
  DLTensor a = {(void*)0x10000, {kDLCUDA, 0}, 2, {kDLBfloat, 16, 1}, shape_a, NULL, 0};
  DLTensor b = {(void*)0x20000, {kDLCUDA, 0}, 2, {kDLBfloat, 16, 1}, shape_b, NULL, 0};
  DLTensor d = {(void*)0x30000, {kDLCUDA, 0}, 2, {kDLFloat, 32, 1}, shape_d, NULL, 0};
  CHECK_STATUS(dlg_gemm(ctx, DLG_RECIPE_BF16, &a, NULL, &b, NULL, NULL, &d, NULL),
               DLG_ERR_NO_DRIVER);
  CHECK_STATUS(dlg_warmup_gemm(ctx, DLG_RECIPE_FP8_1D2D, 128, 256, 512, kDLBfloat, 16),
               DLG_ERR_NO_DRIVER);

  /* Device checks come before the driver: a CPU context cannot take CUDA tensors, and a
   * tensor on another ordinal than the context's is refused. */
  dlg_context_t* cpu = NULL;
  CHECK_OK(dlg_context_create(-1, &cpu));
  CHECK_STATUS(dlg_gpu_enter(cpu, &d), DLG_ERR_DEVICE);
  CHECK(has(dlg_last_error(), "CPU-only context"));
  CHECK_STATUS(dlg_gpu_enter(cpu, NULL), DLG_ERR_DEVICE);
  CHECK_STATUS(dlg_context_device_info(cpu, &info), DLG_ERR_DEVICE);
  d.device.device_id = 1;
  CHECK_STATUS(dlg_gpu_enter(ctx, &d), DLG_ERR_DEVICE);
  CHECK(has(dlg_last_error(), "cuda:1"));

  /* The diagnostic says why, never fails, and keeps the caller's last error. */
  dlg_fail(DLG_ERR_SHAPE, "previous error");
  dlg_runtime_info_t ri;
  dlg_runtime_info(&ri);
  CHECK(!ri.driver_found && ri.device_count == 0 && ri.driver_version == 0);
  CHECK(has(ri.why, "libcuda.so.1 not found"));
  CHECK(ri.nvrtc_found); /* NVRTC is independent of the driver */
  CHECK(strcmp(dlg_last_error(), "previous error") == 0);
  dlg_context_destroy(ctx);
  dlg_context_destroy(cpu);
}

static void no_nvrtc(void) {
  setenv("DLG_NVRTC_PATH", "/nonexistent/libnvrtc.so.13", 1);
  void* cubin = NULL;
  size_t size = 0;
  CHECK_STATUS(dlg_jit_compile_only("extern \"C\" __global__ void k() {}", "k", 90, NULL, &cubin,
                                    &size, NULL),
               DLG_ERR_NO_NVRTC);
  CHECK(has(dlg_last_error(), "NVRTC: libnvrtc.so.13 not found"));
  CHECK(has(dlg_last_error(), "install nvidia-cuda-nvrtc==13.0.* or set DLG_NVRTC_PATH"));
  CHECK(cubin == NULL);
  dlg_jit_key_t key;
  CHECK_STATUS(dlg_jit_cache_key("x", "k", 90, NULL, &key), DLG_ERR_NO_NVRTC);
  dlg_runtime_info_t ri;
  dlg_runtime_info(&ri);
  CHECK(!ri.nvrtc_found && ri.nvrtc_major == 0);
  CHECK(has(ri.why, "libnvrtc.so.13 not found"));
}

/* NVRTC found through the pip-wheel search ($DLG_NVRTC_LIB_DIR), builtins preloaded. */
static void nvrtc_from_wheel_dir(void) {
  unsetenv("DLG_NVRTC_PATH");
  const dlg_nvrtc_api_t* nv;
  CHECK_OK(dlg_nvrtc_open(&nv));
  if (!nv) return;
  CHECK(nv->major == 13);
  CHECK(has(nv->path, "libnvrtc.so.13"));
  void* cubin = NULL;
  size_t size = 0;
  CHECK_OK(dlg_jit_compile_only("extern \"C\" __global__ void k() {}", "k", 100, NULL, &cubin,
                                &size, NULL));
  free(cubin);
}

int main(void) {
  dlg_test_jit_env();
  in_child(no_driver, "no driver");
  in_child(no_nvrtc, "no NVRTC");
  in_child(nvrtc_from_wheel_dir, "NVRTC from the wheel directory");
  return dlg_test_finish("nodriver_test");
}
