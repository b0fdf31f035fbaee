import io.headwater.*;
import java.nio.charset.StandardCharsets;
import java.util.List;

public class Quickstart {
    public static void main(String[] args) throws Exception {
        try (TestBroker broker = TestBroker.start()) {
            broker.createTopic("events", 3);
            ProducerConfig config = ProducerConfig.builder().lingerMs(10).compression(Compression.LZ4).build();
            try (Producer p = Producer.connect(broker.endpoint(), "events", config)) {
                RecordMetadata m = p.send("user-1".getBytes(StandardCharsets.UTF_8),
                                          "clicked".getBytes(StandardCharsets.UTF_8)).get();
                p.flush();
                List<StoredRecord> stored = broker.records("events", m.partition());
                System.out.println("sent to partition " + m.partition() + " offset " + m.offset()
                        + "; broker holds " + stored.size() + " record(s), codec " + stored.get(0).compression());
            }
        }
    }
}
