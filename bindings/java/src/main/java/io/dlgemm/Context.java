package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import io.dlgemm.internal.dlg_device_info_t;
import java.nio.charset.StandardCharsets;

/**
 * A dlgemm context ({@code dlg_context_t}): one CUDA device (or the CPU), its compiled-kernel
 * cache and the run-time knobs; every operation runs through one.
 *
 * <p>Create one per device and keep it for the life of the process: any number of threads may
 * use one context at once (knob setters included). Operations on host tensors run the CPU
 * reference path (a CPU context, {@code new Context(-1)}, is enough); device tensors need a
 * context of their device. No CUDA call is made when a context is created, so contexts of any
 * kind can be created on machines without a GPU.
 *
 * <p>Tensor arguments are in the C parameter order ({@code include/dlgemm/*.h}); a null
 * tensor is passed as NULL (optional arguments: scales of some recipes, {@code c}, {@code ks}).
 * Outputs are written in place. {@code stream} is a {@code CUstream} address (0 = the legacy
 * default stream); it is ignored on the CPU path and every operation has an overload without it.
 * GPU work is asynchronous with respect to the host: {@link #synchronize(long)} waits.
 *
 * <p>{@link #close()} is idempotent; a close while calls are running waits for nothing and
 * frees the context when the last of them (and the last {@link DeviceMemory} from it) is done.
 * A {@link java.lang.ref.Cleaner} frees a context that was never closed.
 *
 * <pre>{@code
 * try (Context ctx = new Context(-1);
 *      Tensor a = Tensor.ofBf16(aBits, m, k); Tensor b = Tensor.ofBf16(bBits, n, k);
 *      Tensor d = Tensor.allocate(DType.FLOAT32, m, n)) {
 *   ctx.gemm(Recipe.BF16, a, null, b, null, null, d);   // D = A * B^T
 *   float[] out = d.toFloatArray();
 * }
 * }</pre>
 */
public final class Context extends NativeResource {
  private final int device;
  private volatile String jitOptions;

  /**
   * A context for CUDA device {@code device} (&gt;= 0), or a CPU-only context (-1).
   *
   * @param device CUDA ordinal, or -1
   * @throws DlGemmException INVALID_ARGUMENT for other negative values
   */
  public Context(int device) {
    super(create(device), NativeApi::dlg_context_destroy);
    this.device = NativeApi.dlg_context_device(rawHandle()); // immutable: read once
  }

  private static long create(int device) {
    long[] out = new long[1];
    NativeApi.dlg_context_create(device, out);
    return out[0];
  }

  /**
   * A CPU-only context (the reference path for host tensors).
   *
   * @return a new context
   */
  public static Context cpu() {
    return new Context(-1);
  }

  @Override
  String kind() {
    return "context";
  }

  // ---- knobs -----------------------------------------------------------------------------

  /** The CUDA ordinal, or -1 for a CPU-only context. */
  public int device() {
    return device;
  }

  /** SMs the persistent kernels may use; 0 = the whole device (default). */
  public int getMaxSms() {
    long h = acquire();
    try {
      return NativeApi.dlg_context_get_max_sms(h);
    } finally {
      release();
    }
  }

  /**
   * Limits the SMs the persistent kernels use (0 = all).
   *
   * @param maxSms the limit, &gt;= 0
   */
  public void setMaxSms(int maxSms) {
    long h = acquire();
    try {
      NativeApi.dlg_context_set_max_sms(h, maxSms);
    } finally {
      release();
    }
  }

  /** Whether kernels launch with programmatic dependent launch (default off). */
  public boolean isPdl() {
    long h = acquire();
    try {
      return NativeApi.dlg_context_get_pdl(h) != 0;
    } finally {
      release();
    }
  }

  /**
   * Turns programmatic dependent launch on or off.
   *
   * @param enable on
   */
  public void setPdl(boolean enable) {
    long h = acquire();
    try {
      NativeApi.dlg_context_set_pdl(h, enable ? 1 : 0);
    } finally {
      release();
    }
  }

  /** The kernel disk-cache directory in use. */
  public String getCacheDir() {
    long h = acquire();
    try {
      byte[] buf = new byte[4096];
      NativeApi.dlg_context_get_cache_dir(h, buf);
      int len = 0;
      while (len < buf.length && buf[len] != 0) {
        len++;
      }
      return new String(buf, 0, len, StandardCharsets.UTF_8);
    } finally {
      release();
    }
  }

  /**
   * Sets the kernel disk-cache directory; null restores the default ($DLG_JIT_CACHE_DIR, else
   * $XDG_CACHE_HOME/dlgemm, else $HOME/.cache/dlgemm).
   *
   * @param dir the directory, or null
   */
  public void setCacheDir(String dir) {
    long h = acquire();
    try {
      NativeApi.dlg_context_set_cache_dir(h, dir);
    } finally {
      release();
    }
  }

  /** Extra NVRTC options last set through this object (null when none). */
  public String getJitOptions() {
    return jitOptions;
  }

  /**
   * Extra NVRTC options for every compilation (space-separated, e.g. "-lineinfo"; part of the
   * cache key). Null or "" clears them.
   *
   * @param options the options, or null
   */
  public void setJitOptions(String options) {
    long h = acquire();
    try {
      NativeApi.dlg_context_set_jit_options(h, options);
      jitOptions = options == null || options.isEmpty() ? null : options;
    } finally {
      release();
    }
  }

  /**
   * Facts about the context's device (needs the CUDA driver).
   *
   * @return the device's facts
   * @throws DlGemmException on a CPU context, or without a driver
   */
  public DeviceInfo deviceInfo() {
    long h = acquire();
    dlg_device_info_t info = new dlg_device_info_t();
    try {
      NativeApi.dlg_context_device_info(h, info);
      return new DeviceInfo(info.getOrdinal(), info.getSm_major(), info.getSm_minor(),
          info.getNum_sms(), info.getTotal_memory(), info.getL2_bytes(),
          info.getMax_smem_per_block(), info.getName());
    } finally {
      info.delete();
      release();
    }
  }

  // ---- calls -----------------------------------------------------------------------------

  @FunctionalInterface
  private interface Body {
    void run(long ctx, long[] tensors);
  }

  /** Runs body with the context and every tensor marked in use (null tensors pass 0). */
  private void invoke(Body body, Tensor... args) {
    long ctx = acquire();
    long[] handles = new long[args.length];
    int taken = 0;
    try {
      for (; taken < args.length; taken++) {
        handles[taken] = args[taken] == null ? 0 : args[taken].acquire();
      }
      body.run(ctx, handles);
    } finally {
      for (int i = 0; i < taken; i++) {
        if (args[i] != null) {
          args[i].release();
        }
      }
      release();
    }
  }

  /** Outputs the library writes must not be read-only views. */
  private static void writable(Tensor t, String name) {
    if (t != null && t.isReadOnly()) {
      throw new DlGemmException(Status.INVALID_ARGUMENT,
          name + ": output tensor is read-only (a read-only ByteBuffer)");
    }
  }

  private static Recipe recipe(Recipe r) {
    if (r == null) {
      throw new DlGemmException(Status.INVALID_ARGUMENT, "recipe: null");
    }
    return r;
  }

  // ---- dense GEMM ------------------------------------------------------------------------

  /**
   * D = C + A·Bᵀ ({@code dlg_gemm}). A [M, K], B [N, K], C and D [M, N]; layouts from the
   * strides (A K- or M-major, B K- or N-major). Scales per recipe (see {@link Recipe}); C may
   * be null (zero) or D itself (in-place accumulation).
   *
   * @param recipe the scale recipe
   * @param a A
   * @param sfa A's scales (null for BF16; null or a scalar for FP8_PER_TENSOR)
   * @param b B
   * @param sfb B's scales
   * @param c C, or null
   * @param d D (written)
   * @param stream CUstream address, 0 = default
   */
  public void gemm(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor c,
      Tensor d, long stream) {
    int r = recipe(recipe).value();
    writable(d, "d");
    invoke((ctx, h) -> NativeApi.dlg_gemm(ctx, r, h[0], h[1], h[2], h[3], h[4], h[5], stream),
        a, sfa, b, sfb, c, d);
  }

  /**
   * {@link #gemm(Recipe, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, long)} on the default
   * stream.
   *
   * @param recipe the scale recipe
   * @param a A
   * @param sfa A's scales
   * @param b B
   * @param sfb B's scales
   * @param c C, or null
   * @param d D (written)
   */
  public void gemm(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb, Tensor c,
      Tensor d) {
    gemm(recipe, a, sfa, b, sfb, c, d, 0);
  }

  /**
   * Compiles (or loads from the disk cache) the kernel {@code gemm} would launch for this
   * problem on the context's device ({@code dlg_warmup_gemm}); a no-op on a CPU context.
   *
   * @param recipe the scale recipe
   * @param m rows of A and D
   * @param n rows of B, columns of D
   * @param k the reduction length
   * @param dDtype D's dtype (BFLOAT16 or FLOAT32)
   * @throws DlGemmException UNSUPPORTED when no GPU kernel covers the problem
   */
  public void warmupGemm(Recipe recipe, long m, long n, long k, DType dDtype) {
    int r = recipe(recipe).value();
    if (dDtype == null) {
      throw new DlGemmException(Status.INVALID_ARGUMENT, "d_dtype: null");
    }
    invoke((ctx, h) -> NativeApi.dlg_warmup_gemm(ctx, r, m, n, k, dDtype.code(), dDtype.bits()));
  }

  // ---- MoE grouped GEMMs -----------------------------------------------------------------

  /**
   * M-grouped contiguous GEMM (MoE prefill, {@code dlg_m_grouped_gemm_contiguous}): row r of
   * group g gets D[r] = A[r]·B[g]ᵀ. a [M, K], b [G, N, K], d [M, N] bf16.
   *
   * @param recipe FP8_1D2D, FP8_PER_TENSOR or BF16
   * @param a A
   * @param sfa A's scales
   * @param b B, grouped
   * @param sfb B's scales, grouped
   * @param groupedLayout int32 row ids [M] or offsets [G + 1]
   * @param layoutKind which of the two {@code groupedLayout} is
   * @param d D (rows outside every group untouched)
   * @param stream CUstream address, 0 = default
   */
  public void mGroupedGemmContiguous(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor groupedLayout, GroupLayout layoutKind, Tensor d, long stream) {
    int r = recipe(recipe).value();
    if (layoutKind == null) {
      throw new DlGemmException(Status.INVALID_ARGUMENT, "layout_kind: null");
    }
    int kind = layoutKind.value();
    writable(d, "d");
    invoke((ctx, h) -> NativeApi.dlg_m_grouped_gemm_contiguous(ctx, r, h[0], h[1], h[2], h[3],
        h[4], kind, h[5], stream), a, sfa, b, sfb, groupedLayout, d);
  }

  /**
   * {@link #mGroupedGemmContiguous(Recipe, Tensor, Tensor, Tensor, Tensor, Tensor, GroupLayout,
   * Tensor, long)} on the default stream.
   *
   * @param recipe FP8_1D2D, FP8_PER_TENSOR or BF16
   * @param a A
   * @param sfa A's scales
   * @param b B, grouped
   * @param sfb B's scales, grouped
   * @param groupedLayout int32 row ids [M] or offsets [G + 1]
   * @param layoutKind which of the two {@code groupedLayout} is
   * @param d D
   */
  public void mGroupedGemmContiguous(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor groupedLayout, GroupLayout layoutKind, Tensor d) {
    mGroupedGemmContiguous(recipe, a, sfa, b, sfb, groupedLayout, layoutKind, d, 0);
  }

  /**
   * M-grouped masked GEMM (MoE decode, {@code dlg_m_grouped_gemm_masked}): for group g and
   * row r &lt; masked_m[g], D[g, r] = A[g, r]·B[g]ᵀ; other rows untouched.
   *
   * @param recipe FP8_1D2D, FP8_PER_TENSOR or BF16
   * @param a A [G, max_m, K]
   * @param sfa A's scales
   * @param b B [G, N, K]
   * @param sfb B's scales
   * @param maskedM int32 [G], read on the device
   * @param expectedM typical rows per group (&gt; 0), a hint
   * @param d D [G, max_m, N]
   * @param stream CUstream address, 0 = default
   */
  public void mGroupedGemmMasked(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor maskedM, int expectedM, Tensor d, long stream) {
    int r = recipe(recipe).value();
    writable(d, "d");
    invoke((ctx, h) -> NativeApi.dlg_m_grouped_gemm_masked(ctx, r, h[0], h[1], h[2], h[3], h[4],
        expectedM, h[5], stream), a, sfa, b, sfb, maskedM, d);
  }

  /**
   * {@link #mGroupedGemmMasked(Recipe, Tensor, Tensor, Tensor, Tensor, Tensor, int, Tensor,
   * long)} on the default stream.
   *
   * @param recipe FP8_1D2D, FP8_PER_TENSOR or BF16
   * @param a A [G, max_m, K]
   * @param sfa A's scales
   * @param b B [G, N, K]
   * @param sfb B's scales
   * @param maskedM int32 [G]
   * @param expectedM typical rows per group (&gt; 0)
   * @param d D [G, max_m, N]
   */
  public void mGroupedGemmMasked(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor maskedM, int expectedM, Tensor d) {
    mGroupedGemmMasked(recipe, a, sfa, b, sfb, maskedM, expectedM, d, 0);
  }

  /**
   * K-grouped contiguous GEMM (MoE weight gradients, {@code dlg_k_grouped_gemm_contiguous}):
   * K is split in G segments of ks[g] columns (multiples of 128, zero allowed);
   * D[g] = C[g] + A[:, seg g]·B[:, seg g]ᵀ.
   *
   * @param recipe FP8_1D1D or FP8_PER_TENSOR
   * @param a A [M, K_total]
   * @param sfa A's scales
   * @param b B [N, K_total]
   * @param sfb B's scales
   * @param ks int32 [G] segment lengths, on the data's device
   * @param c C [G, M, N] f32, or null; may be d
   * @param d D [G, M, N] f32
   * @param stream CUstream address, 0 = default
   */
  public void kGroupedGemmContiguous(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor ks, Tensor c, Tensor d, long stream) {
    int r = recipe(recipe).value();
    writable(d, "d");
    invoke((ctx, h) -> NativeApi.dlg_k_grouped_gemm_contiguous(ctx, r, h[0], h[1], h[2], h[3],
        h[4], h[5], h[6], stream), a, sfa, b, sfb, ks, c, d);
  }

  /**
   * {@link #kGroupedGemmContiguous(Recipe, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor,
   * Tensor, long)} on the default stream.
   *
   * @param recipe FP8_1D1D or FP8_PER_TENSOR
   * @param a A [M, K_total]
   * @param sfa A's scales
   * @param b B [N, K_total]
   * @param sfb B's scales
   * @param ks int32 [G] segment lengths
   * @param c C, or null
   * @param d D [G, M, N] f32
   */
  public void kGroupedGemmContiguous(Recipe recipe, Tensor a, Tensor sfa, Tensor b, Tensor sfb,
      Tensor ks, Tensor c, Tensor d) {
    kGroupedGemmContiguous(recipe, a, sfa, b, sfb, ks, c, d, 0);
  }

  // ---- MQA logits ------------------------------------------------------------------------

  /**
   * Non-paged MQA logits ({@code dlg_mqa_logits}): logits[i, j] = Σ_h relu(q[i,h]·kv[j] ·
   * kv_scale[j]) · weights[i, h] for j in [ks[i], ke[i]); outside it -inf when
   * {@code cleanLogits}, untouched otherwise.
   *
   * @param q e4m3 [S, H, D]
   * @param kv e4m3 [S_kv, D]
   * @param kvScale f32 [S_kv]
   * @param weights f32 [S, H]
   * @param ks int32 [S]
   * @param ke int32 [S]
   * @param cleanLogits write -inf outside each row's range
   * @param logits f32 or bf16 [S, S_kv] (row stride may exceed S_kv)
   * @param stream CUstream address, 0 = default
   */
  public void mqaLogits(Tensor q, Tensor kv, Tensor kvScale, Tensor weights, Tensor ks,
      Tensor ke, boolean cleanLogits, Tensor logits, long stream) {
    int clean = cleanLogits ? 1 : 0;
    writable(logits, "logits");
    invoke((ctx, h) -> NativeApi.dlg_mqa_logits(ctx, h[0], h[1], h[2], h[3], h[4], h[5], clean,
        h[6], stream), q, kv, kvScale, weights, ks, ke, logits);
  }

  /**
   * {@link #mqaLogits(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, boolean, Tensor, long)}
   * on the default stream.
   *
   * @param q e4m3 [S, H, D]
   * @param kv e4m3 [S_kv, D]
   * @param kvScale f32 [S_kv]
   * @param weights f32 [S, H]
   * @param ks int32 [S]
   * @param ke int32 [S]
   * @param cleanLogits write -inf outside each row's range
   * @param logits f32 or bf16 [S, S_kv]
   */
  public void mqaLogits(Tensor q, Tensor kv, Tensor kvScale, Tensor weights, Tensor ks,
      Tensor ke, boolean cleanLogits, Tensor logits) {
    mqaLogits(q, kv, kvScale, weights, ks, ke, cleanLogits, logits, 0);
  }

  /**
   * Non-paged MQA logits with a compressed output ({@code dlg_mqa_logits_compressed},
   * DeepGEMM's max_seqlen_k): column c of row i holds key ks[i] + c (ks/ke clamped to
   * [0, S_kv]); columns past the row's window are -inf when {@code cleanLogits}, untouched
   * otherwise.
   *
   * @param q e4m3 [S, H, D]
   * @param kv e4m3 [S_kv, D]
   * @param kvScale f32 [S_kv]
   * @param weights f32 [S, H]
   * @param ks int32 [S]
   * @param ke int32 [S]
   * @param cleanLogits write -inf past each row's window
   * @param logits f32 or bf16 [S, W], any W &gt;= 1
   * @param stream CUstream address, 0 = default
   */
  public void mqaLogitsCompressed(Tensor q, Tensor kv, Tensor kvScale, Tensor weights,
      Tensor ks, Tensor ke, boolean cleanLogits, Tensor logits, long stream) {
    int clean = cleanLogits ? 1 : 0;
    writable(logits, "logits");
    invoke((ctx, h) -> NativeApi.dlg_mqa_logits_compressed(ctx, h[0], h[1], h[2], h[3], h[4],
        h[5], clean, h[6], stream), q, kv, kvScale, weights, ks, ke, logits);
  }

  /**
   * Schedule metadata of the paged kernel ({@code dlg_paged_mqa_logits_metadata}).
   *
   * @param contextLens int32 [B] or [B, next_n]
   * @param blockKv tokens per KV block
   * @param numSms SMs to split over (0 = the context's SM count)
   * @param scheduleMeta int32 [{@link DlGemm#pagedMqaLogitsMetadataRows}(numSms), 2]
   * @param stream CUstream address, 0 = default
   */
  public void pagedMqaLogitsMetadata(Tensor contextLens, int blockKv, int numSms,
      Tensor scheduleMeta, long stream) {
    writable(scheduleMeta, "schedule_meta");
    invoke((ctx, h) -> NativeApi.dlg_paged_mqa_logits_metadata(ctx, h[0], blockKv, numSms, h[1],
        stream), contextLens, scheduleMeta);
  }

  /**
   * {@link #pagedMqaLogitsMetadata(Tensor, int, int, Tensor, long)} on the default stream.
   *
   * @param contextLens int32 [B] or [B, next_n]
   * @param blockKv tokens per KV block
   * @param numSms SMs to split over (0 = the context's SM count)
   * @param scheduleMeta int32 [rows, 2]
   */
  public void pagedMqaLogitsMetadata(Tensor contextLens, int blockKv, int numSms,
      Tensor scheduleMeta) {
    pagedMqaLogitsMetadata(contextLens, blockKv, numSms, scheduleMeta, 0);
  }

  /**
   * Paged MQA logits (decode, {@code dlg_paged_mqa_logits}).
   *
   * @param q e4m3 [B, next_n, H, D]
   * @param kvCache uint8 [num_blocks, block_kv, 1, D + 4] (FP8 rows, then FP32 scales)
   * @param weights f32 [B·next_n, H]
   * @param contextLens int32 [B, next_n] or [B]
   * @param blockTable int32 [B, max_blocks]
   * @param scheduleMeta from {@link #pagedMqaLogitsMetadata}; null allowed on the CPU
   * @param cleanLogits write -inf past each row's length
   * @param logits f32 or bf16 [B·next_n, max_context_len]
   * @param stream CUstream address, 0 = default
   */
  public void pagedMqaLogits(Tensor q, Tensor kvCache, Tensor weights, Tensor contextLens,
      Tensor blockTable, Tensor scheduleMeta, boolean cleanLogits, Tensor logits, long stream) {
    int clean = cleanLogits ? 1 : 0;
    writable(logits, "logits");
    invoke((ctx, h) -> NativeApi.dlg_paged_mqa_logits(ctx, h[0], h[1], h[2], h[3], h[4], h[5],
        clean, h[6], stream), q, kvCache, weights, contextLens, blockTable, scheduleMeta, logits);
  }

  /**
   * {@link #pagedMqaLogits(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, boolean, Tensor,
   * long)} on the default stream.
   *
   * @param q e4m3 [B, next_n, H, D]
   * @param kvCache uint8 [num_blocks, block_kv, 1, D + 4]
   * @param weights f32 [B·next_n, H]
   * @param contextLens int32 [B, next_n] or [B]
   * @param blockTable int32 [B, max_blocks]
   * @param scheduleMeta schedule metadata, or null on the CPU
   * @param cleanLogits write -inf past each row's length
   * @param logits f32 or bf16 [B·next_n, max_context_len]
   */
  public void pagedMqaLogits(Tensor q, Tensor kvCache, Tensor weights, Tensor contextLens,
      Tensor blockTable, Tensor scheduleMeta, boolean cleanLogits, Tensor logits) {
    pagedMqaLogits(q, kvCache, weights, contextLens, blockTable, scheduleMeta, cleanLogits,
        logits, 0);
  }

  /**
   * Writes -inf outside each row's valid range [ks[r], ke[r]) ({@code dlg_clean_logits}).
   *
   * @param ks int32 [R], or null (= 0)
   * @param ke int32 [R]
   * @param logits f32 or bf16 [R, L]
   * @param stream CUstream address, 0 = default
   */
  public void cleanLogits(Tensor ks, Tensor ke, Tensor logits, long stream) {
    writable(logits, "logits");
    invoke((ctx, h) -> NativeApi.dlg_clean_logits(ctx, h[0], h[1], h[2], stream), ks, ke, logits);
  }

  /**
   * {@link #cleanLogits(Tensor, Tensor, Tensor, long)} on the default stream.
   *
   * @param ks int32 [R], or null
   * @param ke int32 [R]
   * @param logits f32 or bf16 [R, L]
   */
  public void cleanLogits(Tensor ks, Tensor ke, Tensor logits) {
    cleanLogits(ks, ke, logits, 0);
  }

  // ---- FP8 casts and scale layouts -------------------------------------------------------

  /**
   * Per-token (1x128) FP8 cast ({@code dlg_cast_fp8_per_token}): x [M, K] f32/bf16 -&gt; out
   * e4m3 [M, K], sf f32 [M, ceil(K/128)] (any strides).
   *
   * @param x input
   * @param useUe8m0 round scales up to powers of two
   * @param out e4m3 output
   * @param sf scales (dequantisation multipliers)
   * @param stream CUstream address, 0 = default
   */
  public void castFp8PerToken(Tensor x, boolean useUe8m0, Tensor out, Tensor sf, long stream) {
    int ue = useUe8m0 ? 1 : 0;
    writable(out, "out");
    writable(sf, "sf");
    invoke((ctx, h) -> NativeApi.dlg_cast_fp8_per_token(ctx, h[0], ue, h[1], h[2], stream), x,
        out, sf);
  }

  /**
   * {@link #castFp8PerToken(Tensor, boolean, Tensor, Tensor, long)} on the default stream.
   *
   * @param x input
   * @param useUe8m0 round scales up to powers of two
   * @param out e4m3 output
   * @param sf scales
   */
  public void castFp8PerToken(Tensor x, boolean useUe8m0, Tensor out, Tensor sf) {
    castFp8PerToken(x, useUe8m0, out, sf, 0);
  }

  /**
   * Per-block (128x128) FP8 cast ({@code dlg_cast_fp8_per_block}): sf [ceil(M/128),
   * ceil(K/128)].
   *
   * @param x input [M, K]
   * @param useUe8m0 round scales up to powers of two
   * @param out e4m3 output
   * @param sf scales
   * @param stream CUstream address, 0 = default
   */
  public void castFp8PerBlock(Tensor x, boolean useUe8m0, Tensor out, Tensor sf, long stream) {
    int ue = useUe8m0 ? 1 : 0;
    writable(out, "out");
    writable(sf, "sf");
    invoke((ctx, h) -> NativeApi.dlg_cast_fp8_per_block(ctx, h[0], ue, h[1], h[2], stream), x,
        out, sf);
  }

  /**
   * {@link #castFp8PerBlock(Tensor, boolean, Tensor, Tensor, long)} on the default stream.
   *
   * @param x input [M, K]
   * @param useUe8m0 round scales up to powers of two
   * @param out e4m3 output
   * @param sf scales
   */
  public void castFp8PerBlock(Tensor x, boolean useUe8m0, Tensor out, Tensor sf) {
    castFp8PerBlock(x, useUe8m0, out, sf, 0);
  }

  /**
   * Per-tensor FP8 cast ({@code dlg_cast_fp8_per_tensor}): sf scalar = amax / 448.
   *
   * @param x input (any shape)
   * @param out e4m3 output, same shape
   * @param sf the scalar scale
   * @param stream CUstream address, 0 = default
   */
  public void castFp8PerTensor(Tensor x, Tensor out, Tensor sf, long stream) {
    writable(out, "out");
    writable(sf, "sf");
    invoke((ctx, h) -> NativeApi.dlg_cast_fp8_per_tensor(ctx, h[0], h[1], h[2], stream), x, out,
        sf);
  }

  /**
   * {@link #castFp8PerTensor(Tensor, Tensor, Tensor, long)} on the default stream.
   *
   * @param x input
   * @param out e4m3 output
   * @param sf the scalar scale
   */
  public void castFp8PerTensor(Tensor x, Tensor out, Tensor sf) {
    castFp8PerTensor(x, out, sf, 0);
  }

  /**
   * Copies scale factors into another layout, typically the TMA-aligned MN-major one
   * ({@code dlg_transform_sf}).
   *
   * @param sfIn f32 [.., MN, Kb], any strides
   * @param sfOut f32 of the same shape
   * @param stream CUstream address, 0 = default
   */
  public void transformSf(Tensor sfIn, Tensor sfOut, long stream) {
    writable(sfOut, "sf_out");
    invoke((ctx, h) -> NativeApi.dlg_transform_sf(ctx, h[0], h[1], stream), sfIn, sfOut);
  }

  /**
   * {@link #transformSf(Tensor, Tensor, long)} on the default stream.
   *
   * @param sfIn f32 [.., MN, Kb]
   * @param sfOut f32 of the same shape
   */
  public void transformSf(Tensor sfIn, Tensor sfOut) {
    transformSf(sfIn, sfOut, 0);
  }

  /**
   * Rounds f32 scales up to powers of two and packs four UE8M0 exponents per int32
   * ({@code dlg_pack_ue8m0}).
   *
   * @param sf f32 [.., MN, Kb]
   * @param packed int32 [.., MN, ceil(Kb/4)]
   * @param stream CUstream address, 0 = default
   */
  public void packUe8m0(Tensor sf, Tensor packed, long stream) {
    writable(packed, "packed");
    invoke((ctx, h) -> NativeApi.dlg_pack_ue8m0(ctx, h[0], h[1], stream), sf, packed);
  }

  /**
   * {@link #packUe8m0(Tensor, Tensor, long)} on the default stream.
   *
   * @param sf f32 [.., MN, Kb]
   * @param packed int32 [.., MN, ceil(Kb/4)]
   */
  public void packUe8m0(Tensor sf, Tensor packed) {
    packUe8m0(sf, packed, 0);
  }

  // ---- memory, copies, streams -----------------------------------------------------------

  /**
   * Allocates device memory on the context's device ({@code dlg_device_alloc}).
   *
   * @param bytes size
   * @return the block (close it to free)
   * @throws DlGemmException NO_DRIVER without a GPU, OUT_OF_MEMORY, DEVICE on a CPU context
   */
  public DeviceMemory deviceAlloc(long bytes) {
    long h = acquire();
    boolean handedOver = false;
    try {
      long[] out = new long[1];
      NativeApi.dlg_device_alloc(h, bytes, out);
      DeviceMemory mem = new DeviceMemory(this, h, out[0], bytes);
      handedOver = true; // the block's free() releases our use of the context
      return mem;
    } finally {
      if (!handedOver) {
        release();
      }
    }
  }

  /**
   * Copies bytes between host and device addresses, synchronously ({@code dlg_memcpy}).
   *
   * @param dst destination address
   * @param src source address
   * @param bytes how many
   */
  public void memcpy(long dst, long src, long bytes) {
    invoke((ctx, h) -> NativeApi.dlg_memcpy(ctx, dst, src, bytes));
  }

  /**
   * Copies a tensor's elements into another of the same shape and dtype, across host/device
   * and strides, synchronously ({@code dlg_tensor_copy}).
   *
   * @param src source
   * @param dst destination
   */
  public void copy(Tensor src, Tensor dst) {
    writable(dst, "dst");
    invoke((ctx, h) -> NativeApi.dlg_tensor_copy(ctx, h[0], h[1]), src, dst);
  }

  /**
   * Waits for all work on {@code stream} ({@code dlg_stream_synchronize}).
   *
   * @param stream CUstream address, 0 = the legacy default stream
   */
  public void synchronize(long stream) {
    invoke((ctx, h) -> NativeApi.dlg_stream_synchronize(ctx, stream));
  }

  /** Waits for all work on the legacy default stream. */
  public void synchronize() {
    synchronize(0);
  }

  /**
   * Sets every byte of the tensor's elements to {@code value} ({@code dlg_testing_poison};
   * host or device).
   *
   * @param t the tensor
   * @param value the byte (0..255)
   */
  public void poison(Tensor t, int value) {
    writable(t, "t");
    invoke((ctx, h) -> NativeApi.dlg_testing_poison(ctx, h[0], value), t);
  }

  @Override
  public String toString() {
    return "Context[" + (device < 0 ? "cpu" : "cuda:" + device) + (isClosed() ? ", closed]"
        : "]");
  }
}
