package io.dlgemm.conformance;

import io.dlgemm.Context;
import io.dlgemm.DType;
import io.dlgemm.DeviceInfo;
import io.dlgemm.DeviceMemory;
import io.dlgemm.DlGemm;
import io.dlgemm.DlGemmException;
import io.dlgemm.GroupLayout;
import io.dlgemm.Recipe;
import io.dlgemm.Status;
import io.dlgemm.Tensor;
import io.dlgemm.Testing;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Java conformance runner (conformance/README.md): every case through the Java binding.
 *
 * <pre>
 *   Runner --cases DIR --device cpu|cuda --out RESULTS.json [--filter S] [--expected DIR] [-v]
 *          [--mirror]   (self-test: the cuda path with host memory as the "device")
 * </pre>
 *
 * Each case runs twice: the reference on host tensors and a CPU context, the result on the
 * requested device (host again, or device tensors copied there). A port of runners/c.
 */
public final class Runner {
  private final Path casesDir;
  private final String device;
  private final Path expectedDir;
  private final boolean verbose;
  private final boolean mirror;
  private final Context cpu;
  private Context gpu;
  private boolean gpuOk;
  private String gpuWhy = "";
  private DeviceInfo info;

  /** A case's outcome. */
  static final class Result {
    final String name;
    String status = "pass";
    String reason = "";
    double metric;
    boolean hasMetric;

    Result(String name) {
      this.name = name;
    }

    Result set(String status, String reason) {
      this.status = status;
      this.reason = reason;
      return this;
    }

    void note(double v) {
      if (!hasMetric || v > metric || Double.isNaN(v)) {
        metric = v;
      }
      hasMetric = true;
    }
  }

  /** A judged failure: the first one ends the case. */
  private static final class Verdict extends Exception {
    private static final long serialVersionUID = 1L;
    final String status;

    Verdict(String status, String reason) {
      super(reason, null, false, false);
      this.status = status;
    }
  }

  private static Verdict fail(String reason) {
    return new Verdict("fail", reason);
  }

  private Runner(Path casesDir, String device, Path expectedDir, boolean verbose,
      boolean mirror) {
    this.casesDir = casesDir;
    this.device = device;
    this.expectedDir = expectedDir;
    this.verbose = verbose;
    this.mirror = mirror;
    this.cpu = Context.cpu();
    if (mirror) {
      // The device path with host memory: a CPU context, 8 "SMs" for the schedule metadata.
      gpu = Context.cpu();
      info = new DeviceInfo(-1, 0, 0, 8, 0, 0, 0, "host mirror");
      gpuOk = true;
    } else if (device.equals("cuda")) {
      try {
        gpu = new Context(0);
        info = gpu.deviceInfo();
        gpuOk = true;
        System.err.printf("device: %s (sm_%d%d, %d SMs)%n", info.name(), info.smMajor(),
            info.smMinor(), info.numSms());
      } catch (DlGemmException e) {
        gpuWhy = e.status().cName() + ": " + e.getMessage();
      }
    }
  }

  // ---- expectations ------------------------------------------------------------------

  /** Expected status code for a device kind; -1 if the name is unknown. */
  private static int expected(Object kase, String kind) {
    Object e = Json.get(kase, "expect");
    String name = e instanceof String ? (String) e : e instanceof Map ? Json.str(e, kind) : "ok";
    if (name == null) {
      name = "ok";
    }
    Status s = Status.fromCName(name);
    return s == null ? -1 : s.code();
  }

  private static boolean deviceAllowed(Object kase, String kind) {
    List<Object> d = Json.list(Json.get(kase, "devices"));
    return d == null || d.contains(kind);
  }

  // ---- ops ---------------------------------------------------------------------------

  private static final List<String> QUERIES = List.of("tma_aligned_size", "mk_alignment",
      "mqa_logits_row_stride", "paged_mqa_logits_metadata_rows");
  private static final List<String> OPS = List.of("gemm", "m_grouped_gemm_contiguous",
      "m_grouped_gemm_masked", "k_grouped_gemm_contiguous", "mqa_logits",
      "mqa_logits_compressed", "paged_mqa_logits_metadata", "paged_mqa_logits", "clean_logits", "cast_fp8_per_token",
      "cast_fp8_per_block", "cast_fp8_per_tensor", "transform_sf", "pack_ue8m0");

  private static long attr(Object kase, String key) {
    return (long) Json.num(Json.get(kase, "attrs"), key, 0);
  }

  /** An enum attr by name or raw integer; an unknown name becomes -1 (the library rejects it). */
  private static int enumAttr(Object kase, String key, List<String> names) {
    Object v = Json.get(Json.get(kase, "attrs"), key);
    if (v instanceof Double) {
      return (int) (double) (Double) v;
    }
    if (v instanceof String) {
      int i = names.indexOf(v);
      return i < 0 ? -1 : i + 1;
    }
    return 0;
  }

  private static Recipe recipe(Object kase) {
    return Recipe.of(enumAttr(kase, "recipe",
        List.of("FP8_1D2D", "FP8_1D1D", "FP8_PER_TENSOR", "BF16")));
  }

  private static long query(Object kase, String op) {
    switch (op) {
      case "tma_aligned_size":
        return DlGemm.tmaAlignedSize(attr(kase, "mn"), attr(kase, "elem_size"));
      case "mk_alignment":
        return DlGemm.mkAlignmentForContiguousLayout();
      case "mqa_logits_row_stride":
        return DlGemm.mqaLogitsRowStride(attr(kase, "seq_len_kv"));
      default:
        return DlGemm.pagedMqaLogitsMetadataRows((int) attr(kase, "num_sms"));
    }
  }

  /** Runs the op; the thrown exception carries the status and message. */
  private static void runOp(Context ctx, Object kase, CaseSet s, Tensor scheduleMeta) {
    String op = Json.str(kase, "op");
    switch (op) {
      case "gemm":
        ctx.gemm(recipe(kase), s.arg("a"), s.arg("sfa"), s.arg("b"), s.arg("sfb"), s.arg("c"),
            s.arg("d"));
        break;
      case "m_grouped_gemm_contiguous":
        ctx.mGroupedGemmContiguous(recipe(kase), s.arg("a"), s.arg("sfa"), s.arg("b"),
            s.arg("sfb"), s.arg("grouped_layout"),
            GroupLayout.of(enumAttr(kase, "layout_kind", List.of("ROW_IDS", "OFFSETS"))),
            s.arg("d"));
        break;
      case "m_grouped_gemm_masked":
        ctx.mGroupedGemmMasked(recipe(kase), s.arg("a"), s.arg("sfa"), s.arg("b"), s.arg("sfb"),
            s.arg("masked_m"), (int) attr(kase, "expected_m"), s.arg("d"));
        break;
      case "k_grouped_gemm_contiguous":
        ctx.kGroupedGemmContiguous(recipe(kase), s.arg("a"), s.arg("sfa"), s.arg("b"),
            s.arg("sfb"), s.arg("ks"), s.arg("c"), s.arg("d"));
        break;
      case "mqa_logits":
        ctx.mqaLogits(s.arg("q"), s.arg("kv"), s.arg("kv_scale"), s.arg("weights"), s.arg("ks"),
            s.arg("ke"), attr(kase, "clean_logits") != 0, s.arg("logits"));
        break;
      case "mqa_logits_compressed":
        ctx.mqaLogitsCompressed(s.arg("q"), s.arg("kv"), s.arg("kv_scale"), s.arg("weights"),
            s.arg("ks"), s.arg("ke"), attr(kase, "clean_logits") != 0, s.arg("logits"), 0);
        break;
      case "paged_mqa_logits_metadata":
        ctx.pagedMqaLogitsMetadata(s.arg("context_lens"), (int) attr(kase, "block_kv"),
            (int) attr(kase, "num_sms"), s.arg("schedule_meta"));
        break;
      case "paged_mqa_logits":
        ctx.pagedMqaLogits(s.arg("q"), s.arg("kv_cache"), s.arg("weights"),
            s.arg("context_lens"), s.arg("block_table"), scheduleMeta,
            attr(kase, "clean_logits") != 0, s.arg("logits"));
        break;
      case "clean_logits":
        ctx.cleanLogits(s.arg("ks"), s.arg("ke"), s.arg("logits"));
        break;
      case "cast_fp8_per_token":
        ctx.castFp8PerToken(s.arg("x"), attr(kase, "use_ue8m0") != 0, s.arg("out"), s.arg("sf"));
        break;
      case "cast_fp8_per_block":
        ctx.castFp8PerBlock(s.arg("x"), attr(kase, "use_ue8m0") != 0, s.arg("out"), s.arg("sf"));
        break;
      case "cast_fp8_per_tensor":
        ctx.castFp8PerTensor(s.arg("x"), s.arg("out"), s.arg("sf"));
        break;
      case "transform_sf":
        ctx.transformSf(s.arg("sf_in"), s.arg("sf_out"));
        break;
      case "pack_ue8m0":
        ctx.packUe8m0(s.arg("sf"), s.arg("packed"));
        break;
      default:
        throw new IllegalStateException(op); // checked before
    }
  }

  /** Status code and message of one op run (0, "" on success). */
  private static final class Outcome {
    int status;
    String message = "";
    String lastError = "";
  }

  private static Outcome attempt(Context ctx, Object kase, CaseSet s, Tensor meta) {
    Outcome o = new Outcome();
    DlGemm.clearError();
    try {
      runOp(ctx, kase, s, meta);
    } catch (DlGemmException e) {
      o.status = e.code();
      o.message = e.getMessage();
      o.lastError = DlGemm.lastError(); // the C side's own message must be non-empty too
    }
    return o;
  }

  // ---- judging -----------------------------------------------------------------------

  private static boolean untouched(CaseSet.Entry t, long start, long end) {
    byte[] b = t.storage();
    int size = t.dtype.byteSize();
    long elems = b.length / size;
    start = Math.max(start, 0);
    end = Math.min(end, elems);
    for (long i = start * size; i < end * size; i++) {
      if (b[(int) i] != CaseSet.POISON) {
        return false;
      }
    }
    return true;
  }

  private static List<long[]> ranges(Object spec, String tensor) throws Verdict {
    List<long[]> out = new ArrayList<>();
    List<Object> l = Json.list(Json.get(spec, "untouched"));
    for (Object r : l == null ? List.of() : l) {
      long[] pair = Json.dims(r);
      if (pair == null || pair.length != 2) {
        throw fail(tensor + ": untouched ranges must be [start, end] pairs");
      }
      out.add(pair);
    }
    return out;
  }

  private static void checkUntouched(CaseSet.Entry t, List<long[]> ranges, String run)
      throws Verdict {
    for (long[] r : ranges) {
      if (!untouched(t, r[0], r[1])) {
        throw fail(t.name + ": " + run + " wrote storage elements in [" + r[0] + ", " + r[1]
            + "), which must stay untouched");
      }
    }
  }

  /** Outputs must be written everywhere outside the untouched ranges (a no-op must fail). */
  private static void checkWritten(CaseSet.Entry t, List<long[]> ranges, String run)
      throws Verdict {
    if (!t.isOutput()) {
      return;
    }
    long[] shape = t.host.shape();
    long[] strides = t.host.strides();
    long n = t.host.numel();
    long poisoned = 0;
    long considered = 0;
    for (long i = 0; i < n; i++) {
      long rem = i;
      long e = 0;
      for (int d = shape.length - 1; d >= 0; d--) {
        long ext = shape[d] == 0 ? 1 : shape[d];
        e += (rem % ext) * strides[d];
        rem /= ext;
      }
      boolean skip = false;
      for (long[] r : ranges) {
        skip |= e >= r[0] && e < r[1];
      }
      if (skip) {
        continue;
      }
      considered++;
      poisoned += untouched(t, e, e + 1) ? 1 : 0;
    }
    long allowed = t.dtype.byteSize() == 1 ? considered / 8 : 0;
    if (poisoned > allowed) {
      throw fail(t.name + ": " + run + " left " + poisoned + " of " + considered
          + " elements unwritten (still poison)");
    }
  }

  private static void compare(Result r, String tensor, String what, String metric, double tol,
      Tensor x, Tensor y) throws Verdict {
    if (metric.equals("calc_diff")) {
      double diff;
      try {
        diff = Testing.calcDiff(x, y);
      } catch (DlGemmException e) {
        throw fail(tensor + ": calc_diff(" + what + ") -> " + e.status().cName() + ": "
            + e.getMessage());
      }
      r.note(diff);
      if (!(diff <= tol)) {
        throw fail(String.format(Locale.ROOT, "%s: calc_diff(%s) = %.3g > tol %.3g", tensor, what,
            diff, tol));
      }
    } else if (metric.equals("exact")) {
      long mismatches;
      try {
        mismatches = Testing.countMismatch(x, y);
      } catch (DlGemmException e) {
        throw fail(tensor + ": count_mismatch(" + what + ") -> " + e.status().cName() + ": "
            + e.getMessage());
      }
      r.note(mismatches);
      if (mismatches != 0) {
        throw fail(tensor + ": " + mismatches + " elements differ (" + what + ")");
      }
    } else {
      throw fail(tensor + ": unknown metric '" + metric + "'");
    }
  }

  /** A compact 1-D tensor of stored values: the output's dtype for integers, else float32. */
  private static Tensor fromValues(CaseSet.Entry like, List<Object> values) {
    boolean integer = like.dtype == DType.INT32 || like.dtype == DType.UINT8;
    DType dt = integer ? like.dtype : DType.FLOAT32;
    Tensor t = Tensor.allocate(dt, values.size());
    ByteBuffer b = t.buffer();
    for (Object o : values) {
      double v;
      if (o instanceof String) {
        v = o.equals("inf") ? Double.POSITIVE_INFINITY
            : o.equals("-inf") ? Double.NEGATIVE_INFINITY : Double.NaN;
      } else {
        v = o instanceof Double ? (Double) o : 0;
      }
      if (dt == DType.FLOAT32) {
        b.putFloat((float) v);
      } else if (dt == DType.INT32) {
        b.putInt((int) v);
      } else {
        b.put((byte) (int) v);
      }
    }
    return t;
  }

  private void judgeOutputs(Object kase, String name, CaseSet res, CaseSet ref, Result r)
      throws Verdict {
    Map<String, Object> check = Json.obj(Json.get(kase, "check"));
    for (CaseSet.Entry t : res.entries) {
      if (t.alias < 0 && !"input".equals(t.role) && (check == null || !check.containsKey(t.name))) {
        throw fail("case: output " + t.name + " has no check entry");
      }
    }
    Object expected = null;
    Path file = expectedDir.resolve(name + ".json");
    if (Files.exists(file)) {
      try {
        expected = Json.parse(file);
      } catch (IOException | IllegalArgumentException e) {
        throw fail("expected file " + file + ": " + e.getMessage());
      }
    }
    Object outputs = Json.get(expected, "outputs");
    for (Map.Entry<String, Object> c : check == null ? Map.<String, Object>of().entrySet()
        : check.entrySet()) {
      String tname = c.getKey();
      Object spec = c.getValue();
      CaseSet.Entry tr = res.find(tname);
      CaseSet.Entry tf = ref.find(tname);
      if (tr == null || tf == null || tr.alias >= 0) {
        throw fail("case: check names '" + tname + "', not a tensor of the case");
      }
      String metric = Json.str(spec, "metric");
      double tol = Json.num(spec, "tol", 0);
      if (metric == null) {
        throw fail("case: check of " + tname + " has no metric");
      }
      List<long[]> keep = ranges(spec, tname);
      checkUntouched(tr, keep, "the run");
      checkUntouched(tf, keep, "the cpu reference");
      checkWritten(tr, keep, "the run");
      checkWritten(tf, keep, "the cpu reference");
      compare(r, tname, "result vs cpu reference", metric, tol, tr.host, tf.host);
      Object stored = Json.get(outputs, tname);
      if (outputs == null || stored == null) {
        continue;
      }
      long step = (long) Json.num(stored, "step", 0);
      List<Object> values = Json.list(Json.get(stored, "values"));
      long storage = tf.host.storageElements();
      long have = step > 0 ? (storage + step - 1) / step : 0;
      if (values == null || step < 1 || have != values.size()) {
        throw fail(tname + ": the expected file's sample does not fit the tensor");
      }
      boolean integer = tf.dtype == DType.INT32 || tf.dtype == DType.UINT8;
      try (Tensor sample = tf.host.view(tf.dtype, new long[] {have}, new long[] {step}, 0);
          Tensor want = fromValues(tf, values)) {
        String what = "cpu reference vs stored expected";
        // Stored float values are f32: an exact check of a bf16/fp8 output is calc_diff == 0.
        if (integer || !metric.equals("exact")) {
          compare(r, tname, what, metric, tol, sample, want);
        } else {
          compare(r, tname, what, "calc_diff", 0, sample, want);
        }
      }
    }
  }

  /** The result run: on the CPU, or through device memory. Null when it could not be judged. */
  private Outcome runResult(Object kase, CaseSet res, boolean expectOk, Result r)
      throws Verdict {
    if (!device.equals("cuda")) {
      return attempt(cpu, kase, res, null);
    }
    try {
      res.toDevice(gpu, mirror);
    } catch (CaseSet.SetupError e) {
      throw fail(e.getMessage());
    }
    DeviceMemory metaMem = null;
    Tensor meta = null;
    try {
      if ("paged_mqa_logits".equals(Json.str(kase, "op"))) {
        // The schedule is device-specific, so it is not in the case: derive it here.
        int numSms = info.numSms();
        long rows = DlGemm.pagedMqaLogitsMetadataRows(numSms);
        CaseSet.Entry kv = res.find("kv_cache");
        int blockKv = kv != null && kv.shape.length >= 2 ? (int) kv.shape[1] : 0;
        try {
          if (mirror) {
            meta = Tensor.allocate(DType.INT32, rows, 2);
          } else {
            metaMem = gpu.deviceAlloc(rows * 2 * 4);
            meta = Tensor.ofDevice(metaMem, DType.INT32, new long[] {rows, 2}, null);
          }
          gpu.pagedMqaLogitsMetadata(res.arg("context_lens"), blockKv, numSms, meta);
        } catch (DlGemmException e) {
          if (meta != null) {
            meta.close();
            meta = null;
          }
          if (expectOk) {
            if (e.status() == Status.UNSUPPORTED) {
              throw new Verdict("not-run", "no kernel: schedule metadata: " + e.getMessage());
            }
            throw fail("schedule metadata -> " + e.status().cName() + ": " + e.getMessage());
          }
        }
      }
      Outcome o = attempt(gpu, kase, res, meta);
      try {
        gpu.synchronize();
      } catch (DlGemmException e) {
        throw fail("stream synchronize after the op -> " + e.status().cName() + ": "
            + e.getMessage());
      }
      try {
        res.fromDevice(gpu);
      } catch (CaseSet.SetupError e) {
        throw fail(e.getMessage());
      }
      return o;
    } finally {
      if (meta != null) {
        meta.close();
      }
      if (metaMem != null) {
        metaMem.close();
      }
    }
  }

  private void runCase(Path file, Result r) throws Verdict {
    Object kase;
    try {
      kase = Json.parse(file);
    } catch (IOException | IllegalArgumentException e) {
      throw fail("case file: " + e.getMessage());
    }
    String op = Json.str(kase, "op");
    String kind = device.equals("cuda") && !mirror ? "cuda" : "cpu";
    if (!r.name.equals(Json.str(kase, "name"))) {
      throw fail("case: \"name\" must equal the file name");
    }
    if (op == null || (!OPS.contains(op) && !QUERIES.contains(op))) {
      throw fail("case: unknown op '" + (op == null ? "(none)" : op) + "'");
    }
    if (QUERIES.contains(op)) {
      long got = query(kase, op);
      Object want = Json.get(Json.get(kase, "check"), "result");
      if (want == null) {
        throw fail("case: query needs check.result");
      }
      if (Json.get(want, "equals") != null && got != (long) Json.num(want, "equals", 0)) {
        throw fail(op + " returned " + got + ", want " + (long) Json.num(want, "equals", 0));
      }
      if (Json.get(want, "min") != null && got < (long) Json.num(want, "min", 0)) {
        throw fail(op + " returned " + got + ", want >= " + (long) Json.num(want, "min", 0));
      }
      return;
    }
    if (!deviceAllowed(kase, kind)) {
      String why = Json.str(kase, "devices_reason");
      throw new Verdict("not-run", why != null ? why : "case excludes this device");
    }
    if (kind.equals("cuda") && !gpuOk) {
      throw new Verdict("not-run", "no CUDA device: " + gpuWhy);
    }
    int wantCpu = expected(kase, "cpu");
    int wantDev = expected(kase, kind);
    if (wantCpu < 0 || wantDev < 0) {
      throw fail("case: unknown status name in \"expect\"");
    }
    try (CaseSet ref = CaseSet.build(cpu, kase)) {
      Outcome refO = attempt(cpu, kase, ref, null);
      try (CaseSet res = CaseSet.build(cpu, kase)) {
        Outcome resO = runResult(kase, res, wantDev == 0, r);
        judge(kase, r, ref, res, refO, resO, wantCpu, wantDev);
      }
    } catch (CaseSet.SetupError e) {
      throw fail(e.getMessage());
    }
  }

  private void judge(Object kase, Result r, CaseSet ref, CaseSet res, Outcome refO,
      Outcome resO, int wantCpu, int wantDev) throws Verdict {
    if (refO.status != wantCpu) {
      throw fail("cpu reference returned " + DlGemm.statusName(refO.status) + " ("
          + refO.message + "), want " + DlGemm.statusName(wantCpu));
    }
    if (refO.status != 0 && (refO.message.isEmpty() || refO.lastError.isEmpty())) {
      throw fail("cpu reference returned " + DlGemm.statusName(refO.status)
          + " with an empty dlg_last_error()");
    }
    boolean onGpu = device.equals("cuda") && !mirror;
    if (onGpu && wantDev == 0 && resO.status == Status.UNSUPPORTED.code()) {
      throw new Verdict("not-run", "no kernel: " + resO.message);
    }
    if (resO.status != wantDev) {
      throw fail("returned " + DlGemm.statusName(resO.status) + " (" + resO.message + "), want "
          + DlGemm.statusName(wantDev));
    }
    if (resO.status != 0 && (resO.message.isEmpty() || resO.lastError.isEmpty())) {
      throw fail("returned " + DlGemm.statusName(resO.status) + " with an empty dlg_last_error()");
    }
    if (resO.status != 0) {
      // A failing call must not have written any output (nor the reference, when it failed).
      for (int i = 0; i < res.entries.size(); i++) {
        CaseSet.Entry t = res.entries.get(i);
        if (t.alias >= 0 || !t.isOutput()) {
          continue;
        }
        CaseSet.Entry f = ref.entries.get(i);
        if (!untouched(t, 0, Long.MAX_VALUE)
            || (refO.status != 0 && !untouched(f, 0, Long.MAX_VALUE))) {
          throw fail(t.name + " was written although the call returned "
              + DlGemm.statusName(resO.status));
        }
      }
      r.set("pass", DlGemm.statusName(resO.status) + ": " + resO.message);
      return;
    }
    judgeOutputs(kase, r.name, res, ref, r);
  }

  // ---- driver ------------------------------------------------------------------------

  private String deviceLabel() {
    if (!device.equals("cuda")) {
      return "cpu";
    }
    if (mirror) {
      return "cpu-mirror";
    }
    return gpuOk ? "sm" + info.smMajor() + info.smMinor() : "cuda";
  }

  private void writeResults(Path out, List<Result> rs) throws IOException {
    StringBuilder b = new StringBuilder();
    String arch = !device.equals("cuda") || mirror ? "host"
        : gpuOk ? "sm_" + info.smMajor() + info.smMinor() : "none";
    b.append("{\"runner\": \"java\", \"device\": \"").append(deviceLabel())
        .append("\", \"arch\": \"").append(arch).append("\", \"device_name\": ")
        .append(Json.quote(device.equals("cuda") && gpuOk && !mirror ? info.name() : "cpu"))
        .append(", \"library_version\": ").append(Json.quote(DlGemm.versionString()))
        .append(",\n \"results\": [");
    for (int i = 0; i < rs.size(); i++) {
      Result r = rs.get(i);
      b.append(i == 0 ? "" : ",").append("\n  {\"case\": ").append(Json.quote(r.name))
          .append(", \"status\": \"").append(r.status).append("\", \"reason\": ")
          .append(Json.quote(r.reason)).append(", \"metric\": ")
          .append(r.hasMetric && Double.isFinite(r.metric)
              ? String.format(Locale.ROOT, "%.6g", r.metric) : "null")
          .append('}');
    }
    b.append("\n]}\n");
    Files.writeString(out, b.toString(), StandardCharsets.UTF_8);
  }

  private static int usage() {
    System.err.println("usage: run --cases DIR --device cpu|cuda --out RESULTS.json "
        + "[--filter SUBSTRING] [--expected DIR] [-v] [--mirror]");
    return 2;
  }

  static int main2(String[] args) throws IOException {
    String cases = null;
    String device = "cpu";
    String out = null;
    String filter = null;
    String expected = null;
    boolean verbose = false;
    boolean mirror = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("-v")) {
        verbose = true;
        continue;
      }
      if (a.equals("--mirror")) {
        mirror = true;
        device = "cuda";
        continue;
      }
      if (i + 1 >= args.length) {
        return usage();
      }
      String next = args[++i];
      switch (a) {
        case "--cases":
          cases = next;
          break;
        case "--device":
          device = next;
          break;
        case "--out":
          out = next;
          break;
        case "--filter":
          filter = next;
          break;
        case "--expected":
          expected = next;
          break;
        default:
          return usage();
      }
    }
    if (cases == null || !(device.equals("cpu") || device.equals("cuda"))) {
      return usage();
    }
    Path casesDir = Path.of(cases);
    Path expectedDir = expected != null ? Path.of(expected) : casesDir.resolve("../expected");
    if (mirror) {
      device = "cuda";
    }
    Runner runner = new Runner(casesDir, device, expectedDir, verbose, mirror);
    List<Path> files;
    try (Stream<Path> s = Files.list(casesDir)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".json"))
          .sorted((x, y) -> x.getFileName().toString().compareTo(y.getFileName().toString()))
          .collect(Collectors.toList());
    }
    List<Result> results = new ArrayList<>();
    int passed = 0;
    int failed = 0;
    int notRun = 0;
    for (Path f : files) {
      String file = f.getFileName().toString();
      String name = file.substring(0, file.length() - 5);
      if (filter != null && !name.contains(filter)) {
        continue;
      }
      Result r = new Result(name);
      try {
        runner.runCase(f, r);
      } catch (Verdict v) {
        r.set(v.status, v.getMessage());
      } catch (RuntimeException e) {
        r.set("fail", "runner error: " + e);
      }
      results.add(r);
      switch (r.status) {
        case "pass":
          passed++;
          break;
        case "fail":
          failed++;
          break;
        default:
          notRun++;
      }
      if (verbose || !r.status.equals("pass")) {
        System.out.printf("%-8s %s%s%s%n", r.status, r.name, r.reason.isEmpty() ? "" : ": ",
            r.reason);
      }
    }
    System.out.printf("java runner (%s): %d passed, %d failed, %d not-run%n",
        mirror ? "cuda path, host mirror" : device, passed, failed, notRun);
    int rc = failed > 0 ? 1 : 0;
    if (out != null) {
      try {
        runner.writeResults(Path.of(out), results);
      } catch (IOException e) {
        System.err.println("cannot write " + out + ": " + e);
        rc = 2;
      }
    }
    if (runner.gpu != null) {
      runner.gpu.close();
    }
    runner.cpu.close();
    return rc;
  }

  /**
   * Entry point.
   *
   * @param args the contract's command line
   * @throws IOException when the cases cannot be listed
   */
  public static void main(String[] args) throws IOException {
    System.exit(main2(args));
  }
}
