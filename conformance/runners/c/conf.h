/* The C conformance runner's pieces: a case's tensor set (host storage, optional device
 * mirror) and the op dispatch. See conformance/README.md for the contract. */
#ifndef DLG_CONF_H_
#define DLG_CONF_H_

#include <stddef.h>
#include <stdint.h>
#include <dlgemm.h>
#include "json.h"

#define CONF_POISON 0xA5
#define CONF_MAX_TENSORS 16

typedef enum { ROLE_INPUT = 1, ROLE_OUTPUT = 2, ROLE_INOUT = 3 } conf_role_t;

typedef struct {
  const char* name;          /* borrowed from the case JSON */
  const json_value_t* spec;  /* the tensor's JSON object */
  conf_role_t role;
  int alias;                 /* index of the tensor passed instead, or -1 */
  int has_strides;           /* strides given in the case (else NULL strides: compact) */
  int64_t shape[8], strides[8];
  int64_t storage_elems;     /* span in elements */
  size_t elem_size, bytes;
  void* host;                /* storage, at least 64 bytes, 64-byte aligned */
  DLTensor h;                /* host view */
  void* dev;                 /* device storage (cuda runs) */
  int dev_on_host;           /* --mirror: `dev` is host memory standing in for the device */
  DLTensor d;                /* device view */
  int on_device;             /* the op gets `d` instead of `h` */
} conf_tensor_t;

typedef struct {
  int count;
  conf_tensor_t t[CONF_MAX_TENSORS];
} conf_set_t;

/* dtype name -> DLPack dtype; 0 if unknown. */
int conf_dtype_from_name(const char* name, DLDataType* out);

/* Builds the host tensors of a case (filled / poisoned) with `cpu`, a CPU context. Returns 0,
 * or -1 with a reason (malformed case, or a failing dlg_testing_* call). `set` is always safe
 * to free. */
int conf_set_build(dlg_context_t* cpu, const json_value_t* kase, conf_set_t* set, char* why,
                   size_t cap);
/* Mirrors every tensor into device memory of `ctx` (device `ordinal`) and copies it there.
 * host_mirror: use fresh host memory instead (tests the runner's device path without a GPU). */
int conf_set_to_device(dlg_context_t* ctx, int ordinal, int host_mirror, conf_set_t* set,
                       char* why, size_t cap);
/* Copies outputs and inouts back into the host storage. */
int conf_set_from_device(dlg_context_t* ctx, conf_set_t* set, char* why, size_t cap);
/* Frees host and device storage (ctx may be NULL when nothing is on a device). */
void conf_set_free(dlg_context_t* ctx, conf_set_t* set);

/* The tensor handed to the op for argument `name` (alias resolved; device view when mirrored),
 * or NULL when the case has no such tensor. */
DLTensor* conf_arg(conf_set_t* set, const char* name);
/* The set entry named `name` (no alias resolution), or NULL. */
conf_tensor_t* conf_find(conf_set_t* set, const char* name);

/* Bytes in [start, end) storage elements of a tensor still all CONF_POISON? */
int conf_untouched(const conf_tensor_t* t, int64_t start, int64_t end);
/* Element `storage_index` of a host tensor as a double. */
double conf_get(const conf_tensor_t* t, int64_t storage_index);
/* Storage index of the element with row-major logical index `logical`. */
int64_t conf_storage_index(const conf_tensor_t* t, int64_t logical);
int64_t conf_numel(const conf_tensor_t* t);

/* Op table. */
int conf_op_known(const char* op);
int conf_op_is_query(const char* op);
/* Runs a query op; 0 with *out set, or -1 with a reason. */
int conf_run_query(const json_value_t* kase, int64_t* out, char* why, size_t cap);
/* Runs a tensor op through the ABI. schedule_meta is only used by paged_mqa_logits. */
dlg_status_t conf_run_op(dlg_context_t* ctx, const json_value_t* kase, conf_set_t* set,
                         const DLTensor* schedule_meta);

#endif /* DLG_CONF_H_ */
