package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import io.dlgemm.internal.NativeApiConstants;
import io.dlgemm.internal.dlg_runtime_info_t;

/**
 * Library-wide facts and queries: versions, status names, the thread's last error, the CUDA
 * environment, and the layout/size queries of the C ABI. Operations live on {@link Context}.
 */
public final class DlGemm {
  /** Largest finite float8_e4m3fn ({@code DLG_FP8_E4M3_MAX}). */
  public static final float FP8_E4M3_MAX = NativeApiConstants.DLG_FP8_E4M3_MAX;
  /** The version this binding was generated from ({@code DLG_VERSION_STRING}). */
  public static final String BINDING_VERSION = NativeApiConstants.DLG_VERSION_STRING;

  private DlGemm() {}

  /** Version of the loaded C library: major*10000 + minor*100 + patch. */
  public static int version() {
    return NativeApi.dlg_version();
  }

  /** "MAJOR.MINOR.PATCH" of the loaded C library. */
  public static String versionString() {
    return NativeApi.dlg_version_string();
  }

  /**
   * The library's short description of a status code ("unsupported dtype").
   *
   * @param code a status value
   * @return the description ("unknown status" for unknown codes)
   */
  public static String statusString(int code) {
    return NativeApi.dlg_status_string(code);
  }

  /**
   * The enumerator name of a status code ("DLG_ERR_DTYPE").
   *
   * @param code a status value
   * @return the name
   */
  public static String statusName(int code) {
    return NativeApi.dlg_status_name(code);
  }

  /**
   * The message of this thread's last failed call ("" if none). Exceptions carry it already;
   * on virtual threads prefer the exception's message (a virtual thread may change carrier).
   */
  public static String lastError() {
    return NativeApi.dlg_last_error();
  }

  /** Clears this thread's last error message. */
  public static void clearError() {
    NativeApi.dlg_clear_error();
  }

  /**
   * The library's name of a DLPack dtype, e.g. (10, 8) -&gt; "float8_e4m3fn".
   *
   * @param code DLPack type code
   * @param bits bit width
   * @return the name
   */
  public static String dtypeName(int code, int bits) {
    return NativeApi.dlg_dtype_name(code, bits);
  }

  /** Whether the CUDA driver and NVRTC can be opened here, and their versions. Never fails. */
  public static RuntimeInfo runtimeInfo() {
    dlg_runtime_info_t info = new dlg_runtime_info_t();
    try {
      NativeApi.dlg_runtime_info(info);
      return new RuntimeInfo(info.getDriver_found() != 0, info.getDriver_version(),
          info.getDevice_count(), info.getNvrtc_found() != 0, info.getNvrtc_major(),
          info.getNvrtc_minor(), info.getDriver_path(), info.getNvrtc_path(), info.getWhy());
    } finally {
      info.delete();
    }
  }

  /**
   * Elements of {@code elemSize} bytes so that {@code mn} of them end on a 16-byte boundary
   * (the TMA stride rule, {@code dlg_tma_aligned_size}).
   *
   * @param mn rows
   * @param elemSize bytes per element
   * @return the aligned count
   */
  public static long tmaAlignedSize(long mn, long elemSize) {
    return NativeApi.dlg_tma_aligned_size(mn, elemSize);
  }

  /** Row alignment of each group's segment in the M-grouped contiguous layout (128 on SM90). */
  public static int mkAlignmentForContiguousLayout() {
    return NativeApi.dlg_mk_alignment_for_contiguous_layout();
  }

  /**
   * Recommended row stride (elements) of an MQA logits buffer with {@code seqLenKv} columns.
   *
   * @param seqLenKv columns
   * @return the stride
   */
  public static long mqaLogitsRowStride(long seqLenKv) {
    return NativeApi.dlg_mqa_logits_row_stride(seqLenKv);
  }

  /**
   * Rows of the paged MQA schedule metadata for {@code numSms} SMs.
   *
   * @param numSms SMs
   * @return rows (numSms + 1)
   */
  public static long pagedMqaLogitsMetadataRows(int numSms) {
    return NativeApi.dlg_paged_mqa_logits_metadata_rows(numSms);
  }

  /**
   * Native objects (contexts, tensor descriptors, device memory) this binding has made and not
   * yet freed, in this class loader: a leak check for tests and services.
   */
  public static long openNativeHandles() {
    return NativeResource.LIVE.get();
  }
}
