package io.headwater;

/** A topic as {@link Admin#listTopics()} reports it. */
public record TopicInfo(String name, int partitions, int replication, String compression, String status) {}
