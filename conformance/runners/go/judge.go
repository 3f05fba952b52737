package main

// Judging a case whose runs both returned DLG_OK: untouched ranges, written elements, the
// result against the CPU reference, and the reference against the stored expected values.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/dlgemm/dlgemm/bindings/go/dlgemm"
)

// compare checks metric(x, y) <= tol; false with the reason in r.
func compare(r *result, tname, what, metric string, tol float64, x, y *dlgemm.Tensor) bool {
	switch metric {
	case "calc_diff":
		diff, err := dlgemm.CalcDiff(x, y)
		if err != nil {
			st, msg := statusOf(err)
			r.set("fail", "%s: calc_diff(%s) -> %s: %s", tname, what, st.Name(), msg)
			return false
		}
		r.noteMetric(diff)
		if !(diff <= tol) {
			r.set("fail", "%s: calc_diff(%s) = %.3g > tol %.3g", tname, what, diff, tol)
			return false
		}
		return true
	case "exact":
		n, err := dlgemm.CountMismatch(x, y)
		if err != nil {
			st, msg := statusOf(err)
			r.set("fail", "%s: count_mismatch(%s) -> %s: %s", tname, what, st.Name(), msg)
			return false
		}
		r.noteMetric(float64(n))
		if n != 0 {
			r.set("fail", "%s: %d elements differ (%s)", tname, n, what)
			return false
		}
		return true
	}
	r.set("fail", "%s: unknown metric '%s'", tname, metric)
	return false
}

func inRanges(ranges [][]int64, e int64) bool {
	for _, rg := range ranges {
		if len(rg) == 2 && e >= rg[0] && e < rg[1] {
			return true
		}
	}
	return false
}

func checkUntouched(r *result, t *caseTensor, ranges [][]int64, run string) bool {
	for _, rg := range ranges {
		if len(rg) != 2 {
			r.set("fail", "%s: untouched ranges must be [start, end] pairs", t.spec.Name)
			return false
		}
		if !t.untouched(rg[0], rg[1]) {
			r.set("fail", "%s: %s wrote storage elements in [%d, %d), which must stay untouched",
				t.spec.Name, run, rg[0], rg[1])
			return false
		}
	}
	return true
}

// checkWritten: an output must not still hold the poison outside the untouched ranges (else a
// no-op would pass on CPU). 8-bit poison (e4m3 -0.203) can be a real value: up to 1/8 may match.
func checkWritten(r *result, t *caseTensor, ranges [][]int64, run string) bool {
	if t.spec.Role != "output" {
		return true
	}
	var poisoned, considered int64
	for i, n := int64(0), t.numel(); i < n; i++ {
		e := t.storageIndex(i)
		if inRanges(ranges, e) {
			continue
		}
		considered++
		if t.untouched(e, e+1) {
			poisoned++
		}
	}
	allowed := int64(0)
	if t.dtype.Size() == 1 {
		allowed = considered / 8
	}
	if poisoned > allowed {
		r.set("fail", "%s: %s left %d of %d elements unwritten (still poison)", t.spec.Name, run,
			poisoned, considered)
		return false
	}
	return true
}

type storedOutput struct {
	Step   int64 `json:"step"`
	Values []any `json:"values"`
}

// storedTensor is a compact 1-D tensor of stored values: the output's dtype for integers,
// else float32.
func storedTensor(like *caseTensor, values []any) (*dlgemm.Tensor, error) {
	integer := like.dtype == dlgemm.Int32 || like.dtype == dlgemm.UInt8
	dt := dlgemm.Float32
	if integer {
		dt = like.dtype
	}
	buf := alignedBytes(int64(len(values) * dt.Size()))
	for i, v := range values {
		var x float64
		switch v := v.(type) {
		case float64:
			x = v
		case string:
			switch v {
			case "inf":
				x = math.Inf(1)
			case "-inf":
				x = math.Inf(-1)
			default:
				x = math.NaN()
			}
		default:
			return nil, fmt.Errorf("a stored value is neither a number nor a string")
		}
		switch {
		case !integer:
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(x)))
		case dt == dlgemm.Int32:
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(int32(x)))
		default:
			buf[i] = uint8(x)
		}
	}
	return dlgemm.FromBytes(buf, dt, []int64{int64(len(values))}, nil)
}

func judgeOutputs(e *env, c *caseFile, res, ref *caseSet, r *result) {
	for _, t := range res.t {
		if _, ok := c.Check[t.spec.Name]; t.alias < 0 && t.spec.Role != "input" && !ok {
			r.set("fail", "case: output %s has no check entry", t.spec.Name)
			return
		}
	}
	var stored map[string]storedOutput
	path := filepath.Join(e.expectedDir, c.Name+".json")
	if data, err := os.ReadFile(path); err == nil {
		var file struct {
			Outputs map[string]storedOutput `json:"outputs"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			r.set("fail", "expected file %s: %v", path, err)
			return
		}
		stored = file.Outputs
	}
	names := make([]string, 0, len(c.Check))
	for name := range c.Check {
		names = append(names, name)
	}
	sort.Strings(names) // a fixed order: the first failure is the reason
	for _, name := range names {
		spec := c.Check[name]
		tr, tf := res.find(name), ref.find(name)
		if tr == nil || tf == nil || tr.alias >= 0 {
			r.set("fail", "case: check names '%s', not a tensor of the case", name)
			return
		}
		if spec.Metric == "" {
			r.set("fail", "case: check of %s has no metric", name)
			return
		}
		if !checkUntouched(r, tr, spec.Untouched, "the run") || !checkUntouched(r, tf, spec.Untouched, "the cpu reference") ||
			!checkWritten(r, tr, spec.Untouched, "the run") || !checkWritten(r, tf, spec.Untouched, "the cpu reference") {
			return
		}
		if !compare(r, name, "result vs cpu reference", spec.Metric, spec.Tol, tr.host, tf.host) {
			return
		}
		want, ok := stored[name]
		if !ok {
			continue
		}
		// The stored sample: a 1-D view of the reference storage, elements 0, step, 2·step, ...
		var have *dlgemm.Tensor
		var err error
		count := int64(0)
		if want.Step > 0 {
			count = (tf.elems + want.Step - 1) / want.Step
			have, err = dlgemm.FromBytes(tf.storage, tf.dtype, []int64{count}, []int64{want.Step})
		}
		wantT, werr := storedTensor(tf, want.Values)
		if want.Step < 1 || err != nil || werr != nil || count != int64(len(want.Values)) {
			r.set("fail", "%s: the expected file's sample does not fit the tensor", name)
			return
		}
		// Stored float values are f32: an exact check of a bf16/fp8 output is calc_diff == 0.
		integer := tf.dtype == dlgemm.Int32 || tf.dtype == dlgemm.UInt8
		metric, tol := spec.Metric, spec.Tol
		if !integer && metric == "exact" {
			metric, tol = "calc_diff", 0
		}
		if !compare(r, name, "cpu reference vs stored expected", metric, tol, have, wantT) {
			return
		}
	}
}
