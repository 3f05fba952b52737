/**
 * dlgemm for the JVM: DeepSeek DeepGEMM's FP8/BF16 dense GEMMs, MoE grouped GEMMs, MQA logits
 * and FP8 cast utilities behind one C ABI; host tensors run the CPU reference path, CUDA
 * tensors run JIT-compiled kernels.
 *
 * <p>Entry points: {@link io.dlgemm.Context} (one per device; every operation),
 * {@link io.dlgemm.Tensor} (descriptors over host arrays / direct buffers / device memory),
 * {@link io.dlgemm.DlGemm} (versions, queries), {@link io.dlgemm.Testing} (the suite's
 * generator and calc_diff). Every failure is a {@link io.dlgemm.DlGemmException} carrying a
 * {@link io.dlgemm.Status} and the C library's message.
 *
 * <p>The native library is inside the jar ({@code native/linux-x86_64/libdlgemm_jni.so}) and
 * is loaded at first use; {@code -Ddlgemm.library.path=DIR} loads {@code DIR/libdlgemm_jni.so}
 * instead.
 */
package io.dlgemm;
