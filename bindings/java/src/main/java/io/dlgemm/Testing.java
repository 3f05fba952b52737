package io.dlgemm;

import io.dlgemm.internal.NativeApi;

/**
 * What every binding and the conformance suite share, so that all languages draw identical
 * inputs and compare the same way: the seeded generator and DeepGEMM's calc_diff. Device
 * memory, copies and poisoning are on {@link Context}.
 */
public final class Testing {
  private Testing() {}

  private interface Body {
    void run(long[] handles);
  }

  private static void with(Body body, Tensor... ts) {
    long[] h = new long[ts.length];
    int taken = 0;
    try {
      for (; taken < ts.length; taken++) {
        if (ts[taken] == null) {
          throw new DlGemmException(Status.INVALID_ARGUMENT, "tensor " + taken + ": null");
        }
        h[taken] = ts[taken].acquire();
      }
      body.run(h);
    } finally {
      for (int i = 0; i < taken; i++) {
        ts[i].release();
      }
    }
  }

  /**
   * Fills a host tensor from the counter-based generator ({@code dlg_testing_fill}): the
   * element with row-major logical index i gets f(seed, i), whatever the strides or language.
   *
   * @param t a host tensor (any dtype the library knows)
   * @param seed the seed
   * @param dist distribution
   * @param lo lower bound (NORMAL: mean)
   * @param hi upper bound (NORMAL: standard deviation)
   */
  public static void fill(Tensor t, long seed, Fill dist, double lo, double hi) {
    int kind = dist == null ? 0 : dist.value();
    with(h -> NativeApi.dlg_testing_fill(h[0], seed, kind, lo, hi), t);
  }

  /**
   * DeepGEMM's calc_diff = 1 - 2·Σxy / Σ(x² + y²) in double ({@code dlg_testing_calc_diff}).
   *
   * @param x a host tensor
   * @param y a host tensor of the same shape (any float dtypes)
   * @return the difference (0 when both are zero)
   */
  public static double calcDiff(Tensor x, Tensor y) {
    double[] out = new double[1];
    with(h -> NativeApi.dlg_testing_calc_diff(h[0], h[1], out), x, y);
    return out[0];
  }

  /**
   * Elements that differ bitwise ({@code dlg_testing_count_mismatch}).
   *
   * @param x a host tensor
   * @param y a host tensor of the same shape and dtype
   * @return the count
   */
  public static long countMismatch(Tensor x, Tensor y) {
    long[] out = new long[1];
    with(h -> NativeApi.dlg_testing_count_mismatch(h[0], h[1], out), x, y);
    return out[0];
  }

  /**
   * The library's element count of a tensor ({@code dlg_tensor_numel}).
   *
   * @param t the tensor
   * @return elements (1 for 0-d)
   */
  public static long numel(Tensor t) {
    long[] out = new long[1];
    with(h -> out[0] = NativeApi.dlg_tensor_numel(h[0]), t);
    return out[0];
  }

  /**
   * The library's span of a tensor in bytes ({@code dlg_tensor_span_bytes}).
   *
   * @param t the tensor
   * @return bytes (0 if empty)
   */
  public static long spanBytes(Tensor t) {
    long[] out = new long[1];
    with(h -> out[0] = NativeApi.dlg_tensor_span_bytes(h[0]), t);
    return out[0];
  }
}
