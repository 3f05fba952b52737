/* dlgemm — FP8/BF16 GEMM & MoE kernels behind one C ABI over DLPack.
 * See docs/abi.md for the conventions every function follows. */
#ifndef DLGEMM_H_
#define DLGEMM_H_

#include "dlgemm/export.h"
#include "dlgemm/version.h"
#include "dlgemm/status.h"
#include "dlgemm/context.h"
#include "dlgemm/tensor.h"
#include "dlgemm/gemm.h"
#include "dlgemm/moe.h"
#include "dlgemm/attention.h"
#include "dlgemm/quant.h"
#include "dlgemm/testing.h"

#endif /* DLGEMM_H_ */
