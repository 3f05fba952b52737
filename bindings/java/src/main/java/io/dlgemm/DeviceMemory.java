package io.dlgemm;

import io.dlgemm.internal.NativeApi;
import java.util.function.LongConsumer;

/**
 * A block of device memory from {@link Context#deviceAlloc(long)} ({@code dlg_device_alloc}).
 * Wrap it in tensors with {@link Tensor#ofDevice}. {@link #close()} frees it (idempotent); the
 * context stays alive until every block allocated from it is freed.
 */
public final class DeviceMemory extends NativeResource {
  private final long bytes;
  private final int device;

  DeviceMemory(Context ctx, long ctxHandle, long address, long bytes) {
    super(address, new Free(ctx, ctxHandle));
    this.bytes = bytes;
    this.device = ctx.device();
  }

  /** Holds a use of the context until the memory is freed. */
  private static final class Free implements LongConsumer {
    private final Context ctx;
    private final long ctxHandle;

    Free(Context ctx, long ctxHandle) {
      this.ctx = ctx;
      this.ctxHandle = ctxHandle;
    }

    @Override
    public void accept(long address) {
      try {
        NativeApi.dlg_device_free(ctxHandle, address);
      } catch (DlGemmException e) {
        // Freeing happens on close() or in the Cleaner: nobody to tell. The driver reports
        // only a context already torn down, when the memory is gone anyway.
      } finally {
        ctx.release();
      }
    }
  }

  @Override
  String kind() {
    return "device memory";
  }

  /** The device address (a {@code CUdeviceptr}); 0 once closed. */
  public long address() {
    return isClosed() ? 0 : rawHandle();
  }

  /** Size in bytes. */
  public long size() {
    return bytes;
  }

  /** The CUDA ordinal of the device holding it. */
  public int device() {
    return device;
  }

  @Override
  public String toString() {
    return "DeviceMemory[cuda:" + device + ", " + bytes + " bytes"
        + (isClosed() ? ", closed]" : ", 0x" + Long.toHexString(rawHandle()) + "]");
  }
}
