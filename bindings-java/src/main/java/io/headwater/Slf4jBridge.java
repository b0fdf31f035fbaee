package io.headwater;

import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Core's log events through SLF4J (see {@link LogBridge}); loaded only when slf4j-api is present. */
final class Slf4jBridge implements LogBridge {
    /** One logger per Rust target; a handful of targets, looked up on every event otherwise. */
    private final ConcurrentHashMap<String, Logger> loggers = new ConcurrentHashMap<>();

    @Override
    public void log(int level, String target, String message) {
        Logger logger = loggers.computeIfAbsent(target, t -> LoggerFactory.getLogger(LogBridge.loggerName(t)));
        // The SLF4J 1.x methods, so an application on slf4j-api 1.7 works too.
        switch (level) {
            case ERROR: logger.error(message); break;
            case WARN: logger.warn(message); break;
            case INFO: logger.info(message); break;
            case DEBUG: logger.debug(message); break;
            default: logger.trace(message); break;
        }
    }
}
