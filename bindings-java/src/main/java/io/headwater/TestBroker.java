package io.headwater;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

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
    /** Fluvio's SPU Produce API key, for {@link #failNext}. */
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

    /** Fault injection: the next {@code count} requests of {@code apiKey} fail with Fluvio error {@code code}. */
    public void failNext(int apiKey, int count, int code) {
        try {
            Native.brokerFailNext(handle, apiKey, count, code);
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
