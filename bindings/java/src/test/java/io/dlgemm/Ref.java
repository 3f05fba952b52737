package io.dlgemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * The reference math the tests compare dlgemm against, written independently of the C library
 * and of the binding's own decoders: FP8 e4m3fn and bfloat16 are encoded and decoded here from
 * their bit layouts, products are exact in double, scales follow the headers (sf = amax / 448
 * in float32, UE8M0 = 2^ceil(log2 sf), an all-zero block gets 1).
 */
final class Ref {
  static final float FP8_MAX = 448f;

  private Ref() {}

  static int ceilDiv(long a, long b) {
    return (int) ((a + b - 1) / b);
  }

  // ---- number formats ------------------------------------------------------------------

  /** e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; S.1111.111 is NaN, no infinities. */
  static double fp8ToDouble(byte b) {
    int v = b & 0xFF;
    int e = (v >> 3) & 0xF;
    int m = v & 7;
    if (e == 0xF && m == 7) {
      return Double.NaN;
    }
    double mag = e == 0 ? Math.scalb((double) m, -9) : Math.scalb(1.0 + m / 8.0, e - 7);
    return (v & 0x80) == 0 ? mag : -mag;
  }

  private static final double[] FP8_POSITIVE = new double[127]; // codes 0x00..0x7E

  static {
    for (int c = 0; c < 127; c++) {
      FP8_POSITIVE[c] = fp8ToDouble((byte) c);
    }
  }

  /** Round to nearest, ties to even code, saturating at 448 (what a cast does). */
  static byte doubleToFp8(double x) {
    if (Double.isNaN(x)) {
      return 0x7F;
    }
    double a = Math.min(Math.abs(x), FP8_MAX);
    int lo = 0;
    int hi = 126;
    while (hi - lo > 1) { // largest code with value <= a
      int mid = (lo + hi) >>> 1;
      if (FP8_POSITIVE[mid] <= a) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    int code;
    if (FP8_POSITIVE[hi] <= a) {
      code = hi;
    } else {
      double dLo = a - FP8_POSITIVE[lo];
      double dHi = FP8_POSITIVE[hi] - a;
      code = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
    }
    boolean negative = x < 0 || (x == 0 && 1 / x < 0);
    return (byte) (negative ? code | 0x80 : code);
  }

  static float bf16ToFloat(short s) {
    return Float.intBitsToFloat((s & 0xFFFF) << 16);
  }

  static short floatToBf16(float f) {
    int bits = Float.floatToIntBits(f);
    int lsb = (bits >> 16) & 1;
    return (short) ((bits + 0x7FFF + lsb) >>> 16);
  }

  static short[] bf16(float[] x) {
    short[] out = new short[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = floatToBf16(x[i]);
    }
    return out;
  }

  static double[] fromBf16(short[] s) {
    double[] out = new double[s.length];
    for (int i = 0; i < s.length; i++) {
      out[i] = bf16ToFloat(s[i]);
    }
    return out;
  }

  static byte[] fp8(float[] x) {
    byte[] out = new byte[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = doubleToFp8(x[i]);
    }
    return out;
  }

  static double[] fromFp8(byte[] b) {
    double[] out = new double[b.length];
    for (int i = 0; i < b.length; i++) {
      out[i] = fp8ToDouble(b[i]);
    }
    return out;
  }

  static double[] toDouble(float[] x) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i];
    }
    return out;
  }

  /** Powers of two at or above sf. */
  static float ue8m0Ceil(float sf) {
    int e = Math.getExponent(sf);
    float p = Math.scalb(1f, e);
    return p == sf ? sf : Math.scalb(1f, e + 1);
  }

  /** The UE8M0 byte of ue8m0Ceil(sf): its biased exponent. */
  static int ue8m0Byte(float sf) {
    return Math.getExponent(ue8m0Ceil(sf)) + 127;
  }

  static float scaleOf(float amax, boolean ue8m0) {
    float sf = amax > 0 ? amax / FP8_MAX : 1f;
    return ue8m0 ? ue8m0Ceil(sf) : sf;
  }

  // ---- random data ---------------------------------------------------------------------

  static float[] randn(Random rng, int n, double scale) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (rng.nextGaussian() * scale);
    }
    return out;
  }

  static float[] uniform(Random rng, int n, double lo, double hi) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (lo + (hi - lo) * rng.nextDouble());
    }
    return out;
  }

  // ---- block-scaled FP8 ----------------------------------------------------------------

  /** An FP8 matrix and its tile scales ([ceil(m/bm), ceil(k/bk)] row-major). */
  static final class Quant {
    final byte[] q;
    final float[] sf;
    final int m;
    final int k;
    final int bm;
    final int bk;

    Quant(byte[] q, float[] sf, int m, int k, int bm, int bk) {
      this.q = q;
      this.sf = sf;
      this.m = m;
      this.k = k;
      this.bm = bm;
      this.bk = bk;
    }

    int sfRows() {
      return ceilDiv(m, bm);
    }

    int sfCols() {
      return ceilDiv(k, bk);
    }

    /** Dequantised values, double [m*k]. */
    double[] dequant() {
      double[] out = new double[m * k];
      int kb = sfCols();
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < k; j++) {
          out[i * k + j] = fp8ToDouble(q[i * k + j]) * sf[(i / bm) * kb + j / bk];
        }
      }
      return out;
    }
  }

  /** Block-scaled cast of x [m, k] (float32 values) with (bm x bk) tiles. */
  static Quant quantTiles(float[] x, int m, int k, int bm, int bk, boolean ue8m0) {
    int mb = ceilDiv(m, bm);
    int kb = ceilDiv(k, bk);
    float[] amax = new float[mb * kb];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < k; j++) {
        int t = (i / bm) * kb + j / bk;
        amax[t] = Math.max(amax[t], Math.abs(x[i * k + j]));
      }
    }
    float[] sf = new float[mb * kb];
    for (int t = 0; t < sf.length; t++) {
      sf[t] = scaleOf(amax[t], ue8m0);
    }
    byte[] q = new byte[m * k];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < k; j++) {
        q[i * k + j] = doubleToFp8(x[i * k + j] / sf[(i / bm) * kb + j / bk]);
      }
    }
    return new Quant(q, sf, m, k, bm, bk);
  }

  static Quant quantRows(float[] x, int m, int k, boolean ue8m0) {
    return quantTiles(x, m, k, 1, 128, ue8m0);
  }

  static Quant quantBlocks(float[] x, int m, int k, boolean ue8m0) {
    return quantTiles(x, m, k, 128, 128, ue8m0);
  }

  // ---- math ----------------------------------------------------------------------------

  /** A [m, k] · B [n, k]ᵀ in double. */
  static double[] matmulNT(double[] a, double[] b, int m, int n, int k) {
    double[] out = new double[m * n];
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) {
          s += a[i * k + p] * b[j * k + p];
        }
        out[i * n + j] = s;
      }
    }
    return out;
  }

  static double[] slice(double[] x, int from, int len) {
    double[] out = new double[len];
    System.arraycopy(x, from, out, 0, len);
    return out;
  }

  /** DeepGEMM's calc_diff in double (this binding's own version). */
  static double calcDiff(double[] x, double[] y) {
    double xy = 0;
    double sq = 0;
    for (int i = 0; i < x.length; i++) {
      xy += x[i] * y[i];
      sq += x[i] * x[i] + y[i] * y[i];
    }
    return sq == 0 ? 0 : 1 - 2 * xy / sq;
  }

  /** calc_diff below 1e-4 and every element within atol + rtol·|ref|. */
  static void assertClose(double[] out, double[] ref, double rtol, double atol) {
    assertEquals(ref.length, out.length, "element count");
    double diff = calcDiff(out, ref);
    assertTrue(diff < 1e-4, "calc_diff " + diff);
    for (int i = 0; i < out.length; i++) {
      if (!(Math.abs(out[i] - ref[i]) <= atol + rtol * Math.abs(ref[i]))) {
        fail("element " + i + ": got " + out[i] + ", want " + ref[i]);
      }
    }
  }

  /** For bfloat16 outputs. */
  static void assertClose(double[] out, double[] ref) {
    assertClose(out, ref, Math.scalb(1.0, -6), 1e-2);
  }

  // ---- reading tensors back ------------------------------------------------------------

  /** Every element of a host tensor in logical row-major order, decoded here. */
  static double[] logical(Tensor t) {
    ByteBuffer raw = ByteBuffer.wrap(t.toByteArray()).order(ByteOrder.nativeOrder());
    long[] shape = t.shape();
    long[] strides = t.strides();
    int n = (int) t.numel();
    double[] out = new double[n];
    int size = t.dtype().byteSize();
    for (int i = 0; i < n; i++) {
      long rem = i;
      long off = 0;
      for (int d = shape.length - 1; d >= 0; d--) {
        off += (rem % shape[d]) * strides[d];
        rem /= shape[d];
      }
      int at = (int) (off * size);
      switch (t.dtype()) {
        case FLOAT32:
          out[i] = raw.getFloat(at);
          break;
        case BFLOAT16:
          out[i] = bf16ToFloat(raw.getShort(at));
          break;
        case FLOAT8_E4M3FN:
          out[i] = fp8ToDouble(raw.get(at));
          break;
        case INT32:
          out[i] = raw.getInt(at);
          break;
        default:
          out[i] = raw.get(at) & 0xFF;
      }
    }
    return out;
  }

  /** The FP8 bytes of a host tensor in logical order. */
  static byte[] logicalBytes(Tensor t) {
    double[] v = logical(t);
    byte[] out = new byte[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = doubleToFp8(v[i]);
    }
    return out;
  }
}
