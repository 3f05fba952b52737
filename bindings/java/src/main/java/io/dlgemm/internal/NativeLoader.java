package io.dlgemm.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Loads {@code libdlgemm_jni.so} once per class loader, before the first native call (the
 * generated JNI class calls {@link #load()} from its static initialiser).
 *
 * <p>Where from: the directory named by the system property {@code dlgemm.library.path} when it
 * is set, else the copy packaged in the jar under {@code native/<os>-<arch>/}, extracted to a
 * fresh temporary directory. The extracted file is deleted right after loading (the mapping
 * stays valid on Linux), so nothing is left behind in {@code java.io.tmpdir}.
 */
public final class NativeLoader {
  /** File name of the JNI library. */
  public static final String LIBRARY = "libdlgemm_jni.so";
  /** System property: a directory holding {@link #LIBRARY}, used instead of the jar's copy. */
  public static final String PATH_PROPERTY = "dlgemm.library.path";

  private static boolean loaded;

  private NativeLoader() {}

  /** The jar's platform directory name for this JVM, e.g. {@code linux-x86_64}. */
  public static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    if (os.startsWith("linux")) {
      os = "linux";
    } else if (os.startsWith("mac")) {
      os = "darwin";
    } else if (os.startsWith("windows")) {
      os = "windows";
    }
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (arch.equals("amd64") || arch.equals("x86_64")) {
      arch = "x86_64";
    } else if (arch.equals("arm64") || arch.equals("aarch64")) {
      arch = "aarch64";
    }
    return os + "-" + arch;
  }

  /** Loads the library if this class loader has not yet. */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    String dir = System.getProperty(PATH_PROPERTY);
    if (dir != null && !dir.isEmpty()) {
      System.load(Path.of(dir, LIBRARY).toAbsolutePath().toString());
      loaded = true;
      return;
    }
    String resource = "/native/" + platform() + "/" + LIBRARY;
    try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new UnsatisfiedLinkError("dlgemm: the jar has no native library for " + platform()
            + " (" + resource + "); build one and point -D" + PATH_PROPERTY + "=DIR at it");
      }
      Path tmp = Files.createTempDirectory("dlgemm-jni-");
      Path lib = tmp.resolve(LIBRARY);
      try {
        Files.copy(in, lib);
        System.load(lib.toString());
      } finally {
        Files.deleteIfExists(lib);
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      UnsatisfiedLinkError error =
          new UnsatisfiedLinkError("dlgemm: cannot extract " + resource + ": " + e);
      error.initCause(e);
      throw error;
    }
    loaded = true;
  }
}
