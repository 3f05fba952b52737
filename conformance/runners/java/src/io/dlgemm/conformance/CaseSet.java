package io.dlgemm.conformance;

import io.dlgemm.Context;
import io.dlgemm.DType;
import io.dlgemm.DeviceMemory;
import io.dlgemm.DlGemmException;
import io.dlgemm.Fill;
import io.dlgemm.Tensor;
import io.dlgemm.Testing;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of one case, built through the binding: host storage (filled, or poisoned for
 * outputs) and, on cuda runs, a device mirror. Closes everything it made.
 */
final class CaseSet implements AutoCloseable {
  static final byte POISON = (byte) 0xA5;

  /** A malformed case or a failing setup call; the message is the case's reason. */
  static final class SetupError extends Exception {
    private static final long serialVersionUID = 1L;

    SetupError(String message) {
      super(message);
    }
  }

  static final class Entry {
    String name;
    Object spec;
    String role; // input, output, inout
    int alias = -1;
    DType dtype;
    long[] shape;
    long[] strides; // as given (null = compact)
    Tensor host;
    DeviceMemory mem;
    Tensor dev;
    byte[] bytes; // host storage snapshot, for the judge

    boolean isOutput() {
      return "output".equals(role);
    }

    /** Storage bytes as they are now (a cached snapshot). */
    byte[] storage() {
      if (bytes == null) {
        bytes = host.toByteArray();
      }
      return bytes;
    }
  }

  final List<Entry> entries = new ArrayList<>();

  /** Builds the host tensors of a case. */
  static CaseSet build(Context cpu, Object kase) throws SetupError {
    CaseSet set = new CaseSet();
    try {
      List<Object> tensors = Json.list(Json.get(kase, "tensors"));
      if (Json.get(kase, "tensors") != null && (tensors == null || tensors.size() > 16)) {
        throw new SetupError("\"tensors\" must be a list of at most 16");
      }
      for (Object spec : tensors == null ? List.of() : tensors) {
        Entry e = new Entry();
        set.entries.add(e);
        e.spec = spec;
        e.name = Json.str(spec, "name");
        if (e.name == null) {
          throw new SetupError("a tensor without \"name\"");
        }
        if (Json.str(spec, "alias") == null) {
          buildOne(cpu, e);
        }
      }
      for (Entry e : set.entries) {
        String target = Json.str(e.spec, "alias");
        if (target == null) {
          continue;
        }
        for (int j = 0; j < set.entries.size(); j++) {
          Entry t = set.entries.get(j);
          if (t != e && Json.str(t.spec, "alias") == null && t.name.equals(target)) {
            e.alias = j;
          }
        }
        if (e.alias < 0) {
          throw new SetupError("tensor " + e.name + ": alias '" + target + "' names no tensor");
        }
      }
      return set;
    } catch (SetupError | RuntimeException err) {
      set.close();
      if (err instanceof DlGemmException) {
        DlGemmException d = (DlGemmException) err;
        throw new SetupError("setup -> " + d.status().cName() + ": " + d.getMessage());
      }
      if (err instanceof SetupError) {
        throw (SetupError) err;
      }
      throw new SetupError("setup: " + err);
    }
  }

  private static Fill dist(Object fill, String what) throws SetupError {
    String dist = Json.str(fill, "dist");
    if (dist == null) {
      throw new SetupError(what + ": fill needs \"dist\"");
    }
    switch (dist) {
      case "uniform":
        return Fill.UNIFORM;
      case "normal":
        return Fill.NORMAL;
      case "int":
        return Fill.INT;
      default:
        throw new SetupError(what + ": unknown fill dist '" + dist + "'");
    }
  }

  private static void fill(Tensor t, Object fill, String what) throws SetupError {
    Fill kind = dist(fill, what);
    long seed = (long) Json.num(fill, "seed", 0);
    try {
      Testing.fill(t, seed, kind, Json.num(fill, "lo", 0), Json.num(fill, "hi", 1));
    } catch (DlGemmException e) {
      throw new SetupError(what + ": dlg_testing_fill -> " + e.status().cName() + ": "
          + e.getMessage());
    }
  }

  private static DType dtype(String name) {
    try {
      return name == null ? null : DType.fromName(name);
    } catch (DlGemmException e) {
      return null;
    }
  }

  private static void buildOne(Context cpu, Entry e) throws SetupError {
    Object spec = e.spec;
    e.role = Json.str(spec, "role");
    if (!"input".equals(e.role) && !"output".equals(e.role) && !"inout".equals(e.role)) {
      throw new SetupError("tensor " + e.name + ": role must be input, output or inout");
    }
    e.dtype = dtype(Json.str(spec, "dtype"));
    if (e.dtype == null) {
      throw new SetupError("tensor " + e.name + ": unknown dtype");
    }
    e.shape = Json.dims(Json.get(spec, "shape"));
    if (e.shape == null) {
      throw new SetupError("tensor " + e.name + ": bad shape");
    }
    if (Json.get(spec, "strides") != null) {
      e.strides = Json.dims(Json.get(spec, "strides"));
      if (e.strides == null || e.strides.length != e.shape.length) {
        throw new SetupError("tensor " + e.name + ": strides rank differs from shape");
      }
    }
    e.host = Tensor.allocate(e.dtype, e.shape, e.strides);
    if (e.isOutput()) {
      ByteBuffer b = e.host.buffer();
      while (b.hasRemaining()) {
        b.put(POISON); // the gaps between strided rows too
      }
      cpu.poison(e.host, POISON & 0xFF); // exercised: the same bytes
      return;
    }
    Object fill = Json.get(spec, "fill");
    Object values = Json.get(spec, "values");
    Object parts = Json.get(spec, "parts");
    if ((fill != null ? 1 : 0) + (values != null ? 1 : 0) + (parts != null ? 1 : 0) > 1) {
      throw new SetupError("tensor " + e.name + ": give one of fill, values, parts");
    }
    if (fill != null) {
      fill(e.host, fill, e.name);
    } else if (values != null) {
      setValues(e, values);
    } else if (parts != null) {
      fillParts(e, parts);
    }
  }

  private static void setValues(Entry e, Object values) throws SetupError {
    List<Object> l = Json.list(values);
    long n = e.host.numel();
    if (l == null || l.size() != n) {
      throw new SetupError("tensor " + e.name + ": \"values\" needs " + n + " entries");
    }
    if (e.strides != null) {
      throw new SetupError("tensor " + e.name + ": \"values\" needs a compact tensor");
    }
    ByteBuffer b = e.host.buffer();
    for (Object o : l) {
      double v = o instanceof Double ? (Double) o : 0;
      switch (e.dtype) {
        case INT32:
          b.putInt((int) v);
          break;
        case UINT8:
          b.put((byte) (int) v);
          break;
        case FLOAT32:
          b.putFloat((float) v);
          break;
        default:
          throw new SetupError("tensor " + e.name + ": \"values\" only for int32, uint8, float32");
      }
    }
  }

  /** Typed views into the storage, each filled on its own (paged KV cache, packed words). */
  private static void fillParts(Entry e, Object parts) throws SetupError {
    List<Object> l = Json.list(parts);
    if (l == null) {
      throw new SetupError("tensor " + e.name + ": \"parts\" must be a list");
    }
    for (int i = 0; i < l.size(); i++) {
      Object p = l.get(i);
      DType dt = dtype(Json.str(p, "dtype"));
      long[] shape = Json.dims(Json.get(p, "shape"));
      if (dt == null || shape == null) {
        throw new SetupError("tensor " + e.name + " part " + i + ": bad dtype or shape");
      }
      long[] strides = null;
      if (Json.get(p, "strides") != null) {
        strides = Json.dims(Json.get(p, "strides"));
        if (strides == null || strides.length != shape.length) {
          throw new SetupError("tensor " + e.name + " part " + i
              + ": strides rank differs from shape");
        }
      }
      long offset = (long) Json.num(p, "byte_offset", 0);
      Tensor view;
      try {
        view = e.host.view(dt, shape, strides, offset);
      } catch (DlGemmException err) {
        throw new SetupError("tensor " + e.name + " part " + i + ": outside the storage");
      }
      try (view) {
        fill(view, Json.get(p, "fill"), "tensor " + e.name + " part " + i);
      }
    }
  }

  /**
   * Mirrors every tensor into device memory of `gpu` and copies it there; hostMirror: fresh
   * host memory instead (tests the runner's device path without a GPU).
   */
  void toDevice(Context gpu, boolean hostMirror) throws SetupError {
    for (Entry e : entries) {
      if (e.alias >= 0) {
        continue;
      }
      long bytes = e.host.spanBytes();
      try {
        if (hostMirror) {
          e.dev = Tensor.allocate(e.dtype, e.shape, e.strides);
          gpu.copy(e.host, e.dev);
        } else if (bytes > 0) {
          e.mem = gpu.deviceAlloc(bytes);
          e.dev = Tensor.ofDevice(e.mem, e.dtype, e.shape, e.strides);
          gpu.copy(e.host, e.dev);
        } else {
          e.dev = Tensor.ofDevice(0L, gpu.device(), e.dtype, e.shape, e.strides);
        }
      } catch (DlGemmException err) {
        throw new SetupError("tensor " + e.name + ": to device (" + bytes + " bytes) -> "
            + err.status().cName() + ": " + err.getMessage());
      }
    }
  }

  /** Copies outputs and inouts back into the host storage. */
  void fromDevice(Context gpu) throws SetupError {
    for (Entry e : entries) {
      if (e.alias >= 0 || e.dev == null || "input".equals(e.role) || e.dev.spanBytes() == 0) {
        continue;
      }
      try {
        gpu.copy(e.dev, e.host);
        e.bytes = null;
      } catch (DlGemmException err) {
        throw new SetupError("tensor " + e.name + ": copy to host -> " + err.status().cName()
            + ": " + err.getMessage());
      }
    }
  }

  Entry find(String name) {
    for (Entry e : entries) {
      if (e.name.equals(name)) {
        return e;
      }
    }
    return null;
  }

  /** The tensor handed to the op for argument `name` (alias resolved, device view if any). */
  Tensor arg(String name) {
    Entry e = find(name);
    if (e == null) {
      return null;
    }
    if (e.alias >= 0) {
      e = entries.get(e.alias);
    }
    return e.dev != null ? e.dev : e.host;
  }

  @Override
  public void close() {
    for (Entry e : entries) {
      if (e.dev != null) {
        e.dev.close();
      }
      if (e.mem != null) {
        e.mem.close();
      }
      if (e.host != null) {
        e.host.close();
      }
    }
  }
}
