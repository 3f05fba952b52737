/* python.i — the Python flavour of the dlgemm interface: typemaps that turn Python objects
 * into the C ABI's arguments, then the shared declarations (dlgemm.i).
 *
 * Generated module: dlgemm._cabi (built with `swig -python -noproxy`, so the raw functions
 * live directly in the extension module; the package dlgemm wraps them).
 *
 *  C argument                      Python value
 *  const DLTensor* / DLTensor*     any DLPack producer (__dlpack__ + __dlpack_device__), a
 *                                  DLPack capsule, a NumPy array (ml_dtypes float8/bfloat16
 *                                  arrays through __array_interface__), or None (= NULL)
 *  void* stream / ptr / dst / src  int (address) or None (= NULL)
 *  dlg_context_t** out, void** out_ptr, double* out, int64_t* out, char* buf + cap,
 *  dlg_device_info_t* out, dlg_runtime_info_t* out
 *                                  returned instead of taken
 *  dlg_status_t (return)           None when DLG_OK; any other status raises the exception
 *                                  class registered for it (dlgemm.errors), carrying the C
 *                                  message — the one place where statuses become exceptions.
 *
 * Tensors are borrowed for the duration of one call: a consumed DLPack capsule is renamed
 * "used_dltensor[_versioned]" (so its destructor leaves it alone) and its deleter is called
 * when the call returns. Outputs must be writable (DLPack 1.x READ_ONLY flag, NumPy's
 * read-only flag). CUDA producers are asked for their data on the call's stream
 * (__dlpack__(stream=...)), so the producer orders its pending work before the kernel.
 * The GIL is released while the C function runs (threads="1").
 *
 * PyTorch tensors skip __dlpack__ (its cost dominated a call) where nothing is lost by it:
 * see dlgpy_from_torch for when; every other case still goes through the protocol. */

%module(threads="1") _cabi

%{
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "dlgemm.h"
%}

/* ---------------------------------------------------------------------------------------- */
/* Error reporting: statuses and conversion failures become the classes of dlgemm.errors.    */
%{
static PyObject* dlgpy_error_table = NULL;   /* dict: status int -> exception class */
static PyObject* dlgpy_error_base = NULL;    /* dlgemm.Error: unknown statuses */
static PyObject* dlgpy_not_a_tensor = NULL;  /* dlgemm.NotATensorError (TypeError too) */

/* Raises cls(message) with exc.status = status. */
static void dlgpy_raise_class(PyObject* cls, int status, const char* message) {
  PyObject* exc = PyObject_CallFunction(cls, "s", message);
  if (!exc) return; /* the constructor's own exception stands */
  PyObject* code = PyLong_FromLong(status);
  if (!code || PyObject_SetAttrString(exc, "status", code) != 0) PyErr_Clear();
  Py_XDECREF(code);
  PyErr_SetObject((PyObject*)Py_TYPE(exc), exc);
  Py_DECREF(exc);
}

static void dlgpy_raise(int status, const char* message) {
  PyObject* cls = NULL;
  if (dlgpy_error_table) {
    PyObject* key = PyLong_FromLong(status);
    if (key) {
      cls = PyDict_GetItemWithError(dlgpy_error_table, key); /* borrowed */
      Py_DECREF(key);
    }
    if (PyErr_Occurred()) return;
  }
  if (!cls) cls = dlgpy_error_base ? dlgpy_error_base : PyExc_RuntimeError;
  dlgpy_raise_class(cls, status, message && message[0] ? message
                                                       : dlg_status_string((dlg_status_t)status));
}

/* Raises for a failed C call: the thread's last message names the argument and the reason. */
static void dlgpy_raise_status(dlg_status_t status) {
  dlgpy_raise((int)status, dlg_last_error());
}

static void dlgpy_raisef(int status, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dlgpy_raise(status, msg);
}

/* Replaces the pending exception by InvalidArgumentError("<what>: <old message>"), chained. */
static void dlgpy_rethrow_as_argument_error(const char* what) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb && value) PyException_SetTraceback(value, tb);
  PyObject* text = value ? PyObject_Str(value) : NULL;
  const char* cause = text ? PyUnicode_AsUTF8(text) : NULL;
  if (!cause) { PyErr_Clear(); cause = "?"; }
  dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: %s: %s", what,
               type ? ((PyTypeObject*)type)->tp_name : "error", cause);
  if (value) {
    PyObject *t2, *v2, *tb2;
    PyErr_Fetch(&t2, &v2, &tb2);
    PyErr_NormalizeException(&t2, &v2, &tb2);
    if (v2) PyException_SetCause(v2, value); /* steals value */
    else Py_DECREF(value);
    PyErr_Restore(t2, v2, tb2);
  }
  Py_XDECREF(text);
  Py_XDECREF(type);
  Py_XDECREF(tb);
}

/* The one output of a status-returning call replaces the None the status typemap left.
 * Returns -1 when building the value failed (exception set). */
static int dlgpy_set_output(PyObject** result, PyObject* value) {
  if (!value) return -1;
  if (*result == NULL || *result == Py_None) {
    Py_XDECREF(*result);
    *result = value;
  } else {
    *result = SWIG_Python_AppendOutput(*result, value, 0);
  }
  return 0;
}
%}

%typemap(out) dlg_status_t {
  if ($1 != DLG_OK) {
    dlgpy_raise_status($1);
    SWIG_fail;
  }
  $result = SWIG_Py_Void();
}

%rename(_register_errors) dlgpy_register_errors;
%nothread dlgpy_register_errors;
%inline %{
/* Called once by dlgemm/errors.py: table maps status ints to classes. */
static PyObject* dlgpy_register_errors(PyObject* table, PyObject* base, PyObject* not_a_tensor) {
  if (!PyDict_Check(table) || !PyType_Check(base) || !PyType_Check(not_a_tensor)) {
    PyErr_SetString(PyExc_TypeError, "dlgpy_register_errors(dict, type, type)");
    return NULL;
  }
  Py_XDECREF(dlgpy_error_table);
  Py_XDECREF(dlgpy_error_base);
  Py_XDECREF(dlgpy_not_a_tensor);
  Py_INCREF(table);
  Py_INCREF(base);
  Py_INCREF(not_a_tensor);
  dlgpy_error_table = table;
  dlgpy_error_base = base;
  dlgpy_not_a_tensor = not_a_tensor;
  Py_RETURN_NONE;
}
%}

/* ---------------------------------------------------------------------------------------- */
/* Raw pointers (streams, device addresses): int or None.                                     */
%{
static int dlgpy_parse_pointer(PyObject* o, const char* name, void** out) {
  *out = NULL;
  if (o == NULL || o == Py_None) return 0;
  if (PyBool_Check(o) || !PyIndex_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s: expected an int address or None, got %s", name,
                 Py_TYPE(o)->tp_name);
    return -1;
  }
  PyObject* i = PyNumber_Index(o);
  if (!i) return -1;
  void* p = PyLong_AsVoidPtr(i);
  Py_DECREF(i);
  if (PyErr_Occurred()) return -1;
  *out = p;
  return 0;
}

/* The stream of the call being converted: tensors are converted after every argument has
 * been read (check typemaps), and the stream argument records itself here first; calls
 * without one leave it NULL (the legacy default stream). Thread-local because a producer's
 * __dlpack__ may release the GIL. */
static _Thread_local void* dlgpy_stream_value = NULL;
%}

%typemap(in) void* stream {
  if (dlgpy_parse_pointer($input, "$1_name", &$1) != 0) SWIG_fail;
  dlgpy_stream_value = $1;
}
%typemap(freearg) void* stream "dlgpy_stream_value = NULL;"

%typemap(in) void* ptr, void* dst, const void* src {
  if (dlgpy_parse_pointer($input, "$1_name", (void**)&$1) != 0) SWIG_fail;
}

/* ---------------------------------------------------------------------------------------- */
/* Tensors.                                                                                   */
%{
#define DLGPY_MAX_NDIM 16

typedef struct dlgpy_tensor {
  PyObject* obj;            /* borrowed: the caller's argument */
  const char* name;         /* the C parameter name, for messages */
  int writable;             /* an output: read-only data is refused */
  DLTensor* t;              /* what the C function receives (NULL for None) */
  PyObject* capsule;        /* owned: the capsule we asked for, if any */
  DLManagedTensor* legacy;  /* consumed: deleter called on release */
  DLManagedTensorVersioned* versioned;
  PyObject* keep;           /* owned: array-interface path keeps the array alive */
  DLTensor local;           /* array-interface path */
  int64_t shape[DLGPY_MAX_NDIM];
  int64_t strides[DLGPY_MAX_NDIM];
} dlgpy_tensor_t;

static void dlgpy_tensor_init(dlgpy_tensor_t* h) { memset(h, 0, sizeof *h); }

static void dlgpy_tensor_release(dlgpy_tensor_t* h) {
  if (!h->versioned && !h->legacy && !h->capsule && !h->keep) return;
  /* Deleters and destructors may run Python code: not with the call's exception pending. */
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  /* Per the DLPack protocol the consumer that renamed the capsule calls the deleter. */
  if (h->versioned && h->versioned->deleter) h->versioned->deleter(h->versioned);
  if (h->legacy && h->legacy->deleter) h->legacy->deleter(h->legacy);
  h->versioned = NULL;
  h->legacy = NULL;
  Py_CLEAR(h->capsule);
  Py_CLEAR(h->keep);
  h->t = NULL;
  if (PyErr_Occurred()) PyErr_WriteUnraisable(NULL); /* a failing deleter cannot fail the call */
  PyErr_Restore(type, value, tb);
}

/* Attribute names, interned once (faster lookups than building strings per call). */
static PyObject *dlgpy_s_dtype, *dlgpy_s_kind, *dlgpy_s_name, *dlgpy_s_itemsize,
    *dlgpy_s_array_interface, *dlgpy_s_dlpack, *dlgpy_s_dlpack_device, *dlgpy_kw_stream_version,
    *dlgpy_kw_stream, *dlgpy_version_1_0;
/* PyTorch's attribute names (the fast path below). */
static PyObject *dlgpy_s_torch, *dlgpy_s_data_ptr, *dlgpy_s_shape, *dlgpy_s_stride,
    *dlgpy_s_layout, *dlgpy_s_is_neg, *dlgpy_s_is_conj, *dlgpy_s_is_cuda, *dlgpy_s_is_cpu,
    *dlgpy_s_get_device, *dlgpy_s_requires_grad, *dlgpy_s_is_pinned;

static int dlgpy_init_names(void) {
  if (dlgpy_version_1_0) return 0;
  dlgpy_s_dtype = PyUnicode_InternFromString("dtype");
  dlgpy_s_kind = PyUnicode_InternFromString("kind");
  dlgpy_s_name = PyUnicode_InternFromString("name");
  dlgpy_s_itemsize = PyUnicode_InternFromString("itemsize");
  dlgpy_s_array_interface = PyUnicode_InternFromString("__array_interface__");
  dlgpy_s_dlpack = PyUnicode_InternFromString("__dlpack__");
  dlgpy_s_dlpack_device = PyUnicode_InternFromString("__dlpack_device__");
  dlgpy_kw_stream_version = Py_BuildValue("(ss)", "stream", "max_version");
  dlgpy_kw_stream = Py_BuildValue("(s)", "stream");
  dlgpy_s_torch = PyUnicode_InternFromString("torch");
  dlgpy_s_data_ptr = PyUnicode_InternFromString("data_ptr");
  dlgpy_s_shape = PyUnicode_InternFromString("shape");
  dlgpy_s_stride = PyUnicode_InternFromString("stride");
  dlgpy_s_layout = PyUnicode_InternFromString("layout");
  dlgpy_s_is_neg = PyUnicode_InternFromString("is_neg");
  dlgpy_s_is_conj = PyUnicode_InternFromString("is_conj");
  dlgpy_s_is_cuda = PyUnicode_InternFromString("is_cuda");
  dlgpy_s_is_cpu = PyUnicode_InternFromString("is_cpu");
  dlgpy_s_get_device = PyUnicode_InternFromString("get_device");
  dlgpy_s_requires_grad = PyUnicode_InternFromString("requires_grad");
  dlgpy_s_is_pinned = PyUnicode_InternFromString("is_pinned");
  if (!dlgpy_s_torch || !dlgpy_s_data_ptr || !dlgpy_s_shape || !dlgpy_s_stride ||
      !dlgpy_s_layout || !dlgpy_s_is_neg || !dlgpy_s_is_conj || !dlgpy_s_is_cuda ||
      !dlgpy_s_is_cpu || !dlgpy_s_get_device || !dlgpy_s_requires_grad || !dlgpy_s_is_pinned)
    return -1;
  PyObject* v = Py_BuildValue("(ii)", 1, 0);
  if (!dlgpy_s_dtype || !dlgpy_s_kind || !dlgpy_s_name || !dlgpy_s_itemsize ||
      !dlgpy_s_array_interface || !dlgpy_s_dlpack || !dlgpy_s_dlpack_device ||
      !dlgpy_kw_stream_version || !dlgpy_kw_stream || !v)
    return -1;
  dlgpy_version_1_0 = v; /* set last: marks the table complete */
  return 0;
}

/* NumPy dtypes: ml_dtypes' extension types (kind 'V') map to DLPack codes here, because
 * NumPy's own __dlpack__ refuses them; those arrays are read through __array_interface__.
 * Lookups are cached by dtype object (NumPy keeps one per type, so the cache stays small). */
typedef struct dlgpy_dtype_entry {
  PyObject* dtype;  /* owned */
  int ext;          /* an extension dtype: use __array_interface__ */
  int code, bits;   /* DLPack dtype of an extension dtype; code -1: none */
  Py_ssize_t itemsize;
  char name[32];
} dlgpy_dtype_entry_t;

static const struct { const char* name; int code, bits; } dlgpy_ext_dtypes[] = {
  {"bfloat16", kDLBfloat, 16},
  {"float8_e4m3fn", kDLFloat8_e4m3fn, 8},
  {"float8_e5m2", kDLFloat8_e5m2, 8},
  {"float8_e4m3fnuz", kDLFloat8_e4m3fnuz, 8},
  {"float8_e5m2fnuz", kDLFloat8_e5m2fnuz, 8},
  {"float8_e4m3b11fnuz", kDLFloat8_e4m3b11fnuz, 8},
  {"float8_e4m3", kDLFloat8_e4m3, 8},
  {"float8_e3m4", kDLFloat8_e3m4, 8},
  {"float8_e8m0fnu", kDLFloat8_e8m0fnu, 8},
};

#define DLGPY_DTYPE_CACHE 32
static dlgpy_dtype_entry_t dlgpy_dtype_cache[DLGPY_DTYPE_CACHE];
static int dlgpy_dtype_cached = 0;

static int dlgpy_classify_dtype(PyObject* dtype, dlgpy_dtype_entry_t* out) {
  for (int i = 0; i < dlgpy_dtype_cached; ++i)
    if (dlgpy_dtype_cache[i].dtype == dtype) {
      *out = dlgpy_dtype_cache[i];
      return 0;
    }
  dlgpy_dtype_entry_t e;
  memset(&e, 0, sizeof e);
  e.code = -1;
  PyObject* kind = PyObject_GetAttr(dtype, dlgpy_s_kind);
  const char* k = kind ? PyUnicode_AsUTF8(kind) : NULL;
  if (!k) {
    Py_XDECREF(kind);
    return -1;
  }
  e.ext = strcmp(k, "V") == 0;
  Py_DECREF(kind);
  if (e.ext) {
    PyObject* name = PyObject_GetAttr(dtype, dlgpy_s_name);
    PyObject* isz = name ? PyObject_GetAttr(dtype, dlgpy_s_itemsize) : NULL;
    const char* n = name ? PyUnicode_AsUTF8(name) : NULL;
    e.itemsize = isz ? PyLong_AsSsize_t(isz) : -1;
    if (n) snprintf(e.name, sizeof e.name, "%s", n);
    Py_XDECREF(name);
    Py_XDECREF(isz);
    if (!n || e.itemsize <= 0) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "malformed NumPy dtype");
      return -1;
    }
    for (size_t i = 0; i < sizeof dlgpy_ext_dtypes / sizeof dlgpy_ext_dtypes[0]; ++i)
      if (strcmp(e.name, dlgpy_ext_dtypes[i].name) == 0 &&
          e.itemsize * 8 == dlgpy_ext_dtypes[i].bits) {
        e.code = dlgpy_ext_dtypes[i].code;
        e.bits = dlgpy_ext_dtypes[i].bits;
      }
  }
  if (dlgpy_dtype_cached < DLGPY_DTYPE_CACHE) {
    Py_INCREF(dtype);
    e.dtype = dtype;
    dlgpy_dtype_cache[dlgpy_dtype_cached++] = e;
  }
  *out = e;
  return 0;
}

/* numpy.ndarray, looked up once NumPy is imported (an ndarray argument implies it is). */
static PyTypeObject* dlgpy_ndarray_type(void) {
  static PyObject* cached = NULL;
  if (cached) return (PyTypeObject*)cached;
  PyObject* modules = PyImport_GetModuleDict(); /* borrowed */
  PyObject* numpy = modules ? PyDict_GetItemString(modules, "numpy") : NULL; /* borrowed */
  if (!numpy) return NULL;
  PyObject* t = PyObject_GetAttrString(numpy, "ndarray");
  if (!t || !PyType_Check(t)) {
    PyErr_Clear();
    Py_XDECREF(t);
    return NULL;
  }
  cached = t; /* kept for the life of the process */
  return (PyTypeObject*)cached;
}

static int dlgpy_get_int64(PyObject* seq, Py_ssize_t i, int64_t* out) {
  PyObject* v = PySequence_GetItem(seq, i);
  if (!v) return -1;
  long long x = PyLong_AsLongLong(v);
  Py_DECREF(v);
  if (x == -1 && PyErr_Occurred()) return -1;
  *out = (int64_t)x;
  return 0;
}

/* A NumPy array of an extension dtype: a DLTensor over its memory, from __array_interface__. */
static int dlgpy_from_array_interface(dlgpy_tensor_t* h, PyObject* obj,
                                      const dlgpy_dtype_entry_t* dt) {
  if (dt->code < 0) {
    dlgpy_raisef(DLG_ERR_DTYPE, "%s: NumPy dtype '%s' has no DLPack equivalent", h->name,
                 dt->name);
    return -1;
  }
  PyObject* ai = PyObject_GetAttr(obj, dlgpy_s_array_interface);
  if (!ai) return -1;
  int rc = -1;
  PyObject* data = PyDict_Check(ai) ? PyDict_GetItemString(ai, "data") : NULL;
  PyObject* shape = PyDict_Check(ai) ? PyDict_GetItemString(ai, "shape") : NULL;
  PyObject* strides = PyDict_Check(ai) ? PyDict_GetItemString(ai, "strides") : NULL;
  if (!data || !PyTuple_Check(data) || PyTuple_GET_SIZE(data) != 2 || !shape ||
      !PyTuple_Check(shape)) {
    dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: malformed __array_interface__", h->name);
    goto done;
  }
  Py_ssize_t ndim = PyTuple_GET_SIZE(shape);
  if (ndim > DLGPY_MAX_NDIM) {
    dlgpy_raisef(DLG_ERR_SHAPE, "%s: %zd dimensions, at most 8 are supported", h->name, ndim);
    goto done;
  }
  int readonly = PyObject_IsTrue(PyTuple_GET_ITEM(data, 1));
  if (readonly < 0) goto done;
  if (readonly && h->writable) {
    dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: output array is read-only", h->name);
    goto done;
  }
  void* ptr = PyLong_AsVoidPtr(PyTuple_GET_ITEM(data, 0));
  if (PyErr_Occurred()) goto done;
  int has_strides = strides && strides != Py_None;
  for (Py_ssize_t i = 0; i < ndim; ++i) {
    if (dlgpy_get_int64(shape, i, &h->shape[i]) != 0) goto done;
    if (has_strides) {
      int64_t bytes;
      if (dlgpy_get_int64(strides, i, &bytes) != 0) goto done;
      if (bytes % dt->itemsize != 0) {
        dlgpy_raisef(DLG_ERR_LAYOUT, "%s: stride %lld bytes of dim %zd is not a multiple of "
                     "the element size %zd", h->name, (long long)bytes, i, dt->itemsize);
        goto done;
      }
      h->strides[i] = bytes / dt->itemsize;
    }
  }
  memset(&h->local, 0, sizeof h->local);
  h->local.data = ptr;
  h->local.device.device_type = kDLCPU;
  h->local.device.device_id = 0;
  h->local.ndim = (int32_t)ndim;
  h->local.dtype.code = (uint8_t)dt->code;
  h->local.dtype.bits = (uint8_t)dt->bits;
  h->local.dtype.lanes = 1;
  h->local.shape = h->shape;
  h->local.strides = has_strides ? h->strides : NULL;
  Py_INCREF(obj);
  h->keep = obj;
  h->t = &h->local;
  rc = 0;
done:
  Py_DECREF(ai);
  return rc;
}

/* Takes ownership of a fresh DLPack capsule (renaming it, as the protocol asks). */
static int dlgpy_from_capsule(dlgpy_tensor_t* h, PyObject* cap) {
  if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
    DLManagedTensorVersioned* m =
        (DLManagedTensorVersioned*)PyCapsule_GetPointer(cap, "dltensor_versioned");
    if (!m || PyCapsule_SetName(cap, "used_dltensor_versioned") != 0) return -1;
    h->versioned = m; /* ours now: the deleter runs on release, whatever happens next */
    if (m->version.major != DLPACK_MAJOR_VERSION) {
      dlgpy_raisef(DLG_ERR_UNSUPPORTED, "%s: DLPack major version %u, expected %d", h->name,
                   (unsigned)m->version.major, DLPACK_MAJOR_VERSION);
      return -1;
    }
    if (h->writable && (m->flags & DLPACK_FLAG_BITMASK_READ_ONLY)) {
      dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: output tensor is read-only (DLPack flag)",
                   h->name);
      return -1;
    }
    h->t = &m->dl_tensor;
    return 0;
  }
  if (PyCapsule_IsValid(cap, "dltensor")) {
    DLManagedTensor* m = (DLManagedTensor*)PyCapsule_GetPointer(cap, "dltensor");
    if (!m || PyCapsule_SetName(cap, "used_dltensor") != 0) return -1;
    h->legacy = m;
    h->t = &m->dl_tensor;
    return 0;
  }
  const char* name = PyCapsule_GetName(cap);
  PyErr_Clear();
  dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: capsule \"%s\" is not an unconsumed DLPack "
               "tensor", h->name, name ? name : "");
  return -1;
}

/* obj.__dlpack__(stream=stream, max_version=(1, 0)): a versioned capsule where the producer
 * offers one; a producer without max_version (pre-1.0 protocol) gets the legacy call. */
static PyObject* dlgpy_call_dlpack(PyObject* obj, PyObject* stream) {
  PyObject* args[3] = {obj, stream ? stream : Py_None, dlgpy_version_1_0};
  PyObject* cap = PyObject_VectorcallMethod(dlgpy_s_dlpack, args, 1, dlgpy_kw_stream_version);
  if (!cap && PyErr_ExceptionMatches(PyExc_TypeError)) {
    PyErr_Clear();
    if (stream)
      cap = PyObject_VectorcallMethod(dlgpy_s_dlpack, args, 1, dlgpy_kw_stream);
    else
      cap = PyObject_CallMethodNoArgs(obj, dlgpy_s_dlpack);
  }
  return cap;
}

static void dlgpy_raise_not_a_tensor(const dlgpy_tensor_t* h) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: expected a DLPack tensor (__dlpack__ and __dlpack_device__) "
           "or a NumPy array, got %s", h->name, Py_TYPE(h->obj)->tp_name);
  dlgpy_raise_class(dlgpy_not_a_tensor ? dlgpy_not_a_tensor : PyExc_TypeError,
                    DLG_ERR_INVALID_ARGUMENT, msg);
}

/* PyTorch fast path. torch's __dlpack__ costs ~14 µs per tensor (a Python-level method that
 * builds stream objects and a capsule), several times the C call itself; a dense torch tensor
 * carries everything a DLTensor needs, so it is described from its own attributes instead.
 * The fast path covers exactly what it can describe faithfully: an exact torch.Tensor /
 * nn.Parameter (subclasses may override data_ptr and friends), strided layout, no neg/conj
 * bit, a dtype of the table below, on the CPU or on a CUDA device whose current torch stream
 * IS the call's stream (otherwise __dlpack__ must order torch's pending work before ours,
 * which it does with an event). Anything else, and any surprise on the way, takes the DLPack
 * route, which gives the canonical behaviour and errors. torch is never imported here: the
 * types are looked up once the caller's process has imported it. data_ptr() already
 * includes the storage offset; the caller's reference keeps the tensor alive for the call. */
static const struct { const char* name; int code, bits; } dlgpy_torch_dtype_names[] = {
  {"float32", kDLFloat, 32},          {"bfloat16", kDLBfloat, 16},
  {"float16", kDLFloat, 16},          {"float64", kDLFloat, 64},
  {"float8_e4m3fn", kDLFloat8_e4m3fn, 8}, {"float8_e5m2", kDLFloat8_e5m2, 8},
  {"float8_e4m3fnuz", kDLFloat8_e4m3fnuz, 8}, {"float8_e5m2fnuz", kDLFloat8_e5m2fnuz, 8},
  {"float8_e8m0fnu", kDLFloat8_e8m0fnu, 8},
  {"int32", kDLInt, 32},              {"int64", kDLInt, 64},
  {"int16", kDLInt, 16},              {"int8", kDLInt, 8},
  {"uint8", kDLUInt, 8},              {"bool", kDLBool, 8},
};
#define DLGPY_TORCH_DTYPES (sizeof dlgpy_torch_dtype_names / sizeof dlgpy_torch_dtype_names[0])

static struct {
  int state;                  /* 0: torch not imported yet, 1: ready, -1: fast path off */
  PyObject* tensor_type;      /* torch.Tensor */
  PyObject* parameter_type;   /* torch.nn.Parameter, or NULL */
  PyObject* strided;          /* torch.strided */
  PyObject* raw_stream;       /* torch._C._cuda_getCurrentRawStream, or NULL: CPU only */
  PyObject* dtypes[DLGPY_TORCH_DTYPES]; /* torch.<name>, or NULL where this torch lacks it */
} dlgpy_torch;

/* getattr(o, a, None) as a new reference, NULL when absent (no exception left). */
static PyObject* dlgpy_getattr_opt(PyObject* o, const char* a) {
  PyObject* v = o ? PyObject_GetAttrString(o, a) : NULL;
  if (!v) PyErr_Clear();
  return v;
}

/* 1 when the fast path can be used (torch imported and looked up), else 0. Never raises. */
static int dlgpy_torch_ready(void) {
  if (dlgpy_torch.state != 0) return dlgpy_torch.state > 0;
  PyObject* modules = PyImport_GetModuleDict(); /* borrowed */
  PyObject* torch = modules ? PyDict_GetItemWithError(modules, dlgpy_s_torch) : NULL;
  if (!torch) { PyErr_Clear(); return 0; } /* not imported (yet): ask again next time */
  dlgpy_torch.state = -1;
  PyObject* tensor = dlgpy_getattr_opt(torch, "Tensor");
  PyObject* strided = dlgpy_getattr_opt(torch, "strided");
  PyObject* version = dlgpy_getattr_opt(torch, "version");
  PyObject* hip = dlgpy_getattr_opt(version, "hip");
  /* ROCm builds call their devices "cuda" but export kDLROCM: left to __dlpack__. */
  int rocm = hip && hip != Py_None;
  Py_XDECREF(version);
  Py_XDECREF(hip);
  if (!tensor || !PyType_Check(tensor) || !strided || rocm) {
    Py_XDECREF(tensor);
    Py_XDECREF(strided);
    return 0;
  }
  dlgpy_torch.tensor_type = tensor; /* these references live as long as the process */
  dlgpy_torch.strided = strided;
  PyObject* nn = dlgpy_getattr_opt(torch, "nn");
  PyObject* param = dlgpy_getattr_opt(nn, "Parameter");
  Py_XDECREF(nn);
  if (param && PyType_Check(param)) dlgpy_torch.parameter_type = param;
  else Py_XDECREF(param);
  PyObject* c = dlgpy_getattr_opt(torch, "_C");
  PyObject* raw = dlgpy_getattr_opt(c, "_cuda_getCurrentRawStream");
  Py_XDECREF(c);
  if (raw && PyCallable_Check(raw)) dlgpy_torch.raw_stream = raw;
  else Py_XDECREF(raw);
  for (size_t i = 0; i < DLGPY_TORCH_DTYPES; ++i)
    dlgpy_torch.dtypes[i] = dlgpy_getattr_opt(torch, dlgpy_torch_dtype_names[i].name);
  dlgpy_torch.state = 1;
  return 1;
}

/* The truth of a bool attribute (or, with call, of a no-argument method): 1, 0, or -1 when
 * it is missing or not a bool (no exception left). */
static int dlgpy_torch_flag(PyObject* obj, PyObject* name, int call) {
  PyObject* v = call ? PyObject_CallMethodNoArgs(obj, name) : PyObject_GetAttr(obj, name);
  int r = v == Py_True ? 1 : v == Py_False ? 0 : -1;
  Py_XDECREF(v);
  if (r < 0) PyErr_Clear();
  return r;
}

/* A tuple item as int64 (shape / stride entries are Python ints); -1 when it is not one. */
static int dlgpy_tuple_int64(PyObject* tup, Py_ssize_t i, int64_t* out) {
  PyObject* v = PyTuple_GET_ITEM(tup, i);
  if (!PyLong_Check(v)) return -1;
  long long x = PyLong_AsLongLong(v);
  if (x == -1 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
  *out = (int64_t)x;
  return 0;
}

/* Describes a torch tensor in h->local. Returns 1 when done, 0 to take the DLPack route
 * (h untouched, no exception), -1 with an exception set for a tensor no route may take. */
static int dlgpy_from_torch(dlgpy_tensor_t* h, PyObject* obj) {
  PyObject* type = (PyObject*)Py_TYPE(obj);
  if (!dlgpy_torch_ready() ||
      (type != dlgpy_torch.tensor_type && type != dlgpy_torch.parameter_type))
    return 0;
  int rc = 0, code = -1, bits = 0, is_cuda;
  Py_ssize_t ndim;
  PyObject *layout = NULL, *dtype = NULL, *shape = NULL, *strides = NULL, *ptr = NULL;
  DLTensor t;
  memset(&t, 0, sizeof t);
  layout = PyObject_GetAttr(obj, dlgpy_s_layout);
  if (layout != dlgpy_torch.strided) goto done; /* sparse, mkldnn, ... */
  /* Lazy negation / conjugation views: their memory holds the un-negated values and torch's
   * __dlpack__ (2.11, seen on the H100) exports it as is, so neither route may take them. */
  if (dlgpy_torch_flag(obj, dlgpy_s_is_neg, 1) != 0 ||
      dlgpy_torch_flag(obj, dlgpy_s_is_conj, 1) != 0) {
    Py_XDECREF(layout);
    dlgpy_raisef(DLG_ERR_LAYOUT, "%s: a lazy torch negation/conjugation view; call "
                 ".resolve_neg() / .resolve_conj() first", h->name ? h->name : "tensor");
    return -1;
  }
  /* Writing an output in place behind autograd's back: __dlpack__ refuses it, and says so. */
  if (h->writable && dlgpy_torch_flag(obj, dlgpy_s_requires_grad, 0) != 0) goto done;
  dtype = PyObject_GetAttr(obj, dlgpy_s_dtype);
  for (size_t i = 0; dtype && i < DLGPY_TORCH_DTYPES; ++i)
    if (dlgpy_torch.dtypes[i] == dtype) {
      code = dlgpy_torch_dtype_names[i].code;
      bits = dlgpy_torch_dtype_names[i].bits;
      break;
    }
  if (code < 0) goto done;
  is_cuda = dlgpy_torch_flag(obj, dlgpy_s_is_cuda, 0);
  if (is_cuda == 1) {
    PyObject* dev = PyObject_CallMethodNoArgs(obj, dlgpy_s_get_device);
    long index = dev && PyLong_Check(dev) ? PyLong_AsLong(dev) : -1;
    Py_XDECREF(dev);
    if (index < 0 || !dlgpy_torch.raw_stream) goto done;
    /* The call's stream (NULL = legacy default = torch's raw 0) must be torch's current one
     * on this device, or __dlpack__ has to make ours wait for it. */
    PyObject* arg = PyLong_FromLong(index);
    PyObject* cur = arg ? PyObject_CallOneArg(dlgpy_torch.raw_stream, arg) : NULL;
    Py_XDECREF(arg);
    void* current = cur && PyLong_Check(cur) ? PyLong_AsVoidPtr(cur) : NULL;
    int same = cur && PyLong_Check(cur) && !PyErr_Occurred() && current == dlgpy_stream_value;
    Py_XDECREF(cur);
    if (!same) goto done;
    t.device.device_type = kDLCUDA;
    t.device.device_id = (int32_t)index;
  } else if (is_cuda == 0 && dlgpy_torch_flag(obj, dlgpy_s_is_cpu, 0) == 1 &&
             dlgpy_torch_flag(obj, dlgpy_s_is_pinned, 1) == 0) {
    /* (Pinned host memory is kDLCUDAHost in torch's export: left to it.) */
    t.device.device_type = kDLCPU;
    t.device.device_id = 0;
  } else {
    goto done; /* mps, xpu, meta, ... */
  }
  shape = PyObject_GetAttr(obj, dlgpy_s_shape);
  strides = PyObject_CallMethodNoArgs(obj, dlgpy_s_stride);
  if (!shape || !strides || !PyTuple_Check(shape) || !PyTuple_Check(strides)) goto done;
  ndim = PyTuple_GET_SIZE(shape);
  if (ndim > DLGPY_MAX_NDIM || PyTuple_GET_SIZE(strides) != ndim) goto done;
  for (Py_ssize_t i = 0; i < ndim; ++i) {
    if (dlgpy_tuple_int64(shape, i, &h->shape[i]) != 0 ||
        dlgpy_tuple_int64(strides, i, &h->strides[i]) != 0)
      goto done;
    /* As torch's own export does: the stride of a dimension of size 0 or 1 is 1. */
    if (h->shape[i] < 2) h->strides[i] = 1;
  }
  ptr = PyObject_CallMethodNoArgs(obj, dlgpy_s_data_ptr);
  if (!ptr || !PyLong_Check(ptr)) goto done;
  t.data = PyLong_AsVoidPtr(ptr);
  if (PyErr_Occurred()) goto done;
  t.ndim = (int32_t)ndim;
  t.dtype.code = (uint8_t)code;
  t.dtype.bits = (uint8_t)bits;
  t.dtype.lanes = 1;
  t.shape = h->shape;
  t.strides = h->strides;
  h->local = t;
  h->t = &h->local;
  rc = 1;
done:
  if (!rc) PyErr_Clear(); /* a surprise is no error here: the DLPack route decides */
  Py_XDECREF(layout);
  Py_XDECREF(dtype);
  Py_XDECREF(shape);
  Py_XDECREF(strides);
  Py_XDECREF(ptr);
  return rc;
}

/* Converts h->obj into h->t. Returns 0, or -1 with a Python exception set. */
static int dlgpy_tensor_acquire(dlgpy_tensor_t* h) {
  PyObject* obj = h->obj;
  h->t = NULL;
  if (obj == NULL || obj == Py_None) return 0; /* the C function reports a missing tensor */
  if (dlgpy_init_names() != 0) return -1;
  if (PyCapsule_CheckExact(obj)) return dlgpy_from_capsule(h, obj);

  PyTypeObject* ndarray = dlgpy_ndarray_type();
  if (ndarray && PyObject_TypeCheck(obj, ndarray)) {
    PyObject* dtype = PyObject_GetAttr(obj, dlgpy_s_dtype);
    if (!dtype) return -1;
    dlgpy_dtype_entry_t dt;
    int rc = dlgpy_classify_dtype(dtype, &dt);
    Py_DECREF(dtype);
    if (rc != 0) return -1;
    if (dt.ext) return dlgpy_from_array_interface(h, obj, &dt);
    /* Plain dtypes go through NumPy's __dlpack__ (read-only arrays carry the 1.x flag). */
  } else {
    int rc = dlgpy_from_torch(h, obj);
    if (rc) return rc > 0 ? 0 : -1;
  }

  PyObject* dev = PyObject_CallMethodNoArgs(obj, dlgpy_s_dlpack_device);
  if (!dev) {
    if (PyErr_ExceptionMatches(PyExc_AttributeError) &&
        (!PyObject_HasAttr(obj, dlgpy_s_dlpack_device) || !PyObject_HasAttr(obj, dlgpy_s_dlpack))) {
      PyErr_Clear();
      dlgpy_raise_not_a_tensor(h);
    } else {
      char what[96];
      snprintf(what, sizeof what, "%s: __dlpack_device__() failed", h->name);
      dlgpy_rethrow_as_argument_error(what);
    }
    return -1;
  }
  long device_type = -1;
  if (PyTuple_Check(dev) && PyTuple_GET_SIZE(dev) == 2)
    device_type = PyLong_AsLong(PyTuple_GET_ITEM(dev, 0));
  Py_DECREF(dev);
  if (device_type < 0) {
    PyErr_Clear();
    dlgpy_raisef(DLG_ERR_DEVICE, "%s: __dlpack_device__() did not return (type, id)", h->name);
    return -1;
  }
  PyObject* stream = NULL;
  if (device_type == kDLCUDA || device_type == kDLCUDAManaged || device_type == kDLROCM) {
    /* The consumer's stream: the producer makes the data ready on it. 1 is the protocol's
     * name for the legacy default stream (our NULL). */
    stream = dlgpy_stream_value ? PyLong_FromVoidPtr(dlgpy_stream_value) : PyLong_FromLong(1);
    if (!stream) return -1;
  }
  PyObject* cap = dlgpy_call_dlpack(obj, stream);
  Py_XDECREF(stream);
  if (!cap) {
    if (PyErr_ExceptionMatches(PyExc_AttributeError) && !PyObject_HasAttr(obj, dlgpy_s_dlpack)) {
      PyErr_Clear();
      dlgpy_raise_not_a_tensor(h);
    } else {
      char what[96];
      snprintf(what, sizeof what, "%s: __dlpack__() failed", h->name);
      dlgpy_rethrow_as_argument_error(what);
    }
    return -1;
  }
  if (!PyCapsule_CheckExact(cap)) {
    dlgpy_raisef(DLG_ERR_INVALID_ARGUMENT, "%s: __dlpack__() returned %s, not a capsule",
                 h->name, Py_TYPE(cap)->tp_name);
    Py_DECREF(cap);
    return -1;
  }
  h->capsule = cap;
  return dlgpy_from_capsule(h, cap);
}
%}

/* Conversion waits for the check phase, which SWIG emits after every argument has been read:
 * by then the stream argument (always last in this ABI) is known. */
%typemap(arginit) const DLTensor*, DLTensor* "dlgpy_tensor_init(&tensor$argnum);"
%typemap(in) const DLTensor* (dlgpy_tensor_t tensor) {
  tensor.obj = $input; /* locals of an in-typemap are suffixed with $argnum by SWIG */
  tensor.name = "$1_name";
  tensor.writable = 0;
}
%typemap(in) DLTensor* (dlgpy_tensor_t tensor) {
  tensor.obj = $input;
  tensor.name = "$1_name";
  tensor.writable = 1;
}
%typemap(check) const DLTensor*, DLTensor* {
  if (dlgpy_tensor_acquire(&tensor$argnum) != 0) SWIG_fail;
  $1 = tensor$argnum.t;
}
%typemap(freearg) const DLTensor*, DLTensor* "dlgpy_tensor_release(&tensor$argnum);"

/* ---------------------------------------------------------------------------------------- */
/* Out-parameters: returned instead of taken.                                                 */
%typemap(in, numinputs=0) dlg_context_t** out (dlg_context_t* ctx_out = NULL) { $1 = &ctx_out; }
%typemap(argout) dlg_context_t** out {
  PyObject* ptr = SWIG_NewPointerObj(ctx_out$argnum, $descriptor(dlg_context_t*), 0);
  if (dlgpy_set_output(&$result, ptr) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) void** out_ptr (void* ptr_out = NULL) { $1 = &ptr_out; }
%typemap(argout) void** out_ptr {
  if (dlgpy_set_output(&$result, PyLong_FromVoidPtr(ptr_out$argnum)) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) double* out (double double_out = 0) { $1 = &double_out; }
%typemap(argout) double* out {
  if (dlgpy_set_output(&$result, PyFloat_FromDouble(double_out$argnum)) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) int64_t* out (int64_t int_out = 0) { $1 = &int_out; }
%typemap(argout) int64_t* out {
  if (dlgpy_set_output(&$result, PyLong_FromLongLong((long long)int_out$argnum)) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) (char* buf, size_t cap) (char text[4096]) {
  text[0] = '\0';
  $1 = text;
  $2 = sizeof text;
}
%typemap(argout) (char* buf, size_t cap) {
  if (dlgpy_set_output(&$result, PyUnicode_DecodeFSDefault($1)) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) dlg_device_info_t* out (dlg_device_info_t info) {
  memset(&info, 0, sizeof info);
  $1 = &info;
}
%typemap(argout) dlg_device_info_t* out {
  PyObject* info = Py_BuildValue(
      "{s:i,s:i,s:i,s:i,s:K,s:K,s:K,s:s}", "ordinal", $1->ordinal, "sm_major", $1->sm_major,
      "sm_minor", $1->sm_minor, "num_sms", $1->num_sms,
      "total_memory", (unsigned long long)$1->total_memory,
      "l2_bytes", (unsigned long long)$1->l2_bytes,
      "max_smem_per_block", (unsigned long long)$1->max_smem_per_block, "name", $1->name);
  if (dlgpy_set_output(&$result, info) != 0) SWIG_fail;
}

%typemap(in, numinputs=0) dlg_runtime_info_t* out (dlg_runtime_info_t rinfo) {
  memset(&rinfo, 0, sizeof rinfo);
  $1 = &rinfo;
}
%typemap(argout) dlg_runtime_info_t* out {
  PyObject* info = Py_BuildValue(
      "{s:O,s:i,s:i,s:O,s:i,s:i,s:s,s:s,s:s}", "driver_found",
      $1->driver_found ? Py_True : Py_False, "driver_version", $1->driver_version,
      "device_count", $1->device_count, "nvrtc_found", $1->nvrtc_found ? Py_True : Py_False,
      "nvrtc_major", $1->nvrtc_major, "nvrtc_minor", $1->nvrtc_minor,
      "driver_path", $1->driver_path, "nvrtc_path", $1->nvrtc_path, "why", $1->why);
  if (dlgpy_set_output(&$result, info) != 0) SWIG_fail;
}

/* The info structs come back as dicts; Python needs no accessors for them. Tensor
 * construction is for bindings without DLPack producers (Python has them). */
%ignore dlg_device_info;
%rename("$ignore", %$isclass) dlg_runtime_info;
%ignore dlg_tensor_create;
%ignore dlg_tensor_destroy;

%include "dlgemm.i"
