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

    /**
     * Starts a broker with one SPU, records in memory.
     *
     * @return the running broker
     */
    public static TestBroker start() {
        return start(1, null);
    }

    /**
     * Starts a broker with {@code spus} SPUs. The same options as {@link #start(Map)}.
     *
     * @param spus    the SPU count, 1 to 1024 (else {@code CONFIG})
     * @param dataDir where partition logs are kept as segment files; null keeps them in memory
     * @return the running broker
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
     *
     * @param options the options, values as text
     * @return the running broker
     */
    public static TestBroker start(Map<String, String> options) {
        String[][] kv = Native.pairs(options, "options");
        Native.ensureLoaded();
        return new TestBroker(Native.brokerStartWith(kv[0], kv[1]));
    }

    /**
     * The SC endpoint clients connect to.
     *
     * @return {@code 127.0.0.1:PORT}
     */
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
     *
     * @param name    the topic's name
     * @param options the topic's options, values as text
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

    /**
     * Creates a topic that accepts any codec.
     *
     * @param name       the topic's name
     * @param partitions its partition count
     */
    public void createTopic(String name, int partitions) {
        createTopic(name, partitions, null);
    }

    /**
     * Creates a topic that only accepts batches of {@code compression}.
     *
     * @param name        the topic's name
     * @param partitions  its partition count
     * @param compression the one codec it accepts; null for any codec
     */
    public void createTopic(String name, int partitions, Compression compression) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put("partitions", Integer.toString(partitions));
        if (compression != null) {
            options.put("compression", compression.configName());
        }
        createTopic(name, options);
    }

    /**
     * Deletes a topic and its records.
     *
     * @param name the topic's name
     */
    public void deleteTopic(String name) {
        Native.notNull(name, "topic");
        try {
            Native.brokerDeleteTopic(handle, name);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The topics (system topics left out).
     *
     * @return their names
     */
    public List<String> topics() {
        try {
            return List.of(Native.brokerTopics(handle));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Every record stored in a partition.
     *
     * @param topic     the topic
     * @param partition the partition
     * @return the records, in offset order
     */
    public List<StoredRecord> records(String topic, int partition) {
        return records(topic, partition, 0);
    }

    /**
     * The records stored in a partition from {@code fromOffset} on.
     *
     * @param topic      the topic
     * @param partition  the partition
     * @param fromOffset the first offset wanted
     * @return the records, in offset order
     */
    public List<StoredRecord> records(String topic, int partition, long fromOffset) {
        Native.notNull(topic, "topic");
        try {
            return List.of(Native.brokerRecords(handle, topic, partition, fromOffset));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The stored batches of a partition (header facts: record count, codec, size).
     *
     * @param topic     the topic
     * @param partition the partition
     * @return the batches, in offset order
     */
    public List<StoredBatch> batches(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return List.of(Native.brokerBatches(handle, topic, partition));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A partition's log start and log end offsets.
     *
     * @param topic     the topic
     * @param partition the partition
     * @return {@code {start, end}}
     */
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
     *
     * @return a snapshot of the counters
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

    /** Lets the produce requests held by {@link #pause()} through, and new ones. */
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
     *
     * @param apiKey the Fluvio API key, e.g. {@link #API_PRODUCE}
     * @param count  how many requests
     * @param code   the Fluvio error code to answer with
     */
    public void failNext(int apiKey, int count, int code) {
        try {
            Native.brokerFailNext(handle, apiKey, count, code);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Fault injection: the next {@code count} requests of {@code apiKey} close their connection unanswered.
     *
     * @param apiKey the Fluvio API key, e.g. {@link #API_PRODUCE}
     * @param count  how many requests
     */
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
     *
     * @param apiKey the Fluvio API key, e.g. {@link #API_PRODUCE}
     * @param delay  how long each such request waits
     */
    public void delay(int apiKey, Duration delay) {
        long nanos = delay == null ? 0 : Native.nanos(delay, "delay");
        try {
            Native.brokerDelay(handle, apiKey, nanos);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The ids of the SPUs, in order.
     *
     * @return 5001, 5002, ...
     */
    public List<Integer> spuIds() {
        try {
            return Arrays.stream(Native.brokerSpuIds(handle)).boxed().collect(Collectors.toUnmodifiableList());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The SPU that currently leads a partition.
     *
     * @param topic     the topic
     * @param partition the partition
     * @return the SPU's id
     */
    public int leader(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Native.brokerLeader(handle, topic, partition);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The SPUs holding a partition's replicas.
     *
     * @param topic     the topic
     * @param partition the partition
     * @return their ids (the leader first at creation)
     */
    public List<Integer> replicas(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Arrays.stream(Native.brokerReplicas(handle, topic, partition)).boxed()
                    .collect(Collectors.toUnmodifiableList());
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A partition's high watermark.
     *
     * @param topic     the topic
     * @param partition the partition
     * @return the offset below which every in-sync replica has the records
     */
    public long highWatermark(String topic, int partition) {
        Native.notNull(topic, "topic");
        try {
            return Native.brokerHighWatermark(handle, topic, partition);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Holds every produce request on SPU {@code spuId} until {@link #resumeSpu}.
     *
     * @param spuId the SPU's id
     */
    public void pauseSpu(int spuId) {
        try {
            Native.brokerPauseSpu(handle, spuId, true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Lets the produce requests held by {@link #pauseSpu} through, and new ones.
     *
     * @param spuId the SPU's id
     */
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
     *
     * @param spuId the SPU's id
     */
    public void stopSpu(int spuId) {
        try {
            Native.brokerStopSpu(handle, spuId, true);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Starts a stopped SPU again on the same port.
     *
     * @param spuId the SPU's id
     */
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
