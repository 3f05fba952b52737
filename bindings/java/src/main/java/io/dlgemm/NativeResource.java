package io.dlgemm;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A native handle shared safely between threads: calls {@link #acquire()} it for their
 * duration, {@link #close()} marks it closed and the native object is freed when the last call
 * using it returns (never under a running call). A {@link Cleaner} frees it if the object
 * becomes unreachable without {@code close()}.
 */
abstract class NativeResource implements AutoCloseable {
  static final Cleaner CLEANER = Cleaner.create();
  /** Native objects made and not yet freed, across the process (leak checks). */
  static final AtomicLong LIVE = new AtomicLong();

  /** users * 2, plus 1 once closed. */
  private final AtomicInteger state = new AtomicInteger();
  private final Cleaner.Cleanable cleanable;
  private final long handle;

  /**
   * @param handle the native pointer
   * @param free frees a handle; must not refer to this object (or the Cleaner could never run):
   *     a static method reference such as {@code NativeApi::dlg_tensor_destroy}
   */
  NativeResource(long handle, LongConsumer free) {
    this.handle = handle;
    LIVE.incrementAndGet();
    this.cleanable = CLEANER.register(this, new Counted(handle, free));
  }

  private static final class Counted implements Runnable {
    private final long handle;
    private final LongConsumer free;

    Counted(long handle, LongConsumer free) {
      this.handle = handle;
      this.free = free;
    }

    @Override
    public void run() {
      try {
        free.accept(handle);
      } finally {
        LIVE.decrementAndGet();
      }
    }
  }

  /** What to call this object in messages ("context", "tensor"). */
  abstract String kind();

  /** Marks one more user and returns the handle; throws if closed. Pair with release(). */
  final long acquire() {
    while (true) {
      int s = state.get();
      if ((s & 1) != 0) {
        throw new DlGemmException(Status.INVALID_ARGUMENT, kind() + ": is closed");
      }
      if (state.compareAndSet(s, s + 2)) {
        return handle;
      }
    }
  }

  /** Ends a use started by acquire(); frees the object if it was closed meanwhile. */
  final void release() {
    if (state.addAndGet(-2) == 1) {
      cleanable.clean();
    }
  }

  /** The handle without marking a use: only for code that holds a use already. */
  final long rawHandle() {
    return handle;
  }

  /** Whether {@link #close()} was called. */
  public boolean isClosed() {
    return (state.get() & 1) != 0;
  }

  /**
   * Frees the native object (at once, or when the calls running on it return). Idempotent.
   */
  @Override
  public void close() {
    int old = state.getAndUpdate(s -> s | 1);
    if (old == 0) {
      cleanable.clean();
    }
  }
}
