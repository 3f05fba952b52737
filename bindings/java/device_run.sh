#!/usr/bin/env bash
# Runs the Java binding's test classes on a machine without a JDK or Maven (the GPU machine),
# from the bundle scripts/test_java.sh builds in bindings/java/target/device:
#   jre/                                   a jlinked Java runtime
#   lib/dlgemm-0.1.0.jar                   the binding, native library inside
#   lib/dlgemm-0.1.0-tests.jar             DlGemmTest (CPU) and GpuTest (GPU memory)
#   lib/junit-platform-console-standalone.jar
# GpuTest compares every op family on device tensors with the CPU path; it is skipped where no
# CUDA device is visible and aborts a test ("no kernel") where the device has no kernel for it.
#
#   bash bindings/java/device_run.sh [--gpu-only] [--quiet] [--reports DIR]
# Environment: DLG_JAVA_BUNDLE (the bundle directory), DLG_JAVA (a java executable to use
# instead of the bundle's). Exit status: the launcher's (non-zero when a test failed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=${DLG_JAVA_BUNDLE:-$here/target/device}
classes=(--select-class io.dlgemm.DlGemmTest --select-class io.dlgemm.GpuTest)
details=tree
reports="$bundle/reports"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpu-only) classes=(--select-class io.dlgemm.GpuTest); shift ;;
    --quiet) details=summary; shift ;;
    --reports) reports=$2; shift 2 ;;
    *) echo "device_run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
java=${DLG_JAVA:-$bundle/jre/bin/java}
if [[ ! -x "$java" ]]; then
  java=$(command -v java || true)
fi
[[ -n "$java" ]] || { echo "device_run.sh: no Java runtime in $bundle/jre or on PATH" >&2; exit 2; }
lib="$bundle/lib"
"$java" -version 2>&1 | head -n 1
exec "$java" -jar "$lib/junit-platform-console-standalone.jar" execute --disable-banner \
  --details="$details" --reports-dir="$reports" \
  --class-path "$lib/dlgemm-0.1.0.jar:$lib/dlgemm-0.1.0-tests.jar" "${classes[@]}"
