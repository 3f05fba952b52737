package io.dlgemm;

import io.dlgemm.internal.NativeApi;

/** The element types dlgemm's operations read and write (DLPack type code and bit width). */
public enum DType {
  /** IEEE binary32: {@code (kDLFloat, 32)}. */
  FLOAT32(2, 32, "float32"),
  /** bfloat16, stored as its 16 bits: {@code (kDLBfloat, 16)}. */
  BFLOAT16(4, 16, "bfloat16"),
  /** FP8 E4M3 "fn" (no infinities, max 448): {@code (kDLFloat8_e4m3fn, 8)}. */
  FLOAT8_E4M3FN(10, 8, "float8_e4m3fn"),
  /** 32-bit signed integer: {@code (kDLInt, 32)}. */
  INT32(0, 32, "int32"),
  /** 8-bit unsigned integer: {@code (kDLUInt, 8)}. */
  UINT8(1, 8, "uint8");

  private final int code;
  private final int bits;
  private final String label;

  DType(int code, int bits, String label) {
    this.code = code;
    this.bits = bits;
    this.label = label;
  }

  /** DLPack type code ({@code DLDataTypeCode}). */
  public int code() {
    return code;
  }

  /** Bits per element. */
  public int bits() {
    return bits;
  }

  /** Bytes per element. */
  public int byteSize() {
    return bits / 8;
  }

  /** The library's name of the type, e.g. {@code "float8_e4m3fn"}. */
  public String cName() {
    return NativeApi.dlg_dtype_name(code, bits);
  }

  /** True for FLOAT32, BFLOAT16 and FLOAT8_E4M3FN. */
  public boolean isFloatingPoint() {
    return this == FLOAT32 || this == BFLOAT16 || this == FLOAT8_E4M3FN;
  }

  /**
   * The type with the given name ({@code "float32"}, {@code "bfloat16"},
   * {@code "float8_e4m3fn"}, {@code "int32"}, {@code "uint8"}).
   *
   * @throws DlGemmException (DTYPE) for any other name
   */
  public static DType fromName(String name) {
    for (DType t : values()) {
      if (t.label.equals(name)) {
        return t;
      }
    }
    throw new DlGemmException(Status.DTYPE, "dtype: unknown dtype name '" + name + "'");
  }

  @Override
  public String toString() {
    return label;
  }
}
