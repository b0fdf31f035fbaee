package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * tests/vectors/scenarios.json, interpreted through the Java API: every step whose {@code languages}
 * include java (or that has none) runs against the embedded TestBroker, and its expected outcome must
 * hold. One test per scenario, named after it.
 */
class ScenariosTest {
    /** The hang guard of a step without {@code within_ms}. */
    private static final long GUARD_MS = TestSupport.WAIT_SECONDS * 1000;

    @TestFactory
    Stream<DynamicTest> scenarios() throws Exception {
        return Json.list(Json.vectors("scenarios.json").get("scenarios")).stream().map(Json::map)
                .map(s -> DynamicTest.dynamicTest((String) s.get("name"), () -> new Runner().run(s)));
    }

    /** One scenario's state: the broker, the producer, the admin and the named outputs. */
    private static final class Runner {
        private TestBroker broker;
        private Producer producer;
        private Admin admin;
        private final Map<String, Object> outputs = new HashMap<>();

        void run(Map<String, Object> scenario) throws Throwable {
            List<Object> steps = Json.list(scenario.get("steps"));
            int ran = 0;
            try {
                for (int i = 0; i < steps.size(); i++) {
                    Map<String, Object> step = Json.map(steps.get(i));
                    Object langs = step.get("languages");
                    if (langs != null && !Json.list(langs).contains("java")) {
                        continue;
                    }
                    ran++;
                    String where = scenario.get("name") + " step " + i + " (" + step.get("op") + ")";
                    long guard = step.get("within_ms") == null ? GUARD_MS : Json.integer(step.get("within_ms"));
                    try {
                        assertTimeoutPreemptively(Duration.ofMillis(guard), () -> step(step),
                                () -> where + ": no outcome within " + guard + " ms");
                    } catch (AssertionError e) {
                        throw new AssertionError(where + ": " + e.getMessage(), e);
                    }
                }
            } finally {
                if (producer != null) {
                    try {
                        producer.close(Duration.ofSeconds(5));
                    } catch (HeadwaterException ignored) {
                        // the scenario's outcome is what counts; the runner only cleans up
                    }
                }
                if (admin != null) {
                    admin.close();
                }
                if (broker != null) {
                    broker.close();
                }
            }
            // A scenario none of whose steps exists in Java (log levels: System.Logger's backend filters)
            Assumptions.assumeTrue(ran > 0, "no step of this scenario runs in Java");
        }

        /** Runs one step and checks its outcome against {@code expect} / {@code expect_error}. */
        private void step(Map<String, Object> step) throws Exception {
            Map<String, Object> expectError = step.get("expect_error") == null ? null : Json.map(step.get("expect_error"));
            Object result;
            try {
                result = op(step);
            } catch (HeadwaterException e) {
                if (expectError == null) {
                    throw new AssertionError("unexpected " + e.getMessage(), e);
                }
                checkError(expectError, e, step);
                return;
            }
            if (expectError != null) {
                fail("expected " + expectError.get("code") + ", got " + result);
            }
            check(step, result);
        }

        private void checkError(Map<String, Object> want, HeadwaterException e, Map<String, Object> step) {
            String msg = e.getMessage();
            assertEquals(want.get("code"), e.getCode(), msg);
            assertEquals(HeadwaterException.Kind.valueOf((String) want.get("code")).number(), e.getNumber(), msg);
            assertTrue(msg.startsWith("[" + want.get("code")), msg);
            if (want.get("retriable") != null) {
                assertEquals(want.get("retriable"), e.isRetriable(), msg);
            }
            if (want.get("broker_code") != null) {
                assertEquals(Json.integer(want.get("broker_code")), e.getBrokerCode(), msg);
            }
            if (want.get("message_contains") != null) {
                for (Object frag : Json.list(want.get("message_contains"))) {
                    assertTrue(msg.contains((String) frag), () -> "no \"" + frag + "\" in " + msg);
                }
            }
            if (want.get("message_names_key") != null) {
                // this runner passes the keys as scenarios.json spells them
                assertTrue(msg.contains((String) want.get("message_names_key")), msg);
            }
        }

        /** The expected outcome of a successful step. */
        private void check(Map<String, Object> step, Object result) throws Exception {
            Object expect = step.get("expect");
            String op = (String) step.get("op");
            if (op.equals("stats")) {
                checkStats(step, (ProducerStats) result);
                return;
            }
            if (op.equals("admin_list_topics")) {
                checkTopics(step, (List<?>) result);
                return;
            }
            if (expect == null || "ok".equals(expect)) {
                return;
            }
            if (op.equals("read_back")) {
                checkStored(Json.list(expect), (List<?>) result);
            } else if (op.equals("wait_all")) {
                List<Object> want = Json.list(expect);
                List<?> got = (List<?>) result;
                assertEquals(want.size(), got.size());
                for (int i = 0; i < want.size(); i++) {
                    checkFields(Json.map(want.get(i)), got.get(i));
                }
            } else {
                checkFields(Json.map(expect), result);
            }
        }

        /** Every field given must equal the object's (a record accessor, or producer_state's map). */
        private void checkFields(Map<String, Object> want, Object got) throws Exception {
            for (Map.Entry<String, Object> f : want.entrySet()) {
                Object actual = got instanceof Map ? ((Map<?, ?>) got).get(f.getKey()) : accessor(got, f.getKey());
                assertEquals(normal(f.getValue()), normal(actual), f.getKey() + " of " + got);
            }
        }

        private void checkStats(Map<String, Object> step, ProducerStats stats) throws Exception {
            if (step.get("expect") != null) {
                for (Map.Entry<String, Object> f : Json.map(step.get("expect")).entrySet()) {
                    assertEquals(Json.integer(f.getValue()), ((Number) accessor(stats, f.getKey())).longValue(),
                            f.getKey() + " of " + stats);
                }
            }
            if (step.get("expect_at_least") != null) {
                for (Map.Entry<String, Object> f : Json.map(step.get("expect_at_least")).entrySet()) {
                    long got = ((Number) accessor(stats, f.getKey())).longValue();
                    assertTrue(got >= Json.integer(f.getValue()), f.getKey() + " of " + stats);
                }
            }
        }

        private void checkTopics(Map<String, Object> step, List<?> topics) throws Exception {
            if (step.get("expect_contains") != null) {
                for (Object w : Json.list(step.get("expect_contains"))) {
                    Map<String, Object> want = Json.map(w);
                    boolean found = false;
                    for (Object t : topics) {
                        boolean all = true;
                        for (Map.Entry<String, Object> f : want.entrySet()) {
                            all &= normal(f.getValue()).equals(normal(accessor(t, f.getKey())));
                        }
                        found |= all;
                    }
                    assertTrue(found, "no topic like " + want + " in " + topics);
                }
            }
            if (step.get("expect_absent") != null) {
                for (Object name : Json.list(step.get("expect_absent"))) {
                    assertTrue(topics.stream().noneMatch(t -> ((TopicInfo) t).name().equals(name)),
                            name + " is listed: " + topics);
                }
            }
        }

        private void checkStored(List<Object> want, List<?> got) {
            List<String> w = new ArrayList<>();
            for (Object o : want) {
                Map<String, Object> m = Json.map(o);
                w.add(Json.integer(m.get("offset")) + " " + show(bytes(m, "key", true)) + " "
                        + show(bytes(m, "value", true)));
            }
            List<String> g = new ArrayList<>();
            for (Object o : got) {
                StoredRecord r = (StoredRecord) o;
                g.add(r.offset() + " " + show(r.key()) + " " + show(r.value()));
            }
            assertEquals(w, g);
        }

        private static String show(byte[] b) {
            return b == null ? "<no key>" : "0x" + TestSupport.hex(b);
        }

        /** JSON numbers and Java numbers compare as longs; everything else as is. */
        private static Object normal(Object o) {
            if (o instanceof java.math.BigDecimal) {
                return ((java.math.BigDecimal) o).longValueExact();
            }
            if (o instanceof Number) {
                return ((Number) o).longValue();
            }
            return o;
        }

        /** A record's component by its snake_case name. */
        private static Object accessor(Object record, String snake) throws Exception {
            String camel = ProducerConfig.camel(snake);
            for (RecordComponent rc : record.getClass().getRecordComponents()) {
                if (rc.getName().equals(camel)) {
                    return rc.getAccessor().invoke(record);
                }
            }
            throw new AssertionError(record.getClass().getSimpleName() + " has no " + camel);
        }

        /** A step's string options (numbers as decimal strings), as TestBroker and Admin take them. */
        private static Map<String, String> options(Object o) {
            Map<String, String> out = new LinkedHashMap<>();
            if (o != null) {
                for (Map.Entry<String, Object> e : Json.map(o).entrySet()) {
                    out.put(e.getKey(), Json.scalar(e.getValue()));
                }
            }
            return out;
        }

        /**
         * {@code key}/{@code value} (UTF-8, null = none), {@code *_hex}, {@code value_fill}; with
         * {@code absentIsNull} a missing field is null (no key).
         */
        private static byte[] bytes(Map<String, Object> m, String field, boolean absentIsNull) {
            if (m.containsKey(field + "_hex")) {
                return Json.hex((String) m.get(field + "_hex"));
            }
            if (m.containsKey(field + "_fill")) {
                Map<String, Object> fill = Json.map(m.get(field + "_fill"));
                byte[] b = new byte[Json.integer(fill.get("len"))];
                Arrays.fill(b, Json.hex((String) fill.get("byte_hex"))[0]);
                return b;
            }
            if (!m.containsKey(field)) {
                assertTrue(absentIsNull, "no " + field);
                return null;
            }
            Object v = m.get(field);
            return v == null ? null : ((String) v).getBytes(StandardCharsets.UTF_8);
        }

        private static Duration timeout(Map<String, Object> step) {
            return Duration.ofMillis(Json.integer(step.get("timeout_ms")));
        }

        /** The result of a send's future, or the HeadwaterException it failed with. */
        private static Object await(CompletableFuture<?> f, Map<String, Object> step) throws Exception {
            try {
                if (step.get("timeout_ms") != null) {
                    return f.get(Json.integer(step.get("timeout_ms")), TimeUnit.MILLISECONDS);
                }
                return f.get();
            } catch (ExecutionException e) {
                throw assertInstanceOf(HeadwaterException.class, e.getCause());
            }
        }

        private Object op(Map<String, Object> step) throws Exception {
            String op = (String) step.get("op");
            switch (op) {
                case "start_broker":
                    broker = TestBroker.start(options(step.get("options")));
                    return null;
                case "stop_broker":
                    broker.close();
                    return null;
                case "create_topic":
                    broker.createTopic((String) step.get("name"), options(step.get("options")));
                    return null;
                case "read_back": {
                    long from = step.get("from_offset") == null ? 0 : Json.integer(step.get("from_offset"));
                    return broker.records((String) step.get("topic"), Json.integer(step.get("partition")), from);
                }
                case "broker_pause":
                    broker.pause();
                    return null;
                case "broker_resume":
                    broker.resume();
                    return null;
                case "broker_fail_next":
                    broker.failNext(Json.integer(step.get("api_key")), Json.integer(step.get("count")),
                            Json.integer(step.get("code")));
                    return null;
                case "connect":
                    if (producer != null) {
                        producer.close();
                        producer = null;
                    }
                    producer = Producer.connect(broker.endpoint(), (String) step.get("topic"),
                            ProducerConfig.fromMap(options(step.get("config"))));
                    return null;
                case "producer_state": {
                    Map<String, Object> state = new HashMap<>();
                    state.put("topic", producer.topic());
                    state.put("partition_count", producer.partitionCount());
                    state.put("compression", producer.compression().configName());
                    state.put("closed", producer.isClosed());
                    return state;
                }
                case "send":
                case "send_to": {
                    byte[] key = bytes(step, "key", true);
                    byte[] value = bytes(step, "value", false);
                    CompletableFuture<RecordMetadata> f = op.equals("send") ? producer.send(key, value)
                            : producer.sendTo(Json.integer(step.get("partition")), key, value);
                    assertNotNull(f);
                    if (step.get("as") != null) {
                        outputs.put((String) step.get("as"), f);
                    }
                    return f;
                }
                case "send_all": {
                    List<ProducerRecord> records = new ArrayList<>();
                    for (Object r : Json.list(step.get("records"))) {
                        Map<String, Object> m = Json.map(r);
                        records.add(ProducerRecord.of(bytes(m, "key", true), bytes(m, "value", false)));
                    }
                    List<CompletableFuture<RecordMetadata>> fs = producer.sendAll(records);
                    if (step.get("as") != null) {
                        outputs.put((String) step.get("as"), fs);
                    }
                    return fs;
                }
                case "wait":
                    return await((CompletableFuture<?>) outputs.get((String) step.get("output")), step);
                case "wait_all": {
                    List<Object> out = new ArrayList<>();
                    for (Object f : (List<?>) outputs.get((String) step.get("outputs"))) {
                        out.add(await((CompletableFuture<?>) f, step));
                    }
                    return out;
                }
                case "flush":
                    if (step.get("timeout_ms") == null) {
                        producer.flush();
                    } else {
                        producer.flush(timeout(step));
                    }
                    return null;
                case "close":
                    if (step.get("timeout_ms") == null) {
                        producer.close();
                    } else {
                        producer.close(timeout(step));
                    }
                    return null;
                case "stats":
                    return producer.stats();
                case "admin_connect":
                    admin = Admin.connect(broker.endpoint());
                    return null;
                case "admin_create_topic":
                    admin.createTopic((String) step.get("name"), options(step.get("options")));
                    return null;
                case "admin_delete_topic":
                    admin.deleteTopic((String) step.get("name"));
                    return null;
                case "admin_list_topics":
                    return admin.listTopics();
                default:
                    throw new AssertionError("op " + op + " has no Java form (its steps must exclude java)");
            }
        }
    }
}
