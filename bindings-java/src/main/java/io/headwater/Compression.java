package io.headwater;

/** Batch codecs; {@link #id()} is the codec id in a batch's attribute bits 0-2. */
public enum Compression {
    /** Uncompressed. */
    NONE(0, "none"),
    /** gzip (one gzip member per batch). */
    GZIP(1, "gzip"),
    /** Snappy (framing format). */
    SNAPPY(2, "snappy"),
    /** LZ4 (frame format). */
    LZ4(3, "lz4"),
    /** Zstandard (frame format). */
    ZSTD(4, "zstd");

    private final int id;
    private final String configName;

    Compression(int id, String configName) {
        this.id = id;
        this.configName = configName;
    }

    /**
     * The codec id in a batch's attribute bits 0-2.
     *
     * @return 0 (none) to 4 (zstd)
     */
    public int id() {
        return id;
    }

    /**
     * The value of the {@code compression} config key for this codec.
     *
     * @return {@code none}, {@code gzip}, {@code snappy}, {@code lz4} or {@code zstd}
     */
    public String configName() {
        return configName;
    }

    /**
     * The codec with this id.
     *
     * @param id a codec id, 0 to 4
     * @return the codec
     * @throws HeadwaterException {@code INVALID_ARGUMENT} for any other id
     */
    public static Compression fromId(int id) {
        for (Compression c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw Native.invalidArgument("unknown codec id " + id + " (expected 0 to 4)");
    }
}
