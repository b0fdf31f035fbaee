package io.headwater;

import static io.headwater.TestSupport.expectCode;
import static io.headwater.TestSupport.topic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The public Java surface equals tests/vectors/api.json's java column: every declared name exists with its
 * kind, and every public class, method, field and constructor of io.headwater is declared there or in
 * extras_allowed.java (after ignore.java: package-private classes, what public classes inherit from the JDK).
 */
class ManifestTest {
    private static final String PKG = "io.headwater.";

    private static Map<String, Object> api() throws Exception {
        return Json.vectors("api.json");
    }

    /** The Java class an api.json type names ({@code io.headwater.X (...)}), or null for a JDK type / none. */
    private static Class<?> javaClass(String type) throws Exception {
        if (type == null || !type.startsWith(PKG)) {
            return null;
        }
        String name = type.split("[ <]")[0];
        return Class.forName(name);
    }

    /** The member names a manifest name stands for: {@code of(key, value)} is {@code of}; a list of constants. */
    private static List<String> names(String javaName) {
        List<String> out = new ArrayList<>();
        for (String n : javaName.replaceAll("\\([^)]*\\)", "").split(",")) {
            out.add(n.trim());
        }
        return out;
    }

    /** Class.forName for a nested path like {@code ProducerConfig.Builder}. */
    private static Class<?> nested(Class<?> outer, String path) throws Exception {
        Class<?> c = outer;
        for (String part : path.split("\\.")) {
            Class<?> found = null;
            for (Class<?> n : c.getClasses()) {
                if (n.getSimpleName().equals(part)) {
                    found = n;
                }
            }
            if (found == null) {
                return null;
            }
            c = found;
        }
        return c;
    }

    private static List<Method> publicMethods(Class<?> c, String name) {
        return Stream.of(c.getMethods()).filter(m -> m.getName().equals(name)).collect(Collectors.toList());
    }

    /** Checks that {@code name} exists on {@code c} with the manifest's kind. */
    private static void assertMember(Class<?> c, String kind, String name, String where) throws Exception {
        int dot = name.lastIndexOf('.');
        if (dot >= 0) {
            Class<?> owner = nested(c, name.substring(0, dot));
            assertTrue(owner != null, where + ": no nested class " + name.substring(0, dot));
            c = owner;
            name = name.substring(dot + 1);
        }
        switch (kind) {
            case "constructor": {
                Class<?> self = c;
                boolean factory = publicMethods(c, name).stream()
                        .anyMatch(m -> Modifier.isStatic(m.getModifiers()) && self.isAssignableFrom(m.getReturnType()));
                assertTrue(factory, where + ": no static factory " + c.getSimpleName() + "." + name);
                break;
            }
            case "method":
            case "property": {
                List<Method> ms = publicMethods(c, name);
                assertFalse(ms.isEmpty(), where + ": no public method " + c.getSimpleName() + "." + name);
                // ProducerRecord's key and value are set by of(key, value), a static factory
                boolean factoryOk = c == ProducerRecord.class;
                boolean instanceOrFactory = ms.stream().anyMatch(m -> !Modifier.isStatic(m.getModifiers()) || factoryOk);
                assertTrue(instanceOrFactory, where + ": " + c.getSimpleName() + "." + name + " is static");
                if (kind.equals("property")) {
                    assertTrue(ms.stream().anyMatch(m -> m.getReturnType() != void.class),
                            where + ": property " + name + " returns nothing");
                }
                break;
            }
            case "constant": {
                Field f = c.getField(name);
                assertTrue(Modifier.isStatic(f.getModifiers()) && Modifier.isFinal(f.getModifiers()),
                        where + ": " + name + " is not a constant");
                break;
            }
            default:
                fail(where + ": kind " + kind + " cannot occur in Java");
        }
    }

    /** Every non-null java name of api.json's classes exists with its kind. */
    @Test
    void everyDeclaredNameExists() throws Exception {
        int checked = 0;
        for (Map.Entry<String, Object> e : Json.map(api().get("classes")).entrySet()) {
            Map<String, Object> cls = Json.map(e.getValue());
            String type = (String) Json.map(cls.get("type")).get("java");
            Class<?> c = javaClass(type);
            if (type != null && type.startsWith("CompletableFuture")) {
                c = java.util.concurrent.CompletableFuture.class; // a send's future: the JDK's API
                assertEquals(c, Producer.class.getMethod("send", byte[].class, byte[].class).getReturnType());
            }
            for (Object mo : Json.list(cls.get("members"))) {
                Map<String, Object> m = Json.map(mo);
                String name = (String) Json.map(m.get("names")).get("java");
                String kind = (String) m.get("kind");
                String where = e.getKey() + "." + m.get("concept");
                if (name == null) {
                    assertTrue(m.get("why_absent") != null && Json.map(m.get("why_absent")).get("java") != null,
                            where + ": absent in Java without a why_absent");
                    continue;
                }
                if (kind.equals("option")) {
                    continue; // keys of an options map: OptionsTest-style checks below
                }
                if (c == null) {
                    // logging's levels: a JDK type
                    assertEquals("System.Logger.Level", name, where);
                    Class.forName("java.lang.System$Logger$Level");
                    checked++;
                    continue;
                }
                for (String n : names(name)) {
                    if (kind.equals("constant") && c.isEnum()) {
                        Class<?> en = c;
                        assertTrue(Stream.of(en.getEnumConstants()).anyMatch(k -> ((Enum<?>) k).name().equals(n)),
                                where + ": no constant " + n);
                    } else {
                        assertMember(c, kind, n, where);
                    }
                    checked++;
                }
            }
        }
        assertTrue(checked > 100, "checked " + checked + " names");
    }

    /** The declared names of a class (simple name path, e.g. {@code Producer}) from api.json and extras. */
    private static Map<String, Set<String>> allowed() throws Exception {
        Map<String, Set<String>> out = new java.util.HashMap<>();
        for (Map.Entry<String, Object> e : Json.map(api().get("classes")).entrySet()) {
            Map<String, Object> cls = Json.map(e.getValue());
            Class<?> c = javaClass((String) Json.map(cls.get("type")).get("java"));
            if (c == null) {
                continue;
            }
            for (Object mo : Json.list(cls.get("members"))) {
                Map<String, Object> m = Json.map(mo);
                String name = (String) Json.map(m.get("names")).get("java");
                if (name == null || m.get("kind").equals("option")) {
                    continue;
                }
                for (String n : names(name)) {
                    int dot = n.lastIndexOf('.');
                    String owner = dot < 0 ? c.getSimpleName() : c.getSimpleName() + "." + n.substring(0, dot);
                    out.computeIfAbsent(owner, k -> new TreeSet<>()).add(n.substring(dot + 1));
                }
            }
        }
        for (Object x : Json.list(Json.map(api().get("extras_allowed")).get("java"))) {
            String entry = (String) x;
            if (entry.startsWith("record ")) {
                continue; // record members: handled per record class
            }
            if (entry.endsWith(" constructor")) {
                String cls = entry.substring(0, entry.indexOf('('));
                out.computeIfAbsent(cls, k -> new TreeSet<>()).add("<init>");
                continue;
            }
            String path = entry.split("[ (]")[0];
            int dot = path.lastIndexOf('.');
            out.computeIfAbsent(path.substring(0, dot), k -> new TreeSet<>()).add(path.substring(dot + 1));
        }
        return out;
    }

    /** The public top-level classes of io.headwater in the build output (a directory or the JAR). */
    private static List<Class<?>> publicClasses() throws Exception {
        URI where = Producer.class.getProtectionDomain().getCodeSource().getLocation().toURI();
        Path root = Path.of(where);
        List<String> files = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (Stream<Path> s = Files.list(root.resolve("io/headwater"))) {
                s.forEach(p -> files.add(p.getFileName().toString()));
            }
        } else {
            try (java.util.jar.JarFile jar = new java.util.jar.JarFile(new File(where))) {
                jar.stream().map(java.util.jar.JarEntry::getName).filter(n -> n.startsWith("io/headwater/"))
                        .forEach(n -> files.add(n.substring("io/headwater/".length())));
            }
        }
        List<Class<?>> out = new ArrayList<>();
        for (String f : files) {
            if (f.endsWith(".class") && !f.contains("$")) {
                Class<?> c = Class.forName(PKG + f.substring(0, f.length() - ".class".length()));
                if (Modifier.isPublic(c.getModifiers())) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    /** A class's path below the package: {@code ProducerConfig.Builder}. */
    private static String path(Class<?> c) {
        return c.getName().substring(PKG.length()).replace('$', '.');
    }

    /** Nothing is public that the manifest does not declare (as a class member or an allowed extra). */
    @Test
    void nothingPublicIsUndeclared() throws Exception {
        Set<String> exports = Json.list(Json.map(api().get("exports")).get("java")).stream().map(Object::toString)
                .collect(Collectors.toCollection(TreeSet::new));
        Map<String, Set<String>> allowed = allowed();
        Set<String> seenClasses = new TreeSet<>();
        List<String> undeclared = new ArrayList<>();
        List<Class<?>> todo = new ArrayList<>(publicClasses());
        while (!todo.isEmpty()) {
            Class<?> c = todo.remove(0);
            String path = path(c);
            seenClasses.add(path);
            for (Class<?> n : c.getDeclaredClasses()) {
                if (Modifier.isPublic(n.getModifiers())) {
                    todo.add(n);
                }
            }
            Set<String> ok = allowed.getOrDefault(path, Set.of());
            if (ok.contains("*")) {
                continue;
            }
            Set<String> recordParts = new TreeSet<>();
            if (c.isRecord()) {
                for (java.lang.reflect.RecordComponent rc : c.getRecordComponents()) {
                    recordParts.add(rc.getName());
                }
                recordParts.addAll(List.of("equals", "hashCode", "toString"));
            }
            for (Method m : c.getDeclaredMethods()) {
                if (!Modifier.isPublic(m.getModifiers()) || m.isSynthetic() || m.isBridge()) {
                    continue;
                }
                String n = m.getName();
                boolean implicitEnum = c.isEnum() && (n.equals("values") || n.equals("valueOf"));
                if (!ok.contains(n) && !recordParts.contains(n) && !implicitEnum) {
                    undeclared.add(path + "." + n);
                }
            }
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isPublic(f.getModifiers()) && !f.isEnumConstant() && !ok.contains(f.getName())) {
                    undeclared.add(path + "." + f.getName());
                }
            }
            if (!c.isRecord() && !c.isEnum()) {
                for (Constructor<?> k : c.getDeclaredConstructors()) {
                    if (Modifier.isPublic(k.getModifiers()) && !ok.contains("<init>")) {
                        undeclared.add(path + " constructor " + k);
                    }
                }
            }
        }
        assertEquals(List.of(), undeclared, "public but not in api.json (classes or extras_allowed.java)");
        assertEquals(exports, seenClasses, "public classes vs api.json exports.java");
    }

    /** The options of TestBroker.start and createTopic are keys core knows (a bad value names the key). */
    @Test
    void optionKeysAreKnownToCore() throws Exception {
        Map<String, Object> classes = Json.map(api().get("classes"));
        try (TestBroker broker = TestBroker.start()) {
            for (Object mo : Json.list(Json.map(classes.get("TopicOptions")).get("members"))) {
                String key = (String) Json.map(Json.map(mo).get("names")).get("java");
                HeadwaterException e = expectCode(HeadwaterException.Kind.INVALID_ARGUMENT,
                        () -> {
                            broker.createTopic(topic("opt"), Map.of(key, "not-a-value"));
                            return null;
                        });
                assertTrue(e.getMessage().contains("`" + key + "`") && !e.getMessage().contains("unknown key"),
                        e.getMessage());
            }
        }
        for (Object mo : Json.list(Json.map(classes.get("TestBrokerOptions")).get("members"))) {
            String key = (String) Json.map(Json.map(mo).get("names")).get("java");
            HeadwaterException e = expectCode(HeadwaterException.Kind.CONFIG, () -> TestBroker.start(Map.of(key, "")));
            assertTrue(!e.getMessage().contains("unknown broker option"), e.getMessage());
        }
    }
}
