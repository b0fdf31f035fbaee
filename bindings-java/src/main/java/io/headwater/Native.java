package io.headwater;

import java.lang.ref.Cleaner;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/** The native methods (implemented in bindings-java/src/*.rs) and what they share. */
final class Native {
    private static final System.Logger LOG = System.getLogger("headwater");

    /** Frees native objects once their Java owner is unreachable (its thread is a daemon). */
    static final Cleaner CLEANER = Cleaner.create();

    /** "No timestamp" for send (the record gets the current time). */
    static final long NO_TIMESTAMP = Long.MIN_VALUE;

    static {
        NativeLoader.load();
        init(logLevel());
    }

    private Native() {}

    /** Makes sure the library is loaded and initialised. */
    static void ensureLoaded() {
        // the static initialiser does the work
    }

    /**
     * The lowest level forwarded from core to {@code System.getLogger("headwater")}: system property
     * {@code headwater.log} or the {@code HEADWATER_LOG} variable (trace, debug, info, warn, error, off);
     * default info.
     */
    private static int logLevel() {
        String v = System.getProperty("headwater.log", System.getenv("HEADWATER_LOG"));
        if (v == null) {
            return 2;
        }
        switch (v.toLowerCase(Locale.ROOT)) {
            case "trace": return 0;
            case "debug": return 1;
            case "info": return 2;
            case "warn": case "warning": return 3;
            case "error": return 4;
            case "off": case "none": return -1;
            default: return 3;
        }
    }

    /** Called from native code (on any thread) for each core log event. */
    static void log(int level, String target, String message) {
        System.Logger.Level l;
        switch (level) {
            case 0: l = System.Logger.Level.TRACE; break;
            case 1: l = System.Logger.Level.DEBUG; break;
            case 2: l = System.Logger.Level.INFO; break;
            case 3: l = System.Logger.Level.WARNING; break;
            default: l = System.Logger.Level.ERROR; break;
        }
        if (LOG.isLoggable(l)) {
            LOG.log(l, "[" + target + "] " + message);
        }
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

    /**
     * A map of string options as parallel key and value arrays, for the native calls that take options.
     * Null keys or values throw {@link NullPointerException} naming {@code what}.
     */
    static String[][] pairs(Map<String, String> map, String what) {
        String[] k = new String[map.size()];
        String[] v = new String[map.size()];
        int i = 0;
        for (Map.Entry<String, String> e : map.entrySet()) {
            k[i] = Objects.requireNonNull(e.getKey(), what + " key must not be null");
            v[i] = Objects.requireNonNull(e.getValue(), what + " value for " + e.getKey() + " must not be null");
            i++;
        }
        return new String[][] {k, v};
    }

    static native void init(int logLevel);
    static native String[] configKeys();
    static native String[] configResolve(String[] keys, String[] values);
    static native void panicForTest();

    static native long producerConnect(String endpoint, String topic, String[] keys, String[] values);
    /**
     * {@code futures[slot]} is the record's future; {@code futuresId} identifies the array. Returns the
     * record's key for {@link #producerSendNow} (never 0).
     */
    static native long producerSend(long handle, byte[] key, byte[] value, int partition, long timestamp,
                                    Object[] futures, long futuresId, int slot);
    /** Returns record 0's key for {@link #producerSendNow}; record {@code i}'s is that plus {@code i}. */
    static native long producerSendAll(long handle, byte[][] keys, byte[][] values, int[] partitions,
                                       long[] timestamps, Object[] futures);
    /**
     * {@code producerSendAll} with the keys and values packed: record {@code i}'s key is the next
     * {@code keyLengths[i]} bytes of {@code keys} (-1: no key, nothing taken), its value the next
     * {@code valueLengths[i]} bytes of {@code values}. Returns record 0's key, as {@code producerSendAll}.
     */
    static native long producerSendAllPacked(long handle, byte[] keys, int[] keyLengths, byte[] values,
                                             int[] valueLengths, int[] partitions, long[] timestamps,
                                             Object[] futures);
    /**
     * Someone waits on the future of the record with {@code key}: its batch is sealed and sent now if it
     * is still open (a batch already sealed, or a record already delivered, is left alone).
     */
    static native void producerSendNow(long handle, long key);
    static native void producerFlush(long handle, long timeoutMs);
    static native void producerClose(long handle, long timeoutMs);
    static native long[] producerStats(long handle);
    static native void producerFree(long handle);

    static native long brokerStart(int spus, String dataDir);
    static native long brokerStartWith(String[] keys, String[] values);
    static native String brokerEndpoint(long handle);
    static native void brokerCreateTopic(long handle, String name, int partitions, int codec);
    static native void brokerDeleteTopic(long handle, String name);
    static native StoredRecord[] brokerRecords(long handle, String topic, int partition, long fromOffset);
    static native BatchInfo[] brokerBatches(long handle, String topic, int partition);
    static native void brokerPause(long handle, boolean paused);
    static native void brokerFailNext(long handle, int apiKey, int count, int code);
    static native void brokerDropNext(long handle, int apiKey, int count);
    /** {@code nanos <= 0} clears the delay. */
    static native void brokerDelay(long handle, int apiKey, long nanos);
    static native void brokerPauseSpu(long handle, int spuId, boolean paused);
    /** Stops the SPU ({@code stop} true) or starts it again. */
    static native void brokerStopSpu(long handle, int spuId, boolean stop);
    static native int[] brokerSpuIds(long handle);
    /** {@link BrokerStats}'s fields in declaration order. */
    static native long[] brokerStats(long handle);
    static native int brokerLeader(long handle, String topic, int partition);
    static native void brokerStop(long handle);
    static native void brokerFree(long handle);

    static native long adminConnect(String endpoint);
    static native long adminConnectWith(String endpoint, String[] keys, String[] values);
    static native void adminCreateTopic(long handle, String name, int partitions);
    static native void adminDeleteTopic(long handle, String name);
    static native TopicInfo[] adminListTopics(long handle);
    static native void adminFree(long handle);
}
