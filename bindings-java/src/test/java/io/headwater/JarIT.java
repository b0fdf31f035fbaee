package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
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
}
