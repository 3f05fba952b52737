"""The Python conformance runner (conformance/README.md has the contract; runners/c/runner.c
is the reference implementation this follows step by step).

    runner.py --cases DIR --device cpu|cuda --out RESULTS.json [--filter S] [--expected DIR]
              [-v] [--mirror]   (self-test: the cuda path with host memory as the "device")

Every case runs twice through the dlgemm package: the reference on CPU tensors, and the result
on the requested device (CPU again, or device memory from dlgemm.testing.device_alloc)."""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import sys

import dlgemm
from dlgemm import testing

import ops
from conf_tensors import KDL_CPU, CaseError, HostMemory, TensorSet, View, pack_values
from conf_tensors import storage_indices, POISON


class Result:
    def __init__(self, name):
        self.name, self.status, self.reason, self.metric = name, "pass", "", None

    def set(self, status, reason):
        self.status, self.reason = status, reason

    def note(self, v):
        if self.metric is None or v > self.metric or math.isnan(v):
            self.metric = v


class Fail(Exception):
    """Ends the judging of a case: (status, reason)."""


def status_from_name(name):
    if name == "ok":
        return 0
    return next((s for s in range(64) if dlgemm.status_name(s) == name), -1)


def expected_status(case, kind):
    e = case.get("expect", "ok")
    if isinstance(e, dict):
        e = e.get(kind, "ok")
    return status_from_name(e) if isinstance(e, str) else -1


# -- comparisons -----------------------------------------------------------------------------

def compare(r, tname, what, metric, tol, x, y):
    if metric == "calc_diff":
        try:
            diff = testing.calc_diff(x, y)
        except dlgemm.Error as e:
            raise Fail(f"{tname}: calc_diff({what}) -> {dlgemm.status_name(e.status)}: {e.message}")
        r.note(diff)
        if not diff <= tol:
            raise Fail(f"{tname}: calc_diff({what}) = {diff:.3g} > tol {tol:.3g}")
    elif metric == "exact":
        try:
            n = testing.count_mismatch(x, y)
        except dlgemm.Error as e:
            raise Fail(f"{tname}: count_mismatch({what}) -> {dlgemm.status_name(e.status)}: "
                       f"{e.message}")
        r.note(float(n))
        if n:
            raise Fail(f"{tname}: {n} elements differ ({what})")
    else:
        raise Fail(f"{tname}: unknown metric '{metric}'")


def ranges_of(untouched, tname):
    rs = []
    for rg in untouched or []:
        if not isinstance(rg, list) or len(rg) != 2:
            raise Fail(f"{tname}: untouched ranges must be [start, end] pairs")
        rs.append((int(rg[0]), int(rg[1])))
    return rs


def check_untouched(t, ranges, run):
    for s, e in ranges:
        if not t.untouched(s, e):
            raise Fail(f"{t.name}: {run} wrote storage elements in [{s}, {e}), which must stay "
                       "untouched")


def check_written(t, ranges, run):
    """An output must not still hold the poison outside `untouched` (else a no-op passes);
    8-bit outputs may match it by chance (e4m3 -0.203): up to 1/8 of them."""
    if t.role != "output":
        return
    raw, es, pat = t.raw(), t.elem_size, bytes([POISON]) * t.elem_size
    skip = bytearray(t.storage_elems)
    for s, e in ranges:
        s, e = max(s, 0), min(e, t.storage_elems)
        if e > s:
            skip[s:e] = b"\1" * (e - s)
    considered = poisoned = 0
    for e in storage_indices(t.shape, t.strides):
        if skip[e]:
            continue
        considered += 1
        poisoned += raw[e * es:(e + 1) * es] == pat
    allowed = considered // 8 if es == 1 else 0
    if poisoned > allowed:
        raise Fail(f"{t.name}: {run} left {poisoned} of {considered} elements unwritten "
                   "(still poison)")


def compare_expected(r, tf, metric, tol, stored):
    """The reference output's storage sample against the stored values."""
    stored = stored if isinstance(stored, dict) else {}
    step, values = int(stored.get("step", 0)), stored.get("values")
    count = (tf.storage_elems + step - 1) // step if step > 0 else 0
    if not isinstance(values, list) or step < 1 or count != len(values):
        raise Fail(f"{tf.name}: the expected file's sample does not fit the tensor")
    integer = tf.dtype[0] in (0, 1)
    have = tf.host_view(tf.host.ptr, tf.dtype, [count], [step])
    dtype = tf.dtype if integer else (2, 32)
    fmt = {(0, 32): "<i", (1, 8): "<B"}.get(dtype, "<f")
    mem = HostMemory(len(values) * dtype[1] // 8)
    ctypes.memmove(mem.ptr, pack_values(fmt, values), len(values) * dtype[1] // 8)
    want = View(mem.ptr, (KDL_CPU, 0), dtype, [len(values)])
    what = "cpu reference vs stored expected"
    # Stored float values are f32: an exact check of a bf16/fp8 output is calc_diff == 0.
    if integer or metric != "exact":
        compare(r, tf.name, what, metric, tol, have, want)
    else:
        compare(r, tf.name, what, "calc_diff", 0, have, want)


def judge_outputs(opts, case, res, ref, r):
    check = case.get("check") or {}
    for t in res.own():
        if t.role != "input" and t.name not in check:
            raise Fail(f"case: output {t.name} has no check entry")
    expected = None
    path = os.path.join(opts.expected, r.name + ".json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                expected = json.load(f)
        except (OSError, ValueError) as e:
            raise Fail(f"expected file {path}: {e}")
    outputs = (expected or {}).get("outputs")
    for tname, spec in check.items():
        tr, tf = res.by_name.get(tname), ref.by_name.get(tname)
        if tr is None or tf is None or tr.alias is not None:
            raise Fail(f"case: check names '{tname}', not a tensor of the case")
        metric, tol = spec.get("metric"), float(spec.get("tol", 0))
        if not metric:
            raise Fail(f"case: check of {tname} has no metric")
        ranges = ranges_of(spec.get("untouched"), tname)
        check_untouched(tr, ranges, "the run")
        check_untouched(tf, ranges, "the cpu reference")
        check_written(tr, ranges, "the run")
        check_written(tf, ranges, "the cpu reference")
        compare(r, tname, "result vs cpu reference", metric, tol, tr.host_view(), tf.host_view())
        if outputs and tname in outputs:
            compare_expected(r, tf, metric, tol, outputs[tname])


# -- running one case ------------------------------------------------------------------------

class Env:
    def __init__(self, opts):
        self.cpu = dlgemm.Context(-1)
        self.on_cuda = opts.device == "cuda" or opts.mirror
        self.mirror, self.gpu, self.gpu_ok, self.gpu_why, self.info = opts.mirror, None, False, "", None
        if opts.mirror:  # the device path with host memory: a CPU context, 8 "SMs"
            self.gpu, self.gpu_ok = dlgemm.Context(-1), True
            self.num_sms, self.name = 8, "host mirror"
        elif self.on_cuda:
            try:
                self.gpu = dlgemm.Context(0)
                self.info = self.gpu.device_info()
                self.gpu_ok, self.num_sms, self.name = True, self.info.num_sms, self.info.name
                print(f"device: {self.name} (sm_{self.info.sm_major}{self.info.sm_minor}, "
                      f"{self.num_sms} SMs)", file=sys.stderr)
            except dlgemm.Error as e:
                self.gpu_why = f"{dlgemm.status_name(e.status)}: {e.message}"


def run_result(env, case, res, expect_ok, r):
    """Runs the op on the result set (on the device for cuda runs); (status, message)."""
    if not env.on_cuda:
        return ops.run_op(env.cpu, case, res)
    try:
        res.to_device(env.gpu, 0 if env.mirror else env.gpu.device, env.mirror)
    except CaseError as e:
        raise Fail(str(e))
    meta = meta_mem = None
    try:
        if case["op"] == "paged_mqa_logits":
            # The schedule is device-specific, so it is not in the case: derive it here.
            rows = dlgemm.paged_mqa_logits_metadata_rows(env.num_sms)
            kv = res.by_name.get("kv_cache")
            block_kv = kv.shape[1] if kv is not None and kv.alias is None and len(kv.shape) >= 2 else 0
            try:
                if env.mirror:
                    meta_mem = HostMemory(rows * 8)
                    ptr = meta_mem.ptr
                else:
                    meta_mem = ptr = testing.device_alloc(rows * 8, ctx=env.gpu)
                meta = View(ptr, res.device, (0, 32), [rows, 2])
                dlgemm.clear_error()
                dlgemm.paged_mqa_logits_metadata(res.arg("context_lens"), block_kv, meta,
                                                 num_sms=env.num_sms, ctx=env.gpu)
            except dlgemm.Error as e:
                meta = None
                if expect_ok:
                    if e.status == dlgemm.UnsupportedError.status:
                        r.set("not-run", f"no kernel: schedule metadata: {dlgemm.last_error()}")
                    else:
                        r.set("fail", f"schedule metadata -> {dlgemm.status_name(e.status)}: "
                                      f"{dlgemm.last_error()}")
                    return None
        st, msg = ops.run_op(env.gpu, case, res, meta)
        try:
            testing.stream_synchronize(None, ctx=env.gpu)
        except dlgemm.Error as e:
            raise Fail(f"stream synchronize after the op -> {dlgemm.status_name(e.status)}: "
                       f"{e.message}")
        try:
            res.from_device()
        except CaseError as e:
            raise Fail(str(e))
        return st, msg
    finally:
        if isinstance(meta_mem, int):
            try:
                testing.device_free(meta_mem, ctx=env.gpu)
            except dlgemm.Error:
                pass


def run_case(opts, env, path, r):
    try:
        with open(path) as f:
            case = json.load(f)
    except (OSError, ValueError) as e:
        return r.set("fail", f"case file: {e}")
    op, kind = case.get("op"), "cuda" if env.on_cuda and not env.mirror else "cpu"
    if case.get("name") != r.name:
        return r.set("fail", "case: \"name\" must equal the file name")
    if not ops.known(op):
        return r.set("fail", f"case: unknown op '{op}'")
    if op in ops.QUERIES:
        want = (case.get("check") or {}).get("result")
        if not isinstance(want, dict):
            return r.set("fail", "case: query needs check.result")
        got = ops.run_query(case)
        if "equals" in want and got != int(want["equals"]):
            r.set("fail", f"{op} returned {got}, want {int(want['equals'])}")
        elif "min" in want and got < int(want["min"]):
            r.set("fail", f"{op} returned {got}, want >= {int(want['min'])}")
        return
    devices = case.get("devices")
    if isinstance(devices, list) and kind not in devices:
        return r.set("not-run", case.get("devices_reason") or "case excludes this device")
    if env.on_cuda and not env.gpu_ok:
        return r.set("not-run", f"no CUDA device: {env.gpu_why}")
    want_cpu, want_dev = expected_status(case, "cpu"), expected_status(case, kind)
    if want_cpu < 0 or want_dev < 0:
        return r.set("fail", "case: unknown status name in \"expect\"")
    ref = res = None
    try:
        ref = TensorSet(case, env.cpu)                      # reference: CPU tensors, CPU context
        ref_st, ref_msg = ops.run_op(env.cpu, case, ref)
        res = TensorSet(case, env.cpu)                      # result: a second identical set
        out = run_result(env, case, res, want_dev == 0, r)
        if out is None:
            return
        res_st, res_msg = out
        name = dlgemm.status_name
        if ref_st != want_cpu:
            raise Fail(f"cpu reference returned {name(ref_st)} ({ref_msg}), want {name(want_cpu)}")
        if ref_st and not ref_msg:
            raise Fail(f"cpu reference returned {name(ref_st)} with an empty dlg_last_error()")
        if env.on_cuda and not env.mirror and want_dev == 0 and \
                res_st == dlgemm.UnsupportedError.status:
            return r.set("not-run", f"no kernel: {res_msg}")
        if res_st != want_dev:
            raise Fail(f"returned {name(res_st)} ({res_msg}), want {name(want_dev)}")
        if res_st and not res_msg:
            raise Fail(f"returned {name(res_st)} with an empty dlg_last_error()")
        if res_st:
            # A failing call must not have written any output (the reference too, unless only
            # the device failed).
            for t in res.own():
                if t.role == "output" and (not t.untouched(0, t.storage_elems) or (
                        ref_st and not ref.by_name[t.name].untouched(0, t.storage_elems))):
                    raise Fail(f"{t.name} was written although the call returned {name(res_st)}")
            return r.set("pass", f"{name(res_st)}: {res_msg}")
        judge_outputs(opts, case, res, ref, r)
    except CaseError as e:
        r.set("fail", str(e))
    except Fail as e:
        r.set("fail", str(e))
    finally:
        if res is not None:
            res.free()


# -- driver ----------------------------------------------------------------------------------

def write_results(opts, env, results):
    if not env.on_cuda:
        device, arch, dname = "cpu", "host", "cpu"
    elif env.mirror:
        device, arch, dname = "cpu-mirror", "host", env.name
    elif not env.gpu_ok:
        device, arch, dname = "cuda", "none", "cpu"
    else:
        i = env.info
        device, arch, dname = f"sm{i.sm_major}{i.sm_minor}", f"sm_{i.sm_major}{i.sm_minor}", i.name
    rows = [{"case": r.name, "status": r.status, "reason": r.reason,
             "metric": float(f"{r.metric:.6g}") if r.metric is not None and math.isfinite(r.metric)
             else None} for r in results]
    doc = {"runner": "python", "device": device, "arch": arch, "device_name": dname,
           "library_version": dlgemm.version_string(), "results": rows}
    with open(opts.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out")
    ap.add_argument("--filter")
    ap.add_argument("--expected")
    ap.add_argument("--mirror", action="store_true")
    ap.add_argument("-v", action="store_true", dest="verbose")
    opts = ap.parse_args()
    opts.expected = opts.expected or os.path.join(opts.cases, "..", "expected")
    env = Env(opts)
    names = sorted(f[:-5] for f in os.listdir(opts.cases) if f.endswith(".json") and len(f) > 5)
    results, counts = [], {"pass": 0, "fail": 0, "not-run": 0}
    for name in names:
        if opts.filter and opts.filter not in name:
            continue
        r = Result(name)
        try:
            run_case(opts, env, os.path.join(opts.cases, name + ".json"), r)
        except Exception as e:  # a runner bug must not hide the other cases
            r.set("fail", f"python runner: {type(e).__name__}: {e}")
        results.append(r)
        counts[r.status] += 1
        if opts.verbose or r.status != "pass":
            print(f"{r.status:<8} {r.name}{': ' if r.reason else ''}{r.reason}", flush=True)
    print(f"python runner ({'cuda path, host mirror' if opts.mirror else opts.device}): "
          f"{counts['pass']} passed, {counts['fail']} failed, {counts['not-run']} not-run")
    rc = 1 if counts["fail"] else 0
    if opts.out:
        try:
            write_results(opts, env, results)
        except OSError as e:
            print(f"cannot write {opts.out}: {e}", file=sys.stderr)
            rc = 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
