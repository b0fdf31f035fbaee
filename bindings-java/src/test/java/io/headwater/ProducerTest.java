package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.expectCode;
import static io.headwater.TestSupport.get;
import static io.headwater.TestSupport.s;
import static io.headwater.TestSupport.topic;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.headwater.HeadwaterException.Kind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The producer API against a real embedded broker; assertions are on what the broker stores. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ProducerTest {
    private TestBroker broker;

    @BeforeAll
    void start() {
        broker = TestBroker.start();
    }

    @AfterAll
    void stop() {
        broker.close();
    }

    private String newTopic(int partitions) {
        String t = topic("p");
        broker.createTopic(t, partitions);
        return t;
    }

    // ---- basics ------------------------------------------------------------------------------

    @Test
    void sendStoresKeyValueTimestampAndEmptyKeyDiffersFromNoKey() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(0).build())) {
            RecordMetadata a = get(p.send(b("k"), b("v1")));
            RecordMetadata bm = get(p.send(null, b("v2")));
            RecordMetadata c = get(p.send(new byte[0], new byte[0]));
            RecordMetadata d = get(p.send(ProducerRecord.of(b("k"), b("v4")).timestamp(1_700_000_000_000L)));
            assertEquals(List.of(0L, 1L, 2L, 3L), List.of(a.offset(), bm.offset(), c.offset(), d.offset()));
            assertEquals(t, a.topic());
            assertEquals(1_700_000_000_000L, d.timestamp());
        }
        List<StoredRecord> rs = broker.records(t, 0);
        assertEquals(4, rs.size());
        assertArrayEquals(b("k"), rs.get(0).key());
        assertEquals("v1", s(rs.get(0).value()));
        assertNull(rs.get(1).key());
        assertArrayEquals(new byte[0], rs.get(2).key());
        assertArrayEquals(new byte[0], rs.get(2).value());
        assertEquals(1_700_000_000_000L, rs.get(3).timestamp());
        assertEquals(3L, broker.records(t, 0, 3).get(0).offset());
    }

    @Test
    void explicitPartitionAndSendAll() throws Exception {
        String t = newTopic(3);
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            assertEquals(2, get(p.sendTo(2, b("k"), b("to-2"))).partition());
            List<ProducerRecord> batch = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                batch.add(ProducerRecord.of(null, b("all-" + i)).partition(i % 3));
            }
            List<CompletableFuture<RecordMetadata>> fs = p.sendAll(batch);
            p.flush();
            for (int i = 0; i < 30; i++) {
                assertEquals(i % 3, get(fs.get(i)).partition());
            }
            ProducerStats st = p.stats();
            assertEquals(31, st.recordsSent());
            assertEquals(31, st.recordsAcked());
            assertEquals(0, st.queuedRecords());
        }
        assertEquals(11, broker.records(t, 2).size());
        assertEquals(10, broker.records(t, 0).size());
    }

    @Test
    void adminCreatesListsAndDeletesTopics() throws Exception {
        String t = topic("admin");
        try (Admin admin = Admin.connect(broker.endpoint())) {
            admin.createTopic(t, 2);
            TopicInfo info = admin.listTopics().stream().filter(x -> x.name().equals(t)).findFirst().orElseThrow();
            assertEquals(2, info.partitions());
            try (Producer p = Producer.connect(broker.endpoint(), t)) {
                get(p.send(b("a"), b("b")));
            }
            admin.deleteTopic(t);
            assertTrue(admin.listTopics().stream().noneMatch(x -> x.name().equals(t)));
            expectCode(Kind.UNKNOWN_TOPIC, () -> {
                admin.deleteTopic(t);
                return null;
            });
        }
    }

    @Test
    void producerStateTopicOptionsAndBrokerInspection() throws Exception {
        String t = topic("state");
        broker.createTopic(t, java.util.Map.of("partitions", "2", "replication", "1", "compression", "gzip",
                "retentionSecs", "3600"));
        assertTrue(broker.topics().contains(t));
        Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(60_000).build());
        assertEquals(t, p.topic());
        assertEquals(2, p.partitionCount());
        assertEquals(Compression.GZIP, p.compression()); // unset follows the topic's policy
        assertFalse(p.isClosed());
        List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fs.add(p.sendTo(1, null, b("r" + i)));
        }
        p.flush();
        fs.add(p.sendTo(1, null, b("r3")));
        p.close();
        assertTrue(p.isClosed());
        assertArrayEquals(new long[] {0, 4}, broker.offsets(t, 1));
        assertArrayEquals(new long[] {0, 0}, broker.offsets(t, 0));
        assertEquals(4, broker.highWatermark(t, 1));
        assertEquals(List.of(broker.leader(t, 1)), broker.replicas(t, 1));
        List<StoredRecord> rs = broker.records(t, 1);
        assertEquals(List.of(0L, 0L, 0L, 3L), rs.stream().map(StoredRecord::batchBaseOffset).collect(
                java.util.stream.Collectors.toList()));
        assertEquals(List.of(0L, 3L), broker.batches(t, 1).stream().map(StoredBatch::baseOffset).collect(
                java.util.stream.Collectors.toList()));
        try (Admin admin = Admin.connect(broker.endpoint())) {
            TopicInfo info = admin.listTopics().stream().filter(x -> x.name().equals(t)).findFirst().orElseThrow();
            assertEquals(3600L, info.retentionSecs());
            assertEquals(2, info.partitions());
            String u = topic("admin-opts");
            admin.createTopic(u, java.util.Map.of("partitions", "3"));
            TopicInfo plain = admin.listTopics().stream().filter(x -> x.name().equals(u)).findFirst().orElseThrow();
            assertEquals(3, plain.partitions());
            assertNull(plain.retentionSecs());
            HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT,
                    () -> { admin.createTopic(topic("bad"), java.util.Map.of("partitions", "-1")); return null; });
            assertTrue(e.getMessage().contains("`partitions` must be in 1..=2147483647, got -1"), e.getMessage());
            e = expectCode(Kind.INVALID_ARGUMENT,
                    () -> { admin.createTopic(topic("bad"), java.util.Map.of("partitionz", "1")); return null; });
            assertTrue(e.getMessage().contains("`partitionz`"), e.getMessage());
            e = expectCode(Kind.BROKER, () -> { admin.createTopic(u, 1); return null; });
            assertEquals(2002, e.getBrokerCode());
        }
        HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT, () -> { broker.createTopic(topic("bad"), 0); return null; });
        assertTrue(e.getMessage().contains("`partitions` must be in 1..=2147483647, got 0"), e.getMessage());
        e = expectCode(Kind.BROKER, () -> { broker.createTopic(t, 1); return null; });
        assertEquals(2002, e.getBrokerCode());
    }

    /** flush/close from a dependent stage would wait for the very delivery running it: INVALID_ARGUMENT. */
    @Test
    void flushFromAFuturesStageIsInvalidArgument() throws Exception {
        String t = newTopic(1);
        // A long linger: the record completes during the flush below, on a library thread.
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(600_000).build())) {
            CompletableFuture<HeadwaterException> inside = new CompletableFuture<>();
            CompletableFuture<RecordMetadata> f = p.send(null, b("x"));
            f.whenComplete((m, err) -> {
                try {
                    p.flush();
                    inside.complete(null);
                } catch (HeadwaterException e) {
                    inside.complete(e);
                }
            });
            p.flush(); // from the caller's thread it works
            assertTrue(f.isDone());
            HeadwaterException e = get(inside);
            assertTrue(e != null && e.getKind() == Kind.INVALID_ARGUMENT, String.valueOf(e));
            assertTrue(e.getMessage().contains("inside a delivery callback"), e.getMessage());
        }
    }

    // ---- config keys take effect ------------------------------------------------------------

    @Test
    void batchSizeOneSealsEveryRecordAlone() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t,
                ProducerConfig.builder().batchSize(1).lingerMs(600000).build())) {
            for (int i = 0; i < 5; i++) {
                p.send(null, b("r" + i));
            }
            p.flush();
        }
        List<StoredBatch> batches = broker.batches(t, 0);
        assertEquals(5, batches.size());
        batches.forEach(bi -> assertEquals(1, bi.recordCount()));
    }

    @Test
    void longLingerHoldsRecordsUntilFlushThenOneBatch() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t,
                ProducerConfig.builder().lingerMs(600000).batchSize(1 << 20).build())) {
            List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                fs.add(p.send(null, b("r" + i)));
            }
            assertEquals(5, p.stats().queuedRecords());
            assertTrue(fs.stream().noneMatch(CompletableFuture::isDone));
            assertEquals(0, broker.records(t, 0).size());
            p.flush();
            assertTrue(fs.stream().allMatch(CompletableFuture::isDone));
        }
        List<StoredBatch> batches = broker.batches(t, 0);
        assertEquals(1, batches.size());
        assertEquals(5, batches.get(0).recordCount());
    }

    @Test
    void zeroLingerDeliversWithoutFlush() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(0).build())) {
            assertEquals(0, get(p.send(null, b("now"))).offset());
            assertEquals(1, broker.records(t, 0).size());
        }
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void compressionCodecReachesTheBroker(Compression c) throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().compression(c).build())) {
            for (int i = 0; i < 20; i++) {
                p.send(b("k" + i), b("value-" + i + "-" + "x".repeat(50)));
            }
            p.flush();
            assertTrue(p.stats().bytesCompressed() > 0);
        }
        List<StoredRecord> rs = broker.records(t, 0);
        assertEquals(20, rs.size());
        for (int i = 0; i < 20; i++) {
            assertEquals(c, rs.get(i).compression());
            assertEquals("value-" + i + "-" + "x".repeat(50), s(rs.get(i).value()));
        }
        broker.batches(t, 0).forEach(bi -> assertEquals(c, bi.compression()));
    }

    @Test
    void partitionerRoundRobinIgnoresKeysDefaultHashesThem() throws Exception {
        String t = newTopic(3);
        Set<Integer> rr = new HashSet<>();
        Set<Integer> dflt = new HashSet<>();
        try (Producer p = Producer.connect(broker.endpoint(), t,
                ProducerConfig.builder().partitioner("round_robin").build())) {
            for (int i = 0; i < 6; i++) {
                rr.add(get(p.send(b("same"), b("rr"))).partition());
            }
        }
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            for (int i = 0; i < 6; i++) {
                dflt.add(get(p.send(b("same"), b("d"))).partition());
            }
        }
        assertEquals(Set.of(0, 1, 2), rr);
        assertEquals(1, dflt.size());
    }

    @Test
    void atMostOnceHasNoOffset() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t,
                ProducerConfig.builder().delivery("at_most_once").build())) {
            assertEquals(-1, get(p.send(null, b("fire"))).offset());
            p.flush();
        }
        // no acknowledgement: wait (with a generous deadline) until the broker has stored it
        long deadline = System.nanoTime() + Duration.ofSeconds(TestSupport.WAIT_SECONDS).toNanos();
        while (broker.records(t, 0).isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals("fire", s(broker.records(t, 0).get(0).value()));
    }

    // ---- bad input ---------------------------------------------------------------------------

    /** A wrong argument is INVALID_ARGUMENT naming it (not NullPointerException/IllegalArgumentException). */
    @Test
    void wrongArgumentsAreInvalidArgumentNamingThem() throws Exception {
        String t = newTopic(1);
        java.util.Map<String, Call> named = new java.util.LinkedHashMap<>();
        named.put("`topic` must not be null", () -> Producer.connect(broker.endpoint(), null, null));
        named.put("`endpoint` must not be null", () -> Producer.connect(null, t, null));
        named.put("`lingerMs` must not be null", () -> ProducerConfig.builder().set("lingerMs", null));
        named.put("`key` must not be null", () -> ProducerConfig.builder().set(null, "1"));
        named.put("`value` must not be null", () -> ProducerRecord.of(null, null));
        named.put("unknown codec id 9", () -> Compression.fromId(9));
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            named.put("`value` must not be null ", () -> p.send(b("k"), null));
            named.put("`records` must not be null", () -> p.sendAll(null));
            named.put("`records[1]` must not be null",
                    () -> p.sendAll(java.util.Arrays.asList(ProducerRecord.of(null, b("a")), null)));
            named.put("`record` must not be null", () -> p.send((ProducerRecord) null));
            named.put("`partition` must be in 0..=2147483647, got -1", () -> p.sendTo(-1, null, b("v")));
            named.put("`partition` must be in 0..=2147483647, got -2",
                    () -> p.sendAll(List.of(ProducerRecord.of(null, b("v")).partition(-2))));
            named.put("`timeout_nanos` must be in 0..=9223372036854775807, got -1000000",
                    () -> { p.flush(Duration.ofMillis(-1)); return null; });
            named.put("`timeout_nanos` must be in 0..=9223372036854775807, got -1",
                    () -> { p.close(Duration.ofNanos(-1)); return null; });
            named.put("`timeout` must not be null", () -> { p.flush(null); return null; });
            for (java.util.Map.Entry<String, Call> c : named.entrySet()) {
                HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT, c.getValue()::run);
                assertTrue(e.getMessage().contains(c.getKey().trim()), e.getMessage());
                assertFalse(e.isRetriable());
            }
            // nothing was sent or closed by the refused calls, and flush does not report them again
            assertFalse(p.isClosed());
            p.flush();
            assertEquals(0, p.stats().recordsSent());
        }
        assertEquals(0, broker.records(t, 0).size());
    }

    private interface Call {
        Object run() throws Exception;
    }

    @Test
    void unknownConfigKeyFailsWithConfig() throws Exception {
        HeadwaterException e = expectCode(Kind.CONFIG, () -> ProducerConfig.builder().set("lingerMillis", "5").build());
        assertTrue(e.getMessage().contains("lingerMillis"), e.getMessage());
        assertFalse(e.isRetriable());
    }

    /** sendAll packs keys and values into one array each: null, empty and non-empty keys and values survive. */
    @Test
    void sendAllKeepsEveryKeyAndValueAndCompletesEachFuture() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(0).build())) {
            List<ProducerRecord> batch = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                byte[] key = i % 3 == 0 ? null : i % 3 == 1 ? new byte[0] : b("k" + i);
                batch.add(ProducerRecord.of(key, i % 7 == 0 ? new byte[0] : b("v" + i)).timestamp(1000 + i));
            }
            List<CompletableFuture<RecordMetadata>> fs = p.sendAll(batch);
            p.flush();
            List<StoredRecord> stored = broker.records(t, 0);
            assertEquals(300, stored.size());
            for (int i = 0; i < 300; i++) {
                RecordMetadata m = get(fs.get(i));
                assertEquals(i, m.offset());
                assertEquals(1000 + i, m.timestamp());
                assertEquals(t, m.topic());
                StoredRecord r = stored.get(i);
                if (i % 3 == 0) {
                    assertNull(r.key());
                } else {
                    assertArrayEquals(i % 3 == 1 ? new byte[0] : b("k" + i), r.key());
                }
                assertArrayEquals(i % 7 == 0 ? new byte[0] : b("v" + i), r.value());
            }
        }
    }

    /** Futures are completed a group at a time: a failed delivery still fails every future of it. */
    @Test
    void deliveryFailureFailsEveryFutureOfTheRequest() throws Exception {
        String t = newTopic(1);
        ProducerConfig cfg = ProducerConfig.builder().maxRetries(0).lingerMs(5000).build();
        try (Producer p = Producer.connect(broker.endpoint(), t, cfg)) {
            broker.failNext(TestBroker.API_PRODUCE, 1, 3);
            List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                fs.add(p.send(null, b("single-" + i)));
            }
            fs.addAll(p.sendAll(List.of(ProducerRecord.of(null, b("all-0")), ProducerRecord.of(null, b("all-1")))));
            assertThrows(HeadwaterException.class, p::flush);
            for (CompletableFuture<RecordMetadata> f : fs) {
                assertTrue(f.isCompletedExceptionally());
                TestSupport.failure(f);
            }
            // the producer goes on: later futures complete normally
            assertEquals(0, get(p.send(null, b("after"))).offset());
        }
    }

    /** More sends than one slot array holds (4096), and every future completes by the time flush returns. */
    @Test
    void manySendsAllCompleteByFlush() throws Exception {
        String t = newTopic(2);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(5).build())) {
            List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 10_000; i++) {
                fs.add(p.send(null, b("m" + i)));
            }
            p.flush();
            Set<String> seen = new HashSet<>();
            for (CompletableFuture<RecordMetadata> f : fs) {
                assertTrue(f.isDone() && !f.isCompletedExceptionally());
                RecordMetadata m = f.join();
                assertTrue(seen.add(m.partition() + "/" + m.offset()), "duplicate " + m);
            }
            assertEquals(10_000, broker.records(t, 0).size() + broker.records(t, 1).size());
        }
    }

    /** flush() completes this thread's futures even while another thread keeps sending. */
    @Test
    void flushCompletesEarlierFuturesWhileAnotherThreadSends() throws Exception {
        String t = newTopic(2);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().lingerMs(20).build())) {
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread other = new Thread(() -> {
                while (!stop.get()) {
                    p.send(null, b("other"));
                }
            });
            other.start();
            try {
                for (int round = 0; round < 20; round++) {
                    List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
                    for (int i = 0; i < 500; i++) {
                        fs.add(p.send(null, b("mine-" + i)));
                    }
                    p.flush();
                    for (CompletableFuture<RecordMetadata> f : fs) {
                        assertTrue(f.isDone(), "a future of a record sent before flush() is not complete");
                    }
                }
            } finally {
                stop.set(true);
                other.join();
            }
        }
    }

    @Test
    void oversizeRecordFailsWithRecordTooLargeAndSendAllSendsNothing() throws Exception {
        String t = newTopic(1);
        try (Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder().maxRequestSize(1024).build())) {
            expectCode(Kind.RECORD_TOO_LARGE, () -> p.send(null, new byte[4096]));
            expectCode(Kind.RECORD_TOO_LARGE, () -> p.sendAll(List.of(ProducerRecord.of(null, b("small")),
                    ProducerRecord.of(null, new byte[4096]))));
            p.flush();
        }
        assertEquals(0, broker.records(t, 0).size());
    }

    @Test
    void unknownTopicFailsWithUnknownTopic() throws Exception {
        expectCode(Kind.UNKNOWN_TOPIC, () -> Producer.connect(broker.endpoint(), topic("missing"),
                ProducerConfig.builder().metadataTimeoutMs(200).build()));
    }

    @Test
    void unknownPartitionFailsWithUnknownPartition() throws Exception {
        String t = newTopic(2);
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            expectCode(Kind.UNKNOWN_PARTITION, () -> p.sendTo(7, null, b("v")));
        }
    }

    @Test
    void topicCompressionPolicyMismatchFailsWithCompression() throws Exception {
        String t = topic("zstd-only");
        broker.createTopic(t, 1, Compression.ZSTD);
        expectCode(Kind.COMPRESSION, () -> Producer.connect(broker.endpoint(), t,
                ProducerConfig.builder().compression(Compression.GZIP).build()));
        try (Producer p = Producer.connect(broker.endpoint(), t)) { // unset follows the topic
            get(p.send(null, b("z")));
        }
        assertEquals(Compression.ZSTD, broker.records(t, 0).get(0).compression());
    }

    @Test
    void closedProducerFailsWithClosedAndCloseIsIdempotent() throws Exception {
        String t = newTopic(1);
        Producer p = Producer.connect(broker.endpoint(), t);
        CompletableFuture<RecordMetadata> before = p.send(null, b("before-close"));
        p.close();
        p.close();
        assertEquals(0, get(before).offset()); // close flushed it
        expectCode(Kind.CLOSED, () -> p.send(null, b("after")));
        expectCode(Kind.CLOSED, () -> p.sendAll(List.of(ProducerRecord.of(null, b("after")))));
        assertEquals(1, broker.records(t, 0).size());
    }

    @Test
    void unreachableEndpointFailsWithTransport() throws Exception {
        HeadwaterException e = expectCode(Kind.TRANSPORT, () -> Producer.connect("127.0.0.1:1", "t",
                ProducerConfig.builder().metadataTimeoutMs(500).build()));
        assertTrue(e.isRetriable());
        expectCode(Kind.TRANSPORT, () -> Admin.connect("127.0.0.1:1"));
    }

    @Test
    void pausedBrokerGivesQueueFullAndFlushTimeout() throws Exception {
        String t = newTopic(1);
        Producer p = Producer.connect(broker.endpoint(), t, ProducerConfig.builder()
                .batchSize(1).batchQueueSize(1).sendTimeoutMs(50).lingerMs(0).build());
        broker.pause();
        List<CompletableFuture<RecordMetadata>> sent = new ArrayList<>();
        try {
            HeadwaterException full = null;
            for (int i = 0; i < 10 && full == null; i++) {
                try {
                    sent.add(p.send(null, b("q" + i)));
                } catch (HeadwaterException e) {
                    full = e;
                }
            }
            assertTrue(full != null, "a paused broker must fill the queue");
            assertEquals(Kind.QUEUE_FULL, full.getKind());
            HeadwaterException e = expectCode(Kind.TIMEOUT, () -> {
                p.flush(Duration.ofMillis(50));
                return null;
            });
            assertTrue(e.isRetriable());
        } finally {
            broker.resume();
        }
        p.close();
        for (CompletableFuture<RecordMetadata> f : sent) {
            get(f);
        }
        assertEquals(sent.size(), broker.records(t, 0).size());
    }

    @Test
    void panicInNativeCodeBecomesAnInternalException() throws Exception {
        Native.ensureLoaded();
        HeadwaterException e = expectCode(Kind.INTERNAL, () -> {
            Native.debugPanic();
            return null;
        });
        assertTrue(e.getMessage().contains("deliberate panic"), e.getMessage());
        assertFalse(e.isRetriable());
        assertNull(e.getBrokerCode());
    }

    @Test
    void coreLogLinesReachSystemLogger(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("topics"));
        Files.write(dir.resolve("topics/broken.spec"), new byte[] {1, 2, 3});
        List<LogRecord> seen = new CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                seen.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger jul = Logger.getLogger("headwater");
        jul.addHandler(h);
        try (TestBroker b = TestBroker.start(1, dir)) {
            assertEquals(List.of(), b.topics()); // the broken spec is skipped
            assertTrue(seen.stream().anyMatch(r -> r.getLevel() == java.util.logging.Level.WARNING
                    && r.getMessage().contains("unreadable topic spec")), () -> "log records: " + seen.size());
        } finally {
            jul.removeHandler(h);
        }
    }
}
