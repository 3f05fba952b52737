package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor descriptor: a DLPack {@code DLTensor} (made by {@code dlg_tensor_create}) over host
 * or device memory, with a {@link DType}, a shape and element strides. Layouts are strides: a
 * [K, M] row-major buffer seen as [M, K] with strides {@code [1, M]} is an M-major operand.
 *
 * <p>Where the memory comes from:
 * <ul>
 *   <li>{@link #allocate} — new zero-filled host memory owned by the tensor (a direct NIO
 *       buffer, 64-byte aligned, freed by the garbage collector once no tensor or view uses it);
 *   <li>{@link #of(float[], long...)} and its siblings for {@code int[]}, bf16 bits
 *       ({@code short[]}), FP8 bytes ({@code byte[]}) — Java arrays are <b>copied</b> into new
 *       host memory when the tensor is made, never pinned (a CPU GEMM may run long; pinning would
 *       stall the garbage collector). Read results back with {@link #toFloatArray()},
 *       {@link #toShortArray()}, {@link #toByteArray()}, {@link #toIntArray()} or
 *       {@link #get(long...)};
 *   <li>{@link #wrap} — a direct {@link ByteBuffer}, zero-copy (the tensor keeps it reachable);
 *   <li>{@link #ofDevice(DeviceMemory, DType, long[], long[])} /
 *       {@link #ofDevice(long, int, DType, long[], long[])} — CUDA device memory, borrowed.
 * </ul>
 *
 * <p>Arrays of storage ({@code long[] strides} given) hold the elements of the whole span
 * {@code 1 + sum((shape[i] - 1) * strides[i])}, gaps included, in storage order. Without
 * strides a tensor is compact row-major and the C library receives NULL strides.
 *
 * <p>{@link #close()} frees the descriptor (idempotent; a Cleaner does it for forgotten ones).
 * Tensors may be passed to calls from many threads at once; a tensor written by a call must not
 * be used by another call at the same time, as with any memory.
 */
public final class Tensor extends NativeResource {
  /** The library's limit on dimensions. */
  public static final int MAX_NDIM = 8;
  private static final int KDL_CPU = 1;
  private static final int KDL_CUDA = 2;
  private static final int ALIGN = 64;

  private final DType dtype;
  private final long[] shape;
  private final long[] strides;
  private final boolean compact;
  private final boolean cuda;
  private final int deviceId;
  private final long address;
  private final long storageElements;
  /** Host: the memory from the first element on (native byte order). Null on a device. */
  private final ByteBuffer storage;
  /** Bytes known to be addressable from {@code address}; -1 = unknown (raw device pointer). */
  private final long capacity;
  private final boolean readOnly;
  /** Keeps borrowed memory reachable (a ByteBuffer, DeviceMemory). */
  @SuppressWarnings("unused")
  private final Object owner;

  private Tensor(long handle, DType dtype, long[] shape, long[] strides, boolean compact,
      boolean cuda, int deviceId, long address, long storageElements, ByteBuffer storage,
      long capacity, boolean readOnly, Object owner) {
    super(handle, NativeApi::dlg_tensor_destroy);
    this.dtype = dtype;
    this.shape = shape;
    this.strides = strides;
    this.compact = compact;
    this.cuda = cuda;
    this.deviceId = deviceId;
    this.address = address;
    this.storageElements = storageElements;
    this.storage = storage;
    this.capacity = capacity;
    this.readOnly = readOnly;
    this.owner = owner;
  }

  @Override
  String kind() {
    return "tensor";
  }

  // ---- shape arithmetic ------------------------------------------------------------------

  private static DlGemmException bad(Status s, String message) {
    return new DlGemmException(s, message);
  }

  private static long[] checkShape(long[] shape) {
    if (shape == null) {
      throw bad(Status.INVALID_ARGUMENT, "shape: null");
    }
    if (shape.length > MAX_NDIM) {
      throw bad(Status.SHAPE, "shape: " + shape.length + " dimensions, at most " + MAX_NDIM);
    }
    for (int i = 0; i < shape.length; i++) {
      if (shape[i] < 0) {
        throw bad(Status.SHAPE, "shape: extent " + shape[i] + " of dim " + i + " is negative");
      }
    }
    return shape.clone();
  }

  /** Row-major strides of a shape. */
  public static long[] compactStrides(long... shape) {
    long[] s = new long[shape.length];
    long step = 1;
    for (int i = shape.length - 1; i >= 0; i--) {
      s[i] = step;
      step = Math.multiplyExact(step, Math.max(shape[i], 1));
    }
    return s;
  }

  private static long[] checkStrides(long[] shape, long[] strides) {
    if (strides == null) {
      return compactStrides(shape);
    }
    if (strides.length != shape.length) {
      throw bad(Status.SHAPE, "strides: " + strides.length + " entries for " + shape.length
          + " dimensions");
    }
    for (int i = 0; i < strides.length; i++) {
      if (strides[i] < 0) {
        throw bad(Status.LAYOUT, "strides: stride " + strides[i] + " of dim " + i
            + " is negative");
      }
    }
    return strides.clone();
  }

  /** Elements spanned by a shape with strides: 1 + sum((shape[i]-1)*strides[i]), 0 if empty. */
  public static long spanElements(long[] shape, long[] strides) {
    long span = 1;
    for (long e : shape) {
      if (e == 0) {
        return 0;
      }
    }
    for (int i = 0; i < shape.length; i++) {
      span = Math.addExact(span, Math.multiplyExact(shape[i] - 1, strides[i]));
    }
    return span;
  }

  private static long numel(long[] shape) {
    long n = 1;
    for (long e : shape) {
      n = Math.multiplyExact(n, e);
    }
    return n;
  }

  // ---- construction ----------------------------------------------------------------------

  private static Tensor make(long address, boolean cuda, int deviceId, DType dtype,
      long[] shapeIn, long[] stridesIn, ByteBuffer storage, long capacity, boolean readOnly,
      Object owner) {
    if (dtype == null) {
      throw bad(Status.INVALID_ARGUMENT, "dtype: null");
    }
    long[] shape = checkShape(shapeIn);
    long[] strides = checkStrides(shape, stridesIn);
    long span;
    try {
      span = spanElements(shape, strides);
      numel(shape);
      Math.multiplyExact(span, (long) dtype.byteSize());
    } catch (ArithmeticException e) {
      throw bad(Status.SHAPE, "shape: the tensor's extent overflows 64 bits");
    }
    long bytes = span * dtype.byteSize();
    if (capacity >= 0 && bytes > capacity) {
      throw bad(Status.SHAPE, "storage: " + capacity + " bytes, the tensor spans " + bytes);
    }
    long[] out = new long[1];
    NativeApi.dlg_tensor_create(address, cuda ? KDL_CUDA : KDL_CPU, deviceId, dtype.code(),
        dtype.bits(), shape.length, shape, stridesIn == null ? null : strides, out);
    return new Tensor(out[0], dtype, shape, strides, stridesIn == null, cuda, deviceId, address,
        span, storage, capacity, readOnly, owner);
  }

  /** New zeroed, 64-byte aligned, native-order host memory of at least {@code bytes}. */
  private static ByteBuffer hostMemory(long bytes) {
    if (bytes > Integer.MAX_VALUE - 2 * ALIGN) {
      throw bad(Status.OUT_OF_MEMORY, "storage: " + bytes
          + " bytes exceed what one Java buffer holds (2 GiB); use device memory or wrap()");
    }
    // alignedSlice() also rounds the end down to the unit: allocate whole units, plus one.
    int units = (int) ((Math.max(bytes, 1) + ALIGN - 1) / ALIGN);
    ByteBuffer raw = ByteBuffer.allocateDirect((units + 1) * ALIGN);
    ByteBuffer aligned = raw.alignedSlice(ALIGN);
    aligned.limit((int) Math.max(bytes, 1));
    return aligned.slice().order(ByteOrder.nativeOrder());
  }

  private static Tensor onHost(ByteBuffer mem, DType dtype, long[] shape, long[] strides,
      boolean readOnly, Object owner) {
    long address = NativeApi.dlgj_direct_buffer_address(mem);
    return make(address, false, 0, dtype, shape, strides, mem, mem.capacity(), readOnly, owner);
  }

  /** Host storage for a shape/strides pair, sized to its span. */
  private static ByteBuffer storageFor(DType dtype, long[] shape, long[] strides) {
    long[] s = checkShape(shape);
    long[] st = checkStrides(s, strides);
    try {
      return hostMemory(Math.multiplyExact(spanElements(s, st), (long) dtype.byteSize()));
    } catch (ArithmeticException e) {
      throw bad(Status.SHAPE, "shape: the tensor's extent overflows 64 bits");
    }
  }

  /**
   * A new compact row-major host tensor, zero-filled.
   *
   * @param dtype element type
   * @param shape extents (none: a 0-d scalar)
   * @return the tensor
   */
  public static Tensor allocate(DType dtype, long... shape) {
    return allocate(dtype, shape, null);
  }

  /**
   * A new host tensor with explicit strides, zero-filled; its storage covers the span.
   *
   * @param dtype element type
   * @param shape extents
   * @param strides element strides (null: compact row-major)
   * @return the tensor
   */
  public static Tensor allocate(DType dtype, long[] shape, long[] strides) {
    ByteBuffer mem = storageFor(dtype, shape, strides);
    return onHost(mem, dtype, shape, strides, false, null);
  }

  private static long expectLength(String what, long have, long[] shape, long[] strides) {
    long[] s = checkShape(shape);
    long need = strides == null ? numel(s) : spanElements(s, checkStrides(s, strides));
    if (have != need) {
      throw bad(Status.SHAPE, what + ": " + have + " elements, the tensor needs " + need
          + (strides == null ? "" : " (its storage span)"));
    }
    return need;
  }

  /**
   * A float32 host tensor holding a copy of {@code data} (compact row-major).
   *
   * @param data the elements in row-major order
   * @param shape extents; their product must equal {@code data.length}
   * @return the tensor
   */
  public static Tensor of(float[] data, long... shape) {
    return of(data, shape, null);
  }

  /**
   * A float32 host tensor holding a copy of {@code storage} with the given strides.
   *
   * @param storage the storage elements (the whole span, gaps included)
   * @param shape extents
   * @param strides element strides (null: compact; then storage is the row-major elements)
   * @return the tensor
   */
  public static Tensor of(float[] storage, long[] shape, long[] strides) {
    expectLength("data", storage.length, shape, strides);
    Tensor t = allocate(DType.FLOAT32, shape, strides);
    t.storage.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer().put(storage);
    return t;
  }

  /**
   * An int32 host tensor holding a copy of {@code data} (compact row-major).
   *
   * @param data the elements in row-major order
   * @param shape extents; their product must equal {@code data.length}
   * @return the tensor
   */
  public static Tensor of(int[] data, long... shape) {
    return of(data, shape, null);
  }

  /**
   * An int32 host tensor holding a copy of {@code storage} with the given strides.
   *
   * @param storage the storage elements (the whole span)
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor of(int[] storage, long[] shape, long[] strides) {
    expectLength("data", storage.length, shape, strides);
    Tensor t = allocate(DType.INT32, shape, strides);
    t.storage.duplicate().order(ByteOrder.nativeOrder()).asIntBuffer().put(storage);
    return t;
  }

  /**
   * A bfloat16 host tensor from the 16-bit patterns in {@code bits} (copied, row-major).
   *
   * @param bits bfloat16 bit patterns (the upper half of the float32 bits)
   * @param shape extents; their product must equal {@code bits.length}
   * @return the tensor
   */
  public static Tensor ofBf16(short[] bits, long... shape) {
    return ofBf16(bits, shape, null);
  }

  /**
   * A bfloat16 host tensor from storage bit patterns with the given strides.
   *
   * @param bits the storage's bfloat16 bit patterns (the whole span)
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor ofBf16(short[] bits, long[] shape, long[] strides) {
    expectLength("bits", bits.length, shape, strides);
    Tensor t = allocate(DType.BFLOAT16, shape, strides);
    t.storage.duplicate().order(ByteOrder.nativeOrder()).asShortBuffer().put(bits);
    return t;
  }

  /**
   * A float8_e4m3fn host tensor from the FP8 bytes in {@code bits} (copied, row-major).
   *
   * @param bits e4m3fn bytes
   * @param shape extents; their product must equal {@code bits.length}
   * @return the tensor
   */
  public static Tensor ofFp8(byte[] bits, long... shape) {
    return ofBytes(DType.FLOAT8_E4M3FN, bits, shape, null);
  }

  /**
   * A uint8 host tensor holding a copy of {@code data} (row-major).
   *
   * @param data the bytes
   * @param shape extents; their product must equal {@code data.length}
   * @return the tensor
   */
  public static Tensor ofUint8(byte[] data, long... shape) {
    return ofBytes(DType.UINT8, data, shape, null);
  }

  /**
   * A host tensor of an 8-bit dtype (FLOAT8_E4M3FN or UINT8) from storage bytes.
   *
   * @param dtype FLOAT8_E4M3FN or UINT8
   * @param storage the storage bytes (the whole span)
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor ofBytes(DType dtype, byte[] storage, long[] shape, long[] strides) {
    if (dtype == null || dtype.byteSize() != 1) {
      throw bad(Status.DTYPE, "dtype: expected an 8-bit dtype, got " + dtype);
    }
    expectLength("data", storage.length, shape, strides);
    Tensor t = allocate(dtype, shape, strides);
    t.storage.duplicate().put(storage);
    return t;
  }

  /**
   * A host tensor over a direct {@link ByteBuffer}, zero-copy, from the buffer's position on.
   * The tensor keeps the buffer reachable. A read-only buffer makes a read-only tensor, which
   * operations refuse as an output.
   *
   * @param buffer a direct buffer (its byte order does not matter: the library uses the host's)
   * @param dtype element type
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor wrap(ByteBuffer buffer, DType dtype, long[] shape, long[] strides) {
    if (buffer == null || !buffer.isDirect()) {
      throw bad(Status.INVALID_ARGUMENT, "buffer: expected a direct ByteBuffer"
          + (buffer == null ? ", got null" : ", got a heap buffer (copy it, or use of(...))"));
    }
    ByteBuffer from = buffer.duplicate().position(buffer.position()).slice()
        .order(ByteOrder.nativeOrder());
    return onHost(from, dtype, shape, strides, buffer.isReadOnly(), buffer);
  }

  /**
   * A tensor over CUDA device memory from {@link Context#deviceAlloc(long)}; checks that the
   * span fits the block and keeps the block alive while the tensor is.
   *
   * @param memory the block
   * @param dtype element type
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor ofDevice(DeviceMemory memory, DType dtype, long[] shape, long[] strides) {
    long address = memory.acquire();
    try {
      return make(address, true, memory.device(), dtype, shape, strides, null, memory.size(),
          false, memory);
    } finally {
      memory.release();
    }
  }

  /**
   * A tensor over CUDA device memory at a raw address (a {@code CUdeviceptr} from another
   * library); borrowed, not checked: the caller keeps the memory alive.
   *
   * @param address device address of the first element
   * @param deviceId CUDA ordinal
   * @param dtype element type
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the tensor
   */
  public static Tensor ofDevice(long address, int deviceId, DType dtype, long[] shape,
      long[] strides) {
    return make(address, true, deviceId, dtype, shape, strides, null, -1, false, null);
  }

  /**
   * Another tensor over this one's memory, starting {@code byteOffset} bytes in (a typed view
   * of raw bytes, a strided sample, a transposed view). Host views share the storage; device
   * views share the address. The bounds are checked where the memory's size is known.
   *
   * @param dtype element type of the view
   * @param shape extents
   * @param strides element strides of the view (null: compact)
   * @param byteOffset where the view starts, from this tensor's first element
   * @return the view (close it on its own; the memory lives as long as any view does)
   */
  public Tensor view(DType dtype, long[] shape, long[] strides, long byteOffset) {
    acquire(); // not closed, and not freed while the view is made
    try {
      if (byteOffset < 0 || (capacity >= 0 && byteOffset > capacity)) {
        throw bad(Status.SHAPE, "byteOffset: " + byteOffset + " is outside the storage ("
            + capacity + " bytes)");
      }
      if (storage == null) {
        long cap = capacity < 0 ? -1 : capacity - byteOffset;
        return make(address + byteOffset, cuda, deviceId, dtype, shape, strides, null, cap,
            false, owner);
      }
      ByteBuffer from = storage.duplicate().position((int) byteOffset).slice()
          .order(ByteOrder.nativeOrder());
      return onHost(from, dtype, shape, strides, readOnly, storage);
    } finally {
      release();
    }
  }

  /**
   * Another tensor over this one's memory with the same dtype and first element.
   *
   * @param shape extents
   * @param strides element strides (null: compact)
   * @return the view
   */
  public Tensor view(long[] shape, long[] strides) {
    return view(dtype, shape, strides, 0);
  }

  // ---- facts -----------------------------------------------------------------------------

  /** Element type. */
  public DType dtype() {
    return dtype;
  }

  /** Extents (a copy). */
  public long[] shape() {
    return shape.clone();
  }

  /** Element strides (a copy; the row-major ones for a compact tensor). */
  public long[] strides() {
    return strides.clone();
  }

  /** Whether the tensor was made without strides (compact; NULL strides in C). */
  public boolean isCompact() {
    return compact;
  }

  /** Number of dimensions. */
  public int ndim() {
    return shape.length;
  }

  /** Number of elements (1 for a 0-d tensor). */
  public long numel() {
    return numel(shape);
  }

  /** Elements of storage the tensor spans, gaps included (0 when empty). */
  public long storageElements() {
    return storageElements;
  }

  /** Bytes of storage the tensor spans ({@code dlg_tensor_span_bytes}). */
  public long spanBytes() {
    return storageElements * dtype.byteSize();
  }

  /** Whether the memory is CUDA device memory. */
  public boolean isCuda() {
    return cuda;
  }

  /** CUDA ordinal of the memory (0 for host memory). */
  public int deviceId() {
    return deviceId;
  }

  /** Address of the first element (host or device). */
  public long address() {
    return address;
  }

  /** Whether operations refuse this tensor as an output (a read-only buffer was wrapped). */
  public boolean isReadOnly() {
    return readOnly;
  }

  // ---- host data -------------------------------------------------------------------------

  private ByteBuffer host(String what) {
    if (storage == null) {
      throw bad(Status.DEVICE, what + ": the tensor is in device memory; copy it to a host "
          + "tensor with Context.copy first");
    }
    ByteBuffer b = storage.duplicate().order(ByteOrder.nativeOrder());
    b.limit((int) spanBytes());
    return b;
  }

  private void expect(DType want, String what) {
    if (dtype != want) {
      throw bad(Status.DTYPE, what + ": the tensor is " + dtype + ", not " + want);
    }
  }

  /**
   * The host storage the tensor spans, as a native-order buffer sharing its memory (reads and
   * writes go straight to the tensor).
   */
  public ByteBuffer buffer() {
    return host("buffer").slice().order(ByteOrder.nativeOrder());
  }

  /** A copy of the storage of a float32 host tensor (storage order, gaps included). */
  public float[] toFloatArray() {
    expect(DType.FLOAT32, "toFloatArray");
    float[] out = new float[(int) storageElements];
    host("toFloatArray").asFloatBuffer().get(out);
    return out;
  }

  /** A copy of the storage of an int32 host tensor (storage order, gaps included). */
  public int[] toIntArray() {
    expect(DType.INT32, "toIntArray");
    int[] out = new int[(int) storageElements];
    host("toIntArray").asIntBuffer().get(out);
    return out;
  }

  /** The bfloat16 bit patterns of a bfloat16 host tensor's storage. */
  public short[] toShortArray() {
    expect(DType.BFLOAT16, "toShortArray");
    short[] out = new short[(int) storageElements];
    host("toShortArray").asShortBuffer().get(out);
    return out;
  }

  /** A copy of the storage bytes of a host tensor of any dtype (FP8 bytes for e4m3). */
  public byte[] toByteArray() {
    byte[] out = new byte[(int) spanBytes()];
    host("toByteArray").get(out);
    return out;
  }

  /** Storage offset (elements) of the element at a logical index. */
  private long offsetOf(long[] index) {
    if (index.length != shape.length) {
      throw bad(Status.SHAPE, "index: " + index.length + " indices for " + shape.length
          + " dimensions");
    }
    long off = 0;
    for (int i = 0; i < index.length; i++) {
      if (index[i] < 0 || index[i] >= shape[i]) {
        throw bad(Status.SHAPE, "index: " + index[i] + " is outside dim " + i + " of extent "
            + shape[i]);
      }
      off += index[i] * strides[i];
    }
    return off;
  }

  /**
   * The element at a logical index of a host tensor, decoded to double (bfloat16 and
   * float8_e4m3fn by this binding's own decoders).
   *
   * @param index one index per dimension (none for a 0-d tensor)
   * @return the value
   */
  public double get(long... index) {
    return storageValue(offsetOf(index));
  }

  /**
   * Storage element {@code i} of a host tensor, decoded to double.
   *
   * @param i storage index, 0 &lt;= i &lt; {@link #storageElements()}
   * @return the value
   */
  public double storageValue(long i) {
    if (i < 0 || i >= storageElements) {
      throw bad(Status.SHAPE, "index: storage element " + i + " of " + storageElements);
    }
    ByteBuffer b = host("get");
    int at = (int) (i * dtype.byteSize());
    switch (dtype) {
      case FLOAT32:
        return b.getFloat(at);
      case BFLOAT16:
        return bf16ToFloat(b.getShort(at));
      case FLOAT8_E4M3FN:
        return e4m3ToDouble(b.get(at));
      case INT32:
        return b.getInt(at);
      case UINT8:
        return b.get(at) & 0xFF;
      default:
        throw new AssertionError(dtype);
    }
  }

  /**
   * Decodes a bfloat16 bit pattern.
   *
   * @param bits the 16 bits
   * @return the value
   */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xFFFF) << 16);
  }

  /**
   * Encodes a float as bfloat16 (round to nearest even; NaN stays NaN).
   *
   * @param value the value
   * @return the 16-bit pattern
   */
  public static short floatToBf16(float value) {
    int bits = Float.floatToRawIntBits(value);
    if (Float.isNaN(value)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  /**
   * Decodes a float8_e4m3fn byte (bias 7, no infinities, S.1111.111 is NaN).
   *
   * @param bits the byte
   * @return the value
   */
  public static double e4m3ToDouble(byte bits) {
    int v = bits & 0xFF;
    int exp = (v >>> 3) & 0xF;
    int man = v & 7;
    if (exp == 15 && man == 7) {
      return Double.NaN;
    }
    double mag = exp == 0 ? man / 512.0 : (8 + man) * Math.pow(2, exp - 10);
    return (v & 0x80) != 0 ? -mag : mag;
  }

  @Override
  public String toString() {
    return "Tensor[" + dtype + " " + Arrays.toString(shape)
        + (compact ? "" : " strides " + Arrays.toString(strides))
        + (cuda ? " cuda:" + deviceId : " cpu") + (isClosed() ? ", closed]" : "]");
  }
}
