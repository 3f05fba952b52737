package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import io.dlgemm.internal.dlg_status_t;

/**
 * The status codes of the C library ({@code dlg_status_t}). Every failure surfaces as a
 * {@link DlGemmException} carrying one of these; {@link #OK} is never thrown.
 */
public enum Status {
  /** Success. */
  OK(dlg_status_t.DLG_OK),
  /** A null where a value is required, a bad enum value, a bad scalar. */
  INVALID_ARGUMENT(dlg_status_t.DLG_ERR_INVALID_ARGUMENT),
  /** A tensor has the wrong dtype. */
  DTYPE(dlg_status_t.DLG_ERR_DTYPE),
  /** Ranks or extents disagree. */
  SHAPE(dlg_status_t.DLG_ERR_SHAPE),
  /** Strides or alignment the operation does not take. */
  LAYOUT(dlg_status_t.DLG_ERR_LAYOUT),
  /** Tensors on different devices, or on a device the context does not own. */
  DEVICE(dlg_status_t.DLG_ERR_DEVICE),
  /** A valid request with no implementation here (e.g. no GPU kernel for it). */
  UNSUPPORTED(dlg_status_t.DLG_ERR_UNSUPPORTED),
  /** The CUDA driver cannot be opened, or there is no GPU. */
  NO_DRIVER(dlg_status_t.DLG_ERR_NO_DRIVER),
  /** NVRTC cannot be opened. */
  NO_NVRTC(dlg_status_t.DLG_ERR_NO_NVRTC),
  /** NVRTC rejected a kernel. */
  COMPILE(dlg_status_t.DLG_ERR_COMPILE),
  /** A CUDA driver call failed. */
  CUDA(dlg_status_t.DLG_ERR_CUDA),
  /** Host or device memory ran out. */
  OUT_OF_MEMORY(dlg_status_t.DLG_ERR_OUT_OF_MEMORY),
  /** Kernel cache directory trouble. */
  IO(dlg_status_t.DLG_ERR_IO),
  /** A bug in the library. */
  INTERNAL(dlg_status_t.DLG_ERR_INTERNAL),
  /** A code this binding does not know (a newer library); {@link DlGemmException#code()} has it. */
  UNKNOWN(-1);

  private final int code;

  Status(int code) {
    this.code = code;
  }

  /** The C value of this status ({@code -1} for {@link #UNKNOWN}). */
  public int code() {
    return code;
  }

  /** The C enumerator name, e.g. {@code "DLG_ERR_DTYPE"}. */
  public String cName() {
    return NativeApi.dlg_status_name(code);
  }

  /** The library's short description, e.g. {@code "unsupported dtype"}. */
  public String description() {
    return NativeApi.dlg_status_string(code);
  }

  /** The status with C value {@code code}, or {@link #UNKNOWN}. */
  public static Status fromCode(int code) {
    for (Status s : values()) {
      if (s.code == code && s != UNKNOWN) {
        return s;
      }
    }
    return UNKNOWN;
  }

  /** The status with C enumerator name {@code name} ({@code "ok"} is {@link #OK}), or null. */
  public static Status fromCName(String name) {
    if ("ok".equals(name)) {
      return OK;
    }
    for (Status s : values()) {
      if (s != UNKNOWN && s.cName().equals(name)) {
        return s;
      }
    }
    return null;
  }
}
