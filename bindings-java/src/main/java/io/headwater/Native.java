package io.headwater;

import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** The native methods (implemented in bindings-java/src/*.rs) and what they share. */
final class Native {
    /** Chosen before {@code init} below, which may already log (a bad {@code headwater.log} value). */
    private static final LogBridge LOG = LogBridge.choose();

    /** Frees native objects once their Java owner is unreachable (its thread is a daemon). */
    static final Cleaner CLEANER = Cleaner.create();

    /** "No timestamp" for send (the record gets the current time). */
    static final long NO_TIMESTAMP = Long.MIN_VALUE;
    /** "No explicit partition" for send (the partitioner decides); an {@code int} partition never is. */
    static final long NO_PARTITION = Long.MIN_VALUE;

    static {
        NativeLoader.load();
        // Core reads HEADWATER_LOG; the property, when set, is parsed by core the same way.
        init(System.getProperty("headwater.log"));
    }

    private Native() {}

    /** Makes sure the library is loaded and initialised. */
    static void ensureLoaded() {
        // the static initialiser does the work
    }

    /** Called from native code (on any thread) for each core log event: level 1 = ERROR .. 5 = TRACE. */
    static void log(int level, String target, String message) {
        LOG.log(level, target, message);
    }

    /**
     * Called from native code (on a library thread) with a group of delivery results: completes
     * {@code futures[slots[i]]} (or {@code futures[i]} when {@code slots} is null) with its
     * {@link RecordMetadata}, or exceptionally with {@code errors[i]} when {@code errors} is non-null
     * and that element is set. With {@code clear}, a slot is cleared once its future is completed (slot
     * arrays are shared by many sends; a {@code sendAll} call's own array is left alone). One call per
     * group (or per batch of a group whose futures are waited on) keeps JNI work per record to none.
     */
    @SuppressWarnings("unchecked")
    static void completeAll(String topic, Object[] futures, int[] slots, boolean clear, int[] partitions,
                            long[] offsets, long[] timestamps, Throwable[] errors) {
        RuntimeException firstRuntime = null;
        Error firstError = null;
        for (int i = 0; i < partitions.length; i++) {
            CompletableFuture<RecordMetadata> f;
            if (slots == null) {
                f = (CompletableFuture<RecordMetadata>) futures[i];
            } else {
                f = (CompletableFuture<RecordMetadata>) futures[slots[i]];
                if (clear) {
                    futures[slots[i]] = null;
                }
            }
            Throwable e = errors == null ? null : errors[i];
            try {
                if (e == null) {
                    f.complete(new RecordMetadata(topic, partitions[i], offsets[i], timestamps[i]));
                } else {
                    f.completeExceptionally(e);
                }
            } catch (RuntimeException t) {
                // every future is completed even if a dependent stage throws; the first is reported
                if (firstRuntime == null) {
                    firstRuntime = t;
                }
            } catch (Error t) {
                if (firstError == null) {
                    firstError = t;
                }
            }
        }
        if (firstError != null) {
            throw firstError;
        }
        if (firstRuntime != null) {
            throw firstRuntime;
        }
    }

    /** {@code value}, or {@code INVALID_ARGUMENT} naming {@code name} if it is null. */
    static <T> T notNull(T value, String name) {
        if (value == null) {
            throw invalidArgument("`" + name + "` must not be null");
        }
        return value;
    }

    /**
     * A map of string options as parallel key and value arrays, for the native calls that take options.
     * A null map, key or value is {@code INVALID_ARGUMENT} naming {@code what} (and the key).
     */
    static String[][] pairs(Map<String, String> map, String what) {
        notNull(map, what);
        String[] k = new String[map.size()];
        String[] v = new String[map.size()];
        int i = 0;
        for (Map.Entry<String, String> e : map.entrySet()) {
            k[i] = notNull(e.getKey(), what + " key");
            v[i] = notNull(e.getValue(), e.getKey());
            i++;
        }
        return new String[][] {k, v};
    }

    /**
     * A wait's bound in nanoseconds for the native calls ({@code forever} false): null is
     * {@code INVALID_ARGUMENT}; a negative bound is passed on, for core to refuse as given; a bound
     * too long for a {@code long} of nanoseconds (292 years) is the longest one.
     */
    static long nanos(Duration d, String name) {
        notNull(d, name);
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }

    static native void init(String logLevel);
    static native String[] configKeys();
    static native String[] configResolve(String[] keys, String[] values);
    /** Core's {@code INVALID_ARGUMENT} error with this message (for checks made before a native call). */
    static native HeadwaterException invalidArgument(String message);
    /** Test hook: throws core's error of {@code code}. */
    static native void debugError(String code);
    /** Test hook: panics in native code (which becomes {@code INTERNAL}). */
    static native void debugPanic();

    static native long producerConnect(String endpoint, String topic, String[] keys, String[] values);
    /**
     * {@code futures[slot]} is the record's future; {@code futuresId} identifies the array. Returns the
     * record's key for {@link #producerSendNow} (never 0).
     */
    static native long producerSend(long handle, byte[] key, byte[] value, long partition, long timestamp,
                                    Object[] futures, long futuresId, int slot);
    /** Returns record 0's key for {@link #producerSendNow}; record {@code i}'s is that plus {@code i}. */
    static native long producerSendAll(long handle, byte[][] keys, byte[][] values, long[] partitions,
                                       long[] timestamps, Object[] futures);
    /**
     * {@code producerSendAll} with the keys and values packed: record {@code i}'s key is the next
     * {@code keyLengths[i]} bytes of {@code keys} (-1: no key, nothing taken), its value the next
     * {@code valueLengths[i]} bytes of {@code values}. Returns record 0's key, as {@code producerSendAll}.
     */
    static native long producerSendAllPacked(long handle, byte[] keys, int[] keyLengths, byte[] values,
                                             int[] valueLengths, long[] partitions, long[] timestamps,
                                             Object[] futures);
    /**
     * Someone waits on the future of the record with {@code key}: its batch is sealed and sent now if it
     * is still open (a batch already sealed, or a record already delivered, is left alone).
     */
    static native void producerSendNow(long handle, long key);
    /** {@code forever}: no bound; else at most {@code timeoutNanos} (0 = don't wait). */
    static native void producerFlush(long handle, boolean forever, long timeoutNanos);
    static native void producerClose(long handle, boolean forever, long timeoutNanos);
    static native int producerPartitionCount(long handle);
    /** The codec id ({@link Compression#id()}). */
    static native int producerCompression(long handle);
    static native boolean producerIsClosed(long handle);
    static native long[] producerStats(long handle);
    static native void producerFree(long handle);

    static native long brokerStart(int spus, String dataDir);
    static native long brokerStartWith(String[] keys, String[] values);
    static native String brokerEndpoint(long handle);
    static native void brokerCreateTopic(long handle, String name, String[] keys, String[] values);
    static native void brokerDeleteTopic(long handle, String name);
    static native String[] brokerTopics(long handle);
    static native StoredRecord[] brokerRecords(long handle, String topic, int partition, long fromOffset);
    static native StoredBatch[] brokerBatches(long handle, String topic, int partition);
    /** {log start offset, log end offset}. */
    static native long[] brokerOffsets(long handle, String topic, int partition);
    static native void brokerPause(long handle, boolean paused);
    static native void brokerFailNext(long handle, int apiKey, int count, int code);
    static native void brokerDropNext(long handle, int apiKey, int count);
    /** {@code nanos == 0} clears the delay. */
    static native void brokerDelay(long handle, int apiKey, long nanos);
    static native void brokerPauseSpu(long handle, int spuId, boolean paused);
    /** Stops the SPU ({@code stop} true) or starts it again. */
    static native void brokerStopSpu(long handle, int spuId, boolean stop);
    static native int[] brokerSpuIds(long handle);
    /** {@link BrokerStats}'s fields in declaration order. */
    static native long[] brokerStats(long handle);
    static native int brokerLeader(long handle, String topic, int partition);
    static native int[] brokerReplicas(long handle, String topic, int partition);
    static native long brokerHighWatermark(long handle, String topic, int partition);
    static native void brokerStop(long handle);
    static native void brokerFree(long handle);

    static native long adminConnect(String endpoint);
    static native long adminConnectWith(String endpoint, String[] keys, String[] values);
    static native void adminCreateTopic(long handle, String name, String[] keys, String[] values);
    static native void adminDeleteTopic(long handle, String name);
    static native TopicInfo[] adminListTopics(long handle);
    static native void adminFree(long handle);
}
