package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.expectCode;
import static io.headwater.TestSupport.failure;
import static io.headwater.TestSupport.get;
import static io.headwater.TestSupport.s;
import static io.headwater.TestSupport.topic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.headwater.HeadwaterException.Kind;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault injection per error class through the Java API: the exact outcome a Java user sees (the Java
 * side of bindings-python/tests/test_faults.py).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultsTest {
    private static final int PRODUCE = TestBroker.API_PRODUCE;

    private TestBroker broker;

    @BeforeAll
    void start() {
        broker = TestBroker.start();
    }

    @AfterAll
    void stop() {
        broker.close();
    }

    private String newTopic() {
        String t = topic("faults");
        broker.createTopic(t, 1);
        return t;
    }

    /** Fast retries, so the injected faults are worked through quickly. */
    private static ProducerConfig.Builder config() {
        return ProducerConfig.builder().lingerMs(0).retryBackoffMs(5).maxRetries(3);
    }

    private static List<String> values(TestBroker b, String topic) {
        return b.records(topic, 0).stream().map(r -> s(r.value())).collect(Collectors.toList());
    }

    @Test
    void notLeaderIsRetriedAndStoredOnce() throws Exception {
        String t = newTopic();
        try (Producer p = Producer.connect(broker.endpoint(), t, config().build())) {
            broker.failNext(PRODUCE, 2, 6);
            assertEquals(0, get(p.send(null, b("x"))).offset());
            assertEquals(2, p.stats().retries());
        }
        assertEquals(List.of("x"), values(broker, t));
    }

    @Test
    void storageErrorFailsOnlyThatBatchAndIsNotRetriable() throws Exception {
        String t = newTopic();
        Producer p = Producer.connect(broker.endpoint(), t, config().build());
        broker.failNext(PRODUCE, 1, 56);
        HeadwaterException e = failure(p.send(null, b("lost")));
        assertEquals(Kind.BROKER, e.getKind());
        assertEquals(56, e.getBrokerCode());
        assertFalse(e.isRetriable());
        assertEquals(0, get(p.send(null, b("kept"))).offset());
        // close reports the failure nobody flushed
        assertEquals(Kind.BROKER, assertThrows(HeadwaterException.class, p::close).getKind());
        assertEquals(List.of("kept"), values(broker, t));
    }

    @Test
    void compressionAndUnknownTopicCodesMapToTheirKinds() throws Exception {
        String t = newTopic();
        Producer p = Producer.connect(broker.endpoint(), t, config().build());
        broker.failNext(PRODUCE, 1, 9000);
        assertEquals(Kind.COMPRESSION, failure(p.send(null, b("a"))).getKind());
        broker.failNext(PRODUCE, 1, 2001);
        assertEquals(Kind.UNKNOWN_TOPIC, failure(p.send(null, b("b"))).getKind());
        assertThrows(HeadwaterException.class, p::close);
        assertTrue(broker.records(t, 0).isEmpty());
    }

    @Test
    void droppedConnectionIsRetriedAndTheRecordLands() throws Exception {
        String t = newTopic();
        try (Producer p = Producer.connect(broker.endpoint(), t, config().build())) {
            broker.dropNext(PRODUCE, 2);
            assertEquals(0, get(p.send(b("k"), b("after-drops"))).offset());
            assertTrue(p.stats().retries() >= 2, () -> "retries: " + p.stats().retries());
        }
        assertEquals(List.of("after-drops"), values(broker, t));
    }

    @Test
    void slowBrokerHitsTheDeliveryTimeout() throws Exception {
        String t = newTopic();
        Producer p = Producer.connect(broker.endpoint(), t, config().deliveryTimeoutMs(300).build());
        broker.delay(PRODUCE, Duration.ofSeconds(3));
        try {
            HeadwaterException e = failure(p.send(null, b("late")));
            assertEquals(Kind.TIMEOUT, e.getKind(), e::getMessage);
            assertTrue(e.isRetriable());
        } finally {
            broker.delay(PRODUCE, null);
        }
        assertEquals(Kind.TIMEOUT, assertThrows(HeadwaterException.class, p::close).getKind());
    }

    @Test
    void clearedDelayServesAgain() throws Exception {
        String t = newTopic();
        broker.delay(PRODUCE, Duration.ofSeconds(3));
        broker.delay(PRODUCE, Duration.ZERO); // zero clears, like null
        try (Producer p = Producer.connect(broker.endpoint(), t, config().deliveryTimeoutMs(2000).build())) {
            assertEquals(0, get(p.send(null, b("on-time"))).offset());
        }
        assertEquals(List.of("on-time"), values(broker, t));
    }

    @Test
    void stoppedSpuFailsWithTimeoutAfterDeliveryTimeout() throws Exception {
        try (TestBroker b = TestBroker.start()) {
            b.createTopic("down", 1);
            int spu = b.spuIds().get(0);
            // The backoff outlasts the delivery timeout, so the batch expires while it waits in the queue
            // (TIMEOUT), never while an attempt is in flight (that would report the attempt's error).
            Producer p = Producer.connect(b.endpoint(), "down", ProducerConfig.builder().lingerMs(0)
                    .retryBackoffMs(1000).retryBackoffMaxMs(1000).maxRetries(1_000_000).deliveryTimeoutMs(300)
                    .build());
            assertEquals(0, get(p.send(null, b("before"))).offset());
            b.stopSpu(spu);
            // Retries cannot reach the SPU; the delivery timeout, not max_retries, ends the wait.
            HeadwaterException e = failure(p.send(null, b("never")));
            assertEquals(Kind.TIMEOUT, e.getKind(), e::getMessage);
            assertTrue(e.isRetriable());
            assertThrows(HeadwaterException.class, () -> p.close(Duration.ZERO));
            b.startSpu(spu);
            assertEquals(List.of("before"), values(b, "down"));
        }
    }

    @Test
    void spuStopAndStartKeepsAcknowledgedRecordsAndProducingContinues(@TempDir Path dir) throws Exception {
        try (TestBroker b = TestBroker.start(Map.of("spus", "1", "dataDir", dir.toString()))) {
            b.createTopic("spu", 1);
            assertEquals(List.of(5001), b.spuIds());
            assertEquals(5001, b.leader("spu", 0));
            try (Producer p = Producer.connect(b.endpoint(), "spu",
                    ProducerConfig.builder().lingerMs(0).maxRetries(100).retryBackoffMs(20).build())) {
                assertEquals(0, get(p.send(null, b("before"))).offset());
                b.stopSpu(5001);
                CompletableFuture<RecordMetadata> during = p.send(null, b("during"));
                assertFalse(during.isDone());
                b.startSpu(5001);
                RecordMetadata m = get(during);
                RecordMetadata after = get(p.send(null, b("after")));
                assertTrue(after.offset() > m.offset());
                List<String> vals = values(b, "spu");
                assertEquals("before", vals.get(0));
                assertEquals("during", vals.get((int) m.offset()));
                assertEquals("after", vals.get((int) after.offset()));
            }
        }
    }

    @Test
    void pausedSpuHoldsRecordsUntilResumed() throws Exception {
        try (TestBroker b = TestBroker.start(Map.of("spus", "2"))) {
            b.createTopic("held", 2);
            int leader = b.leader("held", 0);
            assertTrue(b.spuIds().contains(leader));
            try (Producer p = Producer.connect(b.endpoint(), "held", ProducerConfig.builder().lingerMs(0).build())) {
                b.pauseSpu(leader);
                CompletableFuture<RecordMetadata> held = p.sendTo(0, null, b("held"));
                try {
                    // A request held by the paused SPU is never answered: flush times out, nothing is stored.
                    expectCode(Kind.TIMEOUT, () -> {
                        p.flush(Duration.ofMillis(200));
                        return null;
                    });
                    assertFalse(held.isDone());
                } finally {
                    b.resumeSpu(leader);
                }
                assertEquals(0, get(held).offset());
            }
            assertEquals(List.of("held"), values(b, "held"));
        }
    }

    @Test
    void badFaultArgumentsAreInvalidArgument() throws Exception {
        java.util.Map<String, Call> named = new java.util.LinkedHashMap<>();
        named.put("`api_key` must be in 0..=65535, got -1", () -> broker.failNext(-1, 1, 6));
        named.put("`count` must be in 0..=2147483647, got -1", () -> broker.failNext(PRODUCE, -1, 6));
        named.put("`code` must be in -32768..=32767, got 40000", () -> broker.failNext(PRODUCE, 1, 40_000));
        named.put("`api_key` must be in 0..=65535, got 70000", () -> broker.dropNext(70_000, 1));
        named.put("`count` must be in 0..=2147483647, got -2", () -> broker.dropNext(PRODUCE, -2));
        named.put("`delay_nanos` must be in 0..=9223372036854775807, got -1000000",
                () -> broker.delay(PRODUCE, Duration.ofMillis(-1)));
        named.put("`partition` must be in 0..=2147483647, got -1", () -> broker.leader("t", -1));
        named.put("`topic` must not be null", () -> broker.leader(null, 0));
        named.put("42", () -> broker.stopSpu(42));
        named.put("42 ", () -> broker.startSpu(42));
        named.put("42  ", () -> broker.pauseSpu(42));
        named.put("42   ", () -> broker.resumeSpu(42));
        for (Map.Entry<String, Call> c : named.entrySet()) {
            HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT, () -> {
                c.getValue().run();
                return null;
            });
            assertTrue(e.getMessage().contains(c.getKey().trim()), e.getMessage());
        }
        expectCode(Kind.UNKNOWN_TOPIC, () -> broker.leader(topic("missing"), 0));
        String t = newTopic();
        expectCode(Kind.UNKNOWN_PARTITION, () -> broker.leader(t, 5));
    }

    /** A negative partition is INVALID_ARGUMENT everywhere a partition is read (it never reads partition 0). */
    @Test
    void negativePartitionsAreInvalidArgumentNotPartitionZero() throws Exception {
        String t = newTopic();
        try (Producer p = Producer.connect(broker.endpoint(), t, config().build())) {
            get(p.send(null, b("in-0")));
        }
        List<Call> calls = List.of(() -> broker.records(t, -1), () -> broker.records(t, -1, 0),
                () -> broker.batches(t, -1), () -> broker.offsets(t, -1), () -> broker.replicas(t, -1),
                () -> broker.highWatermark(t, -1));
        for (Call c : calls) {
            HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT, () -> {
                c.run();
                return null;
            });
            assertTrue(e.getMessage().contains("`partition` must be in 0..=2147483647, got -1"), e.getMessage());
        }
        assertEquals(List.of("in-0"), values(broker, t));
    }

    private interface Call {
        void run();
    }
}
