/* java.i — the Java flavour of the dlgemm interface: JNI typemaps, then the shared declarations
 * (dlgemm.i).
 *
 * Generated at build time (bindings/java/native/CMakeLists.txt) with
 *     swig -java -package io.dlgemm.internal
 * into the internal package: NativeApi (one static method per C function, C names kept),
 * NativeApiJNI (the native declarations), NativeApiConstants, and proxies of the two info
 * structs. The public API (io.dlgemm) sits on top; nothing here is meant for users.
 *
 *  C argument                              Java value
 *  dlg_context_t*, DLTensor*, void*        long (the address; 0 = NULL). Streams, device
 *                                          pointers and tensor descriptors are all plain longs.
 *  dlg_status_t (return)                   void: any status but DLG_OK throws
 *                                          io.dlgemm.DlGemmException, built by its static
 *                                          fromNative(int, byte[]) from the status and the C
 *                                          message — read inside the same native call, so a
 *                                          virtual thread that moves to another carrier thread
 *                                          between two calls still gets its own message.
 *  dlg_status_t status (parameter)         int
 *  enums (recipe, group layout, fill)      int (enumtypeunsafe: out-of-range values reach C,
 *                                          which reports them)
 *  dlg_context_t** out, DLTensor** out,
 *  void** out_ptr, int64_t* out            long[] (at least one element; element 0 is set)
 *  double* out                             double[]
 *  const int64_t* shape / strides          long[] or null (copied; at most 16 entries read)
 *  char* buf + size_t cap                  byte[] (NUL-terminated UTF-8 is written into it)
 *  uint64_t                                long (the seed's bits)
 *  dlg_device_info_t*, dlg_runtime_info_t* SWIG proxies (internal code copies them into records)
 *
 * The JNI class loads the native library in its static initialiser (NativeLoader). */

%module NativeApi

%{
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dlgemm.h"
%}

/* Enums as int constants (bad values must be passable), constants as Java literals. */
%include <enumtypeunsafe.swg>
%javaconst(1);

%pragma(java) jniclasscode=%{
  static {
    io.dlgemm.internal.NativeLoader.load();
  }
%}
/* The info-struct proxies are freed with delete() right after use: no finalizers. */
%typemap(javafinalize) SWIGTYPE %{%}
%pragma(java) moduleclassmodifiers="public final class"
%pragma(java) jniclassclassmodifiers="public final class"

/* ---------------------------------------------------------------------------------------- */
/* Errors: the one place where a status becomes an exception.                                 */
%{
/* Throws io.dlgemm.DlGemmException.fromNative(status, message bytes). Never called with an
 * exception pending; leaves the JVM's own error pending if the class cannot be reached. */
static void dlgj_throw_status(JNIEnv* jenv, int status, const char* message) {
  if ((*jenv)->ExceptionCheck(jenv)) return;
  jclass cls = (*jenv)->FindClass(jenv, "io/dlgemm/DlGemmException");
  if (!cls) return;
  jmethodID make = (*jenv)->GetStaticMethodID(jenv, cls, "fromNative",
                                              "(I[B)Lio/dlgemm/DlGemmException;");
  if (!make) {
    (*jenv)->DeleteLocalRef(jenv, cls);
    return;
  }
  /* Bytes, not NewStringUTF: the message is UTF-8 (paths), not JNI's modified UTF-8. */
  jsize len = message ? (jsize)strlen(message) : 0;
  jbyteArray bytes = (*jenv)->NewByteArray(jenv, len);
  if (bytes) {
    if (len) (*jenv)->SetByteArrayRegion(jenv, bytes, 0, len, (const jbyte*)message);
    jobject exc = (*jenv)->CallStaticObjectMethod(jenv, cls, make, (jint)status, bytes);
    if (exc && !(*jenv)->ExceptionCheck(jenv)) (*jenv)->Throw(jenv, (jthrowable)exc);
    if (exc) (*jenv)->DeleteLocalRef(jenv, exc);
    (*jenv)->DeleteLocalRef(jenv, bytes);
  }
  (*jenv)->DeleteLocalRef(jenv, cls);
}

/* An out-array argument must hold at least one element. */
static int dlgj_check_out_array(JNIEnv* jenv, jarray a, const char* name) {
  if (!a) {
    SWIG_JavaThrowException(jenv, SWIG_JavaNullPointerException, name);
    return 0;
  }
  if ((*jenv)->GetArrayLength(jenv, a) < 1) {
    SWIG_JavaThrowException(jenv, SWIG_JavaIndexOutOfBoundsException, name);
    return 0;
  }
  return 1;
}
%}

%typemap(jni) dlg_status_t "void"
%typemap(jtype) dlg_status_t "void"
%typemap(jstype) dlg_status_t "void"
%typemap(javaout) dlg_status_t { $jnicall; }
%typemap(out) dlg_status_t %{
  if ($1 != DLG_OK) dlgj_throw_status(jenv, (int)$1, dlg_last_error());
%}
/* A status as an argument (dlg_status_string / dlg_status_name) stays an int. */
%typemap(jni) dlg_status_t status "jint"
%typemap(jtype) dlg_status_t status "int"
%typemap(jstype) dlg_status_t status "int"
%typemap(javain) dlg_status_t status "$javainput"
%typemap(in) dlg_status_t status %{ $1 = (dlg_status_t)$input; %}

/* ---------------------------------------------------------------------------------------- */
/* Addresses: contexts, tensor descriptors, data, streams.                                    */
%define DLGJ_ADDRESS(TYPE)
%typemap(jni) TYPE "jlong"
%typemap(jtype) TYPE "long"
%typemap(jstype) TYPE "long"
%typemap(javain) TYPE "$javainput"
%typemap(javaout) TYPE { return $jnicall; }
%typemap(in) TYPE %{ $1 = ($1_ltype)(intptr_t)$input; %}
%typemap(out) TYPE %{ $result = (jlong)(intptr_t)$1; %}
%enddef
DLGJ_ADDRESS(dlg_context_t*)
DLGJ_ADDRESS(const dlg_context_t*)
DLGJ_ADDRESS(DLTensor*)
DLGJ_ADDRESS(const DLTensor*)
DLGJ_ADDRESS(void*)
DLGJ_ADDRESS(const void*)

/* ---------------------------------------------------------------------------------------- */
/* Out-parameters: one-element arrays.                                                        */
%define DLGJ_OUT_LONG(DECL, CTYPE)
%typemap(jni) DECL "jlongArray"
%typemap(jtype) DECL "long[]"
%typemap(jstype) DECL "long[]"
%typemap(javain) DECL "$javainput"
%typemap(in) DECL (CTYPE temp = 0) %{
  if (!dlgj_check_out_array(jenv, (jarray)$input, "$1_name")) return $null;
  $1 = &temp;
%}
%typemap(argout) DECL %{
  if (!(*jenv)->ExceptionCheck(jenv)) {
    jlong value$argnum = (jlong)(intptr_t)temp$argnum;
    (*jenv)->SetLongArrayRegion(jenv, $input, 0, 1, &value$argnum);
  }
%}
%enddef
DLGJ_OUT_LONG(dlg_context_t** out, dlg_context_t*)
DLGJ_OUT_LONG(DLTensor** out, DLTensor*)
DLGJ_OUT_LONG(void** out_ptr, void*)
DLGJ_OUT_LONG(int64_t* out, int64_t)

%typemap(jni) double* out "jdoubleArray"
%typemap(jtype) double* out "double[]"
%typemap(jstype) double* out "double[]"
%typemap(javain) double* out "$javainput"
%typemap(in) double* out (double temp = 0) %{
  if (!dlgj_check_out_array(jenv, (jarray)$input, "$1_name")) return $null;
  $1 = &temp;
%}
%typemap(argout) double* out %{
  if (!(*jenv)->ExceptionCheck(jenv)) (*jenv)->SetDoubleArrayRegion(jenv, $input, 0, 1, &temp$argnum);
%}

/* ---------------------------------------------------------------------------------------- */
/* Shapes and strides: long[] (null = NULL), copied into a zero-padded local array so that C
 * never reads past the Java array whatever ndim says.                                        */
%define DLGJ_DIMS(DECL)
%typemap(jni) DECL "jlongArray"
%typemap(jtype) DECL "long[]"
%typemap(jstype) DECL "long[]"
%typemap(javain) DECL "$javainput"
%typemap(in) DECL (int64_t dims[16]) %{
  memset(dims, 0, sizeof dims);
  $1 = NULL;
  if ($input) {
    jsize count = (*jenv)->GetArrayLength(jenv, $input);
    (*jenv)->GetLongArrayRegion(jenv, $input, 0, count > 16 ? 16 : count, (jlong*)dims);
    $1 = dims;
  }
%}
%enddef
DLGJ_DIMS(const int64_t* shape)
DLGJ_DIMS(const int64_t* strides)

/* ---------------------------------------------------------------------------------------- */
/* A text buffer the C function fills: byte[] (its length is the capacity).                  */
%typemap(jni) (char* buf, size_t cap) "jbyteArray"
%typemap(jtype) (char* buf, size_t cap) "byte[]"
%typemap(jstype) (char* buf, size_t cap) "byte[]"
%typemap(javain) (char* buf, size_t cap) "$javainput"
%typemap(in) (char* buf, size_t cap) %{
  if (!dlgj_check_out_array(jenv, (jarray)$input, "buf")) return $null;
  $2 = (size_t)(*jenv)->GetArrayLength(jenv, $input);
  $1 = (char*)calloc($2, 1);
  if (!$1) {
    SWIG_JavaThrowException(jenv, SWIG_JavaOutOfMemoryError, "buf");
    return $null;
  }
%}
%typemap(argout) (char* buf, size_t cap) %{
  if (!(*jenv)->ExceptionCheck(jenv))
    (*jenv)->SetByteArrayRegion(jenv, $input, 0, (jsize)$2, (const jbyte*)$1);
%}
%typemap(freearg) (char* buf, size_t cap) "free($1);"

/* Seeds are 64-bit patterns: Java's long, not BigInteger. */
%apply long long { uint64_t };

/* ---------------------------------------------------------------------------------------- */
/* Java-only helper: the address of a direct ByteBuffer (0 for heap buffers or null), so that
 * CPU tensors can borrow NIO memory without copying.                                         */
%typemap(in, numinputs=0) JNIEnv* jenv "$1 = jenv;"
%inline %{
static void* dlgj_direct_buffer_address(JNIEnv* jenv, jobject buffer) {
  return buffer ? (*jenv)->GetDirectBufferAddress(jenv, buffer) : NULL;
}
%}

%include "dlgemm.i"
