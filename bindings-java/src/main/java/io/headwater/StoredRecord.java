package io.headwater;

/**
 * A record as the broker stores it ({@link TestBroker#records}); {@code key} is null for no key,
 * {@code batchBaseOffset} the base offset of the batch that carried it (records of one batch share it).
 */
public record StoredRecord(long offset, byte[] key, byte[] value, long timestamp, Compression compression,
                           long batchBaseOffset) {
    /** Called from native code. */
    StoredRecord(long offset, byte[] key, byte[] value, long timestamp, int codec, long batchBaseOffset) {
        this(offset, key, value, timestamp, Compression.fromId(codec), batchBaseOffset);
    }
}
