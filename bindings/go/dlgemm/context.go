package dlgemm

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// Context is a dlgemm context: a device (a CUDA device, or the CPU reference path), its
// compiled-kernel cache and the run-time knobs. Create one per device and keep it for the life
// of the process.
//
// A Context is safe for concurrent use by any number of goroutines: every method may be
// called concurrently with every other, knob setters included (a knob change applies to calls
// that start after it). Close waits for the calls in flight; calls that start after Close
// return ErrClosed.
type Context struct {
	mu      sync.RWMutex // read-held by every call, write-held by Close
	handle  uintptr      // dlg_context_t*, 0 once closed
	device  int
	cleanup runtime.Cleanup

	jitMu sync.Mutex
	jit   string // the last SetJITOptions value (the C ABI has no getter)
}

// Option configures NewContext.
type Option func(*contextConfig)

type contextConfig struct {
	device               int
	maxSMs               *int
	pdl                  *bool
	cacheDir, jitOptions *string
}

// WithDevice selects CUDA device ordinal (>= 0), or the CPU reference path (-1, the default).
// No CUDA call is made by NewContext: a GPU context can be created on a machine without a GPU.
func WithDevice(ordinal int) Option { return func(c *contextConfig) { c.device = ordinal } }

// WithMaxSMs sets the number of SMs kernels may use (0 = all, the default).
func WithMaxSMs(n int) Option { return func(c *contextConfig) { c.maxSMs = &n } }

// WithPDL turns programmatic dependent launch on or off (off by default).
func WithPDL(on bool) Option { return func(c *contextConfig) { c.pdl = &on } }

// WithCacheDir sets the disk cache directory of compiled kernels ("" = the default).
func WithCacheDir(dir string) Option { return func(c *contextConfig) { c.cacheDir = &dir } }

// WithJITOptions sets extra NVRTC options (space-separated, e.g. "-lineinfo").
func WithJITOptions(opts string) Option { return func(c *contextConfig) { c.jitOptions = &opts } }

// NewContext creates a context (dlg_context_create) and applies the options. Close it when
// done; a context that becomes unreachable without Close is destroyed by the garbage
// collector.
func NewContext(opts ...Option) (*Context, error) {
	cfg := contextConfig{device: -1}
	for _, o := range opts {
		o(&cfg)
	}
	out := make([]uintptr, 1)
	if err := call(func() raw.Enum_SS_dlg_status {
		return raw.Dlg_context_create(cfg.device, out)
	}); err != nil {
		return nil, err
	}
	c := &Context{handle: out[0], device: cfg.device}
	c.cleanup = runtime.AddCleanup(c, func(h uintptr) { raw.Dlg_context_destroy(h) }, out[0])
	var knobs []func() error
	if cfg.maxSMs != nil {
		knobs = append(knobs, func() error { return c.SetMaxSMs(*cfg.maxSMs) })
	}
	if cfg.pdl != nil {
		knobs = append(knobs, func() error { return c.SetPDL(*cfg.pdl) })
	}
	if cfg.cacheDir != nil {
		knobs = append(knobs, func() error { return c.SetCacheDir(*cfg.cacheDir) })
	}
	if cfg.jitOptions != nil {
		knobs = append(knobs, func() error { return c.SetJITOptions(*cfg.jitOptions) })
	}
	for _, set := range knobs {
		if err := set(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close destroys the context after the calls in flight have returned. It is idempotent and
// always returns nil.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != 0 {
		c.cleanup.Stop()
		raw.Dlg_context_destroy(c.handle)
		c.handle = 0
	}
	return nil
}

// Closed reports whether Close has been called.
func (c *Context) Closed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.handle == 0
}

// Device is the CUDA ordinal of the context, or -1 for a CPU context (dlg_context_device).
func (c *Context) Device() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == 0 {
		return c.device
	}
	return raw.Dlg_context_device(c.handle)
}

// String describes the context, e.g. "dlgemm.Context(cpu)" or "dlgemm.Context(cuda:0, closed)".
func (c *Context) String() string {
	where := "cpu"
	if c.device >= 0 {
		where = CUDA(c.device).String()
	}
	if c.Closed() {
		where += ", closed"
	}
	return "dlgemm.Context(" + where + ")"
}

// run calls f with the context handle and the C descriptors of ts, holding the context open
// and the tensors' Go memory pinned for the duration of the call.
func (c *Context) run(ts []*Tensor, f func(h uintptr, dl []uintptr) raw.Enum_SS_dlg_status) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == 0 {
		return ErrClosed
	}
	var b binder
	defer b.release()
	dl, err := b.bindAll(ts)
	if err != nil {
		return err
	}
	return call(func() raw.Enum_SS_dlg_status { return f(c.handle, dl) })
}

// do is run for calls without tensors.
func (c *Context) do(f func(h uintptr) raw.Enum_SS_dlg_status) error {
	return c.run(nil, func(h uintptr, _ []uintptr) raw.Enum_SS_dlg_status { return f(h) })
}

// get reads a knob (0 on a closed context).
func (c *Context) get(f func(h uintptr) int) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == 0 {
		return 0
	}
	return f(c.handle)
}

// SetMaxSMs sets the number of SMs kernels may use; 0 = all of the device.
func (c *Context) SetMaxSMs(n int) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status { return raw.Dlg_context_set_max_sms(h, n) })
}

// MaxSMs is the number of SMs kernels may use (0 = all; 0 after Close).
func (c *Context) MaxSMs() int { return c.get(raw.Dlg_context_get_max_sms) }

// SetPDL turns programmatic dependent launch on or off for kernels launched through c.
func (c *Context) SetPDL(on bool) error {
	v := 0
	if on {
		v = 1
	}
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status { return raw.Dlg_context_set_pdl(h, v) })
}

// PDL reports whether programmatic dependent launch is on (false after Close).
func (c *Context) PDL() bool { return c.get(raw.Dlg_context_get_pdl) != 0 }

// SetCacheDir sets the disk cache directory of compiled kernels; "" restores the default
// ($DLG_JIT_CACHE_DIR, else $XDG_CACHE_HOME/dlgemm, else $HOME/.cache/dlgemm).
func (c *Context) SetCacheDir(dir string) error {
	return c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_context_set_cache_dir(h, dir)
	})
}

// CacheDir is the kernel cache directory in use.
func (c *Context) CacheDir() (string, error) {
	buf := make([]byte, 4096)
	if err := c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_context_get_cache_dir(h, buf)
	}); err != nil {
		return "", err
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return string(buf), nil
}

// SetJITOptions sets extra NVRTC options appended to every compilation (space-separated,
// e.g. "-lineinfo"); they are part of the kernel cache key. "" clears them.
func (c *Context) SetJITOptions(opts string) error {
	c.jitMu.Lock()
	defer c.jitMu.Unlock()
	err := c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_context_set_jit_options(h, opts)
	})
	if err == nil {
		c.jit = opts
	}
	return err
}

// JITOptions is the last value given to SetJITOptions ("" for none).
func (c *Context) JITOptions() string {
	c.jitMu.Lock()
	defer c.jitMu.Unlock()
	return c.jit
}

// DeviceInfo describes a context's CUDA device.
type DeviceInfo struct {
	Ordinal          int    // CUDA device ordinal
	SMMajor, SMMinor int    // compute capability
	NumSMs           int    // streaming multiprocessors
	TotalMemory      int64  // bytes
	L2Bytes          int64  // L2 cache size, bytes
	MaxSMemPerBlock  int64  // opt-in maximum shared memory per block, bytes
	Name             string // e.g. "NVIDIA H100 80GB HBM3"
}

// DeviceInfo reads the facts of the context's device (needs the CUDA driver; a CPU context
// has none and returns an error).
func (c *Context) DeviceInfo() (DeviceInfo, error) {
	info := raw.NewDlg_device_info_t() // C memory: the C function writes it
	defer raw.DeleteDlg_device_info_t(info)
	if err := c.do(func(h uintptr) raw.Enum_SS_dlg_status {
		return raw.Dlg_context_device_info(h, info)
	}); err != nil {
		return DeviceInfo{}, err
	}
	return DeviceInfo{
		Ordinal: info.GetOrdinal(), SMMajor: info.GetSm_major(), SMMinor: info.GetSm_minor(),
		NumSMs: info.GetNum_sms(), TotalMemory: info.GetTotal_memory(),
		L2Bytes: info.GetL2_bytes(), MaxSMemPerBlock: info.GetMax_smem_per_block(),
		Name: info.GetName(),
	}, nil
}

// RuntimeInfo describes the CUDA environment of the process (for diagnostics).
type RuntimeInfo struct {
	DriverFound   bool   // libcuda opened and cuInit succeeded
	DriverVersion int    // e.g. 13000; 0 when absent
	DeviceCount   int    // CUDA devices visible
	NVRTCFound    bool   // libnvrtc opened
	NVRTCMajor    int    // NVRTC version; 0 when absent
	NVRTCMinor    int    // NVRTC minor version
	DriverPath    string // where libcuda was found
	NVRTCPath     string // where libnvrtc was found
	Why           string // why the driver or NVRTC is unavailable; "" when both are
}

// GetRuntimeInfo reports whether the CUDA driver and NVRTC can be opened here, and their
// versions (dlg_runtime_info). It never fails.
func GetRuntimeInfo() RuntimeInfo {
	info := raw.NewDlg_runtime_info_t()
	defer raw.DeleteDlg_runtime_info_t(info)
	raw.Dlg_runtime_info(info)
	return RuntimeInfo{
		DriverFound: info.GetDriver_found() != 0, DriverVersion: info.GetDriver_version(),
		DeviceCount: info.GetDevice_count(), NVRTCFound: info.GetNvrtc_found() != 0,
		NVRTCMajor: info.GetNvrtc_major(), NVRTCMinor: info.GetNvrtc_minor(),
		DriverPath: info.GetDriver_path(), NVRTCPath: info.GetNvrtc_path(), Why: info.GetWhy(),
	}
}
