package io.headwater;

/**
 * A stored batch's header facts ({@link TestBroker#batches}).
 *
 * @param baseOffset     the offset of the batch's first record
 * @param recordCount    how many records the batch holds
 * @param compression    the codec the batch was compressed with
 * @param sizeBytes      the batch's size as stored, in bytes
 * @param firstTimestamp the batch's first timestamp, milliseconds since the epoch
 */
public record StoredBatch(long baseOffset, long recordCount, Compression compression, long sizeBytes,
                          long firstTimestamp) {
    /** Called from native code. */
    StoredBatch(long baseOffset, long recordCount, int codec, long sizeBytes, long firstTimestamp) {
        this(baseOffset, recordCount, Compression.fromId(codec), sizeBytes, firstTimestamp);
    }
}
