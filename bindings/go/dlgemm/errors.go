package dlgemm

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/dlgemm/dlgemm/bindings/go/internal/raw"
)

// Status is a dlgemm status code (the C dlg_status_t). Its values are part of the C ABI.
type Status int

// The status codes of the C ABI, in code order.
const (
	StatusOK              Status = 0  // DLG_OK
	StatusInvalidArgument Status = 1  // DLG_ERR_INVALID_ARGUMENT: a null, a bad enum or value
	StatusDType           Status = 2  // DLG_ERR_DTYPE: a tensor has the wrong element type
	StatusShape           Status = 3  // DLG_ERR_SHAPE: ranks or extents disagree
	StatusLayout          Status = 4  // DLG_ERR_LAYOUT: unsupported strides or alignment
	StatusDevice          Status = 5  // DLG_ERR_DEVICE: tensors on different or wrong devices
	StatusUnsupported     Status = 6  // DLG_ERR_UNSUPPORTED: valid, but not implemented here
	StatusNoDriver        Status = 7  // DLG_ERR_NO_DRIVER: no CUDA driver or no GPU
	StatusNoNVRTC         Status = 8  // DLG_ERR_NO_NVRTC: NVRTC could not be loaded
	StatusCompile         Status = 9  // DLG_ERR_COMPILE: NVRTC rejected a kernel
	StatusCUDA            Status = 10 // DLG_ERR_CUDA: a CUDA driver call failed
	StatusOutOfMemory     Status = 11 // DLG_ERR_OUT_OF_MEMORY
	StatusIO              Status = 12 // DLG_ERR_IO: trouble with the kernel cache directory
	StatusInternal        Status = 13 // DLG_ERR_INTERNAL: a bug in the library
)

// String is the library's short description of the status, e.g. "unsupported dtype"
// (dlg_status_string); "unknown status" for a code the library does not know.
func (s Status) String() string { return raw.Dlg_status_string(raw.Enum_SS_dlg_status(s)) }

// Name is the C enumerator name of the status, e.g. "DLG_ERR_DTYPE" (dlg_status_name).
func (s Status) Name() string { return raw.Dlg_status_name(raw.Enum_SS_dlg_status(s)) }

// Error is a failed dlgemm call: its status and the library's message, which names the
// argument and the reason (e.g. "b: expected dtype float8_e4m3fn, got bfloat16").
//
// Test for a kind of failure with errors.Is against the sentinel of its status
// (errors.Is(err, dlgemm.ErrDType)); read the details with errors.As.
type Error struct {
	Status  Status // the kind of failure, never StatusOK
	Message string // names the argument and the reason; never empty

	sentinel bool
}

// Error formats the failure as "dlgemm: <message> (<status name>)".
func (e *Error) Error() string {
	return fmt.Sprintf("dlgemm: %s (%s)", e.Message, e.Status.Name())
}

// Is reports whether target is the sentinel error of e's status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.sentinel && t.Status == e.Status
}

func sentinel(s Status) *Error { return &Error{Status: s, Message: s.String(), sentinel: true} }

// Sentinel errors, one per failure status: errors.Is(err, ErrShape) holds for every *Error
// whose Status is StatusShape.
var (
	ErrInvalidArgument = sentinel(StatusInvalidArgument) // a null, a bad enum or a bad value
	ErrDType           = sentinel(StatusDType)           // a tensor has the wrong dtype
	ErrShape           = sentinel(StatusShape)           // ranks or extents disagree
	ErrLayout          = sentinel(StatusLayout)          // strides or alignment not supported
	ErrDevice          = sentinel(StatusDevice)          // tensors on different/wrong devices
	ErrUnsupported     = sentinel(StatusUnsupported)     // valid, but not implemented here
	ErrNoDriver        = sentinel(StatusNoDriver)        // no CUDA driver, or no GPU
	ErrNoNVRTC         = sentinel(StatusNoNVRTC)         // NVRTC missing
	ErrCompile         = sentinel(StatusCompile)         // NVRTC rejected a kernel
	ErrCUDA            = sentinel(StatusCUDA)            // a driver call failed
	ErrOutOfMemory     = sentinel(StatusOutOfMemory)     // an allocation failed
	ErrIO              = sentinel(StatusIO)              // kernel cache directory trouble
	ErrInternal        = sentinel(StatusInternal)        // a bug in the library
)

// ErrClosed is returned by every method of a Context after Close.
var ErrClosed = errors.New("dlgemm: context is closed")

// Sentinel returns the sentinel error of a failure status (nil for StatusOK and for codes
// this package does not know).
func Sentinel(s Status) error {
	for _, e := range []*Error{ErrInvalidArgument, ErrDType, ErrShape, ErrLayout, ErrDevice,
		ErrUnsupported, ErrNoDriver, ErrNoNVRTC, ErrCompile, ErrCUDA, ErrOutOfMemory, ErrIO,
		ErrInternal} {
		if e.Status == s {
			return e
		}
	}
	return nil
}

// newError is an error raised on the Go side, worded as the C library words its own.
func newError(s Status, format string, args ...any) *Error {
	return &Error{Status: s, Message: fmt.Sprintf(format, args...)}
}

// call runs one status-returning C call and turns the status into an error: the one place
// where statuses become errors. The C message is thread-local, so the goroutine stays on its
// OS thread from clearing the message to reading it.
func call(f func() raw.Enum_SS_dlg_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	raw.Dlg_clear_error()
	st := Status(f())
	if st == StatusOK {
		return nil
	}
	msg := raw.Dlg_last_error()
	if msg == "" {
		msg = st.String()
	}
	return &Error{Status: st, Message: msg}
}
