package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * What README.md's Install block ({@code make -C bindings-java install}: {@code mvn install}) installed when
 * {@code make test} ran it as written with a throwaway {@code ~/.m2} (tests/readme-install.sh): the files a
 * user gets, and a separate Maven project (examples/consumer-project) that declares the dependency, builds
 * against that repository and runs the README's quickstart.
 */
class ConsumerProjectIT {
    private static final Path BINDING = TestSupport.repoRoot().resolve("bindings-java");
    private static final Path CONSUMER = BINDING.resolve("examples/consumer-project");

    private static String version() {
        return System.getProperty("headwater.version");
    }

    private static Path localRepo() {
        return Path.of(System.getProperty("headwater.test.local.repo")).toAbsolutePath();
    }

    private static Path installed() {
        Path dir = localRepo().resolve("io/headwater/headwater").resolve(version());
        assertTrue(Files.isDirectory(dir), dir + " does not exist: `make -C bindings-java test` runs README.md's "
                + "Install block (tests/readme-install.sh) before `mvn verify`");
        return dir;
    }

    /** Every entry of a JAR with its bytes. */
    private static Map<String, byte[]> contents(Path jar) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (ZipFile z = new ZipFile(jar.toFile())) {
            for (ZipEntry e : Collections.list(z.entries())) {
                try (InputStream in = z.getInputStream(e)) {
                    out.put(e.getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }

    private static Set<String> entries(Path jar) throws IOException {
        try (ZipFile z = new ZipFile(jar.toFile())) {
            return z.stream().map(e -> e.getName()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    /** The first block of {@code lang} after {@code marker} (or the first at all) in bindings-java/README.md. */
    private static String readmeBlock(String marker, String lang) throws IOException {
        String readme = Files.readString(BINDING.resolve("README.md"));
        Matcher m = Pattern.compile(Pattern.quote(marker) + "\\s*```" + lang + "\\n(.*?)```", Pattern.DOTALL)
                .matcher(readme);
        assertTrue(m.find(), "README.md has no " + lang + " block after " + marker);
        return m.group(1);
    }

    /** The JAR with the native library, its POM, and the sources and javadoc JARs, as `mvn install` lays them out. */
    @Test
    void installPutsTheJarSourcesAndJavadocInTheLocalRepository() throws Exception {
        String base = "headwater-" + version();
        try (Stream<Path> files = Files.list(installed())) {
            Set<String> names = files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
            for (String f : List.of(base + ".jar", base + ".pom", base + "-sources.jar", base + "-javadoc.jar")) {
                assertTrue(names.contains(f), f + " not installed: " + names);
            }
        }
        Path jar = installed().resolve(base + ".jar");
        // The same classes and native library as the JAR this build packaged (the install packaged its own,
        // with other timestamps): what the consumer project runs is what the other tests ran.
        Map<String, byte[]> built = contents(JarIT.jar());
        Map<String, byte[]> got = contents(jar);
        assertEquals(built.keySet(), got.keySet(), "the installed JAR's entries");
        for (Map.Entry<String, byte[]> e : built.entrySet()) {
            if (!e.getKey().startsWith("META-INF/")) {
                assertTrue(Arrays.equals(e.getValue(), got.get(e.getKey())), e.getKey() + " differs from the built JAR's");
            }
        }
        assertTrue(entries(jar).contains("native/linux-x86_64/libheadwater_jni.so"), () -> "JAR: " + jar);
        Set<String> sources = entries(installed().resolve(base + "-sources.jar"));
        assertTrue(sources.containsAll(List.of("io/headwater/Producer.java", "io/headwater/LogBridge.java")),
                sources::toString);
        Set<String> javadoc = entries(installed().resolve(base + "-javadoc.jar"));
        assertTrue(javadoc.containsAll(List.of("index.html", "io/headwater/Producer.html",
                "io/headwater/HeadwaterException.Kind.html")), javadoc::toString);
        // slf4j-api is optional: an application that declares Headwater does not get it
        String pom = Files.readString(installed().resolve(base + ".pom"));
        assertTrue(Pattern.compile("<artifactId>slf4j-api</artifactId>\\s*<version>[^<]+</version>\\s*"
                + "<optional>true</optional>").matcher(pom).find(), pom);
    }

    /** The README's dependency block is the consumer project's, at this build's version. */
    @Test
    void readmeDependencyBlockIsTheConsumerProjects() throws Exception {
        String block = readmeBlock("", "xml");
        assertTrue(block.contains("<version>" + version() + "</version>"), block);
        String pom = Files.readString(CONSUMER.resolve("pom.xml"));
        Matcher m = Pattern.compile("\\n( *)(<dependency>\\s*<groupId>io\\.headwater</groupId>.*?</dependency>)\\n",
                Pattern.DOTALL).matcher(pom);
        assertTrue(m.find(), "the consumer pom declares no io.headwater dependency");
        String indent = m.group(1);
        String dedented = m.group(2).lines().map(l -> l.startsWith(indent) ? l.substring(indent.length()) : l)
                .collect(Collectors.joining("\n", "", "\n"));
        assertEquals(block, dedented);
    }

    @Test
    void consumerProjectBuildsAgainstTheInstalledArtifactAndRunsTheQuickstart() throws Exception {
        Path quickstart = CONSUMER.resolve("src/main/java/Quickstart.java");
        assertEquals(readmeBlock("<!-- quickstart -->", "java"), Files.readString(quickstart),
                "the consumer project's Quickstart.java is the README's quickstart");

        // A copy, so the build's output stays under target/.
        Path work = BINDING.resolve("target/consumer-project");
        deleteTree(work);
        Files.createDirectories(work.resolve("src/main/java"));
        Files.copy(CONSUMER.resolve("pom.xml"), work.resolve("pom.xml"));
        Files.copy(quickstart, work.resolve("src/main/java/Quickstart.java"), StandardCopyOption.REPLACE_EXISTING);

        // Headwater resolves from the throwaway repository only (central has no io.headwater); Maven's own
        // plugins may also come from the repository this build used, so a second run needs no network.
        Path settings = work.resolve("settings.xml");
        Files.writeString(settings, "<settings><profiles><profile><id>cache</id><pluginRepositories>"
                + "<pluginRepository><id>headwater-build-cache</id><url>"
                + Path.of(System.getProperty("headwater.m2.cache")).toUri()
                + "</url><snapshots><enabled>false</enabled></snapshots></pluginRepository>"
                + "</pluginRepositories></profile></profiles>"
                + "<activeProfiles><activeProfile>cache</activeProfile></activeProfiles></settings>");
        Path mvn = Path.of(System.getProperty("maven.home"), "bin", "mvn");
        List<String> cmd = new ArrayList<>(List.of(mvn.toString(), "-B", "--no-transfer-progress",
                "-s", settings.toString(), "-Dmaven.repo.local=" + localRepo(),
                "-f", work.resolve("pom.xml").toString(), "compile", "exec:exec"));
        String text = JarIT.run(cmd); // the consumer project's build, then its quickstart
        assertTrue(Files.isRegularFile(work.resolve("target/classes/Quickstart.class")), text);
        assertTrue(Pattern.compile("sent to partition \\d offset 0; broker holds 1 record\\(s\\), codec LZ4")
                .matcher(text).find(), text);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.delete(p);
            }
        }
    }
}
