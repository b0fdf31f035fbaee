package io.headwater;

/**
 * A snapshot of the embedded broker's counters ({@link TestBroker#stats()}); the same fields as Node's and
 * Python's broker stats.
 *
 * @param produceRequests  produce requests received by the SPUs (one per request, however many batches it
 *                         carried)
 * @param batchesAppended  batches appended to partition logs
 * @param recordsAppended  records appended to partition logs
 * @param bytesAppended    bytes appended to partition logs
 * @param fsyncs           fsyncs of segment files (0 in memory)
 * @param segmentsDeleted  segments deleted by retention
 * @param truncatedBytes   bytes of torn or unreachable segment data dropped when a log was recovered
 * @param connections      client connections open now
 * @param connectionsTotal client connections accepted so far
 * @param rejectedFrames   request frames refused (too large, undecodable)
 * @param fetchResponses   fetch responses sent
 */
public record BrokerStats(long produceRequests, long batchesAppended, long recordsAppended, long bytesAppended,
                          long fsyncs, long segmentsDeleted, long truncatedBytes, long connections,
                          long connectionsTotal, long rejectedFrames, long fetchResponses) {
    static BrokerStats fromArray(long[] v) {
        return new BrokerStats(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
    }
}
