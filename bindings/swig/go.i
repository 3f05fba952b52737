/* go.i — the Go flavour of the dlgemm interface: typemaps that give the C ABI's arguments
 * plain Go types, then the shared declarations (dlgemm.i).
 *
 * Generated package: bindings/go/internal/raw (`swig -go -cgo -intgosize 64 -DSWIGWORDSIZE64
 * -module raw`, run by bindings/go/generate.sh). It is internal: the package dlgemm wraps it.
 * The output is checked in, because `go get` cannot run SWIG; scripts/test_go.sh regenerates
 * it and diffs.
 *
 *  C argument                            Go value
 *  dlg_context_t*, DLTensor*, void*      uintptr (C memory, device memory or 0 = NULL). A
 *  (stream, data, ptr, dst, src)         Go pointer passed as data must be pinned
 *                                        (runtime.Pinner) for the whole call: the package
 *                                        dlgemm does that.
 *  const int64_t* shape / strides        []int64 (nil = NULL), read during the call only
 *  dlg_context_t** out, DLTensor** out,  []uintptr / []float64 / []int64 of length >= 1: the
 *  void** out_ptr, double* out,          value is stored in element 0 after the call
 *  int64_t* out
 *  (char* buf, size_t cap)               []byte, filled NUL-terminated
 *  const char* dir / options             string; "" is passed as NULL (the C "default/clear")
 *  dlg_device_info_t*, dlg_runtime_info_t*
 *                                        SWIG struct wrappers allocated in C memory
 *                                        (NewDlg_device_info_t / DeleteDlg_device_info_t)
 *  const char* (return), char[N] field   string, copied into Go memory at once
 *  dlg_status_t (return)                 Enum_SS_dlg_status: package dlgemm turns it into an
 *                                        error, reading dlg_last_error() on the same OS thread
 *
 * No typemap keeps a Go pointer past the call, and no Go pointer is written into C memory by
 * the generated code: slices are passed as cgo slice headers for the call's duration (the cgo
 * pointer rules allow that for memory holding no Go pointers). */

%module raw

%{
#include <stdint.h>
#include <string.h>
#include "dlgemm.h"
%}

/* ---- opaque pointers: uintptr ------------------------------------------------------------ */
%define DLGGO_UINTPTR(TYPE)
%typemap(gotype) TYPE "uintptr"
%typemap(imtype) TYPE "uintptr"
%typemap(in) TYPE %{ $1 = ($1_ltype)(uintptr_t)$input; %}
%typemap(out) TYPE %{ $result = (uintptr_t)$1; %}
%enddef

DLGGO_UINTPTR(dlg_context_t*)
DLGGO_UINTPTR(const dlg_context_t*)
DLGGO_UINTPTR(DLTensor*)
DLGGO_UINTPTR(const DLTensor*)
DLGGO_UINTPTR(void*)
DLGGO_UINTPTR(const void*)

/* ---- out-parameters: a slice whose element 0 receives the value ---------------------------- */
%define DLGGO_OUT(TYPE, GOTYPE, CTYPE)
%typemap(gotype) TYPE "[]GOTYPE"
%typemap(in) TYPE ($*1_ltype temp) {
  if ($input.len < 1) _swig_gopanic("$1_name: the out slice needs at least 1 element");
  memset(&temp, 0, sizeof temp);
  $1 = &temp;
}
%typemap(argout) TYPE %{ ((CTYPE*)$input.array)[0] = (CTYPE)temp$argnum; %}
%typemap(freearg) TYPE ""
%enddef

DLGGO_OUT(dlg_context_t** out, uintptr, uintptr_t)
DLGGO_OUT(DLTensor** out, uintptr, uintptr_t)
DLGGO_OUT(void** out_ptr, uintptr, uintptr_t)
DLGGO_OUT(double* out, float64, double)
DLGGO_OUT(int64_t* out, int64, int64_t)

/* ---- shape / strides: []int64, nil = NULL ------------------------------------------------- */
%typemap(gotype) const int64_t* shape, const int64_t* strides "[]int64"
%typemap(in) const int64_t* shape, const int64_t* strides
%{ $1 = $input.len > 0 ? (int64_t*)$input.array : NULL; %}

/* ---- a text buffer the C function fills ---------------------------------------------------- */
%typemap(gotype) (char* buf, size_t cap) "[]byte"
%typemap(in) (char* buf, size_t cap) %{
  $1 = (char*)$input.array;
  $2 = (size_t)$input.len;
%}

/* ---- returned strings: static or thread-local C storage, copied into Go memory ----------- */
/* (SWIG's default mallocs a copy in C and frees it from Go through a uintptr, which go vet
 * rightly flags; here C hands over its own pointer and Go copies it at once.) */
%go_import("strings")
%typemap(out) const char*, char*, char[ANY] %{
  $result.p = (char*)$1;
  $result.n = $1 ? (intgo)strlen((const char*)$1) : 0;
%}
%typemap(goout) const char*, char*, char[ANY] %{ $result = strings.Clone($1) %}

/* ---- optional strings: "" = NULL ----------------------------------------------------------- */
%typemap(gotype) const char* dir, const char* options "string"
%typemap(in) const char* dir, const char* options {
  $1 = NULL;
  if ($input.n > 0) {
    char* text = (char*)malloc((size_t)$input.n + 1);
    if (!text) _swig_gopanic("$1_name: out of memory");
    memcpy(text, $input.p, (size_t)$input.n);
    text[$input.n] = '\0';
    $1 = text;
  }
}
%typemap(freearg) const char* dir, const char* options %{ free((char*)$1); %}

/* The info structs are filled by the C functions: Go reads them, never sets fields. */
%immutable;
%include "dlgemm.i"
%mutable;
