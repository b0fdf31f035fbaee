package io.headwater;

/** Producer counters; the same fields in every language ({@code tests/vectors/config.json}). */
public record ProducerStats(long recordsSent, long recordsAcked, long recordsFailed, long bytesUncompressed,
                            long bytesCompressed, long batchesSent, long requestsSent, long retries, long errors,
                            long queuedRecords, long queuedBatches) {
    static ProducerStats fromArray(long[] v) {
        return new ProducerStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
    }
}
