package io.dlgemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * The binding against GPU memory: device memory through the C ABI (dlg_device_alloc,
 * dlg_tensor_copy), every op family run on device tensors and compared with the CPU path on the
 * same seeded inputs. Skipped (assumptions) where no CUDA device is visible; an op without a
 * kernel for the device aborts its test ("no kernel"), it never passes silently.
 */
@EnabledIf("hasGpu")
class GpuTest {
  private static Context gpu;
  private static Context cpu;

  static boolean hasGpu() {
    RuntimeInfo ri = DlGemm.runtimeInfo();
    return ri.driverFound() && ri.deviceCount() > 0;
  }

  @BeforeAll
  static void open() {
    RuntimeInfo ri = DlGemm.runtimeInfo();
    assumeTrue(ri.driverFound() && ri.deviceCount() > 0, "no CUDA device: " + ri.why());
    gpu = new Context(0);
    cpu = Context.cpu();
  }

  @AfterAll
  static void close() {
    if (gpu != null) {
      gpu.close();
    }
    if (cpu != null) {
      cpu.close();
    }
  }

  /** A host tensor's mirror in device memory. */
  private static final class OnDevice implements AutoCloseable {
    final DeviceMemory mem;
    final Tensor dev;

    OnDevice(Tensor host) {
      mem = gpu.deviceAlloc(Math.max(host.spanBytes(), 1));
      dev = Tensor.ofDevice(mem, host.dtype(), host.shape(),
          host.isCompact() ? null : host.strides());
      gpu.copy(host, dev);
    }

    @Override
    public void close() {
      dev.close();
      mem.close();
    }
  }

  @FunctionalInterface
  private interface Op {
    void run(Context ctx, Tensor[] t);
  }

  private static Tensor filled(DType dtype, long[] shape, long[] strides, long seed, double lo,
      double hi) {
    Tensor t = Tensor.allocate(dtype, shape, strides);
    Testing.fill(t, seed, Fill.UNIFORM, lo, hi);
    return t;
  }

  /**
   * Runs op on host tensors with the CPU context and on device copies of an identical set with
   * the GPU context, then compares the outputs (calc_diff &lt;= tol).
   */
  private static void sameOnBoth(Supplier<Tensor[]> make, int[] outputs, double tol, Op op) {
    Tensor[] ref = make.get();
    Tensor[] res = make.get();
    List<OnDevice> devs = new ArrayList<>();
    try {
      op.run(cpu, ref);
      Tensor[] args = new Tensor[res.length];
      for (int i = 0; i < res.length; i++) {
        if (res[i] != null) {
          OnDevice d = new OnDevice(res[i]);
          devs.add(d);
          args[i] = d.dev;
        }
      }
      try {
        op.run(gpu, args);
      } catch (DlGemmException e) {
        if (e.status() == Status.UNSUPPORTED) {
          abort("no kernel: " + e.getMessage());
        }
        throw e;
      }
      gpu.synchronize();
      for (int i : outputs) {
        gpu.copy(args[i], res[i]);
        double diff = Testing.calcDiff(res[i], ref[i]);
        assertTrue(diff <= tol, "output " + i + ": calc_diff " + diff + " > " + tol);
      }
    } finally {
      devs.forEach(OnDevice::close);
      for (Tensor t : ref) {
        if (t != null) {
          t.close();
        }
      }
      for (Tensor t : res) {
        if (t != null) {
          t.close();
        }
      }
    }
  }

  @Test
  void gpuDeviceMemory() {
    DeviceInfo info = gpu.deviceInfo();
    assertTrue(info.numSms() > 0);
    assertFalse(info.name().isEmpty());
    assertTrue(info.smMajor() >= 7, "sm_" + info.smMajor() + info.smMinor());
    ByteBuffer src = ByteBuffer.allocateDirect(4096).order(ByteOrder.nativeOrder());
    for (int i = 0; i < 1024; i++) {
      src.putInt(i * 4, i * 7 + 1);
    }
    ByteBuffer back = ByteBuffer.allocateDirect(4096).order(ByteOrder.nativeOrder());
    try (DeviceMemory mem = gpu.deviceAlloc(4096);
        Tensor hs = Tensor.wrap(src, DType.INT32, new long[] {1024}, null);
        Tensor hb = Tensor.wrap(back, DType.INT32, new long[] {1024}, null);
        Tensor dev = Tensor.ofDevice(mem, DType.INT32, new long[] {1024}, null)) {
      gpu.memcpy(mem.address(), hs.address(), 4096);
      gpu.copy(dev, hb);
      assertEquals(0, Testing.countMismatch(hs, hb));
      gpu.poison(dev, 0x5A);
      gpu.copy(dev, hb);
      for (int i = 0; i < 1024; i++) {
        assertEquals(0x5A5A5A5A, back.getInt(i * 4));
      }
      try (Tensor big = Tensor.ofDevice(mem, DType.INT32, new long[] {2048}, null)) {
        throw new AssertionError("a view past the block must be refused: " + big);
      } catch (DlGemmException e) {
        assertEquals(Status.SHAPE, e.status());
      }
    }
  }

  @Test
  void gpuGemmFp81d2d() {
    int m = 256;
    int n = 512;
    int k = 1024;
    int kb = k / 128;
    long aligned = DlGemm.tmaAlignedSize(m, 4);
    sameOnBoth(() -> new Tensor[] {
        filled(DType.FLOAT8_E4M3FN, new long[] {m, k}, null, 1, -2, 2),
        filled(DType.FLOAT32, new long[] {m, kb}, new long[] {1, aligned}, 2, 0.5, 2),
        filled(DType.FLOAT8_E4M3FN, new long[] {n, k}, null, 3, -2, 2),
        filled(DType.FLOAT32, new long[] {n / 128, kb}, null, 4, 0.5, 2),
        Tensor.allocate(DType.BFLOAT16, m, n)}, new int[] {4}, 1e-3,
        (ctx, t) -> ctx.gemm(Recipe.FP8_1D2D, t[0], t[1], t[2], t[3], null, t[4]));
  }

  @Test
  void gpuGemmBf16() {
    int m = 128;
    int n = 256;
    int k = 384;
    sameOnBoth(() -> new Tensor[] {
        filled(DType.BFLOAT16, new long[] {m, k}, null, 5, -1, 1),
        filled(DType.BFLOAT16, new long[] {n, k}, null, 6, -1, 1),
        filled(DType.FLOAT32, new long[] {m, n}, null, 7, -1, 1),
        Tensor.allocate(DType.FLOAT32, m, n)}, new int[] {3}, 1e-5,
        (ctx, t) -> ctx.gemm(Recipe.BF16, t[0], null, t[1], null, t[2], t[3]));
  }

  @Test
  void gpuMGroupedMasked() {
    int g = 4;
    int maxM = 128;
    int n = 256;
    int k = 512;
    long aligned = DlGemm.tmaAlignedSize(maxM, 4);
    sameOnBoth(() -> new Tensor[] {
        filled(DType.FLOAT8_E4M3FN, new long[] {g, maxM, k}, null, 8, -2, 2),
        filled(DType.FLOAT32, new long[] {g, maxM, k / 128},
            new long[] {aligned * (k / 128), 1, aligned}, 9, 0.5, 2),
        filled(DType.FLOAT8_E4M3FN, new long[] {g, n, k}, null, 10, -2, 2),
        filled(DType.FLOAT32, new long[] {g, n / 128, k / 128}, null, 11, 0.5, 2),
        Tensor.of(new int[] {0, 1, 77, 128}, g),
        Tensor.allocate(DType.BFLOAT16, g, maxM, n)}, new int[] {5}, 1e-3,
        (ctx, t) -> ctx.mGroupedGemmMasked(Recipe.FP8_1D2D, t[0], t[1], t[2], t[3], t[4], 64,
            t[5]));
  }

  @Test
  void gpuMqaLogits() {
    int s = 64;
    int h = 32;
    int dim = 128;
    int skv = 256;
    sameOnBoth(() -> new Tensor[] {
        filled(DType.FLOAT8_E4M3FN, new long[] {s, h, dim}, null, 12, -1, 1),
        filled(DType.FLOAT8_E4M3FN, new long[] {skv, dim}, null, 13, -1, 1),
        filled(DType.FLOAT32, new long[] {skv}, null, 14, 0.5, 1.5),
        filled(DType.FLOAT32, new long[] {s, h}, null, 15, -1, 1),
        Tensor.allocate(DType.INT32, s),
        Tensor.of(fullInts(s, skv), s),
        Tensor.allocate(DType.FLOAT32, s, skv)}, new int[] {6}, 1e-3,
        (ctx, t) -> ctx.mqaLogits(t[0], t[1], t[2], t[3], t[4], t[5], true, t[6]));
  }

  private static int[] fullInts(int n, int v) {
    int[] x = new int[n];
    Arrays.fill(x, v);
    return x;
  }

  @Test
  void gpuCastPerToken() {
    int m = 256;
    int k = 512;
    long aligned = DlGemm.tmaAlignedSize(m, 4);
    sameOnBoth(() -> new Tensor[] {
        filled(DType.BFLOAT16, new long[] {m, k}, null, 16, -3, 3),
        Tensor.allocate(DType.FLOAT8_E4M3FN, m, k),
        Tensor.allocate(DType.FLOAT32, new long[] {m, k / 128}, new long[] {1, aligned})},
        new int[] {1, 2}, 1e-5, (ctx, t) -> ctx.castFp8PerToken(t[0], false, t[1], t[2]));
  }

  @Test
  void gpuConcurrency() throws Exception {
    int m = 128;
    int n = 256;
    int k = 256;
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      done.add(pool.submit(() -> {
        for (int it = 0; it < 3; it++) {
          sameOnBoth(() -> new Tensor[] {
              filled(DType.BFLOAT16, new long[] {m, k}, null, 17, -1, 1),
              filled(DType.BFLOAT16, new long[] {n, k}, null, 18, -1, 1),
              Tensor.allocate(DType.BFLOAT16, m, n)}, new int[] {2}, 1e-5,
              (ctx, t) -> ctx.gemm(Recipe.BF16, t[0], null, t[1], null, null, t[2]));
        }
        return null;
      }));
    }
    try {
      for (Future<?> f : done) {
        f.get(300, TimeUnit.SECONDS);
      }
    } catch (ExecutionException e) {
      // A worker's assertion or "no kernel" abort is this test's.
      Throwable cause = e.getCause();
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw (Exception) cause;
    } finally {
      pool.shutdown();
    }
    assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
  }
}
