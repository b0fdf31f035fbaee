package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.s;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Many Java threads sending through one producer at once. */
class ConcurrencyTest {
    static final int THREADS = 8;
    /** Per thread; override with -Dheadwater.test.sends=100000 (the figure) for a release build. */
    static final int SENDS = Integer.getInteger("headwater.test.sends", 20_000);
    static final int PARTITIONS = 4;

    @Test
    void eightThreadsEveryFutureCompletesOffsetsContiguousPerKeyOrderKept() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            broker.createTopic("conc", PARTITIONS);
            List<List<CompletableFuture<RecordMetadata>>> perThread = new ArrayList<>();
            try (Producer p = Producer.connect(broker.endpoint(), "conc", ProducerConfig.builder().lingerMs(5).build())) {
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                List<Future<List<CompletableFuture<RecordMetadata>>>> jobs = new ArrayList<>();
                for (int t = 0; t < THREADS; t++) {
                    final int thread = t;
                    jobs.add(pool.submit(() -> {
                        List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>(SENDS);
                        for (int i = 0; i < SENDS; i++) {
                            fs.add(p.send(b("t" + thread + "-k" + (i % 16)), b(thread + ":" + i)));
                        }
                        return fs;
                    }));
                }
                for (Future<List<CompletableFuture<RecordMetadata>>> j : jobs) {
                    perThread.add(j.get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS));
                }
                pool.shutdown();
                p.flush();
                assertEquals((long) THREADS * SENDS, p.stats().recordsAcked());
            }
            Map<Integer, TreeSet<Long>> offsets = new HashMap<>();
            for (List<CompletableFuture<RecordMetadata>> fs : perThread) {
                for (CompletableFuture<RecordMetadata> f : fs) {
                    assertTrue(f.isDone() && !f.isCompletedExceptionally());
                    RecordMetadata m = f.join();
                    assertTrue(offsets.computeIfAbsent(m.partition(), k -> new TreeSet<>()).add(m.offset()),
                            "duplicate offset " + m);
                }
            }
            long total = 0;
            for (int part = 0; part < PARTITIONS; part++) {
                TreeSet<Long> os = offsets.getOrDefault(part, new TreeSet<>());
                if (!os.isEmpty()) {
                    assertEquals(0L, os.first());
                    assertEquals(os.size() - 1L, os.last(), "offsets of partition " + part + " are contiguous");
                }
                List<StoredRecord> stored = broker.records("conc", part);
                assertEquals(os.size(), stored.size());
                total += stored.size();
                // one key's records are stored in send order
                Map<String, Integer> last = new HashMap<>();
                for (StoredRecord r : stored) {
                    String[] v = s(r.value()).split(":");
                    int i = Integer.parseInt(v[1]);
                    String key = s(r.key());
                    Integer prev = last.put(key, i);
                    assertTrue(prev == null || prev < i, "order of " + key);
                }
            }
            assertEquals((long) THREADS * SENDS, total);
        }
    }

    /**
     * Waiting threads ({@code send(...).get()} per record, which sends each record's batch at once) and
     * fire-and-forget threads ({@code send} and {@code sendAll}) share the producer's groups of futures and
     * its batches: every wait returns without the linger, and every future completes exactly once.
     */
    @Test
    void waitersAndFireAndForgetSendersShareBatchesAndGroups() throws Exception {
        int waiters = 3;
        int waits = Integer.getInteger("headwater.test.waits", 300);
        int bulk = SENDS / 4;
        try (TestBroker broker = TestBroker.start()) {
            broker.createTopic("conc-wait", PARTITIONS);
            ProducerConfig cfg = ProducerConfig.builder().lingerMs(600_000).deliveryTimeoutMs(900_000).build();
            List<CompletableFuture<RecordMetadata>> all = new ArrayList<>();
            try (Producer p = Producer.connect(broker.endpoint(), "conc-wait", cfg)) {
                ExecutorService pool = Executors.newFixedThreadPool(waiters + 2);
                List<Future<List<CompletableFuture<RecordMetadata>>>> jobs = new ArrayList<>();
                for (int t = 0; t < waiters; t++) {
                    final int thread = t;
                    jobs.add(pool.submit(() -> {
                        List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>(waits);
                        for (int i = 0; i < waits; i++) {
                            CompletableFuture<RecordMetadata> f = p.sendTo(i % PARTITIONS, null, b("w" + thread + ":" + i));
                            if (i % 2 == 0) {
                                f.get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS);
                            } else {
                                f.thenApply(RecordMetadata::offset).join();
                            }
                            fs.add(f);
                        }
                        return fs;
                    }));
                }
                jobs.add(pool.submit(() -> {
                    List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>(bulk);
                    for (int i = 0; i < bulk; i++) {
                        fs.add(p.send(b("k" + (i % 16)), b("b:" + i)));
                    }
                    return fs;
                }));
                jobs.add(pool.submit(() -> {
                    List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>(bulk);
                    for (int i = 0; i < bulk; i += 100) {
                        List<ProducerRecord> rs = new ArrayList<>();
                        for (int j = i; j < i + 100; j++) {
                            rs.add(ProducerRecord.of(null, b("a:" + j)));
                        }
                        List<CompletableFuture<RecordMetadata>> got = p.sendAll(rs);
                        // now and then a wait on one record of the call
                        if (i % 1000 == 0) {
                            got.get(50).get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS);
                        }
                        fs.addAll(got);
                    }
                    return fs;
                }));
                for (Future<List<CompletableFuture<RecordMetadata>>> j : jobs) {
                    all.addAll(j.get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS));
                }
                pool.shutdown();
                p.flush();
            }
            Map<Integer, TreeSet<Long>> offsets = new HashMap<>();
            for (CompletableFuture<RecordMetadata> f : all) {
                assertTrue(f.isDone() && !f.isCompletedExceptionally());
                RecordMetadata m = f.join();
                assertTrue(offsets.computeIfAbsent(m.partition(), k -> new TreeSet<>()).add(m.offset()),
                        "duplicate offset " + m);
            }
            long total = 0;
            for (int part = 0; part < PARTITIONS; part++) {
                TreeSet<Long> os = offsets.getOrDefault(part, new TreeSet<>());
                assertEquals(broker.records("conc-wait", part).size(), os.size());
                if (!os.isEmpty()) {
                    assertEquals(os.size() - 1L, os.last(), "offsets of partition " + part + " are contiguous");
                }
                total += os.size();
            }
            assertEquals((long) waiters * waits + 2L * bulk, total);
        }
    }
}
