package io.headwater;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Producer configuration: string keys and values (camelCase or snake_case keys, the table in the top-level
 * README and tests/vectors/config.json), parsed by core's one parser. {@link Builder#build()} and {@link #fromMap} validate at once: an unknown
 * key or a bad value throws {@link HeadwaterException} with code {@code CONFIG}, naming the key; a null
 * key or value is {@code INVALID_ARGUMENT}.
 *
 * <pre>{@code
 * ProducerConfig cfg = ProducerConfig.builder().lingerMs(10).compression(Compression.LZ4).build();
 * ProducerConfig same = ProducerConfig.fromMap(Map.of("lingerMs", "10", "compression", "lz4"));
 * }</pre>
 */
public final class ProducerConfig {
    private static final ProducerConfig DEFAULTS = new ProducerConfig(Map.of());

    private final Map<String, String> values;

    private ProducerConfig(Map<String, String> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /**
     * The defaults (every key unset).
     *
     * @return the default config
     */
    public static ProducerConfig defaults() {
        return DEFAULTS;
    }

    /**
     * A builder with every key unset.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A config from string pairs, validated now.
     *
     * @param map keys (camelCase or snake_case) and their values as text
     * @return the config
     * @throws HeadwaterException {@code CONFIG} naming the first unknown key or bad value
     */
    public static ProducerConfig fromMap(Map<String, String> map) {
        ProducerConfig c = new ProducerConfig(Native.notNull(map, "config"));
        c.effective();
        return c;
    }

    /**
     * The keys and values as given.
     *
     * @return an unmodifiable map
     */
    public Map<String, String> toMap() {
        return values;
    }

    /**
     * The value core will use for every key, defaults included.
     *
     * @return an unmodifiable map of camelCase keys to values; a null value means unset, as
     *         {@code compression} is by default
     */
    public Map<String, String> effective() {
        String[][] kv = pairs();
        Native.ensureLoaded();
        String[] keys = Native.configKeys();
        String[] resolved = Native.configResolve(kv[0], kv[1]);
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i++) {
            out.put(camel(keys[i]), resolved[i]);
        }
        return Collections.unmodifiableMap(out);
    }

    String[][] pairs() {
        return Native.pairs(values, "config");
    }

    static String camel(String snake) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char c : snake.toCharArray()) {
            if (c == '_') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "ProducerConfig" + values;
    }

    /** Collects values as strings; {@link #build()} validates them in core. */
    public static final class Builder {
        private final Map<String, String> values = new LinkedHashMap<>();

        private Builder() {}

        /**
         * Any key (camelCase or snake_case) with its string value, e.g. the TLS keys.
         *
         * @param key   the key
         * @param value its value, as text
         * @return this builder
         */
        public Builder set(String key, String value) {
            values.put(Native.notNull(key, "key"), Native.notNull(value, key));
            return this;
        }

        /**
         * Seals a partition's batch when its estimated size reaches this (default 16384).
         *
         * @param bytes bytes
         * @return this builder
         */
        public Builder batchSize(long bytes) {
            return set("batchSize", Long.toString(bytes));
        }

        /**
         * Seals a batch this long after it opened (default 100).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder lingerMs(long ms) {
            return set("lingerMs", Long.toString(ms));
        }

        /**
         * The largest batch; a larger single record fails with {@code RECORD_TOO_LARGE} (default 1048576).
         *
         * @param bytes bytes
         * @return this builder
         */
        public Builder maxRequestSize(long bytes) {
            return set("maxRequestSize", Long.toString(bytes));
        }

        /**
         * The per-partition queue bound (default 100).
         *
         * @param batches batches
         * @return this builder
         */
        public Builder batchQueueSize(long batches) {
            return set("batchQueueSize", Long.toString(batches));
        }

        /**
         * How long {@code send} may wait on a full queue before {@code QUEUE_FULL} (default 30000).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder sendTimeoutMs(long ms) {
            return set("sendTimeoutMs", Long.toString(ms));
        }

        /**
         * The batch codec; unset, the topic's policy decides ({@code any} means none). The topic must allow it.
         *
         * @param c the codec
         * @return this builder
         */
        public Builder compression(Compression c) {
            return set("compression", Native.notNull(c, "compression").configName());
        }

        /**
         * Acks 1 ({@code read_uncommitted}, the default) or -1 ({@code read_committed}).
         *
         * @param isolation {@code read_uncommitted} or {@code read_committed}
         * @return this builder
         */
        public Builder isolation(String isolation) {
            return set("isolation", isolation);
        }

        /**
         * Wait for acknowledgements and retry ({@code at_least_once}, the default), or not ({@code at_most_once}).
         *
         * @param delivery {@code at_least_once} or {@code at_most_once}
         * @return this builder
         */
        public Builder delivery(String delivery) {
            return set("delivery", delivery);
        }

        /**
         * Retries per batch; by default no count limit: retries stop at {@code deliveryTimeoutMs}.
         *
         * @param n the most retries
         * @return this builder
         */
        public Builder maxRetries(long n) {
            return set("maxRetries", Long.toString(n));
        }

        /**
         * Exponential backoff: the first delay (default 20).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder retryBackoffMs(long ms) {
            return set("retryBackoffMs", Long.toString(ms));
        }

        /**
         * Exponential backoff: the largest delay (default 5000).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder retryBackoffMaxMs(long ms) {
            return set("retryBackoffMaxMs", Long.toString(ms));
        }

        /**
         * The upper bound from {@code send} to a final result (default 120000).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder deliveryTimeoutMs(long ms) {
            return set("deliveryTimeoutMs", Long.toString(ms));
        }

        /**
         * The server-side wait sent in each produce request (default 1500).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder timeoutMs(long ms) {
            return set("timeoutMs", Long.toString(ms));
        }

        /**
         * How long {@code connect} waits for the topic to appear (default 10000).
         *
         * @param ms milliseconds
         * @return this builder
         */
        public Builder metadataTimeoutMs(long ms) {
            return set("metadataTimeoutMs", Long.toString(ms));
        }

        /**
         * {@code default} (Fluvio's SipHash for keys, round-robin without) or {@code round_robin} (every record).
         *
         * @param partitioner {@code default} or {@code round_robin}
         * @return this builder
         */
        public Builder partitioner(String partitioner) {
            return set("partitioner", partitioner);
        }

        /**
         * The client id sent in every request header (default {@code headwater}).
         *
         * @param clientId the client id
         * @return this builder
         */
        public Builder clientId(String clientId) {
            return set("clientId", clientId);
        }

        /**
         * Validates in core and returns the config.
         *
         * @return the config
         * @throws HeadwaterException {@code CONFIG} naming the first unknown key or bad value
         */
        public ProducerConfig build() {
            return fromMap(values);
        }
    }
}
