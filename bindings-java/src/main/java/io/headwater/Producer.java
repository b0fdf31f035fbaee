package io.headwater;

import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A producer for one topic. Thread-safe: any number of threads may send at once.
 *
 * <p>{@link #send} returns at once (it blocks only while the partition's queue is full, for at most
 * {@code sendTimeoutMs}); the future completes on a library thread when the broker acknowledges the
 * record's batch, or exceptionally with {@link HeadwaterException}. Dependent stages you attach without
 * {@code *Async} run on that library thread: keep them short. Errors known at once (closed producer,
 * record too large, queue full, partition out of range, a wrong argument) are thrown by {@code send} itself
 * and are not reported again by {@link #flush()}.
 *
 * <p>Records are batched per partition; a batch goes out when it is full or {@code lingerMs} after it
 * opened. Waiting on a send's future ({@code get()}, {@code get(timeout, unit)}, {@code join()}, also
 * through a stage derived from it such as {@code thenApply(...).join()}) sends the record's batch at once
 * if it is still open, so {@code p.send(k, v).get()} in a loop does not wait out the linger for every
 * record. Sends nobody waits on still linger and batch, and waiting on many futures after sending them
 * all sends the batch holding them once. {@code CompletableFuture.allOf(...)} builds a plain future that
 * does not do this: its wait lasts until the batches go out by themselves (or {@link #flush()}).
 *
 * <p>{@link #close()} flushes and stops; it is idempotent. The JVM exits normally afterwards. The
 * overloads of {@code flush} and {@code close} without a {@link Duration} wait as long as it takes;
 * {@code Duration.ZERO} does not wait; a negative {@code Duration} is {@code INVALID_ARGUMENT}. Called from
 * a dependent stage of a send's future (on the library thread completing it) they are
 * {@code INVALID_ARGUMENT}: they would wait for that very completion.
 */
public final class Producer implements AutoCloseable {
    /** Futures per slot array (see {@link #send(byte[], byte[], long, long)}). */
    private static final int SLOTS = 4096;

    private final long handle;
    private final String topic;
    /** What every future of this producer reaches it through (one per producer, not per future). */
    private final WeakReference<Producer> self;
    private final Object slotLock = new Object();
    /** The array new sends put their futures in, how many of its slots are taken, and its id. */
    private Object[] slots;
    private int used;
    private long slotsId;

    private Producer(long handle, String topic) {
        this.handle = handle;
        this.topic = topic;
        this.self = new WeakReference<>(this);
        Native.CLEANER.register(this, new Free(handle));
    }

    /** Frees the native producer once the Java one is unreachable (no call can be using it then). */
    private static final class Free implements Runnable {
        private final long handle;

        Free(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.producerFree(handle);
        }
    }

    /**
     * Connects with the default configuration.
     *
     * @param endpoint the SC's {@code host:port}
     * @param topic    the topic to produce to
     * @return the connected producer
     * @throws HeadwaterException e.g. {@code TRANSPORT} (no connection), {@code UNKNOWN_TOPIC}, {@code TIMEOUT}
     */
    public static Producer connect(String endpoint, String topic) {
        return connect(endpoint, topic, null);
    }

    /**
     * Connects to the SC at {@code endpoint}, waits for {@code topic}'s metadata (up to
     * {@code metadataTimeoutMs}) and starts the background sender.
     *
     * @param endpoint the SC's {@code host:port}
     * @param topic    the topic to produce to
     * @param config   the configuration; null means the defaults
     * @return the connected producer
     * @throws HeadwaterException e.g. {@code TRANSPORT} (no connection), {@code UNKNOWN_TOPIC}, {@code TIMEOUT}
     */
    public static Producer connect(String endpoint, String topic, ProducerConfig config) {
        Native.notNull(endpoint, "endpoint");
        Native.notNull(topic, "topic");
        String[][] kv = (config == null ? ProducerConfig.defaults() : config).pairs();
        Native.ensureLoaded();
        long h = Native.producerConnect(endpoint, topic, kv[0], kv[1]);
        return new Producer(h, topic);
    }

    /**
     * The topic this producer sends to.
     *
     * @return the topic's name
     */
    public String topic() {
        return topic;
    }

    /**
     * The topic's partition count, as the producer knows it.
     *
     * @return the partition count
     */
    public int partitionCount() {
        try {
            return Native.producerPartitionCount(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The codec batches are compressed with (the config's, or the topic's policy).
     *
     * @return the codec
     */
    public Compression compression() {
        try {
            return Compression.fromId(Native.producerCompression(handle));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        try {
            return Native.producerIsClosed(handle);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Sends a record. Waiting on the returned future sends the record's batch at once (see the class
     * documentation).
     *
     * @param key   the key, or null for no key (an empty array is a real, empty key)
     * @param value the value
     * @return completes with where the record landed, or exceptionally with {@link HeadwaterException}
     * @throws HeadwaterException errors known at once: {@code CLOSED}, {@code RECORD_TOO_LARGE},
     *                            {@code QUEUE_FULL}, {@code INVALID_ARGUMENT} (a null value)
     */
    public CompletableFuture<RecordMetadata> send(byte[] key, byte[] value) {
        return send(key, value, Native.NO_PARTITION, Native.NO_TIMESTAMP);
    }

    /**
     * Sends a record to an explicit partition (overrides the partitioner).
     *
     * @param partition the partition: negative is {@code INVALID_ARGUMENT}, at or past the topic's count
     *                  {@code UNKNOWN_PARTITION}
     * @param key       the key, or null for no key
     * @param value     the value
     * @return completes with where the record landed, or exceptionally with {@link HeadwaterException}
     * @throws HeadwaterException errors known at once, as for {@link #send(byte[], byte[])}
     */
    public CompletableFuture<RecordMetadata> sendTo(int partition, byte[] key, byte[] value) {
        return send(key, value, partition, Native.NO_TIMESTAMP);
    }

    /**
     * Sends a record with its partition and timestamp, if it has them.
     *
     * @param record the record
     * @return completes with where the record landed, or exceptionally with {@link HeadwaterException}
     * @throws HeadwaterException errors known at once, as for {@link #send(byte[], byte[])}
     */
    public CompletableFuture<RecordMetadata> send(ProducerRecord record) {
        Native.notNull(record, "record");
        return send(record.key, record.value, record.partition, record.timestamp);
    }

    private CompletableFuture<RecordMetadata> send(byte[] key, byte[] value, long partition, long timestamp) {
        Native.notNull(value, "value");
        ProduceFuture<RecordMetadata> f = new ProduceFuture<>(self, 0);
        // The future waits in a slot of a shared array; the native side completes a whole group of
        // slots with one call (see Native.completeAll), instead of one JNI round per record.
        Object[] slots;
        long id;
        int slot;
        synchronized (slotLock) {
            if (this.slots == null || used == SLOTS) {
                this.slots = new Object[SLOTS];
                used = 0;
                slotsId++;
            }
            slots = this.slots;
            id = slotsId;
            slot = used++;
        }
        slots[slot] = f;
        try {
            f.key = Native.producerSend(handle, key, value, partition, timestamp, slots, id, slot);
        } catch (RuntimeException | Error e) {
            slots[slot] = null;
            throw e;
        } finally {
            Reference.reachabilityFence(this);
        }
        return f;
    }

    /**
     * Sends many records in one native call. Sizes are checked first: if one record is too large, nothing
     * is sent. Waiting on one of the returned futures sends that record's batch at once, as for
     * {@link #send(byte[], byte[])}.
     *
     * @param records the records, in order
     * @return one future per record, in the same order
     * @throws HeadwaterException {@code RECORD_TOO_LARGE} (nothing sent), and the other errors known at once
     */
    public List<CompletableFuture<RecordMetadata>> sendAll(List<ProducerRecord> records) {
        Native.notNull(records, "records");
        int n = records.size();
        ProducerRecord[] rs = new ProducerRecord[n];
        long keyBytes = 0;
        long valueBytes = 0;
        int i = 0;
        for (ProducerRecord r : records) {
            if (i == n) {
                throw new ConcurrentModificationException("records changed size during sendAll");
            }
            rs[i] = Native.notNull(r, "records[" + i + "]");
            i++;
            keyBytes += r.key == null ? 0 : r.key.length;
            valueBytes += r.value.length;
        }
        if (i != n) {
            throw new ConcurrentModificationException("records changed size during sendAll");
        }
        long[] partitions = new long[n];
        long[] timestamps = new long[n];
        @SuppressWarnings({"unchecked", "rawtypes"})
        ProduceFuture<RecordMetadata>[] futures = new ProduceFuture[n];
        for (i = 0; i < n; i++) {
            partitions[i] = rs[i].partition;
            timestamps[i] = rs[i].timestamp;
            futures[i] = new ProduceFuture<>(self, 0);
        }
        long first;
        try {
            if (keyBytes <= MAX_PACKED && valueBytes <= MAX_PACKED) {
                // Keys and values packed into one array each: a few JNI calls per call, not per record.
                byte[] keys = new byte[(int) keyBytes];
                byte[] values = new byte[(int) valueBytes];
                int[] keyLengths = new int[n];
                int[] valueLengths = new int[n];
                int k = 0;
                int v = 0;
                for (i = 0; i < n; i++) {
                    byte[] key = rs[i].key;
                    if (key == null) {
                        keyLengths[i] = -1;
                    } else {
                        System.arraycopy(key, 0, keys, k, key.length);
                        k += key.length;
                        keyLengths[i] = key.length;
                    }
                    byte[] value = rs[i].value;
                    System.arraycopy(value, 0, values, v, value.length);
                    v += value.length;
                    valueLengths[i] = value.length;
                }
                first = Native.producerSendAllPacked(handle, keys, keyLengths, values, valueLengths, partitions,
                        timestamps, futures);
            } else {
                byte[][] keys = new byte[n][];
                byte[][] values = new byte[n][];
                for (i = 0; i < n; i++) {
                    keys[i] = rs[i].key;
                    values[i] = rs[i].value;
                }
                first = Native.producerSendAll(handle, keys, values, partitions, timestamps, futures);
            }
        } finally {
            Reference.reachabilityFence(this);
        }
        if (first != 0) {
            for (i = 0; i < n; i++) {
                futures[i].key = first + i;
            }
        }
        return Collections.unmodifiableList(Arrays.<CompletableFuture<RecordMetadata>>asList(futures));
    }

    /** A wait on the future of the record with {@code key} began: send its batch now if it is still open. */
    void sendNow(long key) {
        try {
            Native.producerSendNow(handle, key);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Largest total of key or value bytes {@link #sendAll} packs into one array. */
    private static final long MAX_PACKED = Integer.MAX_VALUE - 16;

    /**
     * Seals every open batch and waits until each record sent before it is acknowledged or failed, and
     * its future complete; throws the first delivery failure since the last flush (including failures of
     * sends nobody waited on). A send refused at once is not reported again.
     *
     * @throws HeadwaterException the first delivery failure since the last flush
     */
    public void flush() {
        try {
            Native.producerFlush(handle, true, 0);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@link #flush()} bounded by {@code timeout}.
     *
     * @param timeout the longest wait; {@code Duration.ZERO} seals and returns at once
     * @throws HeadwaterException {@code TIMEOUT} if records are still pending after it (nothing is dropped),
     *                            or the first delivery failure since the last flush
     */
    public void flush(Duration timeout) {
        long nanos = Native.nanos(timeout, "timeout");
        try {
            Native.producerFlush(handle, false, nanos);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Flushes, then stops the background sender; later sends fail with {@code CLOSED}. Idempotent. */
    @Override
    public void close() {
        try {
            Native.producerClose(handle, true, 0);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@link #close()} with its flush bounded by {@code timeout} (as {@link #flush(Duration)}).
     *
     * @param timeout the longest wait for the flush
     * @throws HeadwaterException {@code TIMEOUT} if records were still pending after it
     */
    public void close(Duration timeout) {
        long nanos = Native.nanos(timeout, "timeout");
        try {
            Native.producerClose(handle, false, nanos);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The producer's counters now.
     *
     * @return records sent, acknowledged and failed, bytes before and after compression, batches, requests,
     *         retries, errors, and what is queued
     */
    public ProducerStats stats() {
        try {
            return ProducerStats.fromArray(Native.producerStats(handle));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    @Override
    public String toString() {
        return "Producer{topic=" + topic + "}";
    }
}
