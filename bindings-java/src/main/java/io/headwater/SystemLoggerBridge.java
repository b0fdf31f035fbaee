package io.headwater;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Core's log events through {@code System.Logger} (see {@link LogBridge}): java.util.logging by default,
 * where the levels arrive as SEVERE, WARNING, INFO, FINE and FINER.
 */
final class SystemLoggerBridge implements LogBridge {
    /** One logger per Rust target; a handful of targets, looked up on every event otherwise. */
    private final ConcurrentHashMap<String, System.Logger> loggers = new ConcurrentHashMap<>();

    @Override
    public void log(int level, String target, String message) {
        System.Logger logger = loggers.computeIfAbsent(target, t -> System.getLogger(LogBridge.loggerName(t)));
        System.Logger.Level l;
        switch (level) {
            case ERROR: l = System.Logger.Level.ERROR; break;
            case WARN: l = System.Logger.Level.WARNING; break;
            case INFO: l = System.Logger.Level.INFO; break;
            case DEBUG: l = System.Logger.Level.DEBUG; break;
            default: l = System.Logger.Level.TRACE; break;
        }
        logger.log(l, message);
    }
}
