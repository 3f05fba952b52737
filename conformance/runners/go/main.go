// Command dlg_conformance_go is the Go conformance runner: every case of conformance/cases
// through the Go binding, following the runner contract of conformance/README.md exactly like
// the C reference runner (conformance/runners/c).
//
//	dlg_conformance_go --cases DIR --device cpu|cuda --out RESULTS.json [--filter SUBSTRING]
//	                   [-v] [--mirror]   (self-test: the cuda path with host memory as "device")
//
// Every case runs twice: the reference on CPU tensors, and the result on the requested device
// (CPU again, or CUDA tensors copied there), both through the binding.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

type result struct {
	name, status, reason string
	metric               float64
	hasMetric            bool
}

func (r *result) set(status, format string, args ...any) {
	r.status, r.reason = status, fmt.Sprintf(format, args...)
}

func (r *result) noteMetric(v float64) {
	if !r.hasMetric || v > r.metric || math.IsNaN(v) {
		r.metric = v
	}
	r.hasMetric = true
}

type env struct {
	cpu, gpu    *dlgemm.Context
	onCUDA      bool
	gpuOK       bool
	mirror      bool
	gpuWhy      string
	info        dlgemm.DeviceInfo
	expectedDir string
}

// statusOf is the C status of a binding call's error (DLG_OK for nil) and its message.
func statusOf(err error) (dlgemm.Status, string) {
	if err == nil {
		return dlgemm.StatusOK, ""
	}
	var e *dlgemm.Error
	if errors.As(err, &e) {
		return e.Status, e.Message
	}
	return dlgemm.StatusInternal, err.Error()
}

func statusFromName(name string) dlgemm.Status {
	if name == "ok" {
		return dlgemm.StatusOK
	}
	for s := dlgemm.Status(0); s < 64; s++ {
		if s.Name() == name {
			return s
		}
	}
	return -1
}

// expected is the status a case expects on a device kind ("cpu" / "cuda"); -1 if unknown.
func (c *caseFile) expected(kind string) dlgemm.Status {
	if len(c.Expect) == 0 {
		return dlgemm.StatusOK
	}
	var s string
	if json.Unmarshal(c.Expect, &s) == nil {
		return statusFromName(s)
	}
	var per map[string]string
	if json.Unmarshal(c.Expect, &per) == nil {
		if v, ok := per[kind]; ok {
			return statusFromName(v)
		}
		return dlgemm.StatusOK
	}
	return -1
}

func (c *caseFile) allowed(kind string) bool {
	if c.Devices == nil {
		return true
	}
	for _, d := range c.Devices {
		if d == kind {
			return true
		}
	}
	return false
}

// runResult runs the op on the result set, on the device when the env says so. skipped: the
// case could not be judged (r says why).
func runResult(e *env, c *caseFile, res *caseSet, expectOK bool, r *result) (skipped bool, opErr error) {
	if !e.onCUDA {
		return false, runOp(e.cpu, c, res, nil)
	}
	if err := res.toDevice(e.gpu, e.mirror); err != nil {
		r.set("fail", "%v", err)
		return true, nil
	}
	var meta *dlgemm.Tensor
	var metaPtr uintptr
	defer func() {
		if metaPtr != 0 {
			_ = e.gpu.DeviceFree(metaPtr)
		}
	}()
	if c.Op == "paged_mqa_logits" {
		// The schedule is device-specific, so it is not in the case: derive it here.
		numSMs := e.info.NumSMs
		rows := dlgemm.PagedMQALogitsMetadataRows(numSMs)
		blockKV := 0
		if kv := res.find("kv_cache"); kv != nil && len(kv.shape) >= 2 {
			blockKV = int(kv.shape[1])
		}
		var merr error
		if e.mirror {
			meta = dlgemm.Zeros(dlgemm.Int32, rows, 2)
		} else if metaPtr, merr = e.gpu.DeviceAlloc(rows * 2 * 4); merr == nil {
			meta, merr = dlgemm.FromPointer(metaPtr, dlgemm.CUDA(e.gpu.Device()), dlgemm.Int32, []int64{rows, 2}, nil)
		}
		if merr == nil {
			merr = e.gpu.PagedMQALogitsMetadata(res.arg("context_lens"), blockKV, numSMs, meta, 0)
		}
		if merr != nil {
			meta = nil
			if expectOK {
				if errors.Is(merr, dlgemm.ErrUnsupported) {
					r.set("not-run", "no kernel: schedule metadata: %s", msgOf(merr))
				} else {
					r.set("fail", "schedule metadata -> %v", merr)
				}
				return true, merr
			}
		}
	}
	opErr = runOp(e.gpu, c, res, meta)
	if err := e.gpu.StreamSynchronize(0); err != nil {
		r.set("fail", "stream synchronize after the op -> %v", err)
		return true, opErr
	}
	if err := res.fromDevice(e.gpu); err != nil {
		r.set("fail", "%v", err)
		return true, opErr
	}
	return false, opErr
}

func msgOf(err error) string { _, m := statusOf(err); return m }

func runCase(e *env, path, name string, r *result) {
	r.name, r.status, r.reason = name, "pass", ""
	c, err := loadCase(path)
	if err != nil {
		r.set("fail", "case file: %v", err)
		return
	}
	kind := "cpu"
	if e.onCUDA && !e.mirror {
		kind = "cuda"
	}
	if c.Name != name {
		r.set("fail", "case: \"name\" must equal the file name")
		return
	}
	if !queryOps[c.Op] && !tensorOps[c.Op] {
		op := c.Op
		if op == "" {
			op = "(none)"
		}
		r.set("fail", "case: unknown op '%s'", op)
		return
	}
	if queryOps[c.Op] {
		got, qerr := runQuery(c)
		want, ok := c.Check["result"]
		switch {
		case qerr != nil || !ok:
			r.set("fail", "case: query needs check.result")
		case want.Equals != nil && got != *want.Equals:
			r.set("fail", "%s returned %d, want %d", c.Op, got, *want.Equals)
		case want.Min != nil && got < *want.Min:
			r.set("fail", "%s returned %d, want >= %d", c.Op, got, *want.Min)
		}
		return
	}
	if !c.allowed(kind) {
		why := c.DevicesReason
		if why == "" {
			why = "case excludes this device"
		}
		r.set("not-run", "%s", why)
		return
	}
	if e.onCUDA && !e.gpuOK {
		r.set("not-run", "no CUDA device: %s", e.gpuWhy)
		return
	}
	wantCPU, wantDev := c.expected("cpu"), c.expected(kind)
	if wantCPU < 0 || wantDev < 0 {
		r.set("fail", "case: unknown status name in \"expect\"")
		return
	}

	// Reference: CPU tensors, CPU context.
	ref, err := buildSet(e.cpu, c)
	if err != nil {
		r.set("fail", "%v", err)
		return
	}
	refSt, refMsg := statusOf(runOp(e.cpu, c, ref, nil))

	// Result: a second identical set on the requested device.
	res, err := buildSet(e.cpu, c)
	if err != nil {
		r.set("fail", "%v", err)
		return
	}
	defer res.free(e.gpu)
	skipped, resErr := runResult(e, c, res, wantDev == dlgemm.StatusOK, r)
	if skipped {
		return
	}
	resSt, resMsg := statusOf(resErr)

	switch {
	case refSt != wantCPU:
		r.set("fail", "cpu reference returned %s (%s), want %s", refSt.Name(), refMsg, wantCPU.Name())
		return
	case refSt != dlgemm.StatusOK && refMsg == "":
		r.set("fail", "cpu reference returned %s with an empty dlg_last_error()", refSt.Name())
		return
	case e.onCUDA && !e.mirror && wantDev == dlgemm.StatusOK && resSt == dlgemm.StatusUnsupported:
		r.set("not-run", "no kernel: %s", resMsg)
		return
	case resSt != wantDev:
		r.set("fail", "returned %s (%s), want %s", resSt.Name(), resMsg, wantDev.Name())
		return
	case resSt != dlgemm.StatusOK && resMsg == "":
		r.set("fail", "returned %s with an empty dlg_last_error()", resSt.Name())
		return
	}
	if resSt != dlgemm.StatusOK {
		// A failing call must not have written any output (the reference too, unless this is a
		// device-specific failure and the CPU call succeeded).
		for i, t := range res.t {
			if t.alias >= 0 || t.spec.Role != "output" {
				continue
			}
			if !t.untouched(0, t.elems) || (refSt != dlgemm.StatusOK && !ref.t[i].untouched(0, ref.t[i].elems)) {
				r.set("fail", "%s was written although the call returned %s", t.spec.Name, resSt.Name())
				return
			}
		}
		r.set("pass", "%s: %s", resSt.Name(), resMsg)
		return
	}
	judgeOutputs(e, c, res, ref, r)
}

func writeResults(path string, e *env, rs []result) error {
	device, arch, devName := "cpu", "host", "cpu"
	switch {
	case !e.onCUDA:
	case e.mirror:
		device = "cpu-mirror"
	case !e.gpuOK:
		device, arch = "cuda", "none"
	default:
		device = fmt.Sprintf("sm%d%d", e.info.SMMajor, e.info.SMMinor)
		arch = fmt.Sprintf("sm_%d%d", e.info.SMMajor, e.info.SMMinor)
		devName = e.info.Name
	}
	type entry struct {
		Case   string   `json:"case"`
		Status string   `json:"status"`
		Reason string   `json:"reason"`
		Metric *float64 `json:"metric"`
	}
	out := struct {
		Runner         string  `json:"runner"`
		Device         string  `json:"device"`
		Arch           string  `json:"arch"`
		DeviceName     string  `json:"device_name"`
		LibraryVersion string  `json:"library_version"`
		Results        []entry `json:"results"`
	}{"go", device, arch, devName, dlgemm.VersionString(), []entry{}}
	for _, r := range rs {
		en := entry{Case: r.name, Status: r.status, Reason: r.reason}
		if r.hasMetric && !math.IsInf(r.metric, 0) && !math.IsNaN(r.metric) {
			v, _ := strconv.ParseFloat(strconv.FormatFloat(r.metric, 'g', 6, 64), 64)
			en.Metric = &v
		}
		out.Results = append(out.Results, en)
	}
	data, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func main() { os.Exit(run()) }

func run() int {
	fs := flag.NewFlagSet("dlg_conformance_go", flag.ContinueOnError)
	casesDir := fs.String("cases", "", "directory of case files")
	device := fs.String("device", "cpu", "cpu or cuda")
	out := fs.String("out", "", "results file to write")
	filter := fs.String("filter", "", "run only cases whose name contains this")
	expected := fs.String("expected", "", "stored outputs (default: CASES/../expected)")
	verbose := fs.Bool("v", false, "print every case")
	mirror := fs.Bool("mirror", false, "self-test: the cuda path on host memory")
	if err := fs.Parse(os.Args[1:]); err != nil || *casesDir == "" || (*device != "cpu" && *device != "cuda") {
		fmt.Fprintln(os.Stderr, "usage: dlg_conformance_go --cases DIR --device cpu|cuda --out RESULTS.json [--filter S] [-v] [--mirror]")
		return 2
	}
	e := &env{expectedDir: *expected, mirror: *mirror}
	if e.expectedDir == "" {
		e.expectedDir = filepath.Join(*casesDir, "..", "expected")
	}
	var err error
	if e.cpu, err = dlgemm.NewContext(); err != nil {
		fmt.Fprintln(os.Stderr, "dlg_context_create(-1):", err)
		return 2
	}
	defer e.cpu.Close()
	e.onCUDA = *device == "cuda" || *mirror
	switch {
	case *mirror:
		// The device path with host memory: a CPU context, 8 "SMs" for the schedule metadata.
		e.gpuOK = true
		e.info = dlgemm.DeviceInfo{NumSMs: 8, Name: "host mirror"}
		if e.gpu, err = dlgemm.NewContext(); err != nil {
			return 2
		}
	case e.onCUDA:
		if e.gpu, err = dlgemm.NewContext(dlgemm.WithDevice(0)); err == nil {
			e.info, err = e.gpu.DeviceInfo()
		}
		e.gpuOK = err == nil
		if err != nil {
			st, msg := statusOf(err)
			e.gpuWhy = st.Name() + ": " + msg
		} else {
			fmt.Fprintf(os.Stderr, "device: %s (sm_%d%d, %d SMs)\n", e.info.Name, e.info.SMMajor, e.info.SMMinor, e.info.NumSMs)
		}
	}
	if e.gpu != nil {
		defer e.gpu.Close()
	}

	entries, err := os.ReadDir(*casesDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot read %s\n", *casesDir)
		return 2
	}
	var names []string
	for _, en := range entries {
		if n := en.Name(); len(n) > 5 && strings.HasSuffix(n, ".json") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var rs []result
	passed, failed, notRun := 0, 0, 0
	for _, file := range names {
		name := strings.TrimSuffix(file, ".json")
		if *filter != "" && !strings.Contains(name, *filter) {
			continue
		}
		var r result
		runCase(e, filepath.Join(*casesDir, file), name, &r)
		rs = append(rs, r)
		switch r.status {
		case "pass":
			passed++
		case "fail":
			failed++
		default:
			notRun++
		}
		if *verbose || r.status != "pass" {
			sep := ""
			if r.reason != "" {
				sep = ": "
			}
			fmt.Printf("%-8s %s%s%s\n", r.status, r.name, sep, r.reason)
		}
	}
	what := *device
	if *mirror {
		what = "cuda path, host mirror"
	}
	fmt.Printf("go runner (%s): %d passed, %d failed, %d not-run\n", what, passed, failed, notRun)
	rc := 0
	if failed > 0 {
		rc = 1
	}
	if *out != "" {
		if err := writeResults(*out, e, rs); err != nil {
			fmt.Fprintln(os.Stderr, "cannot write results:", err)
			rc = 2
		}
	}
	return rc
}
