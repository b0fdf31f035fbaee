package io.headwater;

/**
 * A topic as {@link Admin#listTopics()} reports it.
 *
 * @param name          the topic's name
 * @param partitions    its partition count
 * @param replication   its replication factor
 * @param compression   its compression policy ({@code any}, {@code none}, {@code gzip}, ...)
 * @param retentionSecs its retention in seconds; null when the topic has no retention policy
 * @param status        the cluster's word for its state (e.g. {@code Provisioned})
 */
public record TopicInfo(String name, int partitions, int replication, String compression, Long retentionSecs,
                        String status) {
    /** Called from native code: {@code retentionSecs} -1 = none. */
    TopicInfo(String name, int partitions, int replication, String compression, long retentionSecs,
              String status) {
        this(name, partitions, replication, compression, retentionSecs < 0 ? null : Long.valueOf(retentionSecs),
                status);
    }
}
