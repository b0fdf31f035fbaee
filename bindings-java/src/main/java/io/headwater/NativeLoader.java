package io.headwater;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Finds the native library for this OS and architecture inside the JAR
 * ({@code /native/<os>-<arch>/<libname>}), extracts it once per process to a temporary file and loads it.
 * {@code -Dheadwater.native.path=/path/to/libheadwater_jni.so} loads a given file instead.
 */
final class NativeLoader {
    static final String LIBRARY = "headwater_jni";
    private static boolean loaded;

    private NativeLoader() {}

    static synchronized void load() {
        if (loaded) {
            return;
        }
        String override = System.getProperty("headwater.native.path");
        if (override != null && !override.isEmpty()) {
            System.load(Path.of(override).toAbsolutePath().toString());
            loaded = true;
            return;
        }
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        URL url = locate(os, arch);
        try (InputStream in = url.openStream()) {
            Path tmp = Files.createTempFile("headwater_jni-", "-" + System.mapLibraryName(LIBRARY));
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            System.load(tmp.toAbsolutePath().toString());
        } catch (IOException e) {
            UnsatisfiedLinkError err = new UnsatisfiedLinkError(
                    "cannot extract the headwater native library " + url + ": " + e);
            err.initCause(e);
            throw err;
        }
        loaded = true;
    }

    /** The platform folder name ({@code linux-x86_64}, {@code osx-aarch64}, ...) for os.name / os.arch. */
    static String platform(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String o;
        if (os.startsWith("linux")) {
            o = "linux";
        } else if (os.startsWith("mac") || os.startsWith("darwin")) {
            o = "osx";
        } else if (os.startsWith("windows")) {
            o = "windows";
        } else {
            o = os.replaceAll("[^a-z0-9]+", "");
        }
        String a = osArch.toLowerCase(Locale.ROOT);
        switch (a) {
            case "amd64":
            case "x86_64":
            case "x64":
                a = "x86_64";
                break;
            case "aarch64":
            case "arm64":
                a = "aarch64";
                break;
            default:
                a = a.replaceAll("[^a-z0-9_]+", "");
        }
        return o + "-" + a;
    }

    /** The bundled library for a platform, or an error that names the platform. */
    static URL locate(String osName, String osArch) {
        String platform = platform(osName, osArch);
        String os = platform.substring(0, platform.indexOf('-'));
        String file = os.equals("windows") ? LIBRARY + ".dll"
                : os.equals("osx") ? "lib" + LIBRARY + ".dylib" : "lib" + LIBRARY + ".so";
        String resource = "/native/" + platform + "/" + file;
        URL url = NativeLoader.class.getResource(resource);
        if (url == null) {
            throw new UnsatisfiedLinkError("headwater has no native library for platform " + platform
                    + " (os.name=" + osName + ", os.arch=" + osArch + "): " + resource
                    + " is not in this JAR. This JAR supports: linux-x86_64."
                    + " Build the library for your platform (cargo build -p headwater-java) and pass"
                    + " -Dheadwater.native.path=/path/to/the/library.");
        }
        return url;
    }
}
