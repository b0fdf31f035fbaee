package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Records produced from Java are read back intact by the OFFICIAL Fluvio Python client (fluvio==0.21.0). */
class InteropTest {
    static final int COUNT = 25;

    @ParameterizedTest
    @EnumSource(value = Compression.class, names = {"NONE", "GZIP", "ZSTD"})
    void officialPythonClientReadsWhatJavaProduced(Compression codec) throws Exception {
        Path root = TestSupport.repoRoot();
        Path python = root.resolve(".venv-interop/bin/python");
        Assumptions.assumeTrue(Files.isExecutable(python), "no " + python + " (run tests/interop/setup.sh)");
        try (TestBroker broker = TestBroker.start()) {
            broker.createTopic("interop", 1);
            List<String[]> sent = new ArrayList<>();
            try (Producer p = Producer.connect(broker.endpoint(), "interop",
                    ProducerConfig.builder().compression(codec).build())) {
                for (int i = 0; i < COUNT; i++) {
                    String key = i % 5 == 4 ? null : "key-" + i;
                    String value = "value-" + i + "-\u00e9\u65e5";
                    RecordMetadata m = get(p.send(key == null ? null : b(key), b(value)));
                    sent.add(new String[] {Long.toString(m.offset()), key, value});
                }
            }
            ProcessBuilder pb = new ProcessBuilder(python.toString(), root.resolve("tests/interop/official_py.py").toString(),
                    "consume", "--endpoint", broker.endpoint(), "--topic", "interop", "--partition", "0",
                    "--count", Integer.toString(COUNT));
            pb.environment().put("FLV_METADATA_TIMEOUT", "5000");
            pb.environment().put("FLV_SOCKET_WAIT", "10");
            pb.redirectError(ProcessBuilder.Redirect.INHERIT);
            Process proc = pb.start();
            byte[] out = proc.getInputStream().readAllBytes();
            assertTrue(proc.waitFor(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS), "official client timed out");
            assertEquals(0, proc.exitValue(), "official client failed");
            String[] lines = new String(out, StandardCharsets.UTF_8).trim().split("\n");
            assertEquals(COUNT, lines.length);
            for (int i = 0; i < COUNT; i++) {
                Map<String, Object> rec = Json.map(Json.parse(lines[i]));
                assertEquals(sent.get(i)[0], Json.scalar(rec.get("offset")));
                assertEquals(sent.get(i)[1], rec.get("key"));
                assertEquals(sent.get(i)[2], rec.get("value"));
            }
        }
    }
}
