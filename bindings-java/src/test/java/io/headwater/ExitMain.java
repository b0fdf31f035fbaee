package io.headwater;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Run in a child JVM by JvmExitIT: sends many records (futures completed on library threads, a thread
 * attached and detached per callback), closes, and returns from main. The JVM must exit by itself.
 */
public final class ExitMain {
    private ExitMain() {}

    public static void main(String[] args) throws Exception {
        TestBroker broker = TestBroker.start();
        broker.createTopic("exit", 2);
        Producer p = Producer.connect(broker.endpoint(), "exit", ProducerConfig.builder().lingerMs(1).build());
        List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
        for (int i = 0; i < 5000; i++) {
            fs.add(p.send(null, ("v" + i).getBytes(StandardCharsets.UTF_8)));
        }
        fs.get(0).thenAccept(m -> System.out.println("first on " + Thread.currentThread().getName()));
        p.close();
        for (CompletableFuture<RecordMetadata> f : fs) {
            f.join();
        }
        int stored = broker.records("exit", 0).size() + broker.records("exit", 1).size();
        broker.close();
        System.out.println("exit-main ok " + stored);
        // no System.exit: returning from main must end the JVM
    }
}
