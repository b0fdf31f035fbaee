package io.headwater;

import java.lang.ref.Reference;
import java.util.List;
import java.util.Map;

/** Topic administration over the network (shares the SC connection with producers of the same endpoint). */
public final class Admin implements AutoCloseable {
    private final long handle;

    private Admin(long handle) {
        this.handle = handle;
        Native.CLEANER.register(this, new Free(handle));
    }

    private static final class Free implements Runnable {
        private final long handle;

        Free(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            Native.adminFree(handle);
        }
    }

    /**
     * Connects to the SC at {@code endpoint} without TLS.
     *
     * @param endpoint the SC's {@code host:port}
     * @return the admin client
     * @throws HeadwaterException {@code TRANSPORT} when no connection can be made
     */
    public static Admin connect(String endpoint) {
        Native.notNull(endpoint, "endpoint");
        Native.ensureLoaded();
        return new Admin(Native.adminConnect(endpoint));
    }

    /**
     * Connects with TLS options, the producer's TLS keys (camelCase or snake_case): {@code tls},
     * {@code tlsCaFile}, {@code tlsCertFile} + {@code tlsKeyFile} (mutual TLS), {@code tlsServerName}.
     * An unknown key, a bad value or a missing file throws {@link HeadwaterException} with code
     * {@code CONFIG} naming the key; a failed handshake is {@code TRANSPORT}.
     *
     * <pre>{@code
     * Admin.connect(endpoint, Map.of("tlsCaFile", "ca.pem", "tlsCertFile", "client.pem", "tlsKeyFile", "client.key"));
     * }</pre>
     *
     * @param endpoint   the SC's {@code host:port}
     * @param tlsOptions the TLS keys and their values
     * @return the admin client
     */
    public static Admin connect(String endpoint, Map<String, String> tlsOptions) {
        Native.notNull(endpoint, "endpoint");
        String[][] kv = Native.pairs(tlsOptions, "tlsOptions");
        Native.ensureLoaded();
        return new Admin(Native.adminConnectWith(endpoint, kv[0], kv[1]));
    }

    /**
     * Creates a topic from options (camelCase or snake_case, parsed by core): {@code partitions} (default
     * 1), {@code replication} (default 1), {@code compression} ({@code any}, {@code none}, {@code gzip},
     * {@code snappy}, {@code lz4}, {@code zstd}), {@code retentionSecs}, {@code segmentSize},
     * {@code maxPartitionSize}. A bad option is {@code INVALID_ARGUMENT} naming it; the cluster's refusal
     * is {@code BROKER} with the Fluvio code (2002: the topic exists).
     *
     * <pre>{@code
     * admin.createTopic("events", Map.of("partitions", "3", "replication", "2", "retentionSecs", "3600"));
     * }</pre>
     *
     * @param name    the topic's name
     * @param options the topic's options, values as text
     */
    public void createTopic(String name, Map<String, String> options) {
        Native.notNull(name, "topic");
        String[][] kv = Native.pairs(options, "options");
        try {
            Native.adminCreateTopic(handle, name, kv[0], kv[1]);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@link #createTopic(String, Map)} with only a partition count.
     *
     * @param name       the topic's name
     * @param partitions its partition count
     */
    public void createTopic(String name, int partitions) {
        createTopic(name, Map.of("partitions", Integer.toString(partitions)));
    }

    /**
     * Deletes a topic.
     *
     * @param name the topic's name
     * @throws HeadwaterException {@code BROKER} with the Fluvio code when the cluster refuses (no such topic)
     */
    public void deleteTopic(String name) {
        Native.notNull(name, "topic");
        try {
            Native.adminDeleteTopic(handle, name);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The cluster's topics.
     *
     * @return one {@link TopicInfo} per topic
     */
    public List<TopicInfo> listTopics() {
        try {
            return List.of(Native.adminListTopics(handle));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** Nothing to flush; the native admin is released when this object is unreachable. */
    @Override
    public void close() {
        // no state to tear down: the shared SC connection belongs to every client of the endpoint
    }
}
