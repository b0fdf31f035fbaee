package io.headwater;

/**
 * Every failure Headwater reports: a stable {@link Code} (one per core error kind,
 * {@code tests/vectors/errors.json}) and whether retrying may succeed. Unchecked. Futures returned by
 * {@link Producer#send} complete exceptionally with it.
 */
public class HeadwaterException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The error kinds that can occur in Java, with core's stable numbers. */
    public enum Code {
        CONFIG(1), TIMEOUT(2), QUEUE_FULL(3), RECORD_TOO_LARGE(4), UNKNOWN_TOPIC(5), UNKNOWN_PARTITION(6),
        COMPRESSION(7), TRANSPORT(8), PROTOCOL(9), BROKER(10), CLOSED(11), INVALID_ARGUMENT(13), INTERNAL(14);

        private final int number;

        Code(int number) {
            this.number = number;
        }

        /** Core's stable number for this kind (the C enum value). */
        public int number() {
            return number;
        }

        static Code fromNumber(int n) {
            for (Code c : values()) {
                if (c.number == n) {
                    return c;
                }
            }
            return INTERNAL; // FORKED (12) cannot happen in a JVM
        }
    }

    private final Code code;
    private final boolean retriable;
    private final Integer brokerCode;

    public HeadwaterException(Code code, String message, boolean retriable, Integer brokerCode) {
        super(message);
        this.code = code;
        this.retriable = retriable;
        this.brokerCode = brokerCode;
    }

    /** Called from native code. */
    HeadwaterException(int number, String message, boolean retriable, boolean hasBrokerCode, int brokerCode) {
        this(Code.fromNumber(number), message, retriable, hasBrokerCode ? brokerCode : null);
    }

    public Code getCode() {
        return code;
    }

    public boolean isRetriable() {
        return retriable;
    }

    /** The Fluvio error code for {@link Code#BROKER} errors, else null. */
    public Integer getBrokerCode() {
        return brokerCode;
    }
}
