package io.headwater;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The embedded Fluvio-protocol broker (an SC and SPUs on loopback ports), for tests and demos. The
 * official Fluvio clients can connect to it too. {@link #close()} stops it (idempotent).
 *
 * <pre>{@code
 * try (TestBroker broker = TestBroker.start()) {
 *     broker.createTopic("events", 3);
 *     ... Producer.connect(broker.endpoint(), "events", config) ...
 *     List<StoredRecord> stored = broker.records("events", 0);
 * }
 * }</pre>
 */
public final class TestBroker implements AutoCloseable {
    /** Fluvio's SPU Produce API key, for {@link #failNext}, {@link #dropNext} and {@link #delay}. */
    public static final int API_PRODUCE = 0;

    private final long handle;

    private TestBroker(long handle) {
        this.handle = handle;
        Native.CLEANER.register(this, new Free(handle));
    }

    private static final class Free implements Runnable {
        private final long handle;

        Free(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.brokerFree(handle);
        }
    }

    /** One SPU, records in memory. */
    public static TestBroker start() {
        return start(1, null);
    }

    /** {@code spus} SPUs; with a {@code dataDir}, partition logs are segment files there. */
    public static TestBroker start(int spus, Path dataDir) {
        Native.ensureLoaded();
        return new TestBroker(Native.brokerStart(spus, dataDir == null ? null : dataDir.toString()));
    }

    /**
     * A broker from string options (camelCase or snake_case): {@code spus}, {@code dataDir}, {@code sync}
     * ({@code request}, {@code never} or an interval in milliseconds), and {@code tlsCert} + {@code tlsKey}
     * (PEM files; TLS on every listener) with optional {@code tlsClientCa} (client certificates signed by
     * it become mandatory). An unknown key or a bad value throws {@link HeadwaterException} with
     * {@link HeadwaterException.Code#CONFIG} naming the key as given.
     *
     * <pre>{@code
     * TestBroker.start(Map.of("tlsCert", "server.pem", "tlsKey", "server.key", "tlsClientCa", "ca.pem"));
     * }</pre>
     */
    public static TestBroker start(Map<String, String> options) {
        Objects.requireNonNull(options, "options must not be null");
        String[][] kv = Native.pairs(options, "broker option");
        Native.ensureLoaded();
        return new TestBroker(Native.brokerStartWith(kv[0], kv[1]));
    }

    /** The SC endpoint ({@code 127.0.0.1:PORT}) clients connect to. */
    public String endpoint() {
        try {
            return Native.brokerEndpoint(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void createTopic(String name, int partitions) {
        createTopic(name, partitions, null);
    }

    /** A topic that only accepts batches of {@code compression} (null = any codec). */
    public void createTopic(String name, int partitions, Compression compression) {
        Objects.requireNonNull(name, "topic must not be null");
        try {
            Native.brokerCreateTopic(handle, name, partitions, compression == null ? -1 : compression.id());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void deleteTopic(String name) {
        Objects.requireNonNull(name, "topic must not be null");
        try {
            Native.brokerDeleteTopic(handle, name);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Every record stored in a partition. */
    public List<StoredRecord> records(String topic, int partition) {
        return records(topic, partition, 0);
    }

    /** The records stored in a partition from {@code fromOffset} on. */
    public List<StoredRecord> records(String topic, int partition, long fromOffset) {
        Objects.requireNonNull(topic, "topic must not be null");
        try {
            return List.of(Native.brokerRecords(handle, topic, partition, fromOffset));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The stored batches of a partition (header facts: record count, codec, size). */
    public List<BatchInfo> batches(String topic, int partition) {
        Objects.requireNonNull(topic, "topic must not be null");
        try {
            return List.of(Native.brokerBatches(handle, topic, partition));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The broker's counters now: produce requests, appended batches/records/bytes, connections, ... (e.g.
     * how many produce requests a run of sends took).
     */
    public BrokerStats stats() {
        try {
            return BrokerStats.fromArray(Native.brokerStats(handle));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Holds every produce request until {@link #resume()} (for back-pressure tests). */
    public void pause() {
        try {
            Native.brokerPause(handle, true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void resume() {
        try {
            Native.brokerPause(handle, false);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Fault injection: the next {@code count} requests of {@code apiKey} on any SPU fail with Fluvio error
     * {@code code} (e.g. 6 NotLeaderForPartition, 56 StorageError). A count of 0 clears it.
     */
    public void failNext(int apiKey, int count, int code) {
        checkApiKey(apiKey);
        checkCount(count);
        if (code < Short.MIN_VALUE || code > Short.MAX_VALUE) {
            throw new IllegalArgumentException("code must fit a Fluvio error code (16 bits), got " + code);
        }
        try {
            Native.brokerFailNext(handle, apiKey, count, code);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Fault injection: the next {@code count} requests of {@code apiKey} close their connection unanswered. */
    public void dropNext(int apiKey, int count) {
        checkApiKey(apiKey);
        checkCount(count);
        try {
            Native.brokerDropNext(handle, apiKey, count);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Fault injection: every request of {@code apiKey} waits {@code delay} before it is served; null or zero clears. */
    public void delay(int apiKey, Duration delay) {
        checkApiKey(apiKey);
        long nanos = 0;
        if (delay != null) {
            if (delay.isNegative()) {
                throw new IllegalArgumentException("delay must not be negative, got " + delay);
            }
            try {
                nanos = delay.toNanos();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("delay is too long: " + delay, e);
            }
        }
        try {
            Native.brokerDelay(handle, apiKey, nanos);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The ids of the SPUs (5001, 5002, ...), in order. */
    public List<Integer> spuIds() {
        try {
            return Arrays.stream(Native.brokerSpuIds(handle)).boxed().collect(Collectors.toUnmodifiableList());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The SPU that currently leads a partition. */
    public int leader(String topic, int partition) {
        Objects.requireNonNull(topic, "topic must not be null");
        if (partition < 0) {
            throw new IllegalArgumentException("partition must be >= 0, got " + partition);
        }
        try {
            return Native.brokerLeader(handle, topic, partition);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Holds every produce request on SPU {@code spuId} until {@link #resumeSpu}. */
    public void pauseSpu(int spuId) {
        try {
            Native.brokerPauseSpu(handle, spuId, true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void resumeSpu(int spuId) {
        try {
            Native.brokerPauseSpu(handle, spuId, false);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Stops SPU {@code spuId}: closes its listener and connections. Partitions it led move to an in-sync
     * follower on a running SPU; without one they wait offline until {@link #startSpu}.
     */
    public void stopSpu(int spuId) {
        try {
            Native.brokerStopSpu(handle, spuId, true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Starts a stopped SPU again on the same port. */
    public void startSpu(int spuId) {
        try {
            Native.brokerStopSpu(handle, spuId, false);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    private static void checkApiKey(int apiKey) {
        if (apiKey < 0 || apiKey > 0xFFFF) {
            throw new IllegalArgumentException("apiKey must be 0..65535, got " + apiKey);
        }
    }

    private static void checkCount(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0, got " + count);
        }
    }

    /** Stops every listener and connection. Idempotent. */
    @Override
    public void close() {
        try {
            Native.brokerStop(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }
}
