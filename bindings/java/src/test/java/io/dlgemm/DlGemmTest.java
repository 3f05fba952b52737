package io.dlgemm;

import static io.dlgemm.Ref.assertClose;
import static io.dlgemm.Ref.ceilDiv;
import static io.dlgemm.Ref.logical;
import static io.dlgemm.Ref.matmulNT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java binding on CPU tensors against the Java-side reference math of {@link Ref}. Test
 * names are shared with the other language bindings (Python, Rust, Go), which mirror them.
 */
class DlGemmTest {
  private static Context ctx;
  private Random rng;

  @BeforeAll
  static void openContext() {
    ctx = Context.cpu();
  }

  @AfterAll
  static void closeContext() {
    ctx.close();
  }

  @BeforeEach
  void seed(TestInfo info) {
    rng = new Random(info.getDisplayName().hashCode());
  }

  private static DlGemmException expectError(Status status, String prefix, Executable call) {
    DlGemmException e = assertThrows(DlGemmException.class, call);
    assertEquals(status, e.status(), e.getMessage());
    assertTrue(e.getMessage().startsWith(prefix), "message '" + e.getMessage()
        + "' should start with '" + prefix + "'");
    return e;
  }

  private static float[] full(int n, float v) {
    float[] x = new float[n];
    Arrays.fill(x, v);
    return x;
  }

  private static short[] fullBf16(int n, float v) {
    short[] x = new short[n];
    Arrays.fill(x, Ref.floatToBf16(v));
    return x;
  }

  private static Tensor fp8(Ref.Quant q) {
    return Tensor.ofFp8(q.q, q.m, q.k);
  }

  private static Tensor scales(Ref.Quant q) {
    return Tensor.of(q.sf, q.sfRows(), q.sfCols());
  }

  /** Columns [from, from + len) of a row-major [rows, cols] matrix. */
  private static double[] columns(double[] x, int rows, int cols, int from, int len) {
    double[] out = new double[rows * len];
    for (int i = 0; i < rows; i++) {
      System.arraycopy(x, i * cols + from, out, i * len, len);
    }
    return out;
  }

  private static double[] plus(double[] x, double[] y) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] + y[i];
    }
    return out;
  }

  // ---- library facts -------------------------------------------------------------------

  @Test
  void testVersion() {
    assertEquals("0.1.0", DlGemm.versionString());
    assertEquals(DlGemm.BINDING_VERSION, DlGemm.versionString());
    String[] parts = DlGemm.versionString().split("\\.");
    int number = Integer.parseInt(parts[0]) * 10000 + Integer.parseInt(parts[1]) * 100
        + Integer.parseInt(parts[2]);
    assertEquals(number, DlGemm.version());
  }

  @Test
  void testStatusStrings() {
    assertEquals("ok", DlGemm.statusString(0));
    assertEquals("DLG_OK", DlGemm.statusName(0));
    assertEquals("unsupported dtype", DlGemm.statusString(Status.DTYPE.code()));
    assertEquals("DLG_ERR_DTYPE", Status.DTYPE.cName());
    assertEquals("unknown status", DlGemm.statusString(999));
    for (int code = 1; code <= 13; code++) {
      Status s = Status.fromCode(code);
      assertNotEquals(Status.UNKNOWN, s);
      assertEquals(code, s.code());
      assertEquals(DlGemm.statusName(code), s.cName());
      assertEquals(s, Status.fromCName(s.cName()));
    }
    assertEquals(Status.UNKNOWN, Status.fromCode(999));
    assertEquals(Status.OK, Status.fromCName("ok"));
    // A failed call: kind, message naming the argument, the thread's last_error.
    try (Tensor a = Tensor.allocate(DType.FLOAT32, 4, 8);
        Tensor b = Tensor.allocate(DType.BFLOAT16, 4, 8);
        Tensor d = Tensor.allocate(DType.BFLOAT16, 4, 4)) {
      DlGemmException e = expectError(Status.DTYPE, "a: ",
          () -> ctx.gemm(Recipe.BF16, a, null, b, null, null, d));
      assertEquals(Status.DTYPE.code(), e.code());
      assertEquals(DlGemm.lastError(), e.getMessage());
    }
    DlGemm.clearError();
    assertEquals("", DlGemm.lastError());
    assertEquals("float8_e4m3fn", DlGemm.dtypeName(10, 8));
    assertEquals("float8_e4m3fn", DType.FLOAT8_E4M3FN.cName());
    for (DType t : DType.values()) {
      assertEquals(t, DType.fromName(t.cName()));
    }
    assertFalse(Recipe.BF16.cName().isEmpty());
    assertSame(Recipe.FP8_1D1D, Recipe.of(2));
    assertSame(Recipe.FP8_PER_TENSOR, Recipe.fromName("fp8_per_tensor"));
    assertEquals(99, Recipe.of(99).value());
    assertSame(GroupLayout.OFFSETS, GroupLayout.fromName("OFFSETS"));
  }

  @Test
  void testContextKnobs(@TempDir Path tmp) {
    Context c = new Context(-1);
    try (c) {
      assertEquals(-1, c.device());
      assertFalse(c.isClosed());
      assertEquals(0, c.getMaxSms());
      c.setMaxSms(8);
      assertEquals(8, c.getMaxSms());
      DlGemmException e = assertThrows(DlGemmException.class, () -> c.setMaxSms(-1));
      assertEquals(Status.INVALID_ARGUMENT, e.status());
      assertTrue(e.getMessage().contains("max_sms"), e.getMessage());
      assertEquals(8, c.getMaxSms());
      assertFalse(c.isPdl());
      c.setPdl(true);
      assertTrue(c.isPdl());
      String defaultDir = c.getCacheDir();
      assertFalse(defaultDir.isEmpty());
      c.setCacheDir(tmp.toString());
      assertEquals(tmp.toString(), c.getCacheDir());
      c.setCacheDir(null);
      assertEquals(defaultDir, c.getCacheDir());
      c.setJitOptions("-lineinfo");
      assertEquals("-lineinfo", c.getJitOptions());
      c.setJitOptions(null);
      assertEquals(null, c.getJitOptions());
      assertTrue(c.toString().contains("cpu"));
      RuntimeInfo info = DlGemm.runtimeInfo();
      assertTrue(info.driverFound() || !info.why().isEmpty());
      if (!info.driverFound()) {
        assertThrows(DlGemmException.class, c::deviceInfo);
      }
      c.warmupGemm(Recipe.BF16, 128, 128, 128, DType.BFLOAT16); // a no-op on the CPU
    }
    assertTrue(c.isClosed());
    assertTrue(c.toString().contains("closed"));
    expectError(Status.INVALID_ARGUMENT, "context: is closed", c::getMaxSms);
    c.close(); // idempotent
    expectError(Status.INVALID_ARGUMENT, "device_ordinal", () -> new Context(-2));
    assertEquals(128, DlGemm.mkAlignmentForContiguousLayout());
    assertEquals(8, DlGemm.tmaAlignedSize(5, 4));
    assertTrue(DlGemm.mqaLogitsRowStride(100) >= 100);
    assertEquals(133, DlGemm.pagedMqaLogitsMetadataRows(132));
    assertEquals(448f, DlGemm.FP8_E4M3_MAX);
  }

  // ---- dense GEMM ----------------------------------------------------------------------

  @Test
  void testGemmBf16() {
    int m = 33;
    int n = 70;
    int k = 200;
    short[] ab = Ref.bf16(Ref.randn(rng, m * k, 1));
    short[] bb = Ref.bf16(Ref.randn(rng, n * k, 1));
    double[] ref = matmulNT(Ref.fromBf16(ab), Ref.fromBf16(bb), m, n, k);
    float[] c = Ref.randn(rng, m * n, 1);
    try (Tensor a = Tensor.ofBf16(ab, m, k); Tensor b = Tensor.ofBf16(bb, n, k);
        Tensor d = Tensor.allocate(DType.BFLOAT16, m, n);
        Tensor ct = Tensor.of(c, m, n); Tensor d32 = Tensor.allocate(DType.FLOAT32, m, n);
        Tensor acc = Tensor.of(c, m, n)) {
      ctx.gemm(Recipe.BF16, a, null, b, null, null, d);
      assertClose(logical(d), ref);
      // f32 output with C, and C aliasing D (in-place accumulation).
      double[] withC = plus(ref, Ref.toDouble(c));
      ctx.gemm(Recipe.BF16, a, null, b, null, ct, d32);
      assertClose(logical(d32), withC, 1e-5, 1e-4);
      ctx.gemm(Recipe.BF16, a, null, b, null, acc, acc);
      assertClose(logical(acc), withC, 1e-5, 1e-4);
    }
    // K = 0 writes C, or zeros.
    try (Tensor a0 = Tensor.allocate(DType.BFLOAT16, m, 0);
        Tensor b0 = Tensor.allocate(DType.BFLOAT16, n, 0);
        Tensor d0 = Tensor.of(full(m * n, 7f), m, n)) {
      ctx.gemm(Recipe.BF16, a0, null, b0, null, null, d0);
      for (double v : logical(d0)) {
        assertEquals(0.0, v);
      }
    }
  }

  @Test
  void testGemmFp8PerTensor() {
    int m = 40;
    int n = 24;
    int k = 160;
    float[] x = Ref.randn(rng, m * k, 1);
    float[] w = Ref.randn(rng, n * k, 1);
    float sa = amax(x) / Ref.FP8_MAX;
    float sb = amax(w) / Ref.FP8_MAX;
    byte[] qa = Ref.fp8(divide(x, sa));
    byte[] qb = Ref.fp8(divide(w, sb));
    double[] raw = matmulNT(Ref.fromFp8(qa), Ref.fromFp8(qb), m, n, k);
    double[] ref = raw.clone();
    for (int i = 0; i < ref.length; i++) {
      ref[i] *= (double) sa * sb;
    }
    try (Tensor a = Tensor.ofFp8(qa, m, k); Tensor b = Tensor.ofFp8(qb, n, k);
        Tensor sfa = Tensor.of(new float[] {sa}); Tensor sfb = Tensor.of(new float[] {sb});
        Tensor d = Tensor.allocate(DType.BFLOAT16, m, n);
        Tensor d1 = Tensor.allocate(DType.FLOAT32, m, n);
        Tensor sfa11 = Tensor.of(new float[] {sa}, 1, 1);
        Tensor sfb1 = Tensor.of(new float[] {sb}, 1);
        Tensor d2 = Tensor.allocate(DType.BFLOAT16, m, n)) {
      assertEquals(0, sfa.ndim());
      ctx.gemm(Recipe.FP8_PER_TENSOR, a, sfa, b, sfb, null, d);
      assertClose(logical(d), ref);
      // Null scales mean 1; 1-element (not 0-d) scales are scalars too.
      ctx.gemm(Recipe.FP8_PER_TENSOR, a, null, b, null, null, d1);
      assertClose(logical(d1), raw, 1e-5, 1e-3);
      ctx.gemm(Recipe.of(3), a, sfa11, b, sfb1, null, d2);
      assertClose(logical(d2), ref);
    }
  }

  private static float amax(float[] x) {
    float m = 0;
    for (float v : x) {
      m = Math.max(m, Math.abs(v));
    }
    return m;
  }

  private static float[] divide(float[] x, float s) {
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] / s;
    }
    return out;
  }

  @Test
  void testGemmFp81d2d() {
    int m = 50;
    int n = 200;
    int k = 300; // ragged tails in every dimension
    float[] x = Ref.randn(rng, m * k, 1);
    float[] w = Ref.randn(rng, n * k, 1);
    Ref.Quant qa = Ref.quantRows(x, m, k, false);
    Ref.Quant qb = Ref.quantBlocks(w, n, k, false);
    assertEquals(ceilDiv(k, 128), qa.sfCols());
    double[] ref = matmulNT(qa.dequant(), qb.dequant(), m, n, k);
    assertTrue(Ref.calcDiff(ref, matmulNT(Ref.toDouble(x), Ref.toDouble(w), m, n, k)) < 1e-3);
    long aligned = DlGemm.tmaAlignedSize(m, 4);
    try (Tensor a = fp8(qa); Tensor sfa = scales(qa); Tensor b = fp8(qb);
        Tensor sfb = scales(qb); Tensor d = Tensor.allocate(DType.BFLOAT16, m, n);
        Tensor sfaT = Tensor.allocate(DType.FLOAT32, new long[] {m, qa.sfCols()},
            new long[] {1, aligned});
        Tensor d2 = Tensor.allocate(DType.BFLOAT16, m, n)) {
      ctx.gemm(Recipe.FP8_1D2D, a, sfa, b, sfb, null, d);
      assertClose(logical(d), ref);
      // Scales in the TMA-aligned MN-major layout (what the GPU reads) give the same bits.
      ctx.transformSf(sfa, sfaT);
      ctx.gemm(Recipe.FP8_1D2D, a, sfaT, b, sfb, null, d2);
      assertArrayEquals(d.toShortArray(), d2.toShortArray());
    }
  }

  @Test
  void testGemmFp81d1d() {
    int m = 64;
    int n = 48;
    int k = 384;
    Ref.Quant qa = Ref.quantRows(Ref.randn(rng, m * k, 1), m, k, true);
    Ref.Quant qb = Ref.quantRows(Ref.randn(rng, n * k, 1), n, k, true);
    double[] ref = matmulNT(qa.dequant(), qb.dequant(), m, n, k);
    try (Tensor a = fp8(qa); Tensor sfa = scales(qa); Tensor b = fp8(qb);
        Tensor sfb = scales(qb); Tensor d = Tensor.allocate(DType.FLOAT32, m, n);
        Tensor pa = Tensor.allocate(DType.INT32, m, 1);
        Tensor pb = Tensor.allocate(DType.INT32, n, 1);
        Tensor d2 = Tensor.allocate(DType.FLOAT32, m, n);
        Tensor d3 = Tensor.allocate(DType.BFLOAT16, m, n)) {
      ctx.gemm(Recipe.FP8_1D1D, a, sfa, b, sfb, null, d);
      assertClose(logical(d), ref, 1e-5, 1e-3);
      // Packed UE8M0 scales (four exponents per int32) give the same numbers.
      ctx.packUe8m0(sfa, pa);
      ctx.packUe8m0(sfb, pb);
      ctx.gemm(Recipe.FP8_1D1D, a, pa, b, pb, null, d2);
      assertArrayEquals(d.toFloatArray(), d2.toFloatArray());
      ctx.gemm(Recipe.FP8_1D1D, a, sfa, b, sfb, null, d3);
      assertClose(logical(d3), ref);
    }
  }

  /** The storage of the transpose: [cols, rows] row-major of a [rows, cols] matrix. */
  private static short[] transposed(short[] x, int rows, int cols) {
    short[] out = new short[x.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[j * rows + i] = x[i * cols + j];
      }
    }
    return out;
  }

  private static byte[] transposed(byte[] x, int rows, int cols) {
    byte[] out = new byte[x.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[j * rows + i] = x[i * cols + j];
      }
    }
    return out;
  }

  @Test
  void testGemmLayouts() {
    int m = 24;
    int n = 40;
    int k = 136;
    float[] x = Ref.randn(rng, m * k, 1);
    float[] w = Ref.randn(rng, n * k, 1);
    short[] ab = Ref.bf16(x);
    short[] bb = Ref.bf16(w);
    double[] ref = matmulNT(Ref.fromBf16(ab), Ref.fromBf16(bb), m, n, k);
    List<Tensor> as = List.of(Tensor.ofBf16(ab, m, k), Tensor.ofBf16(transposed(ab, m, k),
        new long[] {m, k}, new long[] {1, m}));
    List<Tensor> bs = List.of(Tensor.ofBf16(bb, n, k), Tensor.ofBf16(transposed(bb, n, k),
        new long[] {n, k}, new long[] {1, n}));
    for (Tensor a : as) {
      for (Tensor b : bs) {
        try (Tensor d = Tensor.allocate(DType.BFLOAT16, m, n)) {
          ctx.gemm(Recipe.BF16, a, null, b, null, null, d);
          assertClose(logical(d), ref);
        }
      }
    }
    as.forEach(Tensor::close);
    bs.forEach(Tensor::close);
    // FP8 operands M-/N-major (the CPU reference takes every layout), strided D.
    Ref.Quant qa = Ref.quantRows(x, m, k, false);
    Ref.Quant qb = Ref.quantBlocks(w, n, k, false);
    double[] ref8 = matmulNT(qa.dequant(), qb.dequant(), m, n, k);
    try (Tensor a = Tensor.ofBytes(DType.FLOAT8_E4M3FN, transposed(qa.q, m, k),
            new long[] {m, k}, new long[] {1, m});
        Tensor b = Tensor.ofBytes(DType.FLOAT8_E4M3FN, transposed(qb.q, n, k),
            new long[] {n, k}, new long[] {1, n});
        Tensor sfa = scales(qa); Tensor sfb = scales(qb);
        Tensor big = Tensor.allocate(DType.BFLOAT16, m, 2 * n);
        Tensor d = big.view(new long[] {m, n}, new long[] {2L * n, 2})) {
      ctx.gemm(Recipe.FP8_1D2D, a, sfa, b, sfb, null, d);
      assertClose(logical(d), ref8);
      try (Tensor gaps = big.view(DType.BFLOAT16, new long[] {m, n}, new long[] {2L * n, 2},
          2)) {
        for (double v : logical(gaps)) {
          assertEquals(0.0, v); // the gaps of the strided output are untouched
        }
      }
    }
  }

  // ---- MoE grouped GEMMs ---------------------------------------------------------------

  @Test
  void testMGroupedContiguous() {
    int g = 3;
    int m = 40;
    int n = 64;
    int k = 256;
    float[] x = Ref.randn(rng, m * k, 1);
    float[] w = Ref.randn(rng, g * n * k, 1);
    int[] ids = new int[m];
    for (int r = 0; r < m; r++) {
      ids[r] = rng.nextInt(g + 1) - 1;
    }
    ids[0] = -1;
    ids[1] = 0;
    ids[2] = 2;
    short[] ab = Ref.bf16(x);
    short[] bb = Ref.bf16(w);
    double[] af = Ref.fromBf16(ab);
    double[] bf = Ref.fromBf16(bb);
    // BF16, row-id layout: padding rows (-1) keep their content.
    try (Tensor a = Tensor.ofBf16(ab, m, k); Tensor b = Tensor.ofBf16(bb, g, n, k);
        Tensor layout = Tensor.of(ids, m); Tensor d = Tensor.ofBf16(fullBf16(m * n, 5), m, n)) {
      ctx.mGroupedGemmContiguous(Recipe.BF16, a, null, b, null, layout, GroupLayout.ROW_IDS, d);
      double[] out = logical(d);
      for (int r = 0; r < m; r++) {
        double[] row = Ref.slice(out, r * n, n);
        if (ids[r] < 0) {
          for (double v : row) {
            assertEquals(5.0, v);
          }
        } else {
          double[] want = matmulNT(Ref.slice(af, r * k, k), Ref.slice(bf, ids[r] * n * k, n * k),
              1, n, k);
          assertClose(row, want);
        }
      }
    }
    // FP8 1D2D, offsets layout (group 1 empty); rows outside [off[0], off[G]) untouched.
    Ref.Quant qa = Ref.quantRows(x, m, k, false);
    byte[] qb = new byte[g * n * k];
    float[] sfb = new float[g * ceilDiv(n, 128) * ceilDiv(k, 128)];
    double[][] wb = new double[g][];
    for (int i = 0; i < g; i++) {
      Ref.Quant q = Ref.quantBlocks(Arrays.copyOfRange(w, i * n * k, (i + 1) * n * k), n, k,
          false);
      System.arraycopy(q.q, 0, qb, i * n * k, n * k);
      System.arraycopy(q.sf, 0, sfb, i * q.sf.length, q.sf.length);
      wb[i] = q.dequant();
    }
    int[] off = {2, 10, 10, 30};
    try (Tensor a = fp8(qa); Tensor sfa = scales(qa); Tensor b = Tensor.ofFp8(qb, g, n, k);
        Tensor sb = Tensor.of(sfb, g, ceilDiv(n, 128), ceilDiv(k, 128));
        Tensor layout = Tensor.of(off, g + 1);
        Tensor d = Tensor.ofBf16(fullBf16(m * n, 3), m, n)) {
      ctx.mGroupedGemmContiguous(Recipe.FP8_1D2D, a, sfa, b, sb, layout, GroupLayout.OFFSETS,
          d);
      double[] out = logical(d);
      double[] xa = qa.dequant();
      for (int i = 0; i < g; i++) {
        int rows = off[i + 1] - off[i];
        if (rows > 0) {
          assertClose(Ref.slice(out, off[i] * n, rows * n),
              matmulNT(Ref.slice(xa, off[i] * k, rows * k), wb[i], rows, n, k));
        }
      }
      for (int r = 0; r < m; r++) {
        if (r < off[0] || r >= off[g]) {
          for (double v : Ref.slice(out, r * n, n)) {
            assertEquals(3.0, v);
          }
        }
      }
    }
  }

  @Test
  void testMGroupedMasked() {
    int g = 3;
    int maxM = 16;
    int n = 32;
    int k = 128;
    float[] x = Ref.randn(rng, g * maxM * k, 1);
    float[] w = Ref.randn(rng, g * n * k, 1);
    int[] masked = {5, 0, 16};
    byte[] qa = new byte[x.length];
    float[] sfa = new float[g * maxM];
    byte[] qb = new byte[w.length];
    float[] sfb = new float[g];
    double[][] refs = new double[g][];
    for (int i = 0; i < g; i++) {
      Ref.Quant a = Ref.quantRows(Arrays.copyOfRange(x, i * maxM * k, (i + 1) * maxM * k), maxM,
          k, false);
      Ref.Quant b = Ref.quantBlocks(Arrays.copyOfRange(w, i * n * k, (i + 1) * n * k), n, k,
          false);
      System.arraycopy(a.q, 0, qa, i * maxM * k, maxM * k);
      System.arraycopy(a.sf, 0, sfa, i * maxM, maxM);
      System.arraycopy(b.q, 0, qb, i * n * k, n * k);
      sfb[i] = b.sf[0];
      refs[i] = matmulNT(a.dequant(), b.dequant(), maxM, n, k);
    }
    try (Tensor a = Tensor.ofFp8(qa, g, maxM, k); Tensor sa = Tensor.of(sfa, g, maxM, 1);
        Tensor b = Tensor.ofFp8(qb, g, n, k); Tensor sb = Tensor.of(sfb, g, 1, 1);
        Tensor mm = Tensor.of(masked, g);
        Tensor d = Tensor.ofBf16(fullBf16(g * maxM * n, 9), g, maxM, n)) {
      ctx.mGroupedGemmMasked(Recipe.FP8_1D2D, a, sa, b, sb, mm, 8, d);
      double[] out = logical(d);
      for (int i = 0; i < g; i++) {
        int rows = masked[i];
        if (rows > 0) {
          assertClose(Ref.slice(out, i * maxM * n, rows * n), Ref.slice(refs[i], 0, rows * n));
        }
        for (double v : Ref.slice(out, (i * maxM + rows) * n, (maxM - rows) * n)) {
          assertEquals(9.0, v);
        }
      }
    }
    // BF16.
    short[] ab = Ref.bf16(x);
    short[] bb = Ref.bf16(w);
    try (Tensor a = Tensor.ofBf16(ab, g, maxM, k); Tensor b = Tensor.ofBf16(bb, g, n, k);
        Tensor mm = Tensor.of(masked, g); Tensor d = Tensor.allocate(DType.BFLOAT16, g, maxM, n)) {
      ctx.mGroupedGemmMasked(Recipe.BF16, a, null, b, null, mm, 8, d);
      double[] want = matmulNT(Ref.slice(Ref.fromBf16(ab), 2 * maxM * k, maxM * k),
          Ref.slice(Ref.fromBf16(bb), 2 * n * k, n * k), maxM, n, k);
      assertClose(Ref.slice(logical(d), 2 * maxM * n, maxM * n), want);
    }
  }

  @Test
  void testKGrouped() {
    int m = 24;
    int n = 40;
    int[] ks = {128, 0, 256};
    int kt = 384;
    float[] x = Ref.randn(rng, m * kt, 1);
    float[] w = Ref.randn(rng, n * kt, 1);
    Ref.Quant qa = Ref.quantRows(x, m, kt, false);
    Ref.Quant qb = Ref.quantRows(w, n, kt, false);
    float[] c = Ref.randn(rng, ks.length * m * n, 1);
    double[] xa = qa.dequant();
    double[] xb = qb.dequant();
    try (Tensor a = fp8(qa); Tensor sfa = scales(qa); Tensor b = fp8(qb);
        Tensor sfb = scales(qb); Tensor kst = Tensor.of(ks, ks.length);
        Tensor d = Tensor.of(c, ks.length, m, n)) {
      ctx.kGroupedGemmContiguous(Recipe.FP8_1D1D, a, sfa, b, sfb, kst, d, d);
      double[] out = logical(d);
      int start = 0;
      for (int g = 0; g < ks.length; g++) {
        double[] want = matmulNT(columns(xa, m, kt, start, ks[g]), columns(xb, n, kt, start,
            ks[g]), m, n, ks[g]);
        want = plus(want, Ref.toDouble(Arrays.copyOfRange(c, g * m * n, (g + 1) * m * n)));
        assertClose(Ref.slice(out, g * m * n, m * n), want, 1e-5, 1e-3);
        start += ks[g];
      }
    }
    // Per-tensor recipe with per-group scales [G], no C.
    float[] sa = {0.5f, 1.0f, 2.0f};
    float[] sb = {1.0f, 3.0f, 0.25f};
    byte[] a8 = Ref.fp8(x);
    byte[] b8 = Ref.fp8(w);
    try (Tensor a = Tensor.ofFp8(a8, m, kt); Tensor b = Tensor.ofFp8(b8, n, kt);
        Tensor sat = Tensor.of(sa, 3); Tensor sbt = Tensor.of(sb, 3);
        Tensor kst = Tensor.of(ks, 3); Tensor d = Tensor.allocate(DType.FLOAT32, 3, m, n)) {
      ctx.kGroupedGemmContiguous(Recipe.FP8_PER_TENSOR, a, sat, b, sbt, kst, null, d);
      double[] out = logical(d);
      int start = 0;
      for (int g = 0; g < 3; g++) {
        double[] want = matmulNT(columns(Ref.fromFp8(a8), m, kt, start, ks[g]),
            columns(Ref.fromFp8(b8), n, kt, start, ks[g]), m, n, ks[g]);
        for (int i = 0; i < want.length; i++) {
          want[i] *= (double) sa[g] * sb[g];
        }
        double[] got = Ref.slice(out, g * m * n, m * n);
        if (ks[g] == 0) {
          for (double v : got) {
            assertEquals(0.0, v);
          }
        } else {
          assertClose(got, want, 1e-5, 1e-3);
        }
        start += ks[g];
      }
    }
  }

  // ---- MQA logits ----------------------------------------------------------------------

  /** Logit of query row i against key j: sum over heads of relu(q·k · kv_scale[j]) · weight. */
  private static double mqaReference(double[] qf, double[] kf, float[] kvScale, float[] weights,
      int h, int dim, int i, int j) {
    double sum = 0;
    for (int hh = 0; hh < h; hh++) {
      double dot = 0;
      for (int p = 0; p < dim; p++) {
        dot += qf[(i * h + hh) * dim + p] * kf[j * dim + p];
      }
      sum += Math.max(dot * kvScale[j], 0) * weights[i * h + hh];
    }
    return sum;
  }

  @Test
  void testMqaLogits() {
    int s = 12;
    int h = 4;
    int dim = 64;
    int skv = 50;
    byte[] q = Ref.fp8(Ref.randn(rng, s * h * dim, 1));
    byte[] kv = Ref.fp8(Ref.randn(rng, skv * dim, 1));
    float[] kvScale = Ref.uniform(rng, skv, 0.5, 1.5);
    float[] weights = Ref.randn(rng, s * h, 1);
    int[] ks = new int[s];
    int[] ke = new int[s];
    for (int i = 0; i < s; i++) {
      ks[i] = rng.nextInt(20);
      ke[i] = ks[i] + rng.nextInt(40); // may run past S_kv: clipped
    }
    double[] qf = Ref.fromFp8(q);
    double[] kf = Ref.fromFp8(kv);
    double[] ref = new double[s * skv];
    boolean[] valid = new boolean[s * skv];
    for (int i = 0; i < s; i++) {
      for (int j = 0; j < skv; j++) {
        ref[i * skv + j] = mqaReference(qf, kf, kvScale, weights, h, dim, i, j);
        valid[i * skv + j] = j >= ks[i] && j < Math.min(ke[i], skv);
      }
    }
    long stride = DlGemm.mqaLogitsRowStride(skv);
    try (Tensor qt = Tensor.ofFp8(q, s, h, dim); Tensor kvt = Tensor.ofFp8(kv, skv, dim);
        Tensor sc = Tensor.of(kvScale, skv); Tensor wt = Tensor.of(weights, s, h);
        Tensor kst = Tensor.of(ks, s); Tensor ket = Tensor.of(ke, s);
        Tensor logits = Tensor.allocate(DType.FLOAT32, s, skv);
        Tensor buf = Tensor.of(full((int) (s * stride), 42f), s, stride);
        Tensor view = buf.view(new long[] {s, skv}, new long[] {stride, 1});
        Tensor lb = Tensor.allocate(DType.BFLOAT16, s, skv)) {
      ctx.mqaLogits(qt, kvt, sc, wt, kst, ket, true, logits);
      double[] out = logical(logits);
      for (int i = 0; i < out.length; i++) {
        if (valid[i]) {
          assertEquals(ref[i], out[i], 1e-4 + 1e-5 * Math.abs(ref[i]), "element " + i);
        } else {
          assertEquals(Double.NEGATIVE_INFINITY, out[i], "element " + i);
        }
      }
      // Without cleaning, positions outside the range stay as they were; padded row stride.
      ctx.mqaLogits(qt, kvt, sc, wt, kst, ket, false, view);
      double[] v = logical(view);
      for (int i = 0; i < v.length; i++) {
        if (valid[i]) {
          assertEquals(ref[i], v[i], 1e-4 + 1e-5 * Math.abs(ref[i]));
        } else {
          assertEquals(42.0, v[i]);
        }
      }
      double[] all = logical(buf);
      for (int i = 0; i < s; i++) {
        for (long j = skv; j < stride; j++) {
          assertEquals(42.0, all[(int) (i * stride + j)]);
        }
      }
      // bfloat16 logits.
      ctx.mqaLogits(qt, kvt, sc, wt, kst, ket, true, lb);
      double[] ob = logical(lb);
      for (int i = 0; i < ob.length; i++) {
        if (valid[i]) {
          assertEquals(ref[i], ob[i], 1e-2 + Math.scalb(1.0, -7) * Math.abs(ref[i]));
        }
      }
    }
  }

  @Test
  void testMqaLogitsCompressed() {
    int s = 8;
    int h = 2;
    int dim = 32;
    int skv = 30;
    int width = 8;
    byte[] q = Ref.fp8(Ref.randn(rng, s * h * dim, 1));
    byte[] kv = Ref.fp8(Ref.randn(rng, skv * dim, 1));
    float[] kvScale = Ref.uniform(rng, skv, 0.5, 1.5);
    float[] weights = Ref.randn(rng, s * h, 1);
    int[] ks = new int[s];
    int[] ke = new int[s];
    for (int i = 0; i < s; i++) {
      ks[i] = rng.nextInt(20);
      ke[i] = ks[i] + rng.nextInt(15); // some windows longer than the width: cut
    }
    double[] qf = Ref.fromFp8(q);
    double[] kf = Ref.fromFp8(kv);
    try (Tensor qt = Tensor.ofFp8(q, s, h, dim); Tensor kvt = Tensor.ofFp8(kv, skv, dim);
        Tensor sc = Tensor.of(kvScale, skv); Tensor wt = Tensor.of(weights, s, h);
        Tensor kst = Tensor.of(ks, s); Tensor ket = Tensor.of(ke, s);
        Tensor logits = Tensor.allocate(DType.FLOAT32, s, width)) {
      ctx.mqaLogitsCompressed(qt, kvt, sc, wt, kst, ket, true, logits, 0);
      double[] out = logical(logits);
      for (int i = 0; i < s; i++) {
        int n = Math.min(Math.min(ke[i], skv) - ks[i], width);
        for (int c = 0; c < width; c++) {
          if (c >= n) {
            assertEquals(Double.NEGATIVE_INFINITY, out[i * width + c], "past the window");
            continue;
          }
          double sum = mqaReference(qf, kf, kvScale, weights, h, dim, i, ks[i] + c);
          assertEquals(sum, out[i * width + c], 1e-4 + 1e-5 * Math.abs(sum), "row " + i);
        }
      }
    }
  }

  /** The schedule attention.h describes: batches' blocks end to end, SM s starts at block
   * floor(s * total / numSms); (B, 0) past the end. */
  private static int[] scheduleReference(int[] lens, int batch, int nextN, boolean twoD,
      int blockKv, int numSms) {
    long[] prefix = new long[batch + 1];
    for (int b = 0; b < batch; b++) {
      int longest = lens[twoD ? b * nextN : b];
      if (twoD) {
        for (int t = 1; t < nextN; t++) {
          longest = Math.max(longest, lens[b * nextN + t]);
        }
      }
      prefix[b + 1] = prefix[b] + ceilDiv(Math.max(longest, 0), blockKv);
    }
    long total = prefix[batch];
    int[] out = new int[(numSms + 1) * 2];
    for (int s = 0; s <= numSms; s++) {
      long g = s < numSms ? s * total / numSms : total;
      if (g >= total) {
        out[2 * s] = batch;
        out[2 * s + 1] = 0;
      } else {
        int b = 0;
        while (prefix[b + 1] <= g) {
          b++;
        }
        out[2 * s] = b;
        out[2 * s + 1] = (int) (g - prefix[b]);
      }
    }
    return out;
  }

  @Test
  void testPagedMqaLogits() {
    int batch = 3;
    int nextN = 2;
    int h = 4;
    int dim = 32;
    int blockKv = 8;
    int numBlocks = 10;
    int maxBlocks = 4;
    byte[] q = Ref.fp8(Ref.randn(rng, batch * nextN * h * dim, 1));
    byte[] kv = Ref.fp8(Ref.randn(rng, numBlocks * blockKv * dim, 1));
    float[] scales = Ref.uniform(rng, numBlocks * blockKv, 0.5, 2.0);
    // Per block: block_kv·D FP8 bytes, then block_kv FP32 scales.
    int blockBytes = blockKv * (dim + 4);
    ByteBuffer cache = ByteBuffer.allocate(numBlocks * blockBytes).order(ByteOrder.nativeOrder());
    for (int blk = 0; blk < numBlocks; blk++) {
      cache.position(blk * blockBytes);
      cache.put(kv, blk * blockKv * dim, blockKv * dim);
      for (int r = 0; r < blockKv; r++) {
        cache.putFloat(scales[blk * blockKv + r]);
      }
    }
    float[] weights = Ref.randn(rng, batch * nextN * h, 1);
    int[] table = new int[batch * maxBlocks];
    for (int i = 0; i < table.length; i++) {
      table[i] = rng.nextInt(numBlocks);
    }
    int maxLen = maxBlocks * blockKv;
    int[] lens1 = {5, 32, 17}; // DeepGEMM's convention: row t has len - next_n + t + 1
    int[] lens2 = {3, 4, 30, 32, 0, 9};
    double[] qf = Ref.fromFp8(q);
    double[] kf = Ref.fromFp8(kv);
    try (Tensor qt = Tensor.ofFp8(q, batch, nextN, h, dim);
        Tensor cacheT = Tensor.ofUint8(cache.array(), numBlocks, blockKv, 1, dim + 4);
        Tensor wt = Tensor.of(weights, batch * nextN, h);
        Tensor tableT = Tensor.of(table, batch, maxBlocks)) {
      for (boolean twoD : new boolean[] {false, true}) {
        int[] lens = twoD ? lens2 : lens1;
        double[] ref = new double[batch * nextN * maxLen];
        Arrays.fill(ref, Double.NEGATIVE_INFINITY);
        for (int b = 0; b < batch; b++) {
          for (int t = 0; t < nextN; t++) {
            int row = b * nextN + t;
            int nValid = twoD ? lens[row] : Math.max(lens[b] - nextN + t + 1, 0);
            for (int j = 0; j < nValid; j++) {
              int blk = table[b * maxBlocks + j / blockKv];
              int r = j % blockKv;
              double sum = 0;
              for (int hh = 0; hh < h; hh++) {
                double dot = 0;
                for (int p = 0; p < dim; p++) {
                  dot += qf[(row * h + hh) * dim + p] * kf[(blk * blockKv + r) * dim + p];
                }
                sum += Math.max(dot * scales[blk * blockKv + r], 0) * weights[row * h + hh];
              }
              ref[row * maxLen + j] = sum;
            }
          }
        }
        try (Tensor lensT = twoD ? Tensor.of(lens, batch, nextN) : Tensor.of(lens, batch);
            Tensor meta = Tensor.allocate(DType.INT32, 5, 2);
            Tensor logits = Tensor.allocate(DType.FLOAT32, batch * nextN, maxLen);
            Tensor keep = Tensor.of(full(batch * nextN * maxLen, 7f), batch * nextN, maxLen)) {
          ctx.pagedMqaLogitsMetadata(lensT, blockKv, 4, meta);
          assertArrayEquals(scheduleReference(lens, batch, nextN, twoD, blockKv, 4),
              meta.toIntArray());
          ctx.pagedMqaLogits(qt, cacheT, wt, lensT, tableT, meta, true, logits);
          double[] out = logical(logits);
          // No schedule on the CPU, no cleaning: positions past each row's length untouched.
          ctx.pagedMqaLogits(qt, cacheT, wt, lensT, tableT, null, false, keep);
          double[] kept = logical(keep);
          for (int i = 0; i < out.length; i++) {
            if (Double.isInfinite(ref[i])) {
              assertEquals(Double.NEGATIVE_INFINITY, out[i], "element " + i);
              assertEquals(7.0, kept[i]);
            } else {
              assertEquals(ref[i], out[i], 1e-4 + 1e-5 * Math.abs(ref[i]), "element " + i);
              assertEquals(out[i], kept[i]);
            }
          }
        }
      }
      // A CPU context has no SM count to default to.
      try (Tensor lensT = Tensor.of(lens1, batch); Tensor meta = Tensor.allocate(DType.INT32, 1,
          2)) {
        DlGemmException e = assertThrows(DlGemmException.class,
            () -> ctx.pagedMqaLogitsMetadata(lensT, blockKv, 0, meta));
        assertEquals(Status.INVALID_ARGUMENT, e.status());
        assertTrue(e.getMessage().contains("num_sms"), e.getMessage());
      }
    }
  }

  @Test
  void testCleanLogits() {
    int r = 6;
    int width = 20;
    int[] ks = {0, 3, 5, 19, 2, 0};
    int[] ke = {20, 10, 5, 20, 30, 1};
    float[] x = Ref.randn(rng, r * width, 1);
    try (Tensor kst = Tensor.of(ks, r); Tensor ket = Tensor.of(ke, r);
        Tensor logits = Tensor.of(x, r, width);
        Tensor lb = Tensor.ofBf16(Ref.bf16(x), r, width)) {
      ctx.cleanLogits(kst, ket, logits);
      double[] out = logical(logits);
      ctx.cleanLogits(null, ket, lb); // ks null means 0; bfloat16 logits
      double[] outB = logical(lb);
      for (int i = 0; i < r; i++) {
        for (int j = 0; j < width; j++) {
          int at = i * width + j;
          if (j >= ks[i] && j < ke[i]) {
            assertEquals(x[at], out[at]);
          } else {
            assertEquals(Double.NEGATIVE_INFINITY, out[at]);
          }
          if (j < ke[i]) {
            assertEquals(Ref.bf16ToFloat(Ref.floatToBf16(x[at])), outB[at]);
          } else {
            assertEquals(Double.NEGATIVE_INFINITY, outB[at]);
          }
        }
      }
    }
  }

  // ---- FP8 casts and scale layouts -----------------------------------------------------

  @Test
  void testCastPerToken() {
    int m = 37;
    int k = 300;
    for (DType dtype : new DType[] {DType.FLOAT32, DType.BFLOAT16}) {
      for (boolean ue8m0 : new boolean[] {false, true}) {
        float[] x = Ref.randn(rng, m * k, 3);
        Arrays.fill(x, 4 * k + 128, 4 * k + 256, 0f); // an all-zero block gets sf = 1
        short[] xb = Ref.bf16(x);
        if (dtype == DType.BFLOAT16) {
          for (int i = 0; i < x.length; i++) {
            x[i] = Ref.bf16ToFloat(xb[i]);
          }
        }
        Ref.Quant want = Ref.quantRows(x, m, k, ue8m0);
        long aligned = DlGemm.tmaAlignedSize(m, 4);
        try (Tensor xt = dtype == DType.FLOAT32 ? Tensor.of(x, m, k) : Tensor.ofBf16(xb, m, k);
            Tensor out = Tensor.allocate(DType.FLOAT8_E4M3FN, m, k);
            Tensor sf = Tensor.allocate(DType.FLOAT32, m, 3);
            Tensor buf = Tensor.allocate(DType.FLOAT32, 3, aligned);
            Tensor sfView = buf.view(new long[] {m, 3}, new long[] {1, aligned});
            Tensor out2 = Tensor.allocate(DType.FLOAT8_E4M3FN, m, k)) {
          ctx.castFp8PerToken(xt, ue8m0, out, sf);
          assertArrayEquals(want.sf, sf.toFloatArray(), dtype + " ue8m0=" + ue8m0);
          assertEquals(1.0, sf.get(4, 1));
          assertArrayEquals(want.q, out.toByteArray());
          // Scales written straight into a TMA-aligned MN-major view.
          ctx.castFp8PerToken(xt, ue8m0, out2, sfView);
          assertArrayEquals(Ref.toDouble(want.sf), logical(sfView));
        }
      }
    }
  }

  @Test
  void testCastPerBlock() {
    int m = 200;
    int k = 260;
    float[] x = Ref.randn(rng, m * k, 5);
    for (boolean ue8m0 : new boolean[] {false, true}) {
      Ref.Quant want = Ref.quantBlocks(x, m, k, ue8m0);
      try (Tensor xt = Tensor.of(x, m, k);
          Tensor out = Tensor.allocate(DType.FLOAT8_E4M3FN, m, k);
          Tensor sf = Tensor.allocate(DType.FLOAT32, 2, 3)) {
        ctx.castFp8PerBlock(xt, ue8m0, out, sf);
        assertArrayEquals(want.sf, sf.toFloatArray());
        assertArrayEquals(want.q, out.toByteArray());
        Ref.Quant got = new Ref.Quant(out.toByteArray(), sf.toFloatArray(), m, k, 128, 128);
        assertTrue(Ref.calcDiff(got.dequant(), Ref.toDouble(x)) < 1e-3);
      }
    }
  }

  @Test
  void testCastPerTensor() {
    float[] x = Ref.randn(rng, 3 * 5 * 70, 10);
    short[] xb = Ref.bf16(x);
    float amax = 0;
    for (short s : xb) {
      amax = Math.max(amax, Math.abs(Ref.bf16ToFloat(s)));
    }
    float sfWant = Ref.scaleOf(amax, false);
    byte[] qWant = new byte[x.length];
    for (int i = 0; i < x.length; i++) {
      qWant[i] = Ref.doubleToFp8(Ref.bf16ToFloat(xb[i]) / sfWant);
    }
    try (Tensor xt = Tensor.ofBf16(xb, 3, 5, 70);
        Tensor out = Tensor.allocate(DType.FLOAT8_E4M3FN, 3, 5, 70);
        Tensor sf = Tensor.allocate(DType.FLOAT32);
        Tensor zeros = Tensor.allocate(DType.FLOAT32, 4, 4);
        Tensor out0 = Tensor.allocate(DType.FLOAT8_E4M3FN, 4, 4);
        Tensor sf0 = Tensor.allocate(DType.FLOAT32)) {
      ctx.castFp8PerTensor(xt, out, sf);
      assertEquals(sfWant, sf.get());
      assertArrayEquals(qWant, out.toByteArray());
      ctx.castFp8PerTensor(zeros, out0, sf0);
      assertEquals(1.0, sf0.get());
    }
  }

  @Test
  void testTransformSf() {
    float[] sf = Ref.uniform(rng, 37 * 3, 0.1, 2.0);
    long aligned = DlGemm.tmaAlignedSize(37, 4);
    assertEquals(40, aligned);
    try (Tensor in = Tensor.of(sf, 37, 3);
        Tensor out = Tensor.allocate(DType.FLOAT32, new long[] {37, 3},
            new long[] {1, aligned})) {
      ctx.transformSf(in, out);
      assertArrayEquals(Ref.toDouble(sf), logical(out)); // MN-major, TMA-aligned
    }
    // Batched, from an MN-major source into a compact target, then into the TMA layout.
    int b = 2;
    int mn = 130;
    int kb = 4;
    float[] vals = Ref.uniform(rng, b * mn * kb, 0.1, 2.0);
    float[] mnMajor = new float[vals.length];
    for (int g = 0; g < b; g++) {
      for (int i = 0; i < mn; i++) {
        for (int j = 0; j < kb; j++) {
          mnMajor[g * mn * kb + j * mn + i] = vals[(g * mn + i) * kb + j];
        }
      }
    }
    long al = DlGemm.tmaAlignedSize(mn, 4);
    try (Tensor src = Tensor.of(mnMajor, new long[] {b, mn, kb}, new long[] {mn * kb, 1, mn});
        Tensor dst = Tensor.allocate(DType.FLOAT32, b, mn, kb);
        Tensor tma = Tensor.allocate(DType.FLOAT32, new long[] {b, mn, kb},
            new long[] {al * kb, 1, al})) {
      ctx.transformSf(src, dst);
      assertArrayEquals(vals, dst.toFloatArray());
      ctx.transformSf(dst, tma);
      assertArrayEquals(Ref.toDouble(vals), logical(tma));
    }
  }

  @Test
  void testPackUe8m0() {
    int n = 2 * 9 * 6;
    float[] sf = new float[n];
    for (int i = 0; i < n; i++) {
      sf[i] = (float) Math.pow(2, -20 + 40 * rng.nextDouble());
    }
    float[] exact = {1.0f, 0.5f, 3.0f, (float) Math.pow(2, -30)}; // powers stay, others round up
    System.arraycopy(exact, 0, sf, 0, 4);
    byte[] bytes = new byte[2 * 9 * 8];
    for (int row = 0; row < 2 * 9; row++) {
      for (int j = 0; j < 6; j++) {
        bytes[row * 8 + j] = (byte) Ref.ue8m0Byte(sf[row * 6 + j]);
      }
    }
    int[] want = new int[2 * 9 * 2];
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(want);
    try (Tensor in = Tensor.of(sf, 2, 9, 6); Tensor packed = Tensor.allocate(DType.INT32, 2, 9,
        2)) {
      ctx.packUe8m0(in, packed);
      assertArrayEquals(want, packed.toIntArray());
      byte[] first = Arrays.copyOf(packed.toByteArray(), 4);
      assertArrayEquals(new byte[] {127, 126, (byte) 129, 97}, first);
    }
    assertEquals(4f, Ref.ue8m0Ceil(3f));
  }

  // ---- testing helpers, memory ---------------------------------------------------------

  @Test
  void testTestingHelpers() {
    try (Tensor t = Tensor.allocate(DType.FLOAT32, 4, 5);
        Tensor u = Tensor.allocate(DType.FLOAT32, new long[] {4, 5}, new long[] {1, 4});
        Tensor ints = Tensor.allocate(DType.INT32, 100);
        Tensor f8 = Tensor.allocate(DType.FLOAT8_E4M3FN, 8, 8)) {
      Testing.fill(t, 7, Fill.UNIFORM, -1, 1);
      Testing.fill(u, 7, Fill.UNIFORM, -1, 1); // other strides, same logical values
      assertArrayEquals(logical(t), logical(u));
      for (double v : logical(t)) {
        assertTrue(v >= -1 && v < 1);
      }
      Testing.fill(ints, 3, Fill.INT, 0, 5);
      for (int v : ints.toIntArray()) {
        assertTrue(v >= 0 && v <= 5);
      }
      Testing.fill(f8, 1, Fill.NORMAL, 0, 1);
      assertTrue(Arrays.stream(logical(f8)).distinct().count() > 4);
      assertEquals(0.0, Testing.calcDiff(t, u));
      assertEquals(0, Testing.countMismatch(t, t));
      assertEquals(20, Testing.numel(t));
      assertEquals(80, Testing.spanBytes(t));
      assertEquals(Testing.spanBytes(u), u.spanBytes());
      float[] y = t.toFloatArray();
      y[3] += 1;
      try (Tensor yt = Tensor.of(y, 4, 5); Tensor dst = Tensor.allocate(DType.FLOAT32, 4, 5)) {
        assertEquals(1, Testing.countMismatch(t, yt));
        double want = Ref.calcDiff(logical(t), logical(yt));
        assertEquals(want, Testing.calcDiff(t, yt), 1e-12);
        ctx.poison(yt, 0xFF);
        for (byte b : yt.toByteArray()) {
          assertEquals((byte) 0xFF, b);
        }
        ctx.copy(u, dst);
        assertArrayEquals(t.toFloatArray(), dst.toFloatArray());
      }
      // Typed views of raw storage; values read back through the binding's decoders.
      assertEquals(Ref.fp8ToDouble((byte) 0x38), Tensor.e4m3ToDouble((byte) 0x38));
      assertEquals(1.0f, Tensor.bf16ToFloat(Tensor.floatToBf16(1.0f)));
      for (int c = 0; c < 256; c++) {
        double want = Ref.fp8ToDouble((byte) c);
        double got = Tensor.e4m3ToDouble((byte) c);
        assertTrue(Double.compare(want, got) == 0 || (want == 0 && got == 0), "code " + c);
      }
    }
    if (!DlGemm.runtimeInfo().driverFound()) {
      try (Context gpu = new Context(0)) {
        assertThrows(DlGemmException.class, () -> gpu.deviceAlloc(16));
      }
    }
  }

  @Test
  void testNoLeaks() {
    long before = DlGemm.openNativeHandles();
    Context c = Context.cpu();
    Tensor a = Tensor.allocate(DType.FLOAT32, 3, 4);
    Tensor v = a.view(new long[] {4}, null);
    assertEquals(before + 3, DlGemm.openNativeHandles());
    v.close();
    a.close();
    a.close();
    c.close();
    assertEquals(before, DlGemm.openNativeHandles());
    // A view outlives its parent's descriptor: the storage is shared, not the descriptor.
    Tensor parent = Tensor.of(new float[] {1, 2, 3, 4}, 4);
    Tensor tail = parent.view(DType.FLOAT32, new long[] {2}, null, 8);
    parent.close();
    assertArrayEquals(new float[] {3, 4}, tail.toFloatArray());
    tail.close();
    assertEquals(before, DlGemm.openNativeHandles());
    // Failed constructions leave nothing behind.
    assertThrows(DlGemmException.class, () -> Tensor.of(new float[5], 2, 3));
    assertThrows(DlGemmException.class, () -> new Context(-5));
    assertEquals(before, DlGemm.openNativeHandles());
  }

  // ---- bad inputs ----------------------------------------------------------------------

  @Test
  void testBadInputs() {
    short[] ab = Ref.bf16(Ref.randn(rng, 8 * 128, 1));
    short[] bb = Ref.bf16(Ref.randn(rng, 16 * 128, 1));
    try (Tensor a = Tensor.ofBf16(ab, 8, 128); Tensor b = Tensor.ofBf16(bb, 16, 128);
        Tensor d = Tensor.ofBf16(fullBf16(8 * 16, 3), 8, 16);
        Tensor a32 = Tensor.allocate(DType.FLOAT32, 8, 128);
        Tensor bShort = b.view(new long[] {16, 64}, new long[] {128, 1});
        Tensor dNarrow = d.view(new long[] {8, 8}, new long[] {16, 1})) {
      // Wrong dtype, mismatched shapes, null where required: status + message naming the arg.
      expectError(Status.DTYPE, "a: ", () -> ctx.gemm(Recipe.BF16, a32, null, b, null, null, d));
      expectError(Status.SHAPE, "b: ",
          () -> ctx.gemm(Recipe.BF16, a, null, bShort, null, null, d));
      expectError(Status.SHAPE, "d: ",
          () -> ctx.gemm(Recipe.BF16, a, null, b, null, null, dNarrow));
      expectError(Status.INVALID_ARGUMENT, "a: ",
          () -> ctx.gemm(Recipe.BF16, null, null, b, null, null, d));
      expectError(Status.INVALID_ARGUMENT, "d: ",
          () -> ctx.gemm(Recipe.BF16, a, null, b, null, null, null));
      // Bad enums.
      DlGemmException e = expectError(Status.INVALID_ARGUMENT, "",
          () -> ctx.gemm(Recipe.of(99), a, null, b, null, null, d));
      assertTrue(e.getMessage().contains("recipe"), e.getMessage());
      expectError(Status.INVALID_ARGUMENT, "recipe: ", () -> Recipe.fromName("fp4"));
      expectError(Status.INVALID_ARGUMENT, "recipe: null",
          () -> ctx.gemm(null, a, null, b, null, null, d));
      try (Tensor b3 = Tensor.ofBf16(bb, 1, 16, 128); Tensor ids = Tensor.allocate(DType.INT32,
          8)) {
        expectError(Status.INVALID_ARGUMENT, "",
            () -> ctx.mGroupedGemmContiguous(Recipe.BF16, a, null, b3, null, ids,
                GroupLayout.of(7), d));
      }
      // Read-only outputs are refused; read-only inputs are fine.
      ByteBuffer ro = ByteBuffer.allocateDirect(8 * 16 * 4).asReadOnlyBuffer();
      try (Tensor roT = Tensor.wrap(ro, DType.FLOAT32, new long[] {8, 16}, null);
          Tensor roA = Tensor.wrap(a.buffer().asReadOnlyBuffer(), DType.BFLOAT16,
              new long[] {8, 128}, null);
          Tensor out = Tensor.allocate(DType.FLOAT32, 8, 16)) {
        assertTrue(roT.isReadOnly());
        e = expectError(Status.INVALID_ARGUMENT, "d: ",
            () -> ctx.gemm(Recipe.BF16, a, null, b, null, null, roT));
        assertTrue(e.getMessage().contains("read-only"));
        ctx.gemm(Recipe.BF16, roA, null, b, null, null, out);
      }
      // Java-side checks: heap buffers, array lengths, shapes, closed objects.
      expectError(Status.INVALID_ARGUMENT, "buffer: ",
          () -> Tensor.wrap(ByteBuffer.allocate(64), DType.FLOAT32, new long[] {4}, null));
      expectError(Status.SHAPE, "data: ", () -> Tensor.of(new float[5], 2, 3));
      expectError(Status.SHAPE, "shape: ", () -> Tensor.allocate(DType.FLOAT32, 2, -1));
      expectError(Status.SHAPE, "shape: ", () -> Tensor.allocate(DType.FLOAT32, new long[9],
          null));
      expectError(Status.SHAPE, "strides: ", () -> Tensor.allocate(DType.FLOAT32,
          new long[] {2, 2}, new long[] {1}));
      expectError(Status.DTYPE, "toFloatArray: ", d::toFloatArray);
      expectError(Status.SHAPE, "index: ", () -> d.get(8, 0));
      expectError(Status.DTYPE, "dtype: ", () -> DType.fromName("float64"));
      // Overlapping output strides (the library's own check).
      try (Tensor ov = Tensor.allocate(DType.FLOAT32, new long[] {8, 16}, new long[] {0, 1});
          Tensor ke = Tensor.allocate(DType.INT32, 8)) {
        expectError(Status.LAYOUT, "logits: ", () -> ctx.cleanLogits(null, ke, ov));
      }
      // Non-contiguous paged KV blocks.
      try (Tensor q = Tensor.allocate(DType.FLOAT8_E4M3FN, 1, 1, 1, 16);
          Tensor cache = Tensor.allocate(DType.UINT8, new long[] {2, 4, 1, 20},
              new long[] {160, 40, 40, 1});
          Tensor w = Tensor.allocate(DType.FLOAT32, 1, 1);
          Tensor lens = Tensor.of(new int[] {1}, 1);
          Tensor table = Tensor.allocate(DType.INT32, 1, 1);
          Tensor logits = Tensor.allocate(DType.FLOAT32, 1, 8)) {
        expectError(Status.LAYOUT, "kv_cache: ",
            () -> ctx.pagedMqaLogits(q, cache, w, lens, table, null, true, logits));
      }
      // Device tensors on a CPU context / next to host tensors.
      try (Tensor dev = Tensor.ofDevice(0x10000, 0, DType.FLOAT32, new long[] {8, 16}, null)) {
        assertTrue(dev.isCuda());
        e = expectError(Status.DEVICE, "", () -> ctx.gemm(Recipe.BF16, a, null, b, null, null,
            dev));
        assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
        expectError(Status.DEVICE, "toFloatArray: ", dev::toFloatArray);
      }
      // Closed objects.
      Context closed = Context.cpu();
      closed.close();
      expectError(Status.INVALID_ARGUMENT, "context: is closed",
          () -> closed.gemm(Recipe.BF16, a, null, b, null, null, d));
      Tensor gone = Tensor.allocate(DType.BFLOAT16, 8, 16);
      gone.close();
      expectError(Status.INVALID_ARGUMENT, "tensor: is closed",
          () -> ctx.gemm(Recipe.BF16, a, null, b, null, null, gone));
      expectError(Status.INVALID_ARGUMENT, "tensor: is closed",
          () -> gone.view(new long[] {8}, null));
      // No failed call wrote its output.
      for (double v : logical(d)) {
        assertEquals(3.0, v);
      }
    }
  }

  // ---- threads -------------------------------------------------------------------------

  @Test
  void testConcurrency() throws Exception {
    int m = 32;
    int n = 48;
    int k = 256;
    int threads = 6;
    List<Tensor[]> inputs = new ArrayList<>();
    List<double[]> refs = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Ref.Quant qa = Ref.quantRows(Ref.randn(rng, m * k, 1), m, k, false);
      Ref.Quant qb = Ref.quantBlocks(Ref.randn(rng, n * k, 1), n, k, false);
      inputs.add(new Tensor[] {fp8(qa), scales(qa), fp8(qb), scales(qb)});
      refs.add(matmulNT(qa.dequant(), qb.dequant(), m, n, k));
    }
    long before = DlGemm.openNativeHandles();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<?>> done = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int id = i;
      done.add(pool.submit(() -> {
        start.await();
        Tensor[] in = inputs.get(id);
        for (int it = 0; it < 5; it++) {
          try (Tensor d = Tensor.allocate(DType.BFLOAT16, m, n)) {
            ctx.gemm(Recipe.FP8_1D2D, in[0], in[1], in[2], in[3], null, d);
            assertClose(logical(d), refs.get(id));
            ctx.setMaxSms(id); // knob writes race with calls: allowed
            DlGemmException e = assertThrows(DlGemmException.class,
                () -> ctx.gemm(Recipe.FP8_1D2D, in[1], in[1], in[2], in[3], null, d));
            assertEquals(Status.DTYPE, e.status());
            assertTrue(e.getMessage().startsWith("a: "));
            assertTrue(DlGemm.lastError().startsWith("a: ")); // thread-local message
          }
        }
        return null;
      }));
    }
    start.countDown();
    for (Future<?> f : done) {
      f.get(120, TimeUnit.SECONDS); // rethrows a worker's assertion
    }
    // close() racing with calls on other threads: each call either runs on a live context or
    // fails cleanly with "context: is closed"; the context is freed after the last call.
    Context shared = Context.cpu();
    AtomicInteger ran = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    List<Future<?>> racing = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Tensor[] in = inputs.get(i);
      racing.add(pool.submit(() -> {
        for (int it = 0; it < 20; it++) {
          try (Tensor d = Tensor.allocate(DType.BFLOAT16, m, n)) {
            shared.gemm(Recipe.FP8_1D2D, in[0], in[1], in[2], in[3], null, d);
            ran.incrementAndGet();
          } catch (DlGemmException e) {
            assertEquals("context: is closed", e.getMessage());
            refused.incrementAndGet();
          }
        }
        return null;
      }));
    }
    Thread.sleep(5);
    shared.close();
    for (Future<?> f : racing) {
      f.get(120, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
    assertEquals(threads * 20, ran.get() + refused.get());
    for (Tensor[] in : inputs) {
      for (Tensor t : in) {
        t.close();
      }
    }
    assertEquals(before - 4L * threads, DlGemm.openNativeHandles()); // nothing leaked
  }
}
