package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.topic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Waiting on a send's future sends its batch at once (issue 19): a {@code send(k, v).get()} loop does not
 * sit out {@code lingerMs} per record, while records nobody waits on still linger and batch. Each test has
 * its own broker, so its produce request count is the test's alone.
 */
class SendNowTest {
    /** A linger no test would sit out: a wait that completes proves its batch was sent early. */
    private static final ProducerConfig FOREVER_LINGER =
            ProducerConfig.builder().lingerMs(600_000).deliveryTimeoutMs(900_000).build();
    private static final long DEADLINE_SECONDS = 60;
    /** How long a batch that should stay open is watched for (a premature send would show by then). */
    private static final long QUIET_MS = 300;

    private static long produceRequests(TestBroker broker) {
        return broker.stats().produceRequests();
    }

    @Test
    void waitingOnEachSendSendsItAtOnce() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            String t = topic("naive");
            broker.createTopic(t, 1);
            try (Producer p = Producer.connect(broker.endpoint(), t, FOREVER_LINGER)) {
                long before = produceRequests(broker);
                for (int i = 0; i < 20; i++) {
                    RecordMetadata m = p.send(b("k"), b("v" + i)).get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                    assertEquals(i, m.offset());
                }
                assertEquals(before + 20, produceRequests(broker), "one produce request per waited-on send");

                before = produceRequests(broker);
                for (int i = 20; i < 40; i++) {
                    assertEquals(i, p.send(null, b("j" + i)).orTimeout(DEADLINE_SECONDS, TimeUnit.SECONDS)
                            .join().offset());
                }
                assertEquals(before + 20, produceRequests(broker), "join() sends at once too");

                // get() without a timeout, and a wait through a derived stage.
                assertEquals(40, p.send(null, b("g")).orTimeout(DEADLINE_SECONDS, TimeUnit.SECONDS).get().offset());
                long offset = p.send(null, b("d")).thenApply(RecordMetadata::offset)
                        .get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                assertEquals(41, offset);
                assertEquals(before + 22, produceRequests(broker));

                // sendAll: waiting on one of its futures sends the batch holding all three.
                List<CompletableFuture<RecordMetadata>> fs = p.sendAll(List.of(ProducerRecord.of(null, b("a0")),
                        ProducerRecord.of(null, b("a1")), ProducerRecord.of(null, b("a2"))));
                assertEquals(43, fs.get(1).get(DEADLINE_SECONDS, TimeUnit.SECONDS).offset());
                assertEquals(42, fs.get(0).join().offset());
                assertEquals(44, fs.get(2).join().offset());
                assertEquals(before + 23, produceRequests(broker));
            }
            assertEquals(45, broker.records(t, 0).size());
        }
    }

    @Test
    void recordsNobodyWaitsOnStillBatch() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            String t = topic("batched");
            broker.createTopic(t, 1);
            try (Producer p = Producer.connect(broker.endpoint(), t, FOREVER_LINGER)) {
                List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
                for (int i = 0; i < 10_000; i++) {
                    fs.add(p.send(null, b("v" + i)));
                }
                p.flush();
                long requests = produceRequests(broker);
                // 10,000 small records in 16 KiB batches: a handful of requests, not one per record.
                assertTrue(requests <= 15, requests + " requests for 10,000 fire-and-forget records");
                assertEquals(10_000, broker.records(t, 0).size());
                for (int i = 0; i < fs.size(); i++) {
                    assertEquals(i, fs.get(i).getNow(null).offset());
                }

                // Waiting on each after they were all sent: the first wait sends the batch holding all 500.
                fs.clear();
                for (int i = 0; i < 500; i++) {
                    fs.add(p.send(null, b("w" + i)));
                }
                for (int i = 0; i < 500; i++) {
                    assertEquals(10_000 + i, fs.get(i).get().offset());
                }
                assertEquals(requests + 1, produceRequests(broker), "one request for the 500 waited-on records");
            }
            assertEquals(10_500, broker.records(t, 0).size());
        }
    }

    @Test
    void onlyWaitingSendsAndOnlyTheRecordsBatch() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            String t = topic("stages");
            broker.createTopic(t, 2);
            try (Producer p = Producer.connect(broker.endpoint(), t, FOREVER_LINGER)) {
                CompletableFuture<RecordMetadata> f = p.sendTo(0, b("k"), b("v"));
                CompletableFuture<RecordMetadata> other = p.sendTo(1, b("k"), b("other"));
                // Registering stages, polling and combining are not waiting on f.
                AtomicInteger ran = new AtomicInteger();
                CompletableFuture<Long> derived = f.thenApply(RecordMetadata::offset);
                f.whenComplete((m, e) -> ran.incrementAndGet());
                f.thenAccept(m -> ran.incrementAndGet());
                assertEquals(null, f.getNow(null));
                CompletableFuture<Void> all = CompletableFuture.allOf(f);
                // allOf's future is a plain one: its wait does not send the batch (documented).
                assertThrows(TimeoutException.class, () -> all.get(QUIET_MS, TimeUnit.MILLISECONDS));
                assertFalse(f.isDone());
                assertEquals(0, ran.get());
                assertEquals(0, produceRequests(broker));

                // A wait through a derived stage sends f's batch (partition 0) and only that one.
                assertEquals(0L, derived.get(DEADLINE_SECONDS, TimeUnit.SECONDS));
                all.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
                Thread.sleep(QUIET_MS);
                assertFalse(other.isDone(), "partition 1's batch keeps lingering");
                assertEquals(1, produceRequests(broker));
                p.flush();
                assertEquals(1, other.getNow(null).partition());
                assertEquals(2, produceRequests(broker));
            }
        }
    }

    /**
     * Futures are completed a group at a time (records sent one after another); a waited-on record's
     * future must not wait for the group's other batches, which may still linger: here the first batches
     * fill up and go out by themselves, the last one lingers, and waits on the first records return.
     */
    @Test
    void aWaitedOnRecordDoesNotWaitForItsGroupsOtherBatches() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            String t = topic("groups");
            broker.createTopic(t, 1);
            ProducerConfig small = ProducerConfig.builder().lingerMs(600_000).deliveryTimeoutMs(900_000)
                    .batchSize(1024).build();
            byte[] value = new byte[100];
            try (Producer p = Producer.connect(broker.endpoint(), t, small)) {
                for (String how : List.of("send", "sendAll")) {
                    long base = broker.records(t, 0).size();
                    List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
                    if (how.equals("send")) {
                        for (int i = 0; i < 25; i++) {
                            fs.add(p.send(null, value));
                        }
                    } else {
                        List<ProducerRecord> rs = new ArrayList<>();
                        for (int i = 0; i < 25; i++) {
                            rs.add(ProducerRecord.of(null, value));
                        }
                        fs.addAll(p.sendAll(rs));
                    }
                    // The full batches go out by themselves and complete; the last one (not full) lingers.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
                    while (p.stats().queuedBatches() > 1 && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                    assertEquals(1, p.stats().queuedBatches(), how + ": only the last batch is left");
                    long requests = produceRequests(broker);
                    assertTrue(broker.records(t, 0).size() > base, how + ": the full batches were sent");
                    CompletableFuture<RecordMetadata> last = fs.get(fs.size() - 1);
                    // The first record's batch completed, but its group (all 25 records) has not: the
                    // wait returns without the last batch going out.
                    assertEquals(base, fs.get(0).get(DEADLINE_SECONDS, TimeUnit.SECONDS).offset(), how);
                    assertFalse(last.isDone(), how + ": the last batch lingers");
                    assertEquals(requests, produceRequests(broker), how);
                    // Waiting on the last record sends its batch.
                    assertEquals(base + 24, last.get(DEADLINE_SECONDS, TimeUnit.SECONDS).offset(), how);
                    assertEquals(requests + 1, produceRequests(broker), how);
                    for (int i = 0; i < fs.size(); i++) {
                        assertEquals(base + i, fs.get(i).join().offset(), how);
                    }
                }
                p.flush();
            }
            assertEquals(50, broker.records(t, 0).size());
        }
    }

    @Test
    void aWaitThatTimesOutLeavesTheSentBatchToComplete() throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            String t = topic("paused");
            broker.createTopic(t, 1);
            try (Producer p = Producer.connect(broker.endpoint(), t, FOREVER_LINGER)) {
                broker.pause();
                CompletableFuture<RecordMetadata> f = p.send(b("k"), b("v"));
                assertThrows(TimeoutException.class, () -> f.get(50, TimeUnit.MILLISECONDS));
                broker.resume();
                assertEquals(0, f.get(DEADLINE_SECONDS, TimeUnit.SECONDS).offset());
                assertEquals(1, produceRequests(broker), "the timed-out wait neither resent nor dropped it");
            }
        }
    }
}
