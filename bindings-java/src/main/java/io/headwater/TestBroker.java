package io.headwater;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The embedded Fluvio-protocol broker (an SC and SPUs on loopback ports), for tests and demos. The
 * official Fluvio clients can connect to it too. {@link #close()} stops it (idempotent). A wrong argument
 * (null, a negative partition or count, an API key outside 0..65535) is {@code INVALID_ARGUMENT}.
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

    /**
     * {@code spus} SPUs; with a {@code dataDir}, partition logs are segment files there. The same options
     * as {@link #start(Map)} ({@code spus} outside 1..1024 is {@code CONFIG}).
     */
    public static TestBroker start(int spus, Path dataDir) {
        Native.ensureLoaded();
        return new TestBroker(Native.brokerStart(spus, dataDir == null ? null : dataDir.toString()));
    }

    /**
     * A broker from string options (camelCase or snake_case): {@code spus}, {@code dataDir}, {@code sync}
     * ({@code request}, {@code never} or an interval in milliseconds), and {@code tlsCert} + {@code tlsKey}
     * (PEM files; TLS on every listener) with optional {@code tlsClientCa} (client certificates signed by
     * it become mandatory). An unknown key or a bad value throws {@link HeadwaterException} with code
     * {@code CONFIG} naming the key as given.
     *
     * <pre>{@code
     * TestBroker.start(Map.of("tlsCert", "server.pem", "tlsKey", "server.key", "tlsClientCa", "ca.pem"));
     * }</pre>
     */
    public static TestBroker start(Map<String, String> options) {
        String[][] kv = Native.pairs(options, "options");
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

    /**
     * Creates a topic from options (camelCase or snake_case, parsed by core, the same as
     * {@link Admin#createTopic(String, Map)}): {@code partitions} (default 1), {@code replication}
     * (default 1), {@code compression} (the topic's policy: {@code any}, {@code none}, {@code gzip},
     * {@code snappy}, {@code lz4}, {@code zstd}), {@code retentionSecs}, {@code segmentSize},
     * {@code maxPartitionSize}. A bad option is {@code INVALID_ARGUMENT} naming it; an existing topic is
     * {@code BROKER} 2002.
     */
    public void createTopic(String name, Map<String, String> options) {
        Native.notNull(name, "topic");
        String[][] kv = Native.pairs(options, "options");
        try {
            Native.brokerCreateTopic(handle, name, kv[0], kv[1]);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void createTopic(String name, int partitions) {
        createTopic(name, partitions, null);
    }

    /** A topic that only accepts batches of {@code compression} (null = any codec). */
    public void createTopic(String name, int partitions, Compression compression) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("partitions", Integer.toString(partitions));
        if (compression != null) {
            options.put("compression", compression.configName());
        }
        createTopic(name, options);
    }

    public void deleteTopic(String name) {
        Native.notNull(name, "topic");
        try {
            Native.brokerDeleteTopic(handle, name);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The topics (system topics left out). */
    public List<String> topics() {
        try {
            return List.of(Native.brokerTopics(handle));
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
        Native.notNull(topic, "topic");
        try {
            return List.of(Native.brokerRecords(handle, topic, partition, fromOffset));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The stored batches of a partition (header facts: record count, codec, size). */
    public List<StoredBatch> batches(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return List.of(Native.brokerBatches(handle, topic, partition));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** A partition's log start and log end offsets: {@code {start, end}}. */
    public long[] offsets(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Native.brokerOffsets(handle, topic, partition);
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
        try {
            Native.brokerFailNext(handle, apiKey, count, code);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Fault injection: the next {@code count} requests of {@code apiKey} close their connection unanswered. */
    public void dropNext(int apiKey, int count) {
        try {
            Native.brokerDropNext(handle, apiKey, count);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Fault injection: every request of {@code apiKey} waits {@code delay} before it is served; null or zero
     * clears; a negative delay is {@code INVALID_ARGUMENT}.
     */
    public void delay(int apiKey, Duration delay) {
        long nanos = delay == null ? 0 : Native.nanos(delay, "delay");
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
        Native.notNull(topic, "topic");
        try {
            return Native.brokerLeader(handle, topic, partition);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The SPUs holding a partition's replicas (leader first at creation). */
    public List<Integer> replicas(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Arrays.stream(Native.brokerReplicas(handle, topic, partition)).boxed()
                    .collect(Collectors.toUnmodifiableList());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** A partition's high watermark: every in-sync replica has the records below it. */
    public long highWatermark(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Native.brokerHighWatermark(handle, topic, partition);
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
