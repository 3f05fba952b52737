package io.dlgemm;

/**
 * Facts about a context's CUDA device ({@link Context#deviceInfo()}).
 *
 * @param ordinal CUDA device ordinal
 * @param smMajor compute capability, major
 * @param smMinor compute capability, minor
 * @param numSms number of SMs
 * @param totalMemory device memory in bytes
 * @param l2Bytes L2 cache size in bytes
 * @param maxSmemPerBlock opt-in shared memory per block, bytes
 * @param name the device's name
 */
public record DeviceInfo(int ordinal, int smMajor, int smMinor, int numSms, long totalMemory,
    long l2Bytes, long maxSmemPerBlock, String name) {}
