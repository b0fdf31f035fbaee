package io.headwater;

import static io.headwater.TestSupport.b;
import static io.headwater.TestSupport.expectCode;
import static io.headwater.TestSupport.get;
import static io.headwater.TestSupport.s;
import static io.headwater.TestSupport.topic;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.headwater.HeadwaterException.Kind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** Mutual TLS end to end with the committed fixtures (tests/fixtures/tls), and the option errors. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TlsTest {
    private TestBroker broker;

    private static String fixture(String name) {
        return TestSupport.repoRoot().resolve("tests/fixtures/tls").resolve(name).toString();
    }

    /** What a client needs for mutual TLS with the test CA. */
    private static Map<String, String> clientTls() {
        return Map.of("tlsCaFile", fixture("ca.pem"), "tlsCertFile", fixture("client.pem"),
                "tlsKeyFile", fixture("client.key"));
    }

    @BeforeAll
    void start() {
        broker = TestBroker.start(Map.of("tls_cert", fixture("server.pem"), "tlsKey", fixture("server.key"),
                "tlsClientCa", fixture("ca.pem")));
    }

    @AfterAll
    void stop() {
        broker.close();
    }

    @Test
    void adminAndProducerOverMutualTls() throws Exception {
        String t = topic("tls");
        try (Admin admin = Admin.connect(broker.endpoint(), clientTls())) {
            admin.createTopic(t, 2);
            assertTrue(admin.listTopics().stream().anyMatch(x -> x.name().equals(t)));
        }
        ProducerConfig.Builder cfg = ProducerConfig.builder().lingerMs(0);
        clientTls().forEach(cfg::set);
        List<CompletableFuture<RecordMetadata>> fs = new ArrayList<>();
        try (Producer p = Producer.connect(broker.endpoint(), t, cfg.build())) {
            for (int i = 0; i < 10; i++) {
                fs.add(p.sendTo(i % 2, null, b("secure-" + i)));
            }
            p.flush();
        }
        for (int i = 0; i < 10; i++) {
            RecordMetadata m = get(fs.get(i));
            assertEquals(i % 2, m.partition());
            assertEquals(i / 2, m.offset());
        }
        for (int part = 0; part < 2; part++) {
            List<StoredRecord> rs = broker.records(t, part);
            assertEquals(5, rs.size());
            for (int j = 0; j < 5; j++) {
                assertEquals(j, rs.get(j).offset());
                assertEquals("secure-" + (2 * j + part), s(rs.get(j).value()));
            }
        }
    }

    @Test
    void anUnrelatedCaFailsCertificateVerification() throws Exception {
        HeadwaterException e = expectCode(Kind.TRANSPORT, () -> Admin.connect(broker.endpoint(),
                Map.of("tlsCaFile", fixture("other-ca.pem"), "tlsCertFile", fixture("client.pem"),
                        "tlsKeyFile", fixture("client.key"))));
        assertTrue(e.getMessage().contains("certificate verification"), e.getMessage());
        String t = topic("tls-wrong-ca");
        broker.createTopic(t, 1);
        e = expectCode(Kind.TRANSPORT, () -> Producer.connect(broker.endpoint(), t, ProducerConfig.builder()
                .set("tlsCaFile", fixture("other-ca.pem")).metadataTimeoutMs(2000).build()));
        assertTrue(e.getMessage().contains("certificate verification"), e.getMessage());
    }

    @Test
    void noClientCertificateIsRefused() throws Exception {
        HeadwaterException e = assertThrows(HeadwaterException.class,
                () -> Admin.connect(broker.endpoint(), Map.of("tlsCaFile", fixture("ca.pem"))));
        assertTrue(e.getMessage().contains("client certificate"), e.getMessage());
    }

    @Test
    void plaintextClientCannotTalkToATlsBroker() throws Exception {
        HeadwaterException e = assertThrows(HeadwaterException.class, () -> Admin.connect(broker.endpoint()));
        assertTrue(e.getKind() == Kind.TRANSPORT || e.getKind() == Kind.PROTOCOL, e.getMessage());
    }

    @Test
    void badBrokerOptionsAreConfigErrorsNamingTheKey() throws Exception {
        Map<String, Map<String, String>> cases = Map.of(
                "spuz", Map.of("spuz", "1"),
                "spus", Map.of("spus", "0"),
                "dataDir", Map.of("dataDir", ""),
                "sync", Map.of("sync", "sometimes"),
                "tlsCert", Map.of("tlsCert", "/no/such/file.pem", "tlsKey", fixture("server.key")),
                "tls_key", Map.of("tlsCert", fixture("server.pem")));
        for (Map.Entry<String, Map<String, String>> c : cases.entrySet()) {
            HeadwaterException e = expectCode(Kind.CONFIG, () -> TestBroker.start(c.getValue()));
            assertTrue(e.getMessage().contains(c.getKey()), () -> c.getValue() + ": " + e.getMessage());
        }
        Map<String, String> withNull = new HashMap<>();
        withNull.put("spus", null);
        HeadwaterException e = expectCode(Kind.INVALID_ARGUMENT, () -> TestBroker.start(withNull));
        assertTrue(e.getMessage().contains("`spus` must not be null"), e.getMessage());
        expectCode(Kind.INVALID_ARGUMENT, () -> TestBroker.start((Map<String, String>) null));
    }

    @Test
    void badTlsOptionsAreConfigErrorsNamingTheKey() throws Exception {
        HeadwaterException e = expectCode(Kind.CONFIG,
                () -> Admin.connect(broker.endpoint(), Map.of("tlsCaFle", fixture("ca.pem"))));
        assertTrue(e.getMessage().contains("tlsCaFle"), e.getMessage());
        e = expectCode(Kind.CONFIG, () -> Admin.connect(broker.endpoint(), Map.of("tlsCaFile", "/no/such/ca.pem")));
        assertTrue(e.getMessage().contains("tlsCaFile"), e.getMessage());
        e = expectCode(Kind.CONFIG, () -> Admin.connect(broker.endpoint(), Map.of("tls", "maybe")));
        assertTrue(e.getMessage().contains("tls"), e.getMessage());
        expectCode(Kind.INVALID_ARGUMENT, () -> Admin.connect(broker.endpoint(), null));
        expectCode(Kind.INVALID_ARGUMENT, () -> Admin.connect(null, clientTls()));
    }
}
