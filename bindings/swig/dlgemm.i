/* dlgemm.i — the language-neutral SWIG interface of the dlgemm C ABI.
 *
 * Every language binding has a small top-level file (python.i, go.i, java.i) that sets
 * %module, defines its own typemaps (how a DLTensor*, a stream, an out-parameter look in that
 * language) and then does
 *
 *     %include "dlgemm.i"
 *
 * This file declares the whole ABI from the public headers, so a function added to
 * include/dlgemm/*.h reaches every binding without being listed twice. It must stay free of
 * language-specific typemaps. */

%{
#include "dlgemm.h"
%}

/* Fixed-width integers map to the target language's integers. */
%include <stdint.i>

/* The headers mark exported functions with DLG_API (a visibility attribute); SWIG does not
 * follow #include, so export.h is never read: the macro is simply empty here. */
#define DLG_API

/* DLTensor stays opaque to SWIG: each language converts its own tensors to DLTensor* in
 * typemaps (Python: DLPack capsules; Go/Java: dlg_tensor_create).
 *
 * What a language file typically maps (parameter names are stable, so typemaps can match
 * on them):
 *   const DLTensor* / DLTensor*   inputs / outputs (outputs written in place)
 *   void* stream                  CUstream, NULL = legacy default stream (always the last
 *                                 parameter of an op)
 *   void* ptr, void* dst, const void* src     raw addresses (testing.h)
 *   dlg_status_t (return)         DLG_OK, else the language's error carrying dlg_last_error()
 *   out-parameters                dlg_context_t** out, DLTensor** out, void** out_ptr,
 *                                 double* out, int64_t* out, (char* buf, size_t cap),
 *                                 dlg_device_info_t* out, dlg_runtime_info_t* out
 * Parsed cleanly by `swig -python`, `-go -cgo -intgosize 64` and `-java` (checked with 4.3.1).
 * Note: `dlg_runtime_info` is both a struct tag and a function; SWIG names the struct
 * wrapper after its typedef, dlg_runtime_info_t, so both survive. */

/* Functions every binding treats the same way. The X-macro helper of status.h is a
 * preprocessor device, not an API. */
%ignore DLG_STATUS_LIST;

%include "dlgemm/version.h"
%include "dlgemm/status.h"
%include "dlgemm/context.h"
%include "dlgemm/tensor.h"
%include "dlgemm/gemm.h"
%include "dlgemm/moe.h"
%include "dlgemm/attention.h"
%include "dlgemm/quant.h"
%include "dlgemm/testing.h"
