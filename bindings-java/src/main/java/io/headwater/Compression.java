package io.headwater;

/** Batch codecs; {@link #id()} is the codec id in a batch's attribute bits 0-2. */
public enum Compression {
    NONE(0, "none"), GZIP(1, "gzip"), SNAPPY(2, "snappy"), LZ4(3, "lz4"), ZSTD(4, "zstd");

    private final int id;
    private final String configName;

    Compression(int id, String configName) {
        this.id = id;
        this.configName = configName;
    }

    public int id() {
        return id;
    }

    /** The value of the {@code compression} config key. */
    public String configName() {
        return configName;
    }

    /** The codec with this id; any other id is {@code INVALID_ARGUMENT}. */
    public static Compression fromId(int id) {
        for (Compression c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw Native.invalidArgument("unknown codec id " + id + " (expected 0 to 4)");
    }
}
