package io.headwater;

/**
 * A record as the broker stores it ({@link TestBroker#records}).
 *
 * @param offset          the record's offset in its partition
 * @param key             the key; null for no key
 * @param value           the value
 * @param timestamp       milliseconds since the epoch
 * @param compression     the codec of the batch that carried it
 * @param batchBaseOffset the base offset of the batch that carried it (records of one batch share it)
 */
public record StoredRecord(long offset, byte[] key, byte[] value, long timestamp, Compression compression,
                           long batchBaseOffset) {
    /** Called from native code. */
    StoredRecord(long offset, byte[] key, byte[] value, long timestamp, int codec, long batchBaseOffset) {
        this(offset, key, value, timestamp, Compression.fromId(codec), batchBaseOffset);
    }
}
