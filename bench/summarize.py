#!/usr/bin/env python3
"""Turns a dlgemm_bench results JSON into the markdown tables of docs/performance.md.

    python3 bench/summarize.py bench/results/h100-<date>.json [--anchors bench/anchors_h100.json]
                               [--out summary.md]

Ratios: "x Lt" = dlgemm / cuBLASLt measured in the same run (interleaved shape by shape): from
the CUPTI kernel times (kernel_us, baseline_kernel_us) where the record has both, else from the
event TFLOPS; "x DG" = dlgemm TFLOPS / DeepGEMM's anchor figure (bench/anchors_h100.json, copied
from shared/anchors-h100.md), dlgemm's TFLOPS taken from its CUPTI kernel time where the record
has one, since the anchors are CUPTI kernel times too (else from the event time). The output
says which. The target lines restate issue 3's targets and say met / MISSED.
Standard library only.
"""
import argparse
import json
import math
import os
import sys

RECIPES = ["fp8_1d2d", "fp8_1d1d", "fp8_per_tensor", "bf16"]
DIFF_BOUND = {"fp8_1d2d": 1e-3, "fp8_1d1d": 1e-3, "fp8_per_tensor": 1e-3, "bf16": 1e-5}
TARGET_VS_LT = {"fp8_1d2d": 1.25, "fp8_1d1d": 1.0, "fp8_per_tensor": 1.0, "bf16": 1.0}
TARGET_VS_DG_GEOMEAN = 1.10  # FP8 1D2D, M in {128, 4096}
TARGET_VS_DG_FLOOR = 0.95    # FP8 1D2D, every shape


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(x, spec="{:.0f}", none="-"):
    return none if x is None else spec.format(x)


def ratio(a, b):
    return a / b if a and b else None


def kernel_tflops(rec):
    """dlgemm's TFLOPS from its CUPTI kernel time, or None."""
    us = rec.get("kernel_us")
    return 2.0 * rec["m"] * rec["n"] * rec["k"] / (us * 1e-6) / 1e12 if us else None


def vs_lt(rec):
    """(dlgemm / cuBLASLt, "kernel" | "events"), from kernel times where both sides have one."""
    k, bk = rec.get("kernel_us"), rec.get("baseline_kernel_us")
    if k and bk:
        return bk / k, "kernel"
    return ratio(rec.get("tflops"), rec.get("baseline_tflops")), "events"


def vs_dg(rec, dg_tflops):
    """(dlgemm / DeepGEMM, "kernel" | "events"): the anchors are CUPTI kernel times."""
    kt = kernel_tflops(rec)
    if kt:
        return ratio(kt, dg_tflops), "kernel"
    return ratio(rec.get("tflops"), dg_tflops), "events"


def load_anchors(path):
    if not path or not os.path.exists(path):
        return {}
    data = json.load(open(path))
    out = {}
    for recipe in ("fp8_1d2d", "bf16"):
        for row in data.get(recipe, []):
            out[(recipe, row["m"], row["n"], row["k"])] = row
    return out


def diff_cell(rec, prefix=""):
    diff, unwritten = rec.get(prefix + "diff"), rec.get(prefix + "unwritten")
    if diff is None:
        return "-"
    if unwritten:
        return f"{diff:.1e} ({unwritten} unwritten)"
    mark = "" if diff < DIFF_BOUND[rec["recipe"]] else " FAIL"
    return f"{diff:.1e}{mark}"


def recipe_table(recipe, recs, anchors):
    has_dg = any((recipe, r["m"], r["n"], r["k"]) in anchors for r in recs)
    has_k = any(r.get("kernel_us") or r.get("baseline_kernel_us") for r in recs)
    head = ["pass", "M", "N", "K", "dlgemm us"] + (["kernel us"] if has_k else []) + [
        "TFLOPS", "GB/s", "cuBLASLt us"] + (["kernel us"] if has_k else []) + ["TFLOPS", "x Lt"]
    if has_dg:
        head += ["DeepGEMM TFLOPS", "x DG"]
    head += ["diff", "Lt diff"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if h not in ("pass",) else ":---"
                                                          for h in head) + "|"]
    for r in recs:
        dg = anchors.get((recipe, r["m"], r["n"], r["k"]))
        k_dl = [fmt(r.get("kernel_us"), "{:.1f}")] if has_k else []
        k_lt = [fmt(r.get("baseline_kernel_us"), "{:.1f}")] if has_k else []
        lt_x, lt_how = vs_lt(r)
        cells = [r.get("pass", "fwd"), str(r["m"]), str(r["n"]), str(r["k"]),
                 fmt(r.get("us"), "{:.1f}")] + k_dl + [fmt(r.get("tflops")), fmt(r.get("gbps")),
                 fmt(r.get("baseline_us"), "{:.1f}")] + k_lt + [fmt(r.get("baseline_tflops")),
                 fmt(lt_x, "{:.2f}") + (" (ev)" if has_k and lt_x and lt_how == "events" else "")]
        if has_dg:
            dg_tf = dg["deepgemm_tflops"] if dg else None
            dg_x, dg_how = vs_dg(r, dg_tf)
            cells += [fmt(dg_tf), fmt(dg_x, "{:.2f}") + (" (ev)" if has_k and dg_x and dg_how == "events" else "")]
        cells += [diff_cell(r), diff_cell(r, "baseline_")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def timing_words(n_kernel, n):
    """Which timer a set of n ratios came from."""
    if n and n_kernel == n:
        return "CUPTI kernel times"
    if n_kernel:
        return f"CUPTI kernel times for {n_kernel}, event times for {n - n_kernel}"
    return "event times"


def target_lines(recipe, recs, anchors):
    out = []
    lt = [vs_lt(r) for r in recs]
    g = geomean([x for x, _ in lt])
    want = TARGET_VS_LT[recipe]
    n_lt = sum(1 for x, _ in lt if x)
    n_lt_k = sum(1 for x, how in lt if x and how == "kernel")
    out.append(f"- geomean vs cuBLASLt over {n_lt} shapes ({timing_words(n_lt_k, n_lt)}): "
               f"{fmt(g, '{:.3f}')} (target >= {want:.2f}: {'met' if g and g >= want else 'MISSED'})")
    if recipe == "fp8_1d2d":
        pairs = []
        for r in recs:
            dg = anchors.get((recipe, r["m"], r["n"], r["k"]))
            if dg:
                pairs.append((r, *vs_dg(r, dg["deepgemm_tflops"])))
        main = [(x, how) for r, x, how in pairs if r["m"] in (128, 4096)]
        g = geomean([x for x, _ in main])
        n_main = sum(1 for x, _ in main if x)
        n_main_k = sum(1 for x, how in main if x and how == "kernel")
        out.append(f"- geomean vs DeepGEMM over the M in {{128, 4096}} shapes ({n_main}"
                   f" of {len(main)} measured; {timing_words(n_main_k, n_main)}): {fmt(g, '{:.3f}')} "
                   f"(target >= {TARGET_VS_DG_GEOMEAN:.2f}: "
                   f"{'met' if g and g >= TARGET_VS_DG_GEOMEAN else 'MISSED'})")
        pairs = [(r, x) for r, x, _ in pairs]
        low = [(r, x) for r, x in pairs if x is not None and x < TARGET_VS_DG_FLOOR]
        missing = [r for r, x in pairs if x is None]
        desc = ", ".join(f"{r['m']}x{r['n']}x{r['k']} {x:.2f}" for r, x in low) or "none"
        out.append(f"- shapes below {TARGET_VS_DG_FLOOR:.2f}x DeepGEMM: {desc}"
                   + (f"; not measured: {len(missing)}" if missing else ""))
    bad = [r for r in recs if not r.get("correct")]
    out.append(f"- correctness: {len(recs) - len(bad)} of {len(recs)} shapes within calc_diff < "
               f"{DIFF_BOUND[recipe]:g} and fully written"
               + ("" if not bad else "; failing: " + ", ".join(
                   f"{r['m']}x{r['n']}x{r['k']} ({r.get('status') or diff_cell(r)})" for r in bad[:8])))
    return out


def summarize(res, anchors):
    out = []
    method = res.get("method", {})
    out.append(f"Device {res.get('device')} ({res.get('num_sms')} SMs), driver {res.get('driver')}, "
               f"cuBLASLt {res.get('cublaslt_version') or '- (' + str(res.get('cublaslt_status')) + ')'}, "
               f"dlgemm {res.get('dlgemm_version')} commit {res.get('commit')}, {res.get('date')}.")
    out.append(f"Median of {method.get('iters')} calls after {method.get('warmup')} warm-ups, "
               f"{method.get('l2_flush_mib')} MiB L2 flush before each, CUDA events; an empty event "
               f"pair measures {fmt(method.get('timer_floor_us'), '{:.1f}')} us. calc_diff on "
               f"{method.get('check_rows')} rows spread over M vs the CPU reference.")
    if any(r.get("kernel_us") for r in res.get("records", [])):
        out.append(f"Kernel us: GPU kernel time of the same calls from CUPTI "
                   f"({method.get('kernel_timer')}), last kernel end - first kernel start, median. "
                   f"x DG uses dlgemm's kernel time (DeepGEMM's anchors are CUPTI kernel times); "
                   f"x Lt uses both sides' kernel times; \"(ev)\" marks a ratio from event times "
                   f"where a kernel time was missing.")
    else:
        out.append("No CUPTI kernel times in this file: x DG compares dlgemm's event time with "
                   "DeepGEMM's kernel time (the event pair adds the launch gap).")
    out.append("")
    records = res.get("records", [])
    for recipe in RECIPES:
        recs = [r for r in records if r.get("recipe") == recipe]
        if not recs:
            continue
        out.append(f"### {recipe}")
        out.append("")
        out += recipe_table(recipe, recs, anchors)
        out.append("")
        out += target_lines(recipe, recs, anchors)
        out.append("")
    overhead = res.get("host_overhead") or []
    if overhead:
        out.append("### Host time of one cached call (target <= 5 us)")
        out.append("")
        out.append("| recipe | shape | calls | dlgemm us | cuBLASLt us |")
        out.append("|:---|:---|---:|---:|---:|")
        for o in overhead:
            out.append(f"| {o['recipe']} | {o['m']}x{o['n']}x{o['k']} | {o['calls']} | "
                       f"{fmt(o.get('dlgemm_us'), '{:.2f}')} | {fmt(o.get('cublaslt_us'), '{:.2f}')} |")
        out.append("")
    kernels = (res.get("compile") or {}).get("kernels") or []
    if kernels:
        out.append("### NVRTC compile and cache load (target: cold <= 1 s)")
        out.append("")
        out.append("| recipe | shape | D | cold ms | disk-cache hit ms | memory hit us |")
        out.append("|:---|:---|:---|---:|---:|---:|")
        for c in kernels:
            out.append(f"| {c['recipe']} | {c['m']}x{c['n']}x{c['k']} | {c.get('d_dtype')} | "
                       f"{fmt(c.get('cold_ms'))} | {fmt(c.get('disk_hit_ms'), '{:.1f}')} | "
                       f"{fmt(c.get('memory_hit_us'), '{:.1f}')} |")
        out.append("")
    return "\n".join(out)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results JSON written by dlgemm_bench --json")
    ap.add_argument("--anchors", default=os.path.join(here, "anchors_h100.json"),
                    help="DeepGEMM anchor figures (default: bench/anchors_h100.json)")
    ap.add_argument("--out", help="write the markdown here instead of stdout")
    args = ap.parse_args(argv)
    text = summarize(json.load(open(args.results)), load_anchors(args.anchors))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
