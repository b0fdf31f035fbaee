package io.headwater;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Producer configuration: string keys and values (camelCase or snake_case keys, the table in the top-level README and tests/vectors/config.json),
 * parsed by core's one parser. {@link Builder#build()} and {@link #fromMap} validate at once: an unknown
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

    /** The defaults (every key unset). */
    public static ProducerConfig defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A config from string pairs, validated now. */
    public static ProducerConfig fromMap(Map<String, String> map) {
        ProducerConfig c = new ProducerConfig(Native.notNull(map, "config"));
        c.effective();
        return c;
    }

    /** The keys and values as given. */
    public Map<String, String> toMap() {
        return values;
    }

    /**
     * The value core will use for every key, defaults included (camelCase keys; a null value means
     * unset, as compression is by default).
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

        /** Any key (camelCase or snake_case) with its string value. */
        public Builder set(String key, String value) {
            values.put(Native.notNull(key, "key"), Native.notNull(value, key));
            return this;
        }

        public Builder batchSize(long bytes) { return set("batchSize", Long.toString(bytes)); }
        public Builder lingerMs(long ms) { return set("lingerMs", Long.toString(ms)); }
        public Builder maxRequestSize(long bytes) { return set("maxRequestSize", Long.toString(bytes)); }
        public Builder batchQueueSize(long batches) { return set("batchQueueSize", Long.toString(batches)); }
        public Builder sendTimeoutMs(long ms) { return set("sendTimeoutMs", Long.toString(ms)); }
        public Builder compression(Compression c) {
            return set("compression", Native.notNull(c, "compression").configName());
        }
        /** {@code read_uncommitted} or {@code read_committed}. */
        public Builder isolation(String isolation) { return set("isolation", isolation); }
        /** {@code at_least_once} or {@code at_most_once}. */
        public Builder delivery(String delivery) { return set("delivery", delivery); }
        public Builder maxRetries(long n) { return set("maxRetries", Long.toString(n)); }
        public Builder retryBackoffMs(long ms) { return set("retryBackoffMs", Long.toString(ms)); }
        public Builder retryBackoffMaxMs(long ms) { return set("retryBackoffMaxMs", Long.toString(ms)); }
        public Builder deliveryTimeoutMs(long ms) { return set("deliveryTimeoutMs", Long.toString(ms)); }
        public Builder timeoutMs(long ms) { return set("timeoutMs", Long.toString(ms)); }
        public Builder metadataTimeoutMs(long ms) { return set("metadataTimeoutMs", Long.toString(ms)); }
        /** {@code default} (Fluvio's SipHash for keys, round-robin without) or {@code round_robin}. */
        public Builder partitioner(String partitioner) { return set("partitioner", partitioner); }
        public Builder clientId(String clientId) { return set("clientId", clientId); }

        /** Validates in core and returns the config. */
        public ProducerConfig build() {
            return fromMap(values);
        }
    }
}
