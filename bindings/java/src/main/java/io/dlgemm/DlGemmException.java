package io.dlgemm;

import java.nio.charset.StandardCharsets;

/**
 * A failed dlgemm call: the {@link Status} kind and the C library's message, which names the
 * argument and the reason (e.g. {@code "b: expected dtype float8_e4m3fn, got bfloat16"}).
 *
 * <p>Unchecked. Every status the C library returns is turned into this exception in one place,
 * inside the native call itself (so the message is always the failing call's own, also on
 * virtual threads); checks the Java layer makes before calling (a closed context, an array of
 * the wrong length) throw it too, with {@link Status#INVALID_ARGUMENT} or the fitting kind.
 */
public class DlGemmException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Status status;
  private final int code;

  /**
   * An exception of kind {@code status}.
   *
   * @param status the kind (not {@link Status#OK})
   * @param message what went wrong, naming the argument
   */
  public DlGemmException(Status status, String message) {
    this(status, status.code(), message);
  }

  private DlGemmException(Status status, int code, String message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  /** Called by the JNI layer (java.i) for every status other than DLG_OK. */
  @SuppressWarnings("unused")
  private static DlGemmException fromNative(int code, byte[] message) {
    String text = new String(message, StandardCharsets.UTF_8);
    Status status = Status.fromCode(code);
    if (text.isEmpty()) {
      text = DlGemm.statusString(code);
    }
    return new DlGemmException(status, code, text);
  }

  /** The kind of failure. */
  public Status status() {
    return status;
  }

  /** The raw C status value (differs from {@code status().code()} only for UNKNOWN). */
  public int code() {
    return code;
  }
}
