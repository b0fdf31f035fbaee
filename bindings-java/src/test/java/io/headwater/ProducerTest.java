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

import io.headwater.HeadwaterException.Code;
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
            assertEquals(2, get(p.send(b("k"), b("to-2"), 2)).partition());
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
            expectCode(Code.UNKNOWN_TOPIC, () -> {
                admin.deleteTopic(t);
                return null;
            });
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
        List<BatchInfo> batches = broker.batches(t, 0);
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
        List<BatchInfo> batches = broker.batches(t, 0);
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

    @Test
    void nullArgumentsThrowNullPointerExceptionWithAMessage() throws Exception {
        String t = newTopic(1);
        NullPointerException e = assertThrows(NullPointerException.class,
                () -> Producer.connect(broker.endpoint(), null, null));
        assertTrue(e.getMessage().contains("topic"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> Producer.connect(null, t, null));
        assertTrue(e.getMessage().contains("endpoint"), e.getMessage());
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            e = assertThrows(NullPointerException.class, () -> p.send(b("k"), null));
            assertTrue(e.getMessage().contains("value"), e.getMessage());
            e = assertThrows(NullPointerException.class, () -> p.sendAll(null));
            assertTrue(e.getMessage().contains("records"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> p.send(null, b("v"), -1));
            assertThrows(IllegalArgumentException.class, () -> p.flush(Duration.ofMillis(-1)));
        }
        e = assertThrows(NullPointerException.class, () -> ProducerConfig.builder().set("lingerMs", null));
        assertTrue(e.getMessage().contains("value"), e.getMessage());
    }

    @Test
    void unknownConfigKeyFailsWithConfig() throws Exception {
        HeadwaterException e = expectCode(Code.CONFIG, () -> ProducerConfig.builder().set("lingerMillis", "5").build());
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
            expectCode(Code.RECORD_TOO_LARGE, () -> p.send(null, new byte[4096]));
            expectCode(Code.RECORD_TOO_LARGE, () -> p.sendAll(List.of(ProducerRecord.of(null, b("small")),
                    ProducerRecord.of(null, new byte[4096]))));
            p.flush();
        }
        assertEquals(0, broker.records(t, 0).size());
    }

    @Test
    void unknownTopicFailsWithUnknownTopic() throws Exception {
        expectCode(Code.UNKNOWN_TOPIC, () -> Producer.connect(broker.endpoint(), topic("missing"),
                ProducerConfig.builder().metadataTimeoutMs(200).build()));
    }

    @Test
    void unknownPartitionFailsWithUnknownPartition() throws Exception {
        String t = newTopic(2);
        try (Producer p = Producer.connect(broker.endpoint(), t)) {
            expectCode(Code.UNKNOWN_PARTITION, () -> p.send(null, b("v"), 7));
        }
    }

    @Test
    void topicCompressionPolicyMismatchFailsWithCompression() throws Exception {
        String t = topic("zstd-only");
        broker.createTopic(t, 1, Compression.ZSTD);
        expectCode(Code.COMPRESSION, () -> Producer.connect(broker.endpoint(), t,
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
        expectCode(Code.CLOSED, () -> p.send(null, b("after")));
        expectCode(Code.CLOSED, () -> p.sendAll(List.of(ProducerRecord.of(null, b("after")))));
        assertEquals(1, broker.records(t, 0).size());
    }

    @Test
    void unreachableEndpointFailsWithTransport() throws Exception {
        HeadwaterException e = expectCode(Code.TRANSPORT, () -> Producer.connect("127.0.0.1:1", "t",
                ProducerConfig.builder().metadataTimeoutMs(500).build()));
        assertTrue(e.isRetriable());
        expectCode(Code.TRANSPORT, () -> Admin.connect("127.0.0.1:1"));
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
            assertEquals(Code.QUEUE_FULL, full.getCode());
            HeadwaterException e = expectCode(Code.TIMEOUT, () -> {
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
    void panicInNativeCodeBecomesAnInternalException() {
        Native.ensureLoaded();
        HeadwaterException e = assertThrows(HeadwaterException.class, Native::panicForTest);
        assertEquals(Code.INTERNAL, e.getCode());
        assertTrue(e.getMessage().contains("deliberate panic"), e.getMessage());
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
            assertTrue(seen.stream().anyMatch(r -> r.getLevel() == java.util.logging.Level.WARNING
                    && r.getMessage().contains("unreadable topic spec")), () -> "log records: " + seen.size());
        } finally {
            jul.removeHandler(h);
        }
    }
}
