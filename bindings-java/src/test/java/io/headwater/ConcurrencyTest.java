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
}
