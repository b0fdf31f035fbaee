package io.headwater;

import java.lang.ref.Reference;
import java.util.List;
import java.util.Map;
import java.util.Objects;

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

    public static Admin connect(String endpoint) {
        Objects.requireNonNull(endpoint, "endpoint must not be null");
        Native.ensureLoaded();
        return new Admin(Native.adminConnect(endpoint));
    }

    /**
     * Connects with TLS options, the producer's TLS keys (camelCase or snake_case): {@code tls},
     * {@code tlsCaFile}, {@code tlsCertFile} + {@code tlsKeyFile} (mutual TLS), {@code tlsServerName}.
     * An unknown key, a bad value or a missing file throws {@link HeadwaterException} with
     * {@link HeadwaterException.Code#CONFIG} naming the key; a failed handshake is
     * {@link HeadwaterException.Code#TRANSPORT}.
     *
     * <pre>{@code
     * Admin.connect(endpoint, Map.of("tlsCaFile", "ca.pem", "tlsCertFile", "client.pem", "tlsKeyFile", "client.key"));
     * }</pre>
     */
    public static Admin connect(String endpoint, Map<String, String> tlsOptions) {
        Objects.requireNonNull(endpoint, "endpoint must not be null");
        Objects.requireNonNull(tlsOptions, "tlsOptions must not be null");
        String[][] kv = Native.pairs(tlsOptions, "TLS option");
        Native.ensureLoaded();
        return new Admin(Native.adminConnectWith(endpoint, kv[0], kv[1]));
    }

    public void createTopic(String name, int partitions) {
        Objects.requireNonNull(name, "topic must not be null");
        try {
            Native.adminCreateTopic(handle, name, partitions);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    public void deleteTopic(String name) {
        Objects.requireNonNull(name, "topic must not be null");
        try {
            Native.adminDeleteTopic(handle, name);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

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
