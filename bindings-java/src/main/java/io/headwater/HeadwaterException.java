package io.headwater;

/**
 * Every failure Headwater reports, with the four facts every language's error carries
 * ({@code tests/vectors/errors.json}): the stable code string ({@link #getCode()}, e.g.
 * {@code "QUEUE_FULL"}), the stable number ({@link #getNumber()}), whether retrying may succeed
 * ({@link #isRetriable()}) and the Fluvio error code of a {@code BROKER} error ({@link #getBrokerCode()}).
 * The message is core's ({@code [CODE] text}). Unchecked. Futures returned by {@link Producer#send} complete
 * exceptionally with it. A wrong argument (a null where a value is required, a number out of range, a
 * negative timeout) is one too, with code {@code INVALID_ARGUMENT}.
 */
public class HeadwaterException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The error kinds that can occur in Java, with core's stable numbers ({@code FORKED} cannot). */
    public enum Kind {
        CONFIG(1), TIMEOUT(2), QUEUE_FULL(3), RECORD_TOO_LARGE(4), UNKNOWN_TOPIC(5), UNKNOWN_PARTITION(6),
        COMPRESSION(7), TRANSPORT(8), PROTOCOL(9), BROKER(10), CLOSED(11), INVALID_ARGUMENT(13), INTERNAL(14);

        private final int number;

        Kind(int number) {
            this.number = number;
        }

        /** Core's stable number for this kind (the C enum value). */
        public int number() {
            return number;
        }
    }

    private final String code;
    private final int number;
    private final Kind kind;
    private final boolean retriable;
    private final Integer brokerCode;

    public HeadwaterException(Kind kind, String message, boolean retriable, Integer brokerCode) {
        this(kind.name(), kind.number(), kind, message, retriable, brokerCode);
    }

    /** Called from native code: every fact is core's. */
    HeadwaterException(String code, int number, String message, boolean retriable, boolean hasBrokerCode,
                       int brokerCode) {
        this(code, number, kindOf(code), message, retriable, hasBrokerCode ? brokerCode : null);
    }

    private HeadwaterException(String code, int number, Kind kind, String message, boolean retriable,
                               Integer brokerCode) {
        super(message);
        this.code = code;
        this.number = number;
        this.kind = kind;
        this.retriable = retriable;
        this.brokerCode = brokerCode;
    }

    private static Kind kindOf(String code) {
        for (Kind k : Kind.values()) {
            if (k.name().equals(code)) {
                return k;
            }
        }
        return Kind.INTERNAL; // FORKED cannot happen in a JVM
    }

    /** The stable code string ({@code "CONFIG"}, {@code "QUEUE_FULL"}, ...). */
    public String getCode() {
        return code;
    }

    /** The stable number (1 to 14, errors.json). */
    public int getNumber() {
        return number;
    }

    /** The code as an enum constant. */
    public Kind getKind() {
        return kind;
    }

    public boolean isRetriable() {
        return retriable;
    }

    /** The Fluvio error code for {@code BROKER} errors, else null. */
    public Integer getBrokerCode() {
        return brokerCode;
    }
}
