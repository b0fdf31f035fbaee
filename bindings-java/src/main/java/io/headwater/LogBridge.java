package io.headwater;

/**
 * Where core's log events go, chosen once when {@link Native} loads: SLF4J when slf4j-api is on the class
 * path (an optional dependency, so the JAR forces no logging library on anyone), else
 * {@code System.Logger}, which is java.util.logging unless the application installed another backend.
 *
 * <p>An event of Rust target {@code headwater::broker::state} goes to the logger
 * {@code headwater.broker.state}: a logging configuration for {@code headwater} covers everything core
 * logs, and a module can be tuned on its own. Core has already filtered by its level (HEADWATER_LOG or
 * -Dheadwater.log); the backend may filter further.
 */
interface LogBridge {
    /** Core's level numbers, the one order of every language (5 = TRACE). */
    int ERROR = 1;
    int WARN = 2;
    int INFO = 3;
    int DEBUG = 4;

    /** Logs {@code message} at core's {@code level} (1 = ERROR .. 5 = TRACE) to the target's logger. */
    void log(int level, String target, String message);

    /** The logger name of a Rust target: its module path with dots ({@code a::b} is {@code a.b}). */
    static String loggerName(String target) {
        return target.replace("::", ".");
    }

    /** SLF4J if its API can be loaded by the class loader that loaded Headwater, else System.Logger. */
    static LogBridge choose() {
        try {
            Class.forName("org.slf4j.LoggerFactory", false, LogBridge.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return new SystemLoggerBridge();
        }
        // Only referenced here: without slf4j-api, Slf4jBridge (which links against it) is never loaded.
        return new Slf4jBridge();
    }
}
