/* The C half of tests/layout.rs: what the C compiler says about every struct and constant
 * the Rust declarations mirror. tests/layout.rs computes the same keys from the Rust side
 * and requires both tables to match entry for entry. */
#include <stddef.h>
#include "dlgemm.h"

typedef struct dlgemm_sys_layout_entry {
  const char* key;
  double value; /* every size, offset and constant here is exact in a double */
} dlgemm_sys_layout_entry;

#define SIZE(T) {"size_of " #T, (double)sizeof(T)}, {"align_of " #T, (double)_Alignof(T)}
#define OFFSET(T, f) {"offset_of " #T "." #f, (double)offsetof(T, f)}
#define VALUE(c) {#c, (double)(c)}

const dlgemm_sys_layout_entry dlgemm_sys_layout[] = {
    /* DLPack */
    SIZE(DLDevice), OFFSET(DLDevice, device_type), OFFSET(DLDevice, device_id),
    SIZE(DLDataType), OFFSET(DLDataType, code), OFFSET(DLDataType, bits),
    OFFSET(DLDataType, lanes),
    SIZE(DLTensor), OFFSET(DLTensor, data), OFFSET(DLTensor, device), OFFSET(DLTensor, ndim),
    OFFSET(DLTensor, dtype), OFFSET(DLTensor, shape), OFFSET(DLTensor, strides),
    OFFSET(DLTensor, byte_offset),
    SIZE(DLManagedTensor), OFFSET(DLManagedTensor, dl_tensor),
    OFFSET(DLManagedTensor, manager_ctx), OFFSET(DLManagedTensor, deleter),
    SIZE(DLPackVersion), OFFSET(DLPackVersion, major), OFFSET(DLPackVersion, minor),
    SIZE(DLManagedTensorVersioned), OFFSET(DLManagedTensorVersioned, version),
    OFFSET(DLManagedTensorVersioned, manager_ctx), OFFSET(DLManagedTensorVersioned, deleter),
    OFFSET(DLManagedTensorVersioned, flags), OFFSET(DLManagedTensorVersioned, dl_tensor),
    VALUE(kDLCPU), VALUE(kDLCUDA), VALUE(kDLCUDAHost), VALUE(kDLCUDAManaged),
    VALUE(kDLInt), VALUE(kDLUInt), VALUE(kDLFloat), VALUE(kDLBfloat), VALUE(kDLFloat8_e4m3fn),
    VALUE(kDLFloat8_e5m2), VALUE(kDLFloat8_e8m0fnu),
    VALUE(DLPACK_MAJOR_VERSION), VALUE(DLPACK_MINOR_VERSION),
    VALUE(DLPACK_FLAG_BITMASK_READ_ONLY), VALUE(DLPACK_FLAG_BITMASK_IS_COPIED),
    /* dlgemm structs */
    SIZE(dlg_device_info_t), OFFSET(dlg_device_info_t, ordinal),
    OFFSET(dlg_device_info_t, sm_major), OFFSET(dlg_device_info_t, sm_minor),
    OFFSET(dlg_device_info_t, num_sms), OFFSET(dlg_device_info_t, total_memory),
    OFFSET(dlg_device_info_t, l2_bytes), OFFSET(dlg_device_info_t, max_smem_per_block),
    OFFSET(dlg_device_info_t, name),
    SIZE(dlg_runtime_info_t), OFFSET(dlg_runtime_info_t, driver_found),
    OFFSET(dlg_runtime_info_t, driver_version), OFFSET(dlg_runtime_info_t, device_count),
    OFFSET(dlg_runtime_info_t, nvrtc_found), OFFSET(dlg_runtime_info_t, nvrtc_major),
    OFFSET(dlg_runtime_info_t, nvrtc_minor), OFFSET(dlg_runtime_info_t, driver_path),
    OFFSET(dlg_runtime_info_t, nvrtc_path), OFFSET(dlg_runtime_info_t, why),
    /* enums: the C type's size, and every value */
    SIZE(dlg_status_t), SIZE(dlg_recipe_t), SIZE(dlg_group_layout_t), SIZE(dlg_fill_t),
    VALUE(DLG_OK), VALUE(DLG_ERR_INVALID_ARGUMENT), VALUE(DLG_ERR_DTYPE), VALUE(DLG_ERR_SHAPE),
    VALUE(DLG_ERR_LAYOUT), VALUE(DLG_ERR_DEVICE), VALUE(DLG_ERR_UNSUPPORTED),
    VALUE(DLG_ERR_NO_DRIVER), VALUE(DLG_ERR_NO_NVRTC), VALUE(DLG_ERR_COMPILE),
    VALUE(DLG_ERR_CUDA), VALUE(DLG_ERR_OUT_OF_MEMORY), VALUE(DLG_ERR_IO),
    VALUE(DLG_ERR_INTERNAL),
    VALUE(DLG_RECIPE_FP8_1D2D), VALUE(DLG_RECIPE_FP8_1D1D), VALUE(DLG_RECIPE_FP8_PER_TENSOR),
    VALUE(DLG_RECIPE_BF16),
    VALUE(DLG_GROUP_LAYOUT_ROW_IDS), VALUE(DLG_GROUP_LAYOUT_OFFSETS),
    VALUE(DLG_FILL_UNIFORM), VALUE(DLG_FILL_NORMAL), VALUE(DLG_FILL_INT),
    /* macros */
    VALUE(DLG_VERSION_MAJOR), VALUE(DLG_VERSION_MINOR), VALUE(DLG_VERSION_PATCH),
    VALUE(DLG_VERSION_NUMBER), VALUE(DLG_FP8_E4M3_MAX),
};

const size_t dlgemm_sys_layout_len = sizeof dlgemm_sys_layout / sizeof dlgemm_sys_layout[0];
const char dlgemm_sys_version_string[] = DLG_VERSION_STRING;
