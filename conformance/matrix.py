#!/usr/bin/env python3
"""Merges conformance results files and prints the matrix case x runner x device.

    matrix.py --cases DIR [--filter S] [--save-dir DIR] [--runs LANG:DEVICE:RESULTS.json:RC ...]
    matrix.py --markdown [--devices cpu,sm90,sm100] [--update-doc docs/conformance.md] SAVED.json ...

The first form is what run_all.sh calls: each --runs entry is one runner run (its exit code
tells a crash from a finished run: a runner that left no results file fails every case). The
merged runs are saved as SAVED_DIR/<device>-<date>.json, one file per device. The second form
renders saved files as a Markdown table; devices named in --devices without results get a
column "not run — no <DEVICE> hardware".

The last line is "N passed, M failed" (+ ", K skipped" for not-run cells); exit status 1 when
any cell failed.
"""
import argparse
import datetime
import json
import os
import sys


def load_cases(cases_dir, filt):
    names = sorted(f[:-5] for f in os.listdir(cases_dir) if f.endswith(".json"))
    return [n for n in names if not filt or filt in n]


def load_run(lang, device, path, rc, cases):
    """One runner run -> {"runner", "device", ..., "results": {case: entry}}."""
    try:
        with open(path) as f:
            data = json.load(f)
        results = {r["case"]: r for r in data.get("results", [])}
    except (OSError, ValueError) as e:
        data = {"runner": lang, "device": device}
        why = f"runner {lang} exited {rc} without a readable results file ({e.__class__.__name__})"
        results = {c: {"case": c, "status": "fail", "reason": why, "metric": None} for c in cases}
    for c in cases:  # a case the runner skipped silently is a failure, never a pass
        results.setdefault(c, {"case": c, "status": "fail",
                               "reason": f"runner {lang} reported nothing for this case",
                               "metric": None})
    data["runner"] = data.get("runner") or lang
    data["results"] = results
    return data


def column(run):
    return f"{run['runner']}/{run['device']}"


def cell(entry):
    return {"pass": "pass", "fail": "FAIL", "not-run": "not-run"}.get(entry["status"], "FAIL")


def print_matrix(cases, runs):
    cols = [column(r) for r in runs]
    width = max([len(c) for c in cases] + [4])
    cw = [max(len(c), 7) for c in cols]
    print("case".ljust(width) + "  " + "  ".join(c.ljust(w) for c, w in zip(cols, cw)))
    print("-" * width + "  " + "  ".join("-" * w for w in cw))
    for name in cases:
        row = [cell(r["results"][name]).ljust(w) for r, w in zip(runs, cw)]
        print(name.ljust(width) + "  " + "  ".join(row).rstrip())
    # Non-passing cells, grouped when many share one reason (a whole column "no CUDA device").
    groups = {}
    for name in cases:
        for r in runs:
            e = r["results"][name]
            if e["status"] != "pass":
                key = (column(r), e["status"], e.get("reason") or "(no reason)")
                groups.setdefault(key, []).append(name)
    if groups:
        print("\nnot passing:")
        for (col, status, reason), names in groups.items():
            if len(reason) > 300:
                reason = reason[:297] + "..."
            if len(names) <= 2:
                for name in names:
                    print(f"  {name} [{col}] {status}: {reason}")
            else:
                print(f"  [{col}] {status} x{len(names)}: {reason}")
                print(f"      cases: {', '.join(names)}")


def tally(cases, runs):
    counts = {"pass": 0, "fail": 0, "not-run": 0}
    for r in runs:
        for name in cases:
            s = r["results"][name]["status"]
            counts[s if s in counts else "fail"] += 1
    return counts


def summary_line(counts):
    line = f"{counts['pass']} passed, {counts['fail']} failed"
    if counts["not-run"]:
        line += f", {counts['not-run']} skipped"
    return line


def save(runs, save_dir):
    """One file per device: {"device", "date", "runs": [runner results...]}."""
    os.makedirs(save_dir, exist_ok=True)
    date = datetime.date.today().isoformat()
    by_device = {}
    for r in runs:
        by_device.setdefault(r["device"], []).append(r)
    paths = []
    for device, rs in sorted(by_device.items()):
        out = {"device": device, "date": date, "runs": []}
        for r in rs:
            run = {k: v for k, v in r.items() if k != "results"}
            run["results"] = [r["results"][c] for c in sorted(r["results"])]
            out["runs"].append(run)
        path = os.path.join(save_dir, f"{device}-{date}.json")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
        paths.append(path)
    return paths


# ---- Markdown ----------------------------------------------------------------------------

def md_cell(entry):
    reason = (entry.get("reason") or "").replace("|", "\\|").replace("\n", " ")
    if len(reason) > 120:
        reason = reason[:117] + "..."
    if entry["status"] == "pass":
        return "pass"
    if entry["status"] == "not-run":
        return f"not run — {reason}" if reason else "not run"
    return f"**FAIL**: {reason}"


def markdown(saved_files, devices):
    runs = []
    for path in saved_files:
        with open(path) as f:
            data = json.load(f)
        for run in data.get("runs", []):
            run = dict(run)
            run["results"] = {e["case"]: e for e in run["results"]}
            run["date"] = data.get("date", "")
            runs.append(run)
    cases = sorted({c for r in runs for c in r["results"]})
    runners = sorted({r["runner"] for r in runs}, key=lambda n: (n != "c", n))
    seen_devices = [r["device"] for r in runs]
    order = list(devices) + [d for d in dict.fromkeys(seen_devices) if d not in devices]
    cols = []  # (header, run or None, device)
    for device in order:
        for lang in runners:
            run = next((r for r in runs if r["runner"] == lang and r["device"] == device), None)
            cols.append((f"{lang} / {device}", run, device))
    lines = []
    sources = ", ".join(f"{r['runner']}/{r['device']} ({r.get('device_name', '')}, {r.get('date', '')})"
                        for r in runs)
    lines.append(f"Results: {sources}.")
    lines.append("")
    lines.append("| case | " + " | ".join(h for h, _, _ in cols) + " |")
    lines.append("|---|" + "---|" * len(cols))
    counts = {"pass": 0, "fail": 0, "not-run": 0}
    for name in cases:
        row = []
        for _, run, device in cols:
            if run is None:
                row.append(f"not run — no {device.upper()} hardware" if device.startswith("sm")
                           else "not run")
                continue
            e = run["results"].get(name, {"status": "not-run", "reason": "case not in this run"})
            counts[e["status"] if e["status"] in counts else "fail"] += 1
            row.append(md_cell(e))
        lines.append(f"| `{name}` | " + " | ".join(row) + " |")
    lines.append("")
    lines.append(summary_line(counts) + " (cells with results).")
    return "\n".join(lines) + "\n", counts


def update_doc(path, table):
    begin, end = "<!-- matrix:begin -->", "<!-- matrix:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        sys.exit(f"{path}: markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + table + end + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases")
    ap.add_argument("--filter")
    ap.add_argument("--runs", nargs="*", default=[])
    ap.add_argument("--save-dir")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--devices", default="cpu,sm90,sm100")
    ap.add_argument("--update-doc")
    ap.add_argument("saved", nargs="*")
    a = ap.parse_args()

    if a.markdown:
        table, counts = markdown(a.saved, [d for d in a.devices.split(",") if d])
        if a.update_doc:
            update_doc(a.update_doc, table)
            print(f"updated {a.update_doc}: {summary_line(counts)}")
        else:
            sys.stdout.write(table)
        return 1 if counts["fail"] else 0

    cases = load_cases(a.cases, a.filter)
    runs = []
    for spec in a.runs:
        lang, device, rest = spec.split(":", 2)
        path, rc = rest.rsplit(":", 1)
        runs.append(load_run(lang, device, path, rc, cases))
    if not runs:
        print("no runner ran")
        return 1
    print_matrix(cases, runs)
    if a.save_dir:
        for p in save(runs, a.save_dir):
            print(f"results: {p}")
    counts = tally(cases, runs)
    print(summary_line(counts))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
