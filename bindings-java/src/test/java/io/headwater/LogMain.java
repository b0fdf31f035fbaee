package io.headwater;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Run in a child JVM by JarIT with a log setting (HEADWATER_LOG or -Dheadwater.log): prints every record
 * java.util.logging's "headwater" logger and its children receive as "LOG LEVEL logger message" while a
 * broker with an unreadable topic spec (a WARN event) starts and a producer retries a batch (a DEBUG
 * event). With SLF4J on the class path the records go there instead, and this prints none.
 */
public final class LogMain {
    private LogMain() {}

    public static void main(String[] args) throws Exception {
        Logger jul = Logger.getLogger("headwater");
        jul.setLevel(Level.ALL); // the backend lets everything through: only core's level filters
        jul.setUseParentHandlers(false);
        jul.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                System.out.println("LOG " + r.getLevel() + " " + r.getLoggerName() + " " + r.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
        Path dir = Files.createTempDirectory("headwater-log");
        Files.createDirectories(dir.resolve("topics"));
        Files.write(dir.resolve("topics/broken.spec"), new byte[] {1, 2, 3});
        try (TestBroker b = TestBroker.start(1, dir)) {
            b.createTopic("logs", 1);
            try (Producer p = Producer.connect(b.endpoint(), "logs",
                    ProducerConfig.builder().lingerMs(0).retryBackoffMs(1).build())) {
                b.failNext(TestBroker.API_PRODUCE, 1, 6); // NotLeaderForPartition: retried
                p.send(null, new byte[] {1}).get();
            }
            System.out.println("log-main ok " + b.spuIds().size());
        }
    }
}
