package io.headwater;

/**
 * A record for {@link Producer#send(ProducerRecord)} and {@link Producer#sendAll}: optional key (null = no
 * key), value, and optionally an explicit partition and a timestamp (milliseconds since the epoch).
 * A null value is {@code INVALID_ARGUMENT}; so is a negative partition, when the record is sent.
 */
public final class ProducerRecord {
    final byte[] key;
    final byte[] value;
    /** {@link Native#NO_PARTITION} or the partition as given (core checks it at send). */
    final long partition;
    final long timestamp;

    private ProducerRecord(byte[] key, byte[] value, long partition, long timestamp) {
        this.key = key;
        this.value = Native.notNull(value, "value");
        this.partition = partition;
        this.timestamp = timestamp;
    }

    /**
     * A record without explicit partition or timestamp.
     *
     * @param key   the key, or null for no key (an empty array is a real, empty key)
     * @param value the value; null is {@code INVALID_ARGUMENT}
     * @return the record
     */
    public static ProducerRecord of(byte[] key, byte[] value) {
        return new ProducerRecord(key, value, Native.NO_PARTITION, Native.NO_TIMESTAMP);
    }

    /**
     * The same record sent to {@code partition} (overrides the partitioner).
     *
     * @param partition the partition; negative is {@code INVALID_ARGUMENT} when the record is sent
     * @return a new record
     */
    public ProducerRecord partition(int partition) {
        return new ProducerRecord(key, value, partition, timestamp);
    }

    /**
     * The same record with this timestamp (by default the time it is sent).
     *
     * @param timestampMs milliseconds since the epoch
     * @return a new record
     */
    public ProducerRecord timestamp(long timestampMs) {
        return new ProducerRecord(key, value, partition, timestampMs);
    }
}
