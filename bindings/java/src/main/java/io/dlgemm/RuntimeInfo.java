package io.dlgemm;

/**
 * Whether the CUDA driver and NVRTC can be opened here ({@link DlGemm#runtimeInfo()}).
 *
 * @param driverFound libcuda opened and cuInit succeeded
 * @param driverVersion e.g. 13000 (0 when absent)
 * @param deviceCount CUDA devices visible
 * @param nvrtcFound libnvrtc opened
 * @param nvrtcMajor NVRTC version, major
 * @param nvrtcMinor NVRTC version, minor
 * @param driverPath where libcuda was found
 * @param nvrtcPath where libnvrtc was found
 * @param why why the driver or NVRTC is unavailable; empty when both are
 */
public record RuntimeInfo(boolean driverFound, int driverVersion, int deviceCount,
    boolean nvrtcFound, int nvrtcMajor, int nvrtcMinor, String driverPath, String nvrtcPath,
    String why) {}
