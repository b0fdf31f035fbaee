package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Runs after `package`, against the built JAR, in child JVMs: a program with only the JAR on its class path
 * works (the loader extracts the bundled native library) and exits by itself after close(); core's log
 * lines reach java.util.logging, or SLF4J when slf4j-api is on the class path.
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
        assertTrue(exited, "the child process did not exit by itself:\n" + text);
        assertEquals(0, p.exitValue(), text);
        return text;
    }

    @Test
    void childJvmExitsByItselfAfterClose() throws Exception {
        String cp = jar() + File.pathSeparator + System.getProperty("headwater.test.classes");
        String out = run(List.of(java(), "-cp", cp, "io.headwater.ExitMain"));
        assertTrue(out.contains("exit-main ok 5000"), out);
    }

    /** The lines LogMain's java.util.logging handler printed at {@code level} (WARNING, FINE, ...). */
    private static List<String> logs(String out, String level) {
        return out.lines().filter(l -> l.startsWith("LOG " + level + " ")).collect(Collectors.toList());
    }

    private static String logMain(String property, Map<String, String> env) throws Exception {
        return logMain(property, env, List.of());
    }

    /** LogMain in a child JVM: the JAR, the test classes and {@code extraClassPath} on its class path. */
    private static String logMain(String property, Map<String, String> env, List<String> jvmArgs,
                                  Path... extraClassPath) throws Exception {
        List<String> cp = new ArrayList<>(List.of(jar().toString(), System.getProperty("headwater.test.classes")));
        for (Path p : extraClassPath) {
            assertTrue(Files.isRegularFile(p), p + " is missing");
            cp.add(p.toString());
        }
        List<String> cmd = new ArrayList<>(List.of(java(), "-cp", String.join(File.pathSeparator, cp)));
        if (property != null) {
            cmd.add("-Dheadwater.log=" + property);
        }
        cmd.addAll(jvmArgs);
        cmd.add("io.headwater.LogMain");
        String out = run(cmd, env);
        assertTrue(out.contains("log-main ok 1"), out);
        return out;
    }

    /** org.slf4j:{@code artifact} at the version the build declares, from the local repository it used. */
    private static Path slf4j(String artifact) {
        String v = System.getProperty("headwater.slf4j.version");
        return Path.of(System.getProperty("headwater.m2.cache"), "org", "slf4j", artifact, v,
                artifact + "-" + v + ".jar");
    }

    /**
     * Without SLF4J on the class path, core's events reach java.util.logging on the logger named after
     * their Rust target (headwater.*). Core decides which: WARN by default, HEADWATER_LOG (read by core) or
     * the headwater.log property (core's names, the same fallback to WARN with one warning) otherwise.
     */
    @Test
    void withoutSlf4jLogLinesGoToJavaUtilLoggingAtCoresLevel() throws Exception {
        String unreadable = "unreadable topic spec";
        String dflt = logMain(null, Map.of());
        assertTrue(logs(dflt, "WARNING").stream()
                .anyMatch(l -> l.matches("LOG WARNING headwater\\.\\S+ .*" + unreadable + ".*")), dflt);
        assertTrue(logs(dflt, "INFO").isEmpty() && logs(dflt, "FINE").isEmpty(), dflt);
        assertTrue(dflt.lines().noneMatch(l -> l.contains(" WARN headwater.")), dflt); // nothing in SLF4J's format

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

    /**
     * With slf4j-api and slf4j-simple on the class path: the same records in slf4j-simple's format
     * ({@code [thread] LEVEL logger - message}), none through java.util.logging; core's level still decides
     * what is forwarded, slf4j-simple's what is printed.
     */
    @Test
    void withSlf4jLogLinesGoToSlf4j() throws Exception {
        Path api = slf4j("slf4j-api");
        Path simple = slf4j("slf4j-simple");
        String warn = logMain(null, Map.of(), List.of(), api, simple);
        assertTrue(warn.lines().anyMatch(l -> l.matches("\\[[^\\]]+\\] WARN headwater\\.\\S+ - .*unreadable topic spec.*")),
                warn);
        assertTrue(warn.lines().noneMatch(l -> l.startsWith("LOG ")), warn); // java.util.logging saw nothing
        assertTrue(warn.lines().noneMatch(l -> l.contains("] DEBUG ")), warn);

        String debug = logMain("debug", Map.of(), List.of("-Dorg.slf4j.simpleLogger.defaultLogLevel=trace"),
                api, simple);
        assertTrue(debug.lines().anyMatch(l -> l.matches("\\[[^\\]]+\\] DEBUG headwater\\.\\S+ - .*retrying a batch.*")),
                debug);
        assertTrue(debug.lines().noneMatch(l -> l.contains("] TRACE ")), debug); // core forwards no TRACE at debug
        assertTrue(debug.lines().noneMatch(l -> l.startsWith("LOG ")), debug);
    }
}
