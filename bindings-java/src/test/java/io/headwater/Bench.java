package io.headwater;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * The Java binding's program for {@code make bench} (bench/README.md has the contract):
 *
 * <pre>
 * java -cp headwater-0.1.0.jar:target/test-classes io.headwater.Bench --endpoint E --topic T --records N
 *      --seconds S --size B --compression C --linger-ms L [--latency] [--mode send|send_all|send_wait]
 *      [--batch-size BYTES]
 * </pre>
 *
 * Throughput: one thread sends keyless records until N records or S seconds — {@code send} in a loop
 * (the default), {@code sendAll} of lists of 1000 ({@code --mode send_all}), or {@code send(...).join()} per
 * record ({@code --mode send_wait}: issue 19's naive loop, at the given linger) — then {@code flush()};
 * every future must have completed successfully. Latency ({@code --latency}): linger 0, one record in
 * flight, p50/p99/p999 of the round trips in µs. Prints one JSON line; exits non-zero on any failure.
 */
public final class Bench {
    private static final int SEND_ALL = 1000;
    private static final int CLOCK_EVERY = 4096;
    /** Futures kept for checking; older ones are checked (and dropped) as the window moves on. */
    private static final int WINDOW = 1 << 16;

    private String endpoint;
    private String topic;
    private long records = 2_000_000;
    private double seconds = 5;
    private int size = 100;
    private String compression = "none";
    private long lingerMs;
    private boolean latency;
    private String mode = "send";
    /** Unset (-1): the product default, as every client in {@code make bench} uses. */
    private long batchSize = -1;

    private final CompletableFuture<?>[] window = new CompletableFuture<?>[WINDOW];
    private long failed;

    private Bench() {}

    public static void main(String[] args) {
        try {
            new Bench().run(args);
        } catch (Throwable t) {
            System.err.println("bench failed: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        // The JVM exits by itself (nothing of the library keeps it alive after close()).
    }

    private void parse(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String k = args[i];
            if (k.equals("--latency")) {
                latency = true;
                continue;
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(k + " needs a value");
            }
            String v = args[++i];
            switch (k) {
                case "--endpoint": endpoint = v; break;
                case "--topic": topic = v; break;
                case "--records": records = Long.parseLong(v); break;
                case "--seconds": seconds = Double.parseDouble(v); break;
                case "--size": size = Integer.parseInt(v); break;
                case "--compression": compression = v; break;
                case "--linger-ms": lingerMs = Long.parseLong(v); break;
                case "--batch-size": batchSize = Long.parseLong(v); break;
                case "--mode":
                    if (!v.equals("send") && !v.equals("send_all") && !v.equals("send_wait")) {
                        throw new IllegalArgumentException("--mode must be send, send_all or send_wait, got " + v);
                    }
                    mode = v;
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + k);
            }
        }
        if (endpoint == null || topic == null) {
            throw new IllegalArgumentException("--endpoint and --topic are required");
        }
    }

    private void run(String[] args) {
        parse(args);
        Admin admin = Admin.connect(endpoint);
        if (admin.listTopics().stream().noneMatch(t -> t.name().equals(topic))) {
            admin.createTopic(topic, 1);
        }
        ProducerConfig.Builder b = ProducerConfig.builder().set("compression", compression).lingerMs(latency ? 0 : lingerMs);
        if (batchSize >= 0) {
            b.batchSize(batchSize);
        }
        ProducerConfig cfg = b.build();
        byte[] value = new byte[size];
        for (int i = 0; i < size; i++) {
            value[i] = (byte) ('a' + i % 26);
        }
        long sent;
        double[] samples = null;
        long t0;
        long elapsed;
        ProducerStats stats;
        try (Producer p = Producer.connect(endpoint, topic, cfg)) {
            t0 = System.nanoTime();
            long deadline = t0 + (long) (seconds * 1e9);
            if (latency) {
                samples = latency(p, value, deadline);
                sent = samples.length;
            } else if (mode.equals("send_wait")) {
                sent = sendWait(p, value, deadline);
            } else if (mode.equals("send_all")) {
                sent = sendAll(p, value, deadline);
            } else {
                sent = send(p, value, deadline);
            }
            elapsed = System.nanoTime() - t0;
            stats = p.stats();
        }
        if (failed != 0 || stats.recordsFailed() != 0 || stats.recordsAcked() != sent) {
            throw new IllegalStateException(failed + " futures failed; producer stats: " + stats.recordsFailed()
                    + " failed, " + stats.recordsAcked() + " of " + sent + " acknowledged");
        }
        double secs = elapsed / 1e9;
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT,
                "{\"client\": \"headwater-java\", \"records\": %d, \"seconds\": %.4f, \"records_per_sec\": %.0f, "
                        + "\"mb_per_sec\": %.2f, \"mode\": \"%s\", \"compression\": \"%s\", \"size\": %d, "
                        + "\"linger_ms\": %d",
                sent, secs, sent / secs, sent * (double) size / secs / 1e6, latency ? "latency" : mode, compression,
                size, latency ? 0 : lingerMs));
        if (batchSize >= 0) {
            out.append(", \"batch_size\": ").append(batchSize);
        }
        if (samples != null) {
            java.util.Arrays.sort(samples);
            out.append(String.format(Locale.ROOT, ", \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f",
                    pct(samples, 0.5), pct(samples, 0.99), pct(samples, 0.999)));
        }
        out.append('}');
        System.out.println(out);
    }

    /** Keeps {@code f} in the window; the future it replaces must have completed successfully. */
    private void keep(long i, CompletableFuture<?> f) {
        int slot = (int) (i & (WINDOW - 1));
        CompletableFuture<?> old = window[slot];
        if (old != null) {
            check(old);
        }
        window[slot] = f;
    }

    private void check(CompletableFuture<?> f) {
        try {
            f.join();
        } catch (RuntimeException e) {
            if (failed++ == 0) {
                System.err.println("a send failed: " + e);
            }
        }
    }

    private void checkAll() {
        for (int i = 0; i < WINDOW; i++) {
            if (window[i] != null) {
                check(window[i]);
                window[i] = null;
            }
        }
    }

    private long send(Producer p, byte[] value, long deadline) {
        long sent = 0;
        while (sent < records) {
            if (sent % CLOCK_EVERY == 0 && System.nanoTime() >= deadline) {
                break;
            }
            keep(sent, p.send(null, value));
            sent++;
        }
        p.flush();
        checkAll();
        return sent;
    }

    private long sendAll(Producer p, byte[] value, long deadline) {
        List<ProducerRecord> batch = new ArrayList<>(SEND_ALL);
        for (int i = 0; i < SEND_ALL; i++) {
            batch.add(ProducerRecord.of(null, value));
        }
        long sent = 0;
        while (sent < records) {
            if (System.nanoTime() >= deadline) {
                break;
            }
            int n = (int) Math.min(SEND_ALL, records - sent);
            for (CompletableFuture<RecordMetadata> f : p.sendAll(n == SEND_ALL ? batch : batch.subList(0, n))) {
                keep(sent++, f);
            }
        }
        p.flush();
        checkAll();
        return sent;
    }

    /** One record at a time, each waited on ({@code join()}): waiting sends the record's batch at once. */
    private long sendWait(Producer p, byte[] value, long deadline) {
        long sent = 0;
        while (sent < records && System.nanoTime() < deadline) {
            check(p.send(null, value));
            sent++;
        }
        p.flush();
        return sent;
    }

    private double[] latency(Producer p, byte[] value, long deadline) {
        double[] samples = new double[(int) Math.min(records, 10_000_000)];
        int n = 0;
        while (n < samples.length && System.nanoTime() < deadline) {
            long t = System.nanoTime();
            p.send(null, value).join();
            samples[n++] = (System.nanoTime() - t) / 1e3;
        }
        p.flush();
        return java.util.Arrays.copyOf(samples, n);
    }

    private static double pct(double[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[(int) Math.min(sorted.length - 1, (long) (sorted.length * q))];
    }
}
