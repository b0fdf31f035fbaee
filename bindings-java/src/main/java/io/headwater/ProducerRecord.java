package io.headwater;

import java.util.Objects;

/**
 * A record for {@link Producer#sendAll}: optional key (null = no key), value, and optionally an explicit
 * partition and a timestamp (milliseconds since the epoch).
 */
public final class ProducerRecord {
    final byte[] key;
    final byte[] value;
    final int partition;
    final long timestamp;

    private ProducerRecord(byte[] key, byte[] value, int partition, long timestamp) {
        this.key = key;
        this.value = Objects.requireNonNull(value, "value must not be null (use an empty array for an empty value)");
        this.partition = partition;
        this.timestamp = timestamp;
    }

    public static ProducerRecord of(byte[] key, byte[] value) {
        return new ProducerRecord(key, value, -1, Native.NO_TIMESTAMP);
    }

    /** The same record sent to {@code partition} (overrides the partitioner). */
    public ProducerRecord partition(int partition) {
        if (partition < 0) {
            throw new IllegalArgumentException("partition must be >= 0, got " + partition);
        }
        return new ProducerRecord(key, value, partition, timestamp);
    }

    /** The same record with this timestamp (milliseconds since the epoch; default now). */
    public ProducerRecord timestamp(long timestampMs) {
        return new ProducerRecord(key, value, partition, timestampMs);
    }
}
