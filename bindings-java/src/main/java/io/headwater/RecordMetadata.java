package io.headwater;

/**
 * Where a record landed.
 *
 * @param topic     the topic the record was sent to
 * @param partition the partition it landed in
 * @param offset    its offset in that partition; -1 when unknown (at-most-once delivery)
 * @param timestamp milliseconds since the epoch, as stored in the batch
 */
public record RecordMetadata(String topic, int partition, long offset, long timestamp) {}
