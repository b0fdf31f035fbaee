package io.headwater;

/**
 * A topic as {@link Admin#listTopics()} reports it; {@code retentionSecs} is null when the topic has no
 * retention policy.
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
