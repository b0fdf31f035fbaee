package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs after `package`, against the built JAR: a plain Java program with only the JAR on its class path
 * works (the loader extracts the bundled native library), and the JVM exits by itself after close().
 */
class JarIT {
    static Path jar() {
        return Path.of(System.getProperty("headwater.jar")).toAbsolutePath();
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static String run(List<String> cmd) throws Exception {
        return run(cmd, Map.of());
    }

    static String run(List<String> cmd, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("HEADWATER_LOG");
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        boolean exited = p.waitFor(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        String text = new String(out, StandardCharsets.UTF_8);
        assertTrue(exited, "the child JVM did not exit by itself:\n" + text);
        assertEquals(0, p.exitValue(), text);
        return text;
    }

    /** The README's Java quickstart, compiled against the JAR and run with only the JAR on the class path. */
    @Test
    void readmeQuickstartCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(TestSupport.repoRoot().resolve("bindings-java/README.md"));
        Matcher m = Pattern.compile("<!-- quickstart -->\\s*```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has no quickstart block");
        Path src = dir.resolve("Quickstart.java");
        Files.writeString(src, m.group(1));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(null, null, null, "-cp", jar().toString(), "-d", dir.toString(), src.toString());
        assertEquals(0, rc, "the quickstart does not compile");
        String out = run(List.of(java(), "-cp", jar() + File.pathSeparator + dir, "Quickstart"));
        assertTrue(out.contains("broker holds 1 record(s), codec LZ4"), out);
    }

    @Test
    void childJvmExitsByItselfAfterClose() throws Exception {
        String cp = jar() + File.pathSeparator + System.getProperty("headwater.test.classes");
        String out = run(List.of(java(), "-cp", cp, "io.headwater.ExitMain"));
        assertTrue(out.contains("exit-main ok 5000"), out);
    }

    /** The lines LogMain's child JVM saw at {@code level} (JUL names: WARNING, FINE, ...). */
    private static List<String> logs(String out, String level) {
        return out.lines().filter(l -> l.startsWith("LOG " + level + " ")).collect(java.util.stream.Collectors.toList());
    }

    private static String logMain(String property, Map<String, String> env) throws Exception {
        String cp = jar() + File.pathSeparator + System.getProperty("headwater.test.classes");
        List<String> cmd = new java.util.ArrayList<>(List.of(java(), "-cp", cp));
        if (property != null) {
            cmd.add("-Dheadwater.log=" + property);
        }
        cmd.add("io.headwater.LogMain");
        String out = run(cmd, env);
        assertTrue(out.contains("log-main ok 1"), out);
        return out;
    }

    /**
     * Core decides which events reach System.Logger: WARN by default, HEADWATER_LOG (read by core) or the
     * headwater.log property (core's names, the same fallback to WARN with one warning) otherwise.
     */
    @Test
    void logLevelComesFromCoreTheEnvironmentOrTheProperty() throws Exception {
        String unreadable = "unreadable topic spec";
        String dflt = logMain(null, Map.of());
        assertTrue(logs(dflt, "WARNING").stream().anyMatch(l -> l.contains(unreadable)), dflt);
        assertTrue(logs(dflt, "INFO").isEmpty() && logs(dflt, "FINE").isEmpty(), dflt);

        String error = logMain(null, Map.of("HEADWATER_LOG", "ERROR"));
        assertTrue(logs(error, "WARNING").isEmpty(), error);
        String off = logMain("off", Map.of("HEADWATER_LOG", "debug"));
        assertTrue(off.lines().noneMatch(l -> l.startsWith("LOG ")), off); // the property wins
        String debug = logMain("debug", Map.of());
        assertTrue(logs(debug, "FINE").stream().anyMatch(l -> l.contains("retrying a batch")), debug);
        assertTrue(logs(debug, "FINER").isEmpty(), debug); // no TRACE at debug

        String bogus = logMain("verbose", Map.of());
        List<String> warnings = logs(bogus, "WARNING");
        assertEquals(1, warnings.stream().filter(l -> l.contains("\"verbose\" is not a log level")).count(), bogus);
        assertTrue(warnings.stream().anyMatch(l -> l.contains(unreadable)), bogus);
        assertTrue(logs(bogus, "INFO").isEmpty(), bogus);
    }
}
