package io.headwater;

/**
 * Producer counters ({@link Producer#stats()}); the same fields in every language
 * ({@code tests/vectors/config.json}).
 *
 * @param recordsSent       records accepted by {@code send}/{@code sendAll}
 * @param recordsAcked      records the broker acknowledged
 * @param recordsFailed     records whose delivery failed for good
 * @param bytesUncompressed record bytes before compression
 * @param bytesCompressed   batch bytes after compression
 * @param batchesSent       batches sent
 * @param requestsSent      produce requests sent
 * @param retries           produce attempts that were retried
 * @param errors            batches that failed for good (their records are in {@code recordsFailed})
 * @param queuedRecords     records waiting to be sent or acknowledged now
 * @param queuedBatches     batches waiting to be sent or acknowledged now
 */
public record ProducerStats(long recordsSent, long recordsAcked, long recordsFailed, long bytesUncompressed,
                            long bytesCompressed, long batchesSent, long requestsSent, long retries, long errors,
                            long queuedRecords, long queuedBatches) {
    static ProducerStats fromArray(long[] v) {
        return new ProducerStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
    }
}
