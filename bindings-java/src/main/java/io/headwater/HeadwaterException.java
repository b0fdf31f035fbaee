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
        /** An invalid configuration key or value; the message names the key. */
        CONFIG(1),
        /** A wait ran past its deadline. */
        TIMEOUT(2),
        /** The partition's queue stayed full for {@code sendTimeoutMs}. */
        QUEUE_FULL(3),
        /** The record is larger than {@code maxRequestSize}. */
        RECORD_TOO_LARGE(4),
        /** The topic does not exist. */
        UNKNOWN_TOPIC(5),
        /** The partition is not one of the topic's. */
        UNKNOWN_PARTITION(6),
        /** A codec failed, or the topic's compression policy forbids the codec. */
        COMPRESSION(7),
        /** The connection failed or dropped (a failed TLS handshake included). */
        TRANSPORT(8),
        /** A peer sent bytes that do not decode. */
        PROTOCOL(9),
        /** The broker answered with a Fluvio error code ({@link HeadwaterException#getBrokerCode()}). */
        BROKER(10),
        /** The producer (or broker) was closed. */
        CLOSED(11),
        /** A wrong argument: a null where a value is required, a number out of range, a negative timeout. */
        INVALID_ARGUMENT(13),
        /** A bug: a panic caught in native code, an internal invariant broken. */
        INTERNAL(14);

        private final int number;

        Kind(int number) {
            this.number = number;
        }

        /**
         * Core's stable number for this kind (the C enum value).
         *
         * @return 1 to 14
         */
        public int number() {
            return number;
        }
    }

    /** The stable code string. */
    private final String code;
    /** The stable number. */
    private final int number;
    /** The code as an enum constant. */
    private final Kind kind;
    /** Whether retrying may succeed. */
    private final boolean retriable;
    /** The Fluvio error code of a {@code BROKER} error, else null. */
    private final Integer brokerCode;

    /**
     * An error of {@code kind} (Headwater throws its own; this is for code that reports errors in the same
     * shape, e.g. a test double).
     *
     * @param kind       the kind; its name is the code and its number the number
     * @param message    the message
     * @param retriable  whether retrying may succeed
     * @param brokerCode the Fluvio error code of a {@code BROKER} error, else null
     */
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

    /**
     * The stable code string.
     *
     * @return {@code "CONFIG"}, {@code "QUEUE_FULL"}, ... (errors.json)
     */
    public String getCode() {
        return code;
    }

    /**
     * The stable number.
     *
     * @return 1 to 14 (errors.json)
     */
    public int getNumber() {
        return number;
    }

    /**
     * The code as an enum constant.
     *
     * @return the kind
     */
    public Kind getKind() {
        return kind;
    }

    /**
     * Whether retrying the operation may succeed ({@code TIMEOUT}, {@code TRANSPORT}, and {@code BROKER}
     * with a retriable Fluvio code).
     *
     * @return true when a retry may succeed
     */
    public boolean isRetriable() {
        return retriable;
    }

    /**
     * The Fluvio error code of a {@code BROKER} error.
     *
     * @return the code (e.g. 2002: the topic exists), or null for other kinds
     */
    public Integer getBrokerCode() {
        return brokerCode;
    }
}
