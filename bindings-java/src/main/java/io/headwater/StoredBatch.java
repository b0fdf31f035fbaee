package io.headwater;

/** A stored batch's header facts ({@link TestBroker#batches}). */
public record StoredBatch(long baseOffset, long recordCount, Compression compression, long sizeBytes,
                          long firstTimestamp) {
    /** Called from native code. */
    StoredBatch(long baseOffset, long recordCount, int codec, long sizeBytes, long firstTimestamp) {
        this(baseOffset, recordCount, Compression.fromId(codec), sizeBytes, firstTimestamp);
    }
}
