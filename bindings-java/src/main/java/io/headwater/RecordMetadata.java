package io.headwater;

/**
 * Where a record landed. {@code offset} is -1 when unknown (at-most-once delivery); {@code timestamp}
 * is milliseconds since the epoch, as stored in the batch.
 */
public record RecordMetadata(String topic, int partition, long offset, long timestamp) {}
