#!/usr/bin/env bash
# The Java binding's CI (bindings/java, JDK 17 + Maven; plugins and JUnit pinned in pom.xml):
#   1. mvn verify: SWIG JNI wrapper + core -> libdlgemm_jni.so inside the jar, JUnit 5 tests on
#      the CPU (GpuTest runs too where a CUDA device is visible), test jar;
#   2. javadoc of the public API (errors fail the run);
#   3. mvn install, then a fresh Maven project in a temporary directory that depends on the
#      installed artifact (offline) and runs a GEMM on the CPU;
#   4. the device bundle for a machine without a JRE: a jlinked runtime + the jars + the JUnit
#      console launcher in bindings/java/target/device (skip: DLG_JAVA_SKIP_BUNDLE=1), checked by
#      running bindings/java/device_run.sh with it.
# Maven runs quietly; the Surefire totals are printed from its reports at the end.
# Usage: bash scripts/test_java.sh [extra mvn args for verify, e.g. -Dtest='DlGemmTest#testGemmBf16']
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
# shellcheck source=/dev/null
source scripts/env.sh # swig, DLG_DLPACK_INCLUDE_DIR, DLG_CUDA_INCLUDE_DIR for the native build

java_dir="$root/bindings/java"
mvn=(mvn -q -B -ntp -Dstyle.color=never)
# DLG_JAVA_M2_REPO: a local repository other than ~/.m2/repository (e.g. an empty one, to check
# what a fresh machine downloads).
[[ -n "${DLG_JAVA_M2_REPO:-}" ]] && mvn+=("-Dmaven.repo.local=$DLG_JAVA_M2_REPO")
# Debian's Maven 3.8 prints stray colour resets even with -B: dropped (pipefail keeps its status).
mvnq() { "${mvn[@]}" "$@" 2>&1 | sed -u $'s/\x1b\\[0m//g'; }
version=0.1.0
junit_platform=$(sed -n 's:.*<junit.platform.version>\(.*\)</junit.platform.version>.*:\1:p' \
  "$java_dir/pom.xml")

# Surefire's totals, from its XML reports (Maven's -q hides its own summary lines).
surefire_summary() {
  python3 - "$java_dir/target/surefire-reports" <<'EOF'
import glob, os, sys, xml.etree.ElementTree as ET
t = f = e = s = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "TEST-*.xml"))):
    suite = ET.parse(path).getroot()
    n, fl, er, sk = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
    print(f"  {suite.get('name')}: {n} tests, {fl} failures, {er} errors, {sk} skipped")
    t, f, e, s = t + n, f + fl, e + er, s + sk
print(f"Tests run: {t}, Failures: {f}, Errors: {e}, Skipped: {s}")
print(f"java: {t - f - e - s} passed, {f + e} failed, {s} skipped")
EOF
}

echo "== mvn verify (native library, jar, JUnit 5 on the CPU) =="
cd "$java_dir"
rc=0
mvnq verify "$@" || rc=$?
if [[ $rc -ne 0 ]]; then
  for log in target/native-build/configure.log target/native-build/build.log; do
    if [[ -f $log ]] && grep -qi "error" "$log"; then
      echo "--- $log (tail)"
      tail -n 30 "$log"
    fi
  done
  [[ -d target/surefire-reports ]] && surefire_summary
  exit $rc
fi

echo "== javadoc (public API) =="
mvnq javadoc:javadoc

echo "== mvn install + a fresh consumer project =="
mvnq install -DskipTests
# The consumer below builds offline: fetch the one plugin it uses that this build has not.
mvnq dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
consumer=$(mktemp -d "${TMPDIR:-/tmp}/dlgemm-java-consumer.XXXXXX")
trap 'rm -rf "$consumer"' EXIT
mkdir -p "$consumer/src/main/java/demo"
# The consumer pins the same plugin versions, so that -o (offline) finds them in the local
# repository that the build above filled.
plugins=$(sed -n '/<pluginManagement>/,/<\/pluginManagement>/p' pom.xml)
cat >"$consumer/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId>
  <artifactId>dlgemm-consumer</artifactId>
  <version>1.0</version>
  <properties>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
    <maven.compiler.release>17</maven.compiler.release>
  </properties>
  <dependencies>
    <dependency>
      <groupId>io.dlgemm</groupId>
      <artifactId>dlgemm</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
  <build>
$plugins
  </build>
</project>
EOF
cat >"$consumer/src/main/java/demo/Main.java" <<'EOF'
package demo;

import io.dlgemm.Context;
import io.dlgemm.DType;
import io.dlgemm.DlGemm;
import io.dlgemm.Recipe;
import io.dlgemm.Tensor;

/** D = A·Bᵀ in bfloat16 on the CPU, through the installed artifact. */
public class Main {
  public static void main(String[] args) {
    short one = Tensor.floatToBf16(1f);
    short two = Tensor.floatToBf16(2f);
    short[] a = {one, one, one, one, two, two, two, two};   // A [2, 4]
    short[] b = {one, two, one, two, one, one, one, one, two, two, two, two}; // B [3, 4]
    try (Context ctx = Context.cpu();
         Tensor ta = Tensor.ofBf16(a, 2, 4);
         Tensor tb = Tensor.ofBf16(b, 3, 4);
         Tensor d = Tensor.allocate(DType.FLOAT32, 2, 3)) {
      ctx.gemm(Recipe.BF16, ta, null, tb, null, null, d);
      float[] out = d.toFloatArray();
      float[] want = {6, 4, 8, 12, 8, 16};
      if (!java.util.Arrays.equals(out, want)) {
        throw new AssertionError(java.util.Arrays.toString(out));
      }
      System.out.println("consumer: dlgemm " + DlGemm.versionString() + " D = "
          + java.util.Arrays.toString(out));
    }
  }
}
EOF
(cd "$consumer" && mvnq -o package &&
  mvnq -o dependency:build-classpath -Dmdep.outputFile=cp.txt &&
  java -cp "target/classes:$(cat cp.txt)" demo.Main)

if [[ -z "${DLG_JAVA_SKIP_BUNDLE:-}" ]]; then
  echo "== device bundle: jlinked JRE + jars + JUnit console launcher =="
  bundle="$java_dir/target/device"
  rm -rf "$bundle"
  mkdir -p "$bundle/lib"
  cp "target/dlgemm-$version.jar" "target/dlgemm-$version-tests.jar" "$bundle/lib/"
  mvnq dependency:copy \
    -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_platform" \
    -DoutputDirectory="$bundle/lib"
  mv "$bundle/lib/junit-platform-console-standalone-$junit_platform.jar" \
    "$bundle/lib/junit-platform-console-standalone.jar"
  java_home=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
  modules=$("$java_home/bin/jdeps" --multi-release 17 --print-module-deps --ignore-missing-deps \
    "$bundle"/lib/*.jar)
  "$java_home/bin/jlink" --add-modules "$modules,java.logging" --strip-debug --no-man-pages \
    --no-header-files --compress=2 --output "$bundle/jre"
  echo "bundle: $(du -sh "$bundle" | cut -f1) in $bundle (modules $modules,java.logging)"
  DLG_JAVA_BUNDLE="$bundle" bash "$java_dir/device_run.sh" --quiet
fi

echo "== summary =="
surefire_summary
