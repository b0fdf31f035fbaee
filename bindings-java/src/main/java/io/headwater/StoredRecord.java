package io.headwater;

/** A record as the broker stores it ({@link TestBroker#records}); {@code key} is null for no key. */
public record StoredRecord(long offset, byte[] key, byte[] value, long timestamp, Compression compression) {
    /** Called from native code. */
    StoredRecord(long offset, byte[] key, byte[] value, long timestamp, int codec) {
        this(offset, key, value, timestamp, Compression.fromId(codec));
    }
}
