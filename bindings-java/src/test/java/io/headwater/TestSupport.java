package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

final class TestSupport {
    /** Generous: ten times what any wait here should take on a loaded 2-core machine. */
    static final long WAIT_SECONDS = 120;
    private static final AtomicInteger TOPICS = new AtomicInteger();

    private TestSupport() {}

    static Path repoRoot() {
        String p = System.getProperty("headwater.repo.root");
        return (p != null ? Path.of(p) : Path.of("..")).toAbsolutePath().normalize();
    }

    static String topic(String prefix) {
        return prefix + "-" + TOPICS.incrementAndGet();
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static String hex(byte[] b) {
        return java.util.HexFormat.of().formatHex(b);
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** The HeadwaterException a future failed with. */
    static HeadwaterException failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return assertInstanceOf(HeadwaterException.class, e.getCause());
        }
        return fail("expected the future to fail");
    }

    interface Call {
        Object run() throws Exception;
    }

    /** Runs {@code call}; expects a HeadwaterException with {@code code}, thrown or from a returned future. */
    static HeadwaterException expectCode(HeadwaterException.Kind code, Call call) throws Exception {
        HeadwaterException ex;
        try {
            Object r = call.run();
            if (!(r instanceof CompletableFuture)) {
                return fail("expected " + code + ", got a result: " + r);
            }
            ex = failure((CompletableFuture<?>) r);
        } catch (HeadwaterException e) {
            ex = e;
        }
        HeadwaterException got = ex;
        assertEquals(code.name(), got.getCode(), () -> "wrong code for: " + got.getMessage());
        assertEquals(code, got.getKind());
        assertEquals(code.number(), got.getNumber());
        assertTrue(got.getMessage().startsWith("[" + code.name()), got.getMessage());
        return got;
    }
}
