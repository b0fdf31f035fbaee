// Produce driver for the Java binding (format: README.md beside this file). Run as a single-file
// source program: java -cp <headwater jar> Produce.java ENDPOINT TOPIC CODEC [key=value ...]
import io.headwater.Producer;
import io.headwater.ProducerConfig;
import io.headwater.RecordMetadata;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;

public class Produce {
    public static void main(String[] args) throws Exception {
        ProducerConfig.Builder config = ProducerConfig.builder().set("compression", args[2]);
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            config.set(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        HexFormat hex = HexFormat.of();
        List<CompletableFuture<RecordMetadata>> outs = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try (Producer p = Producer.connect(args[0], args[1], config.build())) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isBlank()) continue;
                String[] f = line.trim().split("\\s+");
                byte[] key = f[1].equals("-") ? null : hex.parseHex(f[1].substring(1));
                byte[] value = hex.parseHex(f[2]);
                outs.add(f[0].equals("-") ? p.send(key, value) : p.sendTo(Integer.parseInt(f[0]), key, value));
            }
            p.flush();
            StringBuilder sb = new StringBuilder();
            for (CompletableFuture<RecordMetadata> out : outs) {
                RecordMetadata m = out.get();
                sb.append(m.partition()).append(' ').append(m.offset()).append('\n');
            }
            System.out.print(sb);
        }
    }
}
