/*
 * The C ABI test suite: every exported function, every error path (NULL arguments included), the
 * delivery callback over many records, flush/close/free ordering, the shared vectors
 * (tests/vectors.h, generated from tests/vectors/ JSON files), and records read back through
 * hw_broker_records. Plain C with a tiny runner; the last line is "N passed, M failed".
 *
 * Tests assert outcomes, never durations: waits use generous deadlines.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "headwater.h"
#include "vectors.h"

/* ------------------------------------------------------------------------------------------ */
/* The runner                                                                                  */

static int g_failed_checks;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "    CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
            g_failed_checks++;                                                                 \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* Fails (and returns) if err is not NULL; prints its message. */
#define OK(expr)                                                                               \
    do {                                                                                       \
        hw_error *e_ = (expr);                                                                 \
        if (e_ != NULL) {                                                                      \
            fprintf(stderr, "    %s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,           \
                    hw_error_message(e_));                                                     \
            hw_error_free(e_);                                                                 \
            g_failed_checks++;                                                                 \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* Expects an error of `kind` (an hw_error_kind value); frees it. */
#define EXPECT_KIND(expr, kind)                                                                \
    do {                                                                                       \
        hw_error *e_ = (expr);                                                                 \
        int got_ = hw_error_number(e_);                                                        \
        if (got_ != (int)(kind)) {                                                             \
            fprintf(stderr, "    %s:%d: %s: expected %s, got %s (%s)\n", __FILE__, __LINE__,   \
                    #expr, hw_error_code_name((int)(kind)), hw_error_code(e_),                 \
                    e_ ? hw_error_message(e_) : "no error");                                   \
            hw_error_free(e_);                                                                 \
            g_failed_checks++;                                                                 \
            return;                                                                            \
        }                                                                                      \
        hw_error_free(e_);                                                                     \
    } while (0)

/* Expects an error of `kind` whose message contains `needle`; frees it. */
#define EXPECT_KIND_MSG(expr, kind, needle)                                                    \
    do {                                                                                       \
        hw_error *em_ = (expr);                                                                \
        int gotm_ = hw_error_number(em_);                                                      \
        const char *msg_ = em_ ? hw_error_message(em_) : "no error";                           \
        if (gotm_ != (int)(kind) || strstr(msg_, (needle)) == NULL) {                          \
            fprintf(stderr, "    %s:%d: %s: expected %s mentioning \"%s\", got %s (%s)\n",     \
                    __FILE__, __LINE__, #expr, hw_error_code_name((int)(kind)), (needle),      \
                    hw_error_code(em_), msg_);                                                 \
            hw_error_free(em_);                                                                \
            g_failed_checks++;                                                                 \
            return;                                                                            \
        }                                                                                      \
        hw_error_free(em_);                                                                    \
    } while (0)

typedef void (*test_fn)(void);
typedef struct {
    const char *name;
    test_fn fn;
} test_case;

static hw_broker *g_broker;   /* shared by most tests */
static const char *g_endpoint;

/* HW_TEST_SCALE=k divides the big record counts by k (valgrind runs the same checks on fewer). */
static int scaled(int n) {
    const char *v = getenv("HW_TEST_SCALE");
    int k = v ? atoi(v) : 1;
    if (k < 1) k = 1;
    return n / k > 0 ? n / k : 1;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (generously) until *counter >= want; true if it got there. */
static int wait_count(atomic_long *counter, long want) {
    for (int i = 0; i < 120000 && atomic_load(counter) < want; i++) sleep_ms(1);
    return atomic_load(counter) >= want;
}

static hw_producer *connect_producer(const char *topic, const char *k1, const char *v1,
                                     const char *k2, const char *v2) {
    hw_config *cfg = hw_config_new();
    hw_error *e = NULL;
    if (k1) e = hw_config_set(cfg, k1, v1);
    if (!e && k2) e = hw_config_set(cfg, k2, v2);
    hw_producer *p = NULL;
    if (!e) e = hw_producer_connect(g_endpoint, topic, cfg, &p);
    hw_config_free(cfg);
    if (e) {
        fprintf(stderr, "    connect(%s): %s\n", topic, hw_error_message(e));
        hw_error_free(e);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* Per-record delivery bookkeeping                                                              */

typedef struct {
    atomic_int calls;
    uint32_t partition;
    int64_t offset;
    int64_t timestamp;
    int kind; /* 0 = success */
    int topic_ok;
    const char *expect_topic;
    atomic_long *done; /* incremented once per call */
} slot;

static void on_delivery(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    slot *s = (slot *)ctx;
    if (meta) {
        s->partition = meta->partition;
        s->offset = meta->offset;
        s->timestamp = meta->timestamp;
        s->kind = 0;
        s->topic_ok = s->expect_topic && meta->topic && strcmp(meta->topic, s->expect_topic) == 0;
    } else {
        s->kind = hw_error_number(err);
        s->topic_ok = hw_error_message(err) != NULL;
    }
    atomic_fetch_add(&s->calls, 1);
    if (s->done) atomic_fetch_add(s->done, 1);
}

static slot *new_slots(size_t n, const char *topic, atomic_long *done) {
    slot *s = calloc(n, sizeof(slot));
    for (size_t i = 0; i < n; i++) {
        s[i].expect_topic = topic;
        s[i].done = done;
        s[i].kind = -1;
    }
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Errors and vectors                                                                          */

static void test_error_accessors_null_safe(void) {
    CHECK(hw_error_number(NULL) == HW_ERROR_KIND_OK);
    CHECK(strcmp(hw_error_code(NULL), "OK") == 0);
    CHECK(hw_error_message(NULL) == NULL);
    CHECK(!hw_error_is_retriable(NULL));
    CHECK(hw_error_broker_code(NULL) == 0);
    hw_error_free(NULL);
    CHECK(hw_version() != NULL && strlen(hw_version()) > 0);
    CHECK(strcmp(hw_error_code_name(0), "OK") == 0);
    CHECK(hw_error_code_name(99) == NULL);
    CHECK(hw_error_code_name(-1) == NULL);
}

/* An error's code string, number and message agree (the four facts of every language's error). */
static void test_error_code_and_number(void) {
    hw_config *cfg = hw_config_new();
    hw_error *e = hw_config_set(cfg, "linger_ms", "soon");
    hw_config_free(cfg);
    CHECK(e != NULL);
    int number = hw_error_number(e);
    int code_ok = strcmp(hw_error_code(e), "CONFIG") == 0;
    int message_ok = strncmp(hw_error_message(e), "[CONFIG] ", 9) == 0;
    int retriable = hw_error_is_retriable(e);
    int broker_code = hw_error_broker_code(e);
    hw_error_free(e);
    CHECK(number == HW_ERROR_KIND_CONFIG);
    CHECK(code_ok && message_ok);
    CHECK(!retriable && broker_code == 0);
    CHECK(strcmp(hw_error_code_name(number), "CONFIG") == 0);
}

/* Not in the header: the library's test-only hook that panics inside the boundary. */
hw_error *hw_debug_panic(void);

/* A panic never unwinds into C: it becomes an INTERNAL error. */
static void test_panic_becomes_internal(void) {
    EXPECT_KIND_MSG(hw_debug_panic(), HW_ERROR_KIND_INTERNAL, "panic");
}

static void test_vectors_error_kinds(void) {
    /* The enum values of the header, by name, against errors.json. */
    static const struct {
        const char *code;
        int value;
    } header[] = {
        {"CONFIG", HW_ERROR_KIND_CONFIG},
        {"TIMEOUT", HW_ERROR_KIND_TIMEOUT},
        {"QUEUE_FULL", HW_ERROR_KIND_QUEUE_FULL},
        {"RECORD_TOO_LARGE", HW_ERROR_KIND_RECORD_TOO_LARGE},
        {"UNKNOWN_TOPIC", HW_ERROR_KIND_UNKNOWN_TOPIC},
        {"UNKNOWN_PARTITION", HW_ERROR_KIND_UNKNOWN_PARTITION},
        {"COMPRESSION", HW_ERROR_KIND_COMPRESSION},
        {"TRANSPORT", HW_ERROR_KIND_TRANSPORT},
        {"PROTOCOL", HW_ERROR_KIND_PROTOCOL},
        {"BROKER", HW_ERROR_KIND_BROKER},
        {"CLOSED", HW_ERROR_KIND_CLOSED},
        {"FORKED", HW_ERROR_KIND_FORKED},
        {"INVALID_ARGUMENT", HW_ERROR_KIND_INVALID_ARGUMENT},
        {"INTERNAL", HW_ERROR_KIND_INTERNAL},
    };
    size_t n = sizeof(header) / sizeof(header[0]);
    int in_c = 0;
    for (size_t i = 0; i < VEC_ERROR_KINDS_LEN; i++) {
        const vec_error_kind *v = &VEC_ERROR_KINDS[i];
        if (!v->in_c) continue;
        in_c++;
        int found = 0;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(header[j].code, v->code) == 0) {
                CHECK(header[j].value == v->number);
                found = 1;
            }
        }
        CHECK(found);
        CHECK(hw_error_code_name(v->number) != NULL);
        CHECK(strcmp(hw_error_code_name(v->number), v->code) == 0);
    }
    CHECK((size_t)in_c == n); /* no enum value that the vectors do not know */
}

static void test_vectors_config(void) {
    for (size_t i = 0; i < VEC_CONFIG_INPUTS_LEN; i++) {
        const vec_config_input *v = &VEC_CONFIG_INPUTS[i];
        const char *names[2] = {v->key, v->camel};
        for (int k = 0; k < 2; k++) {
            hw_config *cfg = hw_config_new();
            CHECK(cfg != NULL);
            hw_error *e = hw_config_set(cfg, names[k], v->input);
            hw_config_free(cfg);
            if (v->valid) {
                if (e) fprintf(stderr, "    %s=%s: %s\n", names[k], v->input, hw_error_message(e));
                CHECK(e == NULL);
            } else {
                int kind = hw_error_number(e);
                int names_key = e && strstr(hw_error_message(e), names[k]) != NULL; /* as spelled */
                int retriable = hw_error_is_retriable(e);
                hw_error_free(e);
                if (kind != HW_ERROR_KIND_CONFIG || !names_key)
                    fprintf(stderr, "    %s=\"%.40s\" should be a CONFIG error naming the key\n",
                            names[k], v->input);
                CHECK(kind == HW_ERROR_KIND_CONFIG);
                CHECK(names_key);
                CHECK(!retriable);
            }
        }
    }
    for (size_t i = 0; i < VEC_CONFIG_UNKNOWN_KEYS_LEN; i++) {
        hw_config *cfg = hw_config_new();
        hw_error *e = hw_config_set(cfg, VEC_CONFIG_UNKNOWN_KEYS[i], "1");
        hw_config_free(cfg);
        int kind = hw_error_number(e);
        int names_key = e && strstr(hw_error_message(e), VEC_CONFIG_UNKNOWN_KEYS[i]) != NULL;
        hw_error_free(e);
        CHECK(kind == HW_ERROR_KIND_CONFIG);
        CHECK(names_key);
    }
}

static void test_vectors_stats_fields(void) {
    hw_stats s;
    memset(&s, 0, sizeof s);
    size_t n = 0;
#define COUNT_FIELD(f) (void)s.f; n++;
    VEC_STATS_FIELDS(COUNT_FIELD)
#undef COUNT_FIELD
    CHECK(n == VEC_STATS_FIELDS_LEN);
    CHECK(sizeof(hw_stats) == n * sizeof(uint64_t)); /* those fields and no others */
}

static void test_config_errors(void) {
    hw_config *cfg = hw_config_new();
    CHECK(cfg != NULL);
    EXPECT_KIND(hw_config_set(NULL, "linger_ms", "1"), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_config_set(cfg, NULL, "1"), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_config_set(cfg, "linger_ms", NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_config_set(cfg, "client_id", "\xff\xfe"), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_config_set(cfg, "linger_ms", "soon"), HW_ERROR_KIND_CONFIG);
    OK(hw_config_set(cfg, "lingerMs", "5"));
    hw_config_free(cfg);
    hw_config_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Broker, record lists, admin                                                                 */

static void test_broker_errors(void) {
    hw_broker *b = (hw_broker *)0x1; /* must stay untouched on failure */
    EXPECT_KIND(hw_broker_start(1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND_MSG(hw_broker_start(0, NULL, &b), HW_ERROR_KIND_CONFIG, "spus");
    CHECK(b == (hw_broker *)0x1);
    CHECK(hw_broker_endpoint(NULL) == NULL);
    EXPECT_KIND(hw_broker_create_topic(NULL, "t", 1), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_create_topic(g_broker, NULL, 1), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND_MSG(hw_broker_create_topic(g_broker, "zero", 0), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "`partitions` must be in 1..=2147483647, got 0");
    hw_error *e = hw_broker_create_topic(g_broker, "Bad_Name!", 1);
    int invalid_name = hw_error_number(e) == HW_ERROR_KIND_BROKER && hw_error_broker_code(e) == 2006;
    hw_error_free(e);
    CHECK(invalid_name); /* TopicInvalidName, as Admin reports it */
    OK(hw_broker_create_topic(g_broker, "dup-topic", 1));
    e = hw_broker_create_topic(g_broker, "dup-topic", 1);
    int exists = hw_error_number(e) == HW_ERROR_KIND_BROKER && hw_error_broker_code(e) == 2002;
    int retriable = hw_error_is_retriable(e);
    hw_error_free(e);
    CHECK(exists && !retriable); /* TopicAlreadyExists */
    hw_record_list *l = (hw_record_list *)0x1;
    EXPECT_KIND(hw_broker_records(NULL, "dup-topic", 0, 0, &l), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_records(g_broker, NULL, 0, 0, &l), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_records(g_broker, "dup-topic", 0, 0, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_records(g_broker, "no-such-topic", 0, 0, &l), HW_ERROR_KIND_UNKNOWN_TOPIC);
    EXPECT_KIND(hw_broker_records(g_broker, "dup-topic", 7, 0, &l), HW_ERROR_KIND_UNKNOWN_PARTITION);
    CHECK(l == (hw_record_list *)0x1);
    EXPECT_KIND(hw_broker_pause(NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_resume(NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_broker_stop(NULL);
}

static void test_record_list_errors(void) {
    hw_record_list *l = NULL;
    OK(hw_broker_records(g_broker, "dup-topic", 0, 0, &l));
    CHECK(hw_record_list_len(l) == 0);
    hw_stored_record r;
    EXPECT_KIND(hw_record_list_get(l, 0, &r), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_record_list_get(NULL, 0, &r), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_record_list_get(l, 0, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(hw_record_list_len(NULL) == 0);
    hw_record_list_free(l);
    hw_record_list_free(NULL);
}

static void test_admin(void) {
    hw_admin *a = NULL;
    EXPECT_KIND(hw_admin_connect(NULL, &a), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_connect(g_endpoint, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(a == NULL);
    OK(hw_admin_connect(g_endpoint, &a));
    CHECK(a != NULL);
    bool exists = true;
    OK(hw_admin_topic_exists(a, "admin-topic", &exists));
    CHECK(!exists);
    OK(hw_admin_create_topic(a, "admin-topic", 2, NULL));
    OK(hw_admin_topic_exists(a, "admin-topic", &exists));
    CHECK(exists);
    EXPECT_KIND(hw_admin_create_topic(a, "admin-topic", 2, NULL), HW_ERROR_KIND_BROKER);
    EXPECT_KIND(hw_admin_create_topic(a, "admin-zip", 1, "zip"), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_create_topic(a, "admin-zero", 0, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_create_topic(NULL, "x", 1, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_create_topic(a, NULL, 1, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_topic_exists(a, "x", NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_topic_exists(NULL, "x", &exists), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_topic_exists(a, NULL, &exists), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_admin_delete_topic(a, "admin-topic"));
    OK(hw_admin_topic_exists(a, "admin-topic", &exists));
    CHECK(!exists);
    EXPECT_KIND(hw_admin_delete_topic(NULL, "x"), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_delete_topic(a, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_admin_create_topic(a, "admin-any", 1, "any"));
    hw_admin_free(a);
    hw_admin_free(NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Producer                                                                                    */

static void test_producer_null_arguments(void) {
    OK(hw_broker_create_topic(g_broker, "null-args", 1));
    hw_producer *p = (hw_producer *)0x1;
    EXPECT_KIND(hw_producer_connect(NULL, "null-args", NULL, &p), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_connect(g_endpoint, NULL, NULL, &p), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_connect(g_endpoint, "null-args", NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_connect(g_endpoint, "", NULL, &p), HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(p == (hw_producer *)0x1);
    p = NULL;
    OK(hw_producer_connect(g_endpoint, "null-args", NULL, &p)); /* NULL cfg = defaults */
    const uint8_t v[] = "v";
    EXPECT_KIND(hw_producer_send(NULL, NULL, 0, v, 1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send(p, NULL, 3, v, 1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send(p, NULL, 0, NULL, 5, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_to(NULL, 0, NULL, 0, v, 1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_to(p, 0, NULL, 2, v, 1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_record(p, NULL, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_record(NULL, NULL, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_record_metadata m;
    EXPECT_KIND(hw_producer_send_sync(NULL, NULL, 0, v, 1, &m), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_sync(p, NULL, 0, v, 1, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_sync(p, NULL, 1, v, 1, &m), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_flush(NULL, 0), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_stats st;
    EXPECT_KIND(hw_producer_stats(NULL, &st), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_stats(p, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_close(NULL, 0), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_free(NULL));
    OK(hw_producer_stats(p, &st));
    CHECK(st.records_sent == 0); /* nothing above was enqueued */
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

/* Many records with callbacks; each callback exactly once; read back through hw_broker_records. */
static void test_send_many_and_read_back(void) {
    enum { PARTS = 3 };
    const int N = scaled(20000);
    OK(hw_broker_create_topic(g_broker, "many", PARTS));
    hw_producer *p = connect_producer("many", "linger_ms", "5", NULL, NULL);
    CHECK(p != NULL);
    atomic_long done = 0;
    slot *s = new_slots(N, "many", &done);
    char key[32], val[64];
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof key, "key-%d", i % 97);
        int vl = snprintf(val, sizeof val, "value-%d", i);
        OK(hw_producer_send(p, (const uint8_t *)key, (size_t)kl, (const uint8_t *)val, (size_t)vl,
                            on_delivery, &s[i]));
    }
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    /* Every callback ran exactly once by the time flush returned. */
    CHECK(atomic_load(&done) == N);
    long per_part[PARTS] = {0};
    for (int i = 0; i < N; i++) {
        CHECK(atomic_load(&s[i].calls) == 1);
        CHECK(s[i].kind == 0);
        CHECK(s[i].topic_ok);
        CHECK(s[i].partition < PARTS);
        CHECK(s[i].offset >= 0);
        per_part[s[i].partition]++;
    }
    hw_stats st;
    OK(hw_producer_stats(p, &st));
    CHECK(st.records_sent == (uint64_t)N);
    CHECK(st.records_acked == (uint64_t)N);
    CHECK(st.records_failed == 0);
    CHECK(st.queued_records == 0);
    CHECK(st.batches_sent > 0 && st.requests_sent > 0);
    /* Read back: offsets 0..n-1 per partition, keys and values as sent. */
    long total = 0;
    for (uint32_t part = 0; part < PARTS; part++) {
        hw_record_list *l = NULL;
        OK(hw_broker_records(g_broker, "many", part, 0, &l));
        size_t n = hw_record_list_len(l);
        CHECK((long)n == per_part[part]);
        int64_t *index = malloc(sizeof(int64_t) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) index[i] = -1;
        for (int i = 0; i < N; i++)
            if (s[i].partition == part) index[s[i].offset] = i;
        for (size_t i = 0; i < n; i++) {
            hw_stored_record r;
            OK(hw_record_list_get(l, i, &r));
            CHECK(r.offset == (int64_t)i);
            CHECK(r.partition == part);
            CHECK(strcmp(r.compression, "none") == 0);
            int64_t src = index[i];
            CHECK(src >= 0);
            int kl = snprintf(key, sizeof key, "key-%d", (int)(src % 97));
            int vl = snprintf(val, sizeof val, "value-%d", (int)src);
            CHECK(r.key != NULL && r.key_len == (size_t)kl && memcmp(r.key, key, (size_t)kl) == 0);
            CHECK(r.value_len == (size_t)vl && memcmp(r.value, val, (size_t)vl) == 0);
            CHECK(r.timestamp == s[src].timestamp);
        }
        /* from > 0 reads the tail only */
        hw_record_list *tail = NULL;
        OK(hw_broker_records(g_broker, "many", part, (int64_t)n - 1, &tail));
        CHECK(hw_record_list_len(tail) == (n ? 1u : 0u));
        hw_record_list_free(tail);
        free(index);
        hw_record_list_free(l);
        total += (long)n;
    }
    CHECK(total == N);
    /* Same key => same partition. */
    for (int i = 97; i < N; i++) CHECK(s[i].partition == s[i % 97].partition);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    free(s);
}

static void test_null_key_vs_empty_key(void) {
    OK(hw_broker_create_topic(g_broker, "keys", 1));
    hw_producer *p = connect_producer("keys", "linger_ms", "0", NULL, NULL);
    CHECK(p != NULL);
    static const uint8_t empty[1] = {0};
    OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"a", 1, NULL, NULL));   /* no key */
    OK(hw_producer_send(p, empty, 0, (const uint8_t *)"b", 1, NULL, NULL));  /* empty key */
    OK(hw_producer_send(p, (const uint8_t *)"k", 1, NULL, 0, NULL, NULL));   /* empty value */
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    hw_record_list *l = NULL;
    OK(hw_broker_records(g_broker, "keys", 0, 0, &l));
    CHECK(hw_record_list_len(l) == 3);
    hw_stored_record r;
    OK(hw_record_list_get(l, 0, &r));
    CHECK(r.key == NULL && r.key_len == 0 && r.value_len == 1 && r.value[0] == 'a');
    OK(hw_record_list_get(l, 1, &r));
    CHECK(r.key != NULL && r.key_len == 0 && r.value_len == 1 && r.value[0] == 'b');
    OK(hw_record_list_get(l, 2, &r));
    CHECK(r.key != NULL && r.key_len == 1 && r.key[0] == 'k' && r.value != NULL && r.value_len == 0);
    hw_record_list_free(l);
}

/* Waiting sends the batch: with a linger of 600 s, send_sync returns only because core sends the
 * record's batch when someone waits on it (a regression would hang here, not pass slowly). */
static void test_send_sync_does_not_linger(void) {
    OK(hw_broker_create_topic(g_broker, "sync-linger", 1));
    hw_producer *p = connect_producer("sync-linger", "linger_ms", "600000", "delivery_timeout_ms", "900000");
    CHECK(p != NULL);
    for (int64_t i = 0; i < 20; i++) {
        hw_record_metadata m;
        OK(hw_producer_send_sync(p, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, &m));
        CHECK(m.offset == i);
    }
    hw_record_list *l = NULL;
    OK(hw_broker_records(g_broker, "sync-linger", 0, 0, &l));
    CHECK(hw_record_list_len(l) == 20);
    hw_record_list_free(l);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

static void test_send_sync_send_to_send_record(void) {
    OK(hw_broker_create_topic(g_broker, "sync", 2));
    hw_producer *p = connect_producer("sync", NULL, NULL, NULL, NULL); /* default linger 100 ms */
    CHECK(p != NULL);
    hw_record_metadata m1, m2;
    OK(hw_producer_send_sync(p, (const uint8_t *)"k", 1, (const uint8_t *)"one", 3, &m1));
    OK(hw_producer_send_sync(p, (const uint8_t *)"k", 1, (const uint8_t *)"two", 3, &m2));
    CHECK(m1.topic != NULL && strcmp(m1.topic, "sync") == 0);
    CHECK(m1.partition == m2.partition);
    CHECK(m2.offset == m1.offset + 1);
    atomic_long done = 0;
    slot *s = new_slots(2, "sync", &done);
    OK(hw_producer_send_to(p, 1, NULL, 0, (const uint8_t *)"to-1", 4, on_delivery, &s[0]));
    hw_record rec = {(const uint8_t *)"rk", 2, (const uint8_t *)"rec", 3, 0, 1234567};
    OK(hw_producer_send_record(p, &rec, on_delivery, &s[1]));
    rec.partition = 5;
    EXPECT_KIND(hw_producer_send_record(p, &rec, on_delivery, &s[1]), HW_ERROR_KIND_UNKNOWN_PARTITION);
    rec.partition = -2;
    EXPECT_KIND(hw_producer_send_record(p, &rec, on_delivery, &s[1]), HW_ERROR_KIND_INVALID_ARGUMENT);
    rec.partition = -1;
    rec.timestamp = -7;
    EXPECT_KIND(hw_producer_send_record(p, &rec, on_delivery, &s[1]), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_producer_send_to(p, 2, NULL, 0, (const uint8_t *)"x", 1, on_delivery, &s[1]),
                HW_ERROR_KIND_UNKNOWN_PARTITION);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == 2); /* failed sends never call back */
    CHECK(atomic_load(&s[0].calls) == 1 && atomic_load(&s[1].calls) == 1);
    CHECK(s[0].kind == 0 && s[0].partition == 1);
    CHECK(s[1].kind == 0 && s[1].partition == 0 && s[1].timestamp == 1234567);
    hw_record_list *l = NULL;
    OK(hw_broker_records(g_broker, "sync", 0, 0, &l));
    hw_stored_record r;
    int found = 0;
    for (size_t i = 0; i < hw_record_list_len(l); i++) {
        OK(hw_record_list_get(l, i, &r));
        if (r.value_len == 3 && memcmp(r.value, "rec", 3) == 0) {
            found = 1;
            CHECK(r.timestamp == 1234567);
            CHECK(r.offset == s[1].offset);
        }
    }
    hw_record_list_free(l);
    CHECK(found);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    free(s);
}

static void test_compression_read_back(void) {
    OK(hw_broker_create_topic(g_broker, "gz", 1));
    hw_producer *p = connect_producer("gz", "compression", "gzip", "linger_ms", "0");
    CHECK(p != NULL);
    hw_record_metadata m;
    OK(hw_producer_send_sync(p, NULL, 0, (const uint8_t *)"zipped", 6, &m));
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    hw_record_list *l = NULL;
    OK(hw_broker_records(g_broker, "gz", 0, 0, &l));
    hw_stored_record r;
    OK(hw_record_list_get(l, 0, &r));
    CHECK(strcmp(r.compression, "gzip") == 0);
    CHECK(r.value_len == 6 && memcmp(r.value, "zipped", 6) == 0);
    hw_record_list_free(l);
}

/* Each kind that can occur in C, triggered for real (INTERNAL: see the Rust unit test). */
static void test_error_kinds_triggered(void) {
    hw_producer *p = NULL;
    /* UNKNOWN_TOPIC */
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "metadata_timeout_ms", "300"));
    EXPECT_KIND(hw_producer_connect(g_endpoint, "never-created", cfg, &p), HW_ERROR_KIND_UNKNOWN_TOPIC);
    /* TRANSPORT: nothing listens on port 1 */
    hw_error *e = hw_producer_connect("127.0.0.1:1", "t", cfg, &p);
    CHECK(hw_error_number(e) == HW_ERROR_KIND_TRANSPORT);
    CHECK(hw_error_is_retriable(e));
    hw_error_free(e);
    hw_config_free(cfg);
    CHECK(p == NULL);
    /* RECORD_TOO_LARGE, UNKNOWN_PARTITION, CLOSED */
    OK(hw_broker_create_topic(g_broker, "errs", 2));
    p = connect_producer("errs", "max_request_size", "1024", NULL, NULL);
    CHECK(p != NULL);
    static uint8_t big[4096];
    EXPECT_KIND(hw_producer_send(p, NULL, 0, big, sizeof big, NULL, NULL), HW_ERROR_KIND_RECORD_TOO_LARGE);
    EXPECT_KIND(hw_producer_send_to(p, 2, NULL, 0, big, 1, NULL, NULL), HW_ERROR_KIND_UNKNOWN_PARTITION);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_close(p, HW_WAIT_FOREVER)); /* idempotent */
    EXPECT_KIND(hw_producer_send(p, NULL, 0, big, 1, NULL, NULL), HW_ERROR_KIND_CLOSED);
    OK(hw_producer_free(p));
    /* COMPRESSION: the topic only takes gzip */
    hw_admin *a = NULL;
    OK(hw_admin_connect(g_endpoint, &a));
    OK(hw_admin_create_topic(a, "gzip-only", 1, "gzip"));
    hw_admin_free(a);
    cfg = hw_config_new();
    OK(hw_config_set(cfg, "compression", "lz4"));
    p = NULL;
    EXPECT_KIND(hw_producer_connect(g_endpoint, "gzip-only", cfg, &p), HW_ERROR_KIND_COMPRESSION);
    hw_config_free(cfg);
    CHECK(p == NULL);
}

/* QUEUE_FULL and TIMEOUT against a paused broker of its own (pausing the shared one would stall
 * other tests). */
static void test_queue_full_and_timeout(void) {
    hw_broker *b = NULL;
    OK(hw_broker_start(1, NULL, &b));
    OK(hw_broker_create_topic(b, "slow", 1));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "batch_size", "1"));        /* every record is a batch */
    OK(hw_config_set(cfg, "batch_queue_size", "1"));  /* one batch per partition at a time */
    OK(hw_config_set(cfg, "send_timeout_ms", "0"));
    OK(hw_config_set(cfg, "linger_ms", "0"));
    hw_producer *p = NULL;
    hw_error *ce = hw_producer_connect(hw_broker_endpoint(b), "slow", cfg, &p);
    hw_config_free(cfg);
    OK(ce);
    OK(hw_broker_pause(b));
    atomic_long done = 0;
    slot *s = new_slots(2, "slow", &done);
    OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"first", 5, on_delivery, &s[0]));
    EXPECT_KIND(hw_producer_send(p, NULL, 0, (const uint8_t *)"second", 6, on_delivery, &s[1]),
                HW_ERROR_KIND_QUEUE_FULL);
    hw_error *e = hw_producer_flush(p, 200);
    CHECK(hw_error_number(e) == HW_ERROR_KIND_TIMEOUT);
    CHECK(hw_error_is_retriable(e));
    hw_error_free(e);
    e = hw_producer_flush(p, HW_NO_WAIT); /* seals, and the record is still pending */
    CHECK(hw_error_number(e) == HW_ERROR_KIND_TIMEOUT && hw_error_is_retriable(e));
    hw_error_free(e);
    OK(hw_broker_resume(b));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == 1);
    CHECK(s[0].kind == 0 && s[0].offset == 0);
    CHECK(atomic_load(&s[1].calls) == 0);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    free(s);
    hw_broker_stop(b);
}

/* A send that finds its partition's queue full waits for space (send_timeout_ms), on the calling
 * thread and without the runtime's context (sends do not enter it): with a long timeout it goes
 * through once the broker resumes; with a short one it fails with QUEUE_FULL after waiting. */
typedef struct {
    hw_broker *b;
    atomic_int resumed;
} resumer;

static void *resume_later(void *arg) {
    resumer *r = arg;
    sleep_ms(300);
    atomic_store(&r->resumed, 1);
    hw_error_free(hw_broker_resume(r->b));
    return NULL;
}

static void test_send_waits_for_queue_space(void) {
    hw_broker *b = NULL;
    OK(hw_broker_start(1, NULL, &b));
    OK(hw_broker_create_topic(b, "wait", 1));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "batch_size", "1"));
    OK(hw_config_set(cfg, "batch_queue_size", "1"));
    OK(hw_config_set(cfg, "send_timeout_ms", "200"));
    OK(hw_config_set(cfg, "linger_ms", "0"));
    hw_producer *short_wait = NULL, *long_wait = NULL;
    hw_error *ce = hw_producer_connect(hw_broker_endpoint(b), "wait", cfg, &short_wait);
    if (!ce) ce = hw_config_set(cfg, "send_timeout_ms", "120000");
    if (!ce) ce = hw_producer_connect(hw_broker_endpoint(b), "wait", cfg, &long_wait);
    hw_config_free(cfg);
    OK(ce);
    OK(hw_broker_pause(b));
    atomic_long done = 0;
    slot *s = new_slots(4, "wait", &done);
    /* The short timeout: the second send waits 200 ms for space, then fails. */
    OK(hw_producer_send(short_wait, NULL, 0, (const uint8_t *)"s1", 2, on_delivery, &s[0]));
    EXPECT_KIND(hw_producer_send(short_wait, NULL, 0, (const uint8_t *)"s2", 2, on_delivery, &s[1]),
                HW_ERROR_KIND_QUEUE_FULL);
    /* The long timeout: the second send waits until the broker resumes, then succeeds. */
    OK(hw_producer_send(long_wait, NULL, 0, (const uint8_t *)"l1", 2, on_delivery, &s[2]));
    resumer r = {.b = b};
    atomic_init(&r.resumed, 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, resume_later, &r) == 0);
    hw_error *e = hw_producer_send(long_wait, NULL, 0, (const uint8_t *)"l2", 2, on_delivery, &s[3]);
    int resumed_first = atomic_load(&r.resumed);
    pthread_join(t, NULL);
    OK(e);
    CHECK(resumed_first); /* it did wait for the queue to drain */
    OK(hw_producer_flush(long_wait, HW_WAIT_FOREVER));
    OK(hw_producer_flush(short_wait, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == 3);
    CHECK(s[0].kind == 0 && s[2].kind == 0 && s[3].kind == 0);
    CHECK(atomic_load(&s[1].calls) == 0);
    OK(hw_producer_close(short_wait, HW_WAIT_FOREVER));
    OK(hw_producer_free(short_wait));
    OK(hw_producer_close(long_wait, HW_WAIT_FOREVER));
    OK(hw_producer_free(long_wait));
    hw_record_list *list = NULL;
    OK(hw_broker_records(b, "wait", 0, 0, &list));
    CHECK(hw_record_list_len(list) == 3);
    hw_record_list_free(list);
    free(s);
    hw_broker_stop(b);
}

/* PROTOCOL: a "broker" that answers with bytes that do not decode. */
static int g_garbage_fd = -1;
static void *garbage_server(void *arg) {
    (void)arg;
    for (int i = 0; i < 4; i++) {
        int c = accept(g_garbage_fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[256];
        ssize_t n = read(c, buf, sizeof buf);
        (void)n;
        /* A frame of 6 bytes: correlation id 1 (the first request's) and 2 bytes of nonsense. */
        static const unsigned char reply[] = {0, 0, 0, 6, 0, 0, 0, 1, 0xff, 0xff};
        ssize_t w = write(c, reply, sizeof reply);
        (void)w;
        sleep_ms(200);
        close(c);
    }
    return NULL;
}

static void test_protocol_error(void) {
    g_garbage_fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(g_garbage_fd >= 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(g_garbage_fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    socklen_t len = sizeof addr;
    CHECK(getsockname(g_garbage_fd, (struct sockaddr *)&addr, &len) == 0);
    CHECK(listen(g_garbage_fd, 4) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, garbage_server, NULL) == 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", ntohs(addr.sin_port));
    hw_config *cfg = hw_config_new();
    hw_error *e = hw_config_set(cfg, "metadata_timeout_ms", "2000");
    hw_producer *p = NULL;
    if (!e) e = hw_producer_connect(endpoint, "t", cfg, &p);
    hw_config_free(cfg);
    int kind = hw_error_number(e);
    if (kind != HW_ERROR_KIND_PROTOCOL) fprintf(stderr, "    got %s\n", e ? hw_error_message(e) : "no error");
    hw_error_free(e);
    shutdown(g_garbage_fd, SHUT_RDWR);
    close(g_garbage_fd);
    pthread_join(t, NULL);
    CHECK(kind == HW_ERROR_KIND_PROTOCOL);
    CHECK(p == NULL);
}

/* FORKED: a producer inherited across fork() fails in the child. */
static void test_forked(void) {
    OK(hw_broker_create_topic(g_broker, "forked", 1));
    hw_producer *p = connect_producer("forked", NULL, NULL, NULL, NULL);
    CHECK(p != NULL);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        hw_error *e = hw_producer_send(p, NULL, 0, (const uint8_t *)"x", 1, NULL, NULL);
        unsigned char kind = (unsigned char)hw_error_number(e);
        ssize_t w = write(fds[1], &kind, 1);
        (void)w;
        _exit(0);
    }
    CHECK(pid > 0);
    close(fds[1]);
    unsigned char kind = 0;
    ssize_t n = read(fds[0], &kind, 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(n == 1);
    CHECK(kind == HW_ERROR_KIND_FORKED);
    OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"parent", 6, NULL, NULL)); /* parent unaffected */
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

/* ------------------------------------------------------------------------------------------ */
/* Callbacks: re-entrancy, flush/close/free ordering                                           */

typedef struct {
    hw_producer *p;
    atomic_long calls;
    atomic_long resent_ok;
    atomic_int flush_kind, close_kind, free_kind, sync_kind;
    atomic_long resent_done;
} reentry_ctx;

static void on_resent(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    reentry_ctx *c = (reentry_ctx *)ctx;
    if (meta && !err) atomic_fetch_add(&c->resent_done, 1);
}

static void on_reentrant(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    reentry_ctx *c = (reentry_ctx *)ctx;
    (void)meta;
    (void)err;
    if (atomic_fetch_add(&c->calls, 1) == 0) {
        hw_error *e = hw_producer_flush(c->p, HW_WAIT_FOREVER);
        atomic_store(&c->flush_kind, hw_error_number(e));
        hw_error_free(e);
        e = hw_producer_close(c->p, HW_WAIT_FOREVER);
        atomic_store(&c->close_kind, hw_error_number(e));
        hw_error_free(e);
        e = hw_producer_free(c->p);
        atomic_store(&c->free_kind, hw_error_number(e));
        hw_error_free(e);
        hw_record_metadata m;
        e = hw_producer_send_sync(c->p, NULL, 0, (const uint8_t *)"s", 1, &m);
        atomic_store(&c->sync_kind, hw_error_number(e));
        hw_error_free(e);
    }
    /* Sending from a callback is allowed. */
    hw_error *e = hw_producer_send(c->p, NULL, 0, (const uint8_t *)"again", 5, on_resent, c);
    if (!e) atomic_fetch_add(&c->resent_ok, 1);
    hw_error_free(e);
}

static void test_callback_reentrancy(void) {
    enum { N = 50 };
    OK(hw_broker_create_topic(g_broker, "reentry", 2));
    hw_producer *p = connect_producer("reentry", "linger_ms", "1", NULL, NULL);
    CHECK(p != NULL);
    reentry_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    for (int i = 0; i < N; i++)
        OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"first", 5, on_reentrant, &c));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&c.calls) == N);
    CHECK(atomic_load(&c.flush_kind) == HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(atomic_load(&c.close_kind) == HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(atomic_load(&c.free_kind) == HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(atomic_load(&c.sync_kind) == HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(atomic_load(&c.resent_ok) == N);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER)); /* the records sent from callbacks */
    CHECK(atomic_load(&c.resent_done) == N);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

static atomic_long g_warnings;
static atomic_long g_unsent_warnings;
static void on_log(void *ctx, hw_log_level level, const char *target, const char *message) {
    (void)ctx;
    if (target == NULL || message == NULL) return;
    if (level <= HW_LOG_LEVEL_WARN) atomic_fetch_add(&g_warnings, 1);
    if (level == HW_LOG_LEVEL_WARN && strstr(message, "unsent") != NULL)
        atomic_fetch_add(&g_unsent_warnings, 1);
}

/* free without close: queued records are failed with CLOSED (reported, not lost), a warning is
 * logged, and every callback has run when free returns. */
static void test_free_without_close_reports_unsent(void) {
    const int N = scaled(500);
    EXPECT_KIND_MSG(hw_set_log_callback(on_log, NULL, 6), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "`log_level` must be in 0..=5, got 6");
    OK(hw_set_log_callback(on_log, NULL, HW_LOG_LEVEL_INFO));
    OK(hw_broker_create_topic(g_broker, "unsent", 1));
    hw_producer *p = connect_producer("unsent", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    atomic_long done = 0;
    slot *s = new_slots(N, "unsent", &done);
    for (int i = 0; i < N; i++)
        OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"queued", 6, on_delivery, &s[i]));
    OK(hw_producer_free(p));
    CHECK(atomic_load(&done) == N); /* all called back before free returned */
    for (int i = 0; i < N; i++) {
        CHECK(atomic_load(&s[i].calls) == 1);
        CHECK(s[i].kind == HW_ERROR_KIND_CLOSED);
    }
    CHECK(atomic_load(&g_unsent_warnings) >= 1);
    OK(hw_set_log_callback(NULL, NULL, 0)); /* back to stderr */
    free(s);
}

/* flush(HW_NO_WAIT) seals without waiting: with a 10-minute linger, records still go out. While the
 * broker holds produce requests the records are surely pending when it returns, so it reports
 * TIMEOUT (unpaused, a fast round trip could finish first and OK would be right too). */
static void test_flush_zero_seals(void) {
    enum { N = 10 };
    OK(hw_broker_create_topic(g_broker, "seal", 1));
    hw_producer *p = connect_producer("seal", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    atomic_long done = 0;
    slot *s = new_slots(N, "seal", &done);
    for (int i = 0; i < N; i++)
        OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"v", 1, on_delivery, &s[i]));
    OK(hw_broker_pause(g_broker));
    EXPECT_KIND(hw_producer_flush(p, HW_NO_WAIT), HW_ERROR_KIND_TIMEOUT);
    OK(hw_broker_resume(g_broker));
    CHECK(wait_count(&done, N));
    for (int i = 0; i < N; i++) CHECK(s[i].kind == 0 && s[i].offset == i);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    OK(hw_producer_close(p, HW_NO_WAIT)); /* nothing pending */
    OK(hw_producer_free(p));
    free(s);
}

/* close = flush then stop: every callback ran when close returns; sends after it fail. */
static void test_close_then_free_ordering(void) {
    const int N = scaled(2000);
    OK(hw_broker_create_topic(g_broker, "ordering", 4));
    hw_producer *p = connect_producer("ordering", "linger_ms", "20", NULL, NULL);
    CHECK(p != NULL);
    atomic_long done = 0;
    slot *s = new_slots(N, "ordering", &done);
    for (int i = 0; i < N; i++)
        OK(hw_producer_send(p, (const uint8_t *)&i, sizeof i, (const uint8_t *)"v", 1, on_delivery, &s[i]));
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == N);
    EXPECT_KIND(hw_producer_send(p, NULL, 0, (const uint8_t *)"late", 4, on_delivery, &s[0]), HW_ERROR_KIND_CLOSED);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER)); /* nothing left to flush */
    hw_stats st;
    OK(hw_producer_stats(p, &st));
    CHECK(st.records_acked == (uint64_t)N);
    OK(hw_producer_free(p));
    CHECK(atomic_load(&done) == N); /* no extra callback */
    for (int i = 0; i < N; i++) CHECK(atomic_load(&s[i].calls) == 1 && s[i].kind == 0);
    free(s);
}

typedef struct {
    hw_producer *p;
    slot *s;
    int n;
    atomic_int errors;
} thread_arg;

static void *send_thread(void *arg) {
    thread_arg *t = (thread_arg *)arg;
    for (int i = 0; i < t->n; i++) {
        hw_error *e = hw_producer_send(t->p, NULL, 0, (const uint8_t *)"t", 1, on_delivery, &t->s[i]);
        if (e) atomic_fetch_add(&t->errors, 1);
        hw_error_free(e);
    }
    return NULL;
}

static void test_threads_share_a_producer(void) {
    enum { T = 4 };
    const int N = scaled(2000);
    OK(hw_broker_create_topic(g_broker, "threads", 3));
    hw_producer *p = connect_producer("threads", "linger_ms", "2", NULL, NULL);
    CHECK(p != NULL);
    atomic_long done = 0;
    pthread_t th[T];
    thread_arg args[T];
    for (int t = 0; t < T; t++) {
        args[t].p = p;
        args[t].s = new_slots(N, "threads", &done);
        args[t].n = N;
        atomic_init(&args[t].errors, 0);
        CHECK(pthread_create(&th[t], NULL, send_thread, &args[t]) == 0);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == (long)T * N);
    for (int t = 0; t < T; t++) {
        CHECK(atomic_load(&args[t].errors) == 0);
        for (int i = 0; i < N; i++) CHECK(atomic_load(&args[t].s[i].calls) == 1);
        free(args[t].s);
    }
    long total = 0;
    for (uint32_t part = 0; part < 3; part++) {
        hw_record_list *l = NULL;
        OK(hw_broker_records(g_broker, "threads", part, 0, &l));
        total += (long)hw_record_list_len(l);
        hw_record_list_free(l);
    }
    CHECK(total == (long)T * N);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

static void test_durable_broker_data_dir(void) {
    char dir[] = "/tmp/hw-c-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    hw_broker *b = NULL;
    OK(hw_broker_start(1, dir, &b));
    OK(hw_broker_create_topic(b, "durable", 1));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "linger_ms", "0"));
    hw_producer *p = NULL;
    hw_error *e = hw_producer_connect(hw_broker_endpoint(b), "durable", cfg, &p);
    hw_config_free(cfg);
    OK(e);
    hw_record_metadata m;
    OK(hw_producer_send_sync(p, (const uint8_t *)"k", 1, (const uint8_t *)"kept", 4, &m));
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    hw_broker_stop(b);
    b = NULL;
    OK(hw_broker_start(1, dir, &b)); /* same directory: the topic and its records come back */
    hw_record_list *l = NULL;
    OK(hw_broker_records(b, "durable", 0, 0, &l));
    CHECK(hw_record_list_len(l) == 1);
    hw_stored_record r;
    OK(hw_record_list_get(l, 0, &r));
    CHECK(r.offset == 0 && r.value_len == 4 && memcmp(r.value, "kept", 4) == 0);
    hw_record_list_free(l);
    hw_broker_stop(b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Topic options, broker queries, topic listing, producer accessors, send_all, log levels      */

static void test_broker_topic_options(void) {
    const char *k[3] = {"partitions", "retentionSecs", "compression"};
    const char *v[3] = {"2", "3600", "gzip"};
    OK(hw_broker_create_topic_with(g_broker, "opts", k, v, 3));
    OK(hw_broker_create_topic_with(g_broker, "opts-defaults", NULL, NULL, 0));
    k[0] = "partitons";
    EXPECT_KIND_MSG(hw_broker_create_topic_with(g_broker, "opts-x", k, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "partitons");
    k[0] = "replication", v[0] = "0";
    EXPECT_KIND_MSG(hw_broker_create_topic_with(g_broker, "opts-x", k, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "`replication` must be in 1..=2147483647, got 0");
    k[0] = "compression", v[0] = "zip";
    EXPECT_KIND_MSG(hw_broker_create_topic_with(g_broker, "opts-x", k, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "compression");
    EXPECT_KIND_MSG(hw_broker_create_topic_with(g_broker, "opts-x", NULL, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "keys");
    EXPECT_KIND(hw_broker_create_topic_with(NULL, "opts-x", k, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_create_topic_with(g_broker, NULL, k, v, 1), HW_ERROR_KIND_INVALID_ARGUMENT);
    /* What the options made, as Admin lists it. */
    hw_admin *a = NULL;
    OK(hw_admin_connect(g_endpoint, &a));
    hw_topic_list *list = NULL;
    hw_error *e = hw_admin_list_topics(a, &list);
    hw_admin_free(a);
    OK(e);
    int seen = 0;
    for (size_t i = 0; i < hw_topic_list_len(list); i++) {
        hw_topic_info t;
        OK(hw_topic_list_get(list, i, &t));
        if (strcmp(t.name, "opts") == 0) {
            seen++;
            CHECK(t.partitions == 2 && t.replication == 1 && t.retention_secs == 3600);
            CHECK(strcmp(t.compression, "gzip") == 0);
        } else if (strcmp(t.name, "opts-defaults") == 0) {
            seen++;
            CHECK(t.partitions == 1 && t.replication == 1 && strcmp(t.compression, "any") == 0);
        }
    }
    hw_topic_list_free(list);
    CHECK(seen == 2);
}

static void test_broker_queries(void) {
    OK(hw_broker_create_topic(g_broker, "queries", 2));
    hw_producer *p = connect_producer("queries", "linger_ms", "0", NULL, NULL);
    CHECK(p != NULL);
    for (int i = 0; i < 3; i++) {
        hw_record_metadata m;
        OK(hw_producer_send_sync(p, (const uint8_t *)"b", 1, (const uint8_t *)"v", 1, &m));
        CHECK(m.partition == 0 && m.offset == i); /* key "b" hashes to partition 0 of 2 */
    }
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    int64_t start = -7, end = -7, hw = -7;
    OK(hw_broker_offsets(g_broker, "queries", 0, &start, &end));
    CHECK(start == 0 && end == 3);
    OK(hw_broker_offsets(g_broker, "queries", 1, &start, &end));
    CHECK(start == 0 && end == 0);
    OK(hw_broker_high_watermark(g_broker, "queries", 0, &hw));
    CHECK(hw == 3);
    int32_t leader = 0;
    OK(hw_broker_leader(g_broker, "queries", 1, &leader));
    CHECK(leader == 5001);
    EXPECT_KIND(hw_broker_offsets(g_broker, "queries", 2, &start, &end), HW_ERROR_KIND_UNKNOWN_PARTITION);
    EXPECT_KIND_MSG(hw_broker_leader(g_broker, "queries", 0x80000000u, &leader), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "`partition` must be in 0..=2147483647, got 2147483648");
    EXPECT_KIND(hw_broker_high_watermark(g_broker, "no-such-topic", 0, &hw), HW_ERROR_KIND_UNKNOWN_TOPIC);
    EXPECT_KIND(hw_broker_offsets(g_broker, "queries", 0, NULL, &end), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_offsets(g_broker, "queries", 0, &start, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_leader(NULL, "queries", 0, &leader), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_high_watermark(g_broker, NULL, 0, &hw), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_broker_counters c;
    memset(&c, 0, sizeof c);
    OK(hw_broker_stats(g_broker, &c));
    CHECK(c.produce_requests >= 3 && c.records_appended >= 3 && c.batches_appended >= 3);
    CHECK(c.bytes_appended > 0 && c.connections_total >= 1);
    EXPECT_KIND(hw_broker_stats(g_broker, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_stats(NULL, &c), HW_ERROR_KIND_INVALID_ARGUMENT);
    /* Deleting: the records go with the topic. */
    OK(hw_broker_delete_topic(g_broker, "queries"));
    hw_record_list *l = (hw_record_list *)0x1;
    EXPECT_KIND(hw_broker_records(g_broker, "queries", 0, 0, &l), HW_ERROR_KIND_UNKNOWN_TOPIC);
    EXPECT_KIND(hw_broker_delete_topic(g_broker, "queries"), HW_ERROR_KIND_UNKNOWN_TOPIC);
    EXPECT_KIND(hw_broker_delete_topic(g_broker, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_broker_delete_topic(NULL, "x"), HW_ERROR_KIND_INVALID_ARGUMENT);
}

/* One SPU paused holds its produce requests (a bounded flush times out, nothing is lost). */
static void test_pause_one_spu(void) {
    hw_broker *b = NULL;
    OK(hw_broker_start(2, NULL, &b));
    const char *k[2] = {"partitions", "replication"};
    const char *v[2] = {"1", "1"};
    OK(hw_broker_create_topic_with(b, "one-spu", k, v, 2));
    int32_t leader = 0;
    OK(hw_broker_leader(b, "one-spu", 0, &leader));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "linger_ms", "0"));
    hw_producer *p = NULL;
    hw_error *ce = hw_producer_connect(hw_broker_endpoint(b), "one-spu", cfg, &p);
    hw_config_free(cfg);
    OK(ce);
    OK(hw_broker_pause_spu(b, leader));
    OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"held", 4, NULL, NULL));
    EXPECT_KIND(hw_producer_flush(p, 200), HW_ERROR_KIND_TIMEOUT);
    OK(hw_broker_resume_spu(b, leader));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    EXPECT_KIND_MSG(hw_broker_pause_spu(b, 4242), HW_ERROR_KIND_INVALID_ARGUMENT, "4242");
    EXPECT_KIND(hw_broker_resume_spu(NULL, leader), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    int64_t start = 0, end = 0;
    OK(hw_broker_offsets(b, "one-spu", 0, &start, &end));
    CHECK(end == 1);
    hw_broker_stop(b);
}

static void test_admin_options_and_list(void) {
    hw_admin *a = NULL;
    OK(hw_admin_connect(g_endpoint, &a));
    const char *k[3] = {"partitions", "replication", "retention_secs"};
    const char *v[3] = {"3", "1", "60"};
    OK(hw_admin_create_topic_with(a, "adm-opts", k, v, 3));
    hw_error *e = hw_admin_create_topic_with(a, "adm-opts", k, v, 3);
    int exists = hw_error_number(e) == HW_ERROR_KIND_BROKER && hw_error_broker_code(e) == 2002;
    hw_error_free(e);
    CHECK(exists);
    v[1] = "0";
    EXPECT_KIND_MSG(hw_admin_create_topic_with(a, "adm-zero", k, v, 3), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "`replication` must be in 1..=2147483647, got 0");
    EXPECT_KIND_MSG(hw_admin_create_topic_with(a, "adm-zero", k, NULL, 1), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "values");
    EXPECT_KIND(hw_admin_create_topic_with(NULL, "x", NULL, NULL, 0), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_topic_list *list = NULL;
    OK(hw_admin_list_topics(a, &list));
    size_t n = hw_topic_list_len(list);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        hw_topic_info t;
        OK(hw_topic_list_get(list, i, &t));
        CHECK(t.name != NULL && t.compression != NULL && t.status != NULL && strlen(t.status) > 0);
        CHECK(strcmp(t.name, "consumer-offset") != 0); /* no system topics */
        if (strcmp(t.name, "adm-opts") == 0) {
            found = 1;
            CHECK(t.partitions == 3 && t.replication == 1 && t.retention_secs == 60);
            CHECK(strcmp(t.compression, "any") == 0);
        }
    }
    CHECK(found);
    hw_topic_info t;
    EXPECT_KIND(hw_topic_list_get(list, n, &t), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_topic_list_get(list, 0, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_topic_list_get(NULL, 0, &t), HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(hw_topic_list_len(NULL) == 0);
    hw_topic_list_free(list);
    hw_topic_list_free(NULL);
    EXPECT_KIND(hw_admin_list_topics(a, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_admin_list_topics(NULL, &list), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_admin_free(a);
}

static void test_producer_accessors(void) {
    OK(hw_broker_create_topic(g_broker, "accessors", 2));
    hw_producer *p = connect_producer("accessors", "compression", "lz4", NULL, NULL);
    CHECK(p != NULL);
    CHECK(strcmp(hw_producer_topic(p), "accessors") == 0);
    CHECK(hw_producer_partition_count(p) == 2);
    CHECK(strcmp(hw_producer_compression(p), "lz4") == 0);
    CHECK(!hw_producer_is_closed(p));
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    CHECK(hw_producer_is_closed(p));
    OK(hw_producer_free(p));
    CHECK(hw_producer_topic(NULL) == NULL && hw_producer_compression(NULL) == NULL);
    CHECK(hw_producer_partition_count(NULL) == 0 && !hw_producer_is_closed(NULL));
}

static atomic_long g_null_ctx_calls;
static void on_null_ctx(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    if (ctx == NULL && meta != NULL && err == NULL) atomic_fetch_add(&g_null_ctx_calls, 1);
}

static void test_send_all(void) {
    OK(hw_broker_create_topic(g_broker, "all", 2));
    hw_producer *p = connect_producer("all", "linger_ms", "10", "max_request_size", "1024");
    CHECK(p != NULL);
    static uint8_t big[4096];
    static const uint8_t empty[1] = {0};
    hw_record r[3] = {
        {NULL, 0, (const uint8_t *)"r0", 2, -1, -1},      /* keyless: round robin from 0 */
        {(const uint8_t *)"k", 1, (const uint8_t *)"r1", 2, 1, 42},
        {empty, 0, (const uint8_t *)"r2", 2, 0, -1},      /* empty key */
    };
    atomic_long done = 0;
    slot *s = new_slots(3, "all", &done);
    void *ctxs[3] = {&s[0], &s[1], &s[2]};
    OK(hw_producer_send_all(p, r, 3, on_delivery, ctxs));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&done) == 3);
    CHECK(s[0].kind == 0 && s[0].partition == 0 && s[0].offset == 0);
    CHECK(s[1].kind == 0 && s[1].partition == 1 && s[1].offset == 0 && s[1].timestamp == 42);
    CHECK(s[2].kind == 0 && s[2].partition == 0 && s[2].offset == 1);
    /* ctxs NULL: every callback gets NULL; no callback at all. */
    atomic_store(&g_null_ctx_calls, 0);
    OK(hw_producer_send_all(p, r, 2, on_null_ctx, NULL));
    OK(hw_producer_send_all(p, r, 1, NULL, NULL));
    OK(hw_producer_send_all(p, NULL, 0, on_null_ctx, NULL));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&g_null_ctx_calls) == 2);
    /* One oversized record refuses the call before anything is sent; so does a bad argument. */
    hw_stats before, after;
    OK(hw_producer_stats(p, &before));
    r[1].value = big, r[1].value_len = sizeof big;
    EXPECT_KIND_MSG(hw_producer_send_all(p, r, 3, on_delivery, ctxs), HW_ERROR_KIND_RECORD_TOO_LARGE,
                    "max_request_size");
    r[1].value = (const uint8_t *)"r1", r[1].value_len = 2, r[1].partition = -5;
    EXPECT_KIND_MSG(hw_producer_send_all(p, r, 3, on_delivery, ctxs), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "records[1]");
    EXPECT_KIND_MSG(hw_producer_send_all(p, NULL, 2, on_delivery, ctxs), HW_ERROR_KIND_INVALID_ARGUMENT,
                    "records");
    EXPECT_KIND(hw_producer_send_all(NULL, r, 1, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER)); /* refusals are not reported again */
    OK(hw_producer_stats(p, &after));
    CHECK(after.records_sent == before.records_sent);
    CHECK(atomic_load(&done) == 3); /* no callback for a refused call */
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    free(s);
}

/* hw_producer_send_records, hw_producer_seal, hw_producer_send_now: the per-record path of the Go
 * binding and the C++ wrapper. */

/* Counts each delivery in its record's counter (its ctx, an atomic_long). */
static void count_deliveries(const hw_delivery *d, size_t n) {
    for (size_t i = 0; i < n; i++) atomic_fetch_add((atomic_long *)d[i].ctx, 1);
}

static hw_record keyless(const char *value, int64_t partition) {
    hw_record r = {NULL, 0, (const uint8_t *)value, strlen(value), partition, -1};
    return r;
}

/* The partitions of the records sent are written, also when a later one fails; the others are left
 * as they were, and only the records sent are called back. */
static void test_send_records_partitions(void) {
    OK(hw_broker_create_topic(g_broker, "records-parts", 2));
    hw_producer *p = connect_producer("records-parts", "linger_ms", "5", NULL, NULL);
    CHECK(p != NULL);
    atomic_long calls = 0;
    hw_record r[4] = {keyless("a", 1), keyless("b", -1), keyless("c", 7), keyless("d", 0)};
    void *ctxs[4] = {&calls, &calls, &calls, &calls};
    uint32_t parts[4] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
    EXPECT_KIND(hw_producer_send_records(p, r, 4, count_deliveries, ctxs, parts, NULL),
                HW_ERROR_KIND_UNKNOWN_PARTITION);
    CHECK(parts[0] == 1 && parts[1] < 2 && parts[2] == UINT32_MAX && parts[3] == UINT32_MAX);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    CHECK(atomic_load(&calls) == 2);
    /* NULL partitions with records is refused before anything is sent; no records is fine. */
    EXPECT_KIND(hw_producer_send_records(p, r, 1, NULL, NULL, NULL, NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_send_records(p, NULL, 0, NULL, NULL, NULL, NULL));
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

static atomic_long g_batch_calls;

/* Writes each delivery's offset (-3 on failure) into its ctx (an int64_t), and counts the calls. */
static void record_offsets(const hw_delivery *d, size_t n) {
    atomic_fetch_add(&g_batch_calls, 1);
    for (size_t i = 0; i < n; i++) *(int64_t *)d[i].ctx = d[i].err ? -3 : d[i].offset;
}

/* One batch callback call per completed batch, with every record of it in send order. */
static void test_deliveries_one_call_per_batch(void) {
    OK(hw_broker_create_topic(g_broker, "records-batched", 2));
    hw_producer *p = connect_producer("records-batched", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    hw_record r[10];
    int64_t got[10];
    void *ctxs[10];
    uint32_t parts[10];
    for (int i = 0; i < 10; i++) {
        r[i] = keyless("v", i % 2);
        got[i] = -2;
        ctxs[i] = &got[i];
        parts[i] = UINT32_MAX;
    }
    atomic_store(&g_batch_calls, 0);
    OK(hw_producer_send_records(p, r, 10, record_offsets, ctxs, parts, NULL));
    OK(hw_producer_flush(p, HW_WAIT_FOREVER)); /* seals both partitions' batches: two calls */
    CHECK(atomic_load(&g_batch_calls) == 2);
    for (int i = 0; i < 10; i++) CHECK(got[i] == i / 2 && parts[i] == (uint32_t)(i % 2));
    OK(hw_producer_close(p, HW_NO_WAIT));
    OK(hw_producer_free(p));
}

/* Sealing sends a lingering batch without waiting and without taking the failure a flush reports. */
static void test_seal_sends_lingering_batches(void) {
    OK(hw_broker_create_topic(g_broker, "records-sealed", 2));
    hw_producer *p = connect_producer("records-sealed", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    /* 56 StorageError: the record fails, and the failure is the next flush's to report. */
    OK(hw_broker_fail_next(g_broker, 0, 1, 56));
    atomic_long calls = 0;
    void *ctx = &calls;
    hw_record r = keyless("a", 0);
    uint32_t part = UINT32_MAX;
    OK(hw_producer_send_records(p, &r, 1, count_deliveries, &ctx, &part, NULL));
    CHECK(part == 0);
    OK(hw_producer_seal(p));
    CHECK(wait_count(&calls, 1)); /* linger_ms is ten minutes: only the seal sends it */
    OK(hw_producer_seal(p));     /* does not take the failure: the flush reports it, once */
    EXPECT_KIND(hw_producer_flush(p, HW_WAIT_FOREVER), HW_ERROR_KIND_BROKER);
    OK(hw_producer_flush(p, HW_WAIT_FOREVER));
    EXPECT_KIND(hw_producer_seal(NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_close(p, HW_NO_WAIT));
    OK(hw_producer_free(p));
}

/* hw_producer_send_now with a record's partition and batch id sends that batch; an id that names no
 * open batch is not an error, nor does a NULL producer crash. */
static void test_send_now_sends_the_named_batch(void) {
    OK(hw_broker_create_topic(g_broker, "records-send-now", 2));
    hw_producer *p = connect_producer("records-send-now", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    atomic_long calls = 0;
    void *ctx = &calls;
    hw_record r = keyless("a", 0);
    uint32_t part = UINT32_MAX;
    uint64_t batch = 0;
    OK(hw_producer_send_records(p, &r, 1, count_deliveries, &ctx, &part, &batch));
    CHECK(part == 0 && batch != 0);
    OK(hw_producer_send_now(p, part, batch + 1));
    OK(hw_producer_send_now(p, part, batch));
    CHECK(wait_count(&calls, 1)); /* linger_ms is ten minutes: only send_now sends it */
    EXPECT_KIND(hw_producer_send_now(NULL, 0, batch), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
}

static atomic_long g_any_log_lines;
static void on_any_log(void *ctx, hw_log_level level, const char *target, const char *message) {
    (void)ctx, (void)level, (void)target, (void)message;
    atomic_fetch_add(&g_any_log_lines, 1);
}

static void test_log_levels(void) {
    hw_log_level l = HW_LOG_LEVEL_ERROR;
    OK(hw_log_level_parse("DEBUG", &l));
    CHECK(l == HW_LOG_LEVEL_DEBUG);
    OK(hw_log_level_parse("off", &l));
    CHECK(l == HW_LOG_LEVEL_OFF);
    EXPECT_KIND_MSG(hw_log_level_parse("verbose", &l), HW_ERROR_KIND_CONFIG, "log_level");
    EXPECT_KIND_MSG(hw_log_level_parse("warning", &l), HW_ERROR_KIND_CONFIG, "log_level");
    EXPECT_KIND(hw_log_level_parse(NULL, &l), HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_KIND(hw_log_level_parse("info", NULL), HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(l == HW_LOG_LEVEL_OFF);
    /* OFF forwards nothing, even the warning of a producer freed with unsent records. */
    atomic_store(&g_any_log_lines, 0);
    OK(hw_set_log_callback(on_any_log, NULL, HW_LOG_LEVEL_OFF));
    OK(hw_broker_create_topic(g_broker, "log-off", 1));
    hw_producer *p = connect_producer("log-off", "linger_ms", "600000", NULL, NULL);
    CHECK(p != NULL);
    OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"unsent", 6, NULL, NULL));
    OK(hw_producer_free(p));
    long lines = atomic_load(&g_any_log_lines);
    OK(hw_set_log_callback(NULL, NULL, HW_LOG_LEVEL_OFF)); /* back to stderr */
    CHECK(lines == 0);
    EXPECT_KIND(hw_set_log_callback(NULL, NULL, 6), HW_ERROR_KIND_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------------------------ */
/* Partitioner vectors, through the real producer                                              */

static void test_vectors_partitioner_keyed(void) {
    for (uint32_t count = 1; count <= 31; count++) {
        size_t n = 0;
        for (size_t i = 0; i < VEC_PARTITION_CASES_LEN; i++)
            if (VEC_PARTITION_CASES[i].partition_count == count) n++;
        if (n == 0) continue;
        char topic[32];
        snprintf(topic, sizeof topic, "vec-keyed-%u", count);
        OK(hw_broker_create_topic(g_broker, topic, count));
        hw_producer *p = connect_producer(topic, "linger_ms", "0", NULL, NULL);
        CHECK(p != NULL);
        atomic_long done = 0;
        slot *s = new_slots(VEC_PARTITION_CASES_LEN, topic, &done);
        size_t sent = 0;
        for (size_t i = 0; i < VEC_PARTITION_CASES_LEN; i++) {
            const vec_partition_case *c = &VEC_PARTITION_CASES[i];
            if (c->partition_count != count) continue;
            OK(hw_producer_send(p, (const uint8_t *)c->key, c->key_len, (const uint8_t *)"v", 1,
                                on_delivery, &s[i]));
            sent++;
        }
        OK(hw_producer_flush(p, HW_WAIT_FOREVER));
        CHECK(atomic_load(&done) == (long)sent);
        for (size_t i = 0; i < VEC_PARTITION_CASES_LEN; i++) {
            const vec_partition_case *c = &VEC_PARTITION_CASES[i];
            if (c->partition_count != count) continue;
            if (s[i].partition != c->partition)
                fprintf(stderr, "    key #%zu (len %zu) count %u: got %u, want %u\n", i, c->key_len,
                        count, s[i].partition, c->partition);
            CHECK(s[i].kind == 0 && s[i].partition == c->partition);
        }
        OK(hw_producer_close(p, HW_WAIT_FOREVER));
        OK(hw_producer_free(p));
        free(s);
    }
}

static void test_vectors_partitioner_keyless(void) {
    for (size_t q = 0; q < VEC_KEYLESS_SEQUENCES_LEN; q++) {
        const vec_keyless_sequence *seq = &VEC_KEYLESS_SEQUENCES[q];
        char topic[32];
        snprintf(topic, sizeof topic, "vec-keyless-%zu", q);
        OK(hw_broker_create_topic(g_broker, topic, seq->partition_count));
        hw_producer *p = connect_producer(topic, "linger_ms", "0", NULL, NULL); /* fresh producer */
        CHECK(p != NULL);
        atomic_long done = 0;
        slot *s = new_slots(seq->len, topic, &done);
        for (size_t i = 0; i < seq->len; i++)
            OK(hw_producer_send(p, NULL, 0, (const uint8_t *)"v", 1, on_delivery, &s[i]));
        OK(hw_producer_flush(p, HW_WAIT_FOREVER));
        CHECK(atomic_load(&done) == (long)seq->len);
        for (size_t i = 0; i < seq->len; i++) CHECK(s[i].partition == seq->expected[i]);
        OK(hw_producer_close(p, HW_WAIT_FOREVER));
        OK(hw_producer_free(p));
        free(s);
    }
}

/* ------------------------------------------------------------------------------------------ */

/* Fault injection per error class, through the C ABI: the exact outcome a C user sees. */
static void test_fault_injection(void) {
    hw_broker *b = NULL;
    OK(hw_broker_start(1, NULL, &b));
    OK(hw_broker_create_topic(b, "faults", 1));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "linger_ms", "0"));
    OK(hw_config_set(cfg, "retry_backoff_ms", "5"));
    OK(hw_config_set(cfg, "max_retries", "3"));
    hw_producer *p = NULL;
    hw_error *ce = hw_producer_connect(hw_broker_endpoint(b), "faults", cfg, &p);
    hw_config_free(cfg);
    OK(ce);
    hw_record_metadata m;
    const uint8_t *v = (const uint8_t *)"x";
    /* NotLeaderForPartition is retriable: retried, then stored once. */
    OK(hw_broker_fail_next(b, 0, 2, 6));
    OK(hw_producer_send_sync(p, NULL, 0, v, 1, &m));
    CHECK(m.offset == 0);
    /* StorageError is not: that record fails with the broker's code. */
    OK(hw_broker_fail_next(b, 0, 1, 56));
    hw_error *e = hw_producer_send_sync(p, NULL, 0, v, 1, &m);
    CHECK(e && hw_error_number(e) == HW_ERROR_KIND_BROKER && hw_error_broker_code(e) == 56 && !hw_error_is_retriable(e));
    hw_error_free(e);
    /* CompressionError and TopicNotFound map to their own kinds. */
    OK(hw_broker_fail_next(b, 0, 1, 9000));
    EXPECT_KIND(hw_producer_send_sync(p, NULL, 0, v, 1, &m), HW_ERROR_KIND_COMPRESSION);
    OK(hw_broker_fail_next(b, 0, 1, 2001));
    EXPECT_KIND(hw_producer_send_sync(p, NULL, 0, v, 1, &m), HW_ERROR_KIND_UNKNOWN_TOPIC);
    /* A dropped connection is retried. */
    OK(hw_broker_drop_next(b, 0, 1));
    OK(hw_producer_send_sync(p, NULL, 0, v, 1, &m));
    CHECK(m.offset == 1);
    /* SPU stopped and started: the send waits and lands. */
    int32_t spu = 0;
    OK(hw_broker_spu_id(b, 0, &spu));
    CHECK(spu == 5001);
    EXPECT_KIND(hw_broker_spu_id(b, 1, &spu), HW_ERROR_KIND_INVALID_ARGUMENT);
    OK(hw_broker_stop_spu(b, 5001));
    OK(hw_broker_start_spu(b, 5001));
    OK(hw_producer_send_sync(p, NULL, 0, v, 1, &m));
    CHECK(m.offset >= 2);
    /* Delays: set and cleared. */
    OK(hw_broker_delay(b, 0, 10));
    OK(hw_producer_send_sync(p, NULL, 0, v, 1, &m));
    OK(hw_broker_delay(b, 0, 0));
    EXPECT_KIND(hw_broker_fail_next(NULL, 0, 1, 6), HW_ERROR_KIND_INVALID_ARGUMENT);
    /* close reports the earlier failures nobody flushed (documented); free succeeds. */
    hw_error_free(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    hw_broker_stop(b);
}

/* ------------------------------------------------------------------------------------------ */
/* Broker options and TLS (the committed fixtures in tests/fixtures/tls)                        */

/* The Makefile passes the absolute path; the fallback serves a run from bindings-c/. */
#ifndef HW_TLS_FIXTURES
#define HW_TLS_FIXTURES "../tests/fixtures/tls"
#endif
#define FIXTURE(name) (HW_TLS_FIXTURES "/" name)

/* What a client needs for mutual TLS with the test CA (producer config keys and admin options). */
static const char *const CLIENT_TLS_KEYS[] = {"tls_ca_file", "tls_cert_file", "tls_key_file"};
static const char *const CLIENT_TLS_VALUES[] = {FIXTURE("ca.pem"), FIXTURE("client.pem"),
                                                FIXTURE("client.key")};

/* A broker whose listeners speak TLS and require client certificates signed by the test CA. */
static hw_error *start_tls_broker(hw_broker **out) {
    static const char *const keys[] = {"tls_cert", "tlsKey", "tls_client_ca"};
    static const char *const values[] = {FIXTURE("server.pem"), FIXTURE("server.key"),
                                         FIXTURE("ca.pem")};
    return hw_broker_start_with(keys, values, 3, out);
}

static void test_tls_mutual_end_to_end(void) {
    hw_broker *b = NULL;
    OK(start_tls_broker(&b));
    const char *ep = hw_broker_endpoint(b);
    hw_admin *a = NULL;
    OK(hw_admin_connect_with(ep, CLIENT_TLS_KEYS, CLIENT_TLS_VALUES, 3, &a));
    OK(hw_admin_create_topic(a, "tls-topic", 2, NULL));
    bool exists = false;
    OK(hw_admin_topic_exists(a, "tls-topic", &exists));
    CHECK(exists);
    hw_admin_free(a);

    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "linger_ms", "0"));
    for (size_t i = 0; i < 3; i++) OK(hw_config_set(cfg, CLIENT_TLS_KEYS[i], CLIENT_TLS_VALUES[i]));
    hw_producer *p = NULL;
    hw_error *ce = hw_producer_connect(ep, "tls-topic", cfg, &p);
    hw_config_free(cfg);
    OK(ce);
    atomic_long done = 0;
    slot *s = new_slots(10, "tls-topic", &done);
    for (int i = 0; i < 10; i++) {
        char v[16];
        int n = snprintf(v, sizeof v, "secure-%d", i);
        OK(hw_producer_send_to(p, (uint32_t)(i % 2), NULL, 0, (const uint8_t *)v, (size_t)n,
                               on_delivery, &s[i]));
    }
    OK(hw_producer_close(p, HW_WAIT_FOREVER));
    OK(hw_producer_free(p));
    CHECK(atomic_load(&done) == 10);
    for (int i = 0; i < 10; i++)
        CHECK(s[i].kind == 0 && s[i].topic_ok && s[i].partition == (uint32_t)(i % 2) &&
              s[i].offset == i / 2);
    free(s);
    for (uint32_t part = 0; part < 2; part++) {
        hw_record_list *l = NULL;
        OK(hw_broker_records(b, "tls-topic", part, 0, &l));
        CHECK(hw_record_list_len(l) == 5);
        for (size_t j = 0; j < 5; j++) {
            hw_stored_record r;
            OK(hw_record_list_get(l, j, &r));
            char want[16];
            int n = snprintf(want, sizeof want, "secure-%u", (unsigned)(2 * j + part));
            CHECK(r.offset == (int64_t)j && r.value_len == (size_t)n && memcmp(r.value, want, (size_t)n) == 0);
        }
        hw_record_list_free(l);
    }
    hw_broker_stop(b);
}

static void test_tls_handshake_failures(void) {
    hw_broker *b = NULL;
    OK(start_tls_broker(&b));
    const char *ep = hw_broker_endpoint(b);
    hw_admin *a = (hw_admin *)0x1; /* must stay untouched on failure */
    /* An unrelated CA cannot verify the broker's certificate. */
    const char *const wrong_ca[] = {FIXTURE("other-ca.pem"), FIXTURE("client.pem"), FIXTURE("client.key")};
    EXPECT_KIND_MSG(hw_admin_connect_with(ep, CLIENT_TLS_KEYS, wrong_ca, 3, &a), HW_ERROR_KIND_TRANSPORT,
                    "certificate verification");
    /* The right CA but no client certificate: the broker requires one. */
    EXPECT_KIND_MSG(hw_admin_connect_with(ep, CLIENT_TLS_KEYS, CLIENT_TLS_VALUES, 1, &a),
                    HW_ERROR_KIND_TRANSPORT, "client certificate");
    /* Plaintext to a TLS listener fails too. */
    hw_error *e = hw_admin_connect(ep, &a);
    CHECK(e != NULL);
    hw_error_free(e);
    CHECK(a == (hw_admin *)0x1);
    /* The producer sees the same verification failure. */
    OK(hw_broker_create_topic(b, "tls-wrong-ca", 1));
    hw_config *cfg = hw_config_new();
    OK(hw_config_set(cfg, "tls_ca_file", FIXTURE("other-ca.pem")));
    OK(hw_config_set(cfg, "metadata_timeout_ms", "2000"));
    hw_producer *p = NULL;
    e = hw_producer_connect(ep, "tls-wrong-ca", cfg, &p);
    hw_config_free(cfg);
    EXPECT_KIND_MSG(e, HW_ERROR_KIND_TRANSPORT, "certificate verification");
    CHECK(p == NULL);
    hw_broker_stop(b);
}

static void test_broker_start_with_errors(void) {
    hw_broker *b = (hw_broker *)0x1; /* must stay untouched on failure */
    const char *k[2] = {"spuz", NULL};
    const char *v[2] = {"1", NULL};
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "spuz");
    k[0] = "spus", v[0] = "0";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "spus");
    k[0] = "dataDir", v[0] = "";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "dataDir");
    k[0] = "sync", v[0] = "sometimes";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "sync");
    k[0] = "tls_cert", v[0] = "/no/such/file.pem";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "tls_cert");
    v[0] = FIXTURE("server.pem"); /* a certificate without its key */
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_CONFIG, "tls_key");
    /* NULL arguments are errors, never crashes. */
    k[0] = "spus", v[0] = "1";
    EXPECT_KIND_MSG(hw_broker_start_with(NULL, v, 1, &b), HW_ERROR_KIND_INVALID_ARGUMENT, "keys");
    EXPECT_KIND_MSG(hw_broker_start_with(k, NULL, 1, &b), HW_ERROR_KIND_INVALID_ARGUMENT, "values");
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 2, &b), HW_ERROR_KIND_INVALID_ARGUMENT, "keys[1]");
    k[1] = "sync";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 2, &b), HW_ERROR_KIND_INVALID_ARGUMENT, "values[1]");
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, NULL), HW_ERROR_KIND_INVALID_ARGUMENT, "out");
    k[0] = "\xff";
    EXPECT_KIND_MSG(hw_broker_start_with(k, v, 1, &b), HW_ERROR_KIND_INVALID_ARGUMENT, "UTF-8");
    CHECK(b == (hw_broker *)0x1);
    /* No options (NULL arrays with n == 0): the defaults. Two SPUs by option. */
    b = NULL;
    OK(hw_broker_start_with(NULL, NULL, 0, &b));
    int32_t spu = 0;
    EXPECT_KIND(hw_broker_spu_id(b, 1, &spu), HW_ERROR_KIND_INVALID_ARGUMENT);
    hw_broker_stop(b);
    b = NULL;
    k[0] = "spus", v[0] = "2";
    k[1] = "sync", v[1] = "250";
    OK(hw_broker_start_with(k, v, 2, &b));
    OK(hw_broker_spu_id(b, 1, &spu));
    CHECK(spu == 5002);
    hw_broker_stop(b);
}

static void test_admin_connect_with_errors(void) {
    hw_admin *a = (hw_admin *)0x1; /* must stay untouched on failure */
    const char *k[1] = {"tls_ca_fle"};
    const char *v[1] = {FIXTURE("ca.pem")};
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, v, 1, &a), HW_ERROR_KIND_CONFIG, "tls_ca_fle");
    k[0] = "tlsCaFile", v[0] = "/no/such/ca.pem";
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, v, 1, &a), HW_ERROR_KIND_CONFIG, "tlsCaFile");
    k[0] = "tls", v[0] = "maybe";
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, v, 1, &a), HW_ERROR_KIND_CONFIG, "tls");
    EXPECT_KIND_MSG(hw_admin_connect_with(NULL, k, v, 1, &a), HW_ERROR_KIND_INVALID_ARGUMENT, "endpoint");
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, NULL, v, 1, &a), HW_ERROR_KIND_INVALID_ARGUMENT, "keys");
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, NULL, 1, &a), HW_ERROR_KIND_INVALID_ARGUMENT, "values");
    v[0] = NULL;
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, v, 1, &a), HW_ERROR_KIND_INVALID_ARGUMENT, "values[0]");
    k[0] = "tls", v[0] = "false";
    EXPECT_KIND_MSG(hw_admin_connect_with(g_endpoint, k, v, 1, NULL), HW_ERROR_KIND_INVALID_ARGUMENT, "out");
    CHECK(a == (hw_admin *)0x1);
    /* tls=false and no options both mean plaintext: the shared (plaintext) broker answers. */
    a = NULL;
    OK(hw_admin_connect_with(g_endpoint, k, v, 1, &a));
    bool exists = true;
    OK(hw_admin_topic_exists(a, "no-such-topic", &exists));
    CHECK(!exists);
    hw_admin_free(a);
    a = NULL;
    OK(hw_admin_connect_with(g_endpoint, NULL, NULL, 0, &a));
    hw_admin_free(a);
}

/* hw_shutdown while an object is alive (the shared broker, an admin) changes nothing and says what is
 * alive; the library keeps working. main() calls it for real at the end. */
static void test_shutdown_refused_while_alive(void) {
    EXPECT_KIND_MSG(hw_shutdown(), HW_ERROR_KIND_INVALID_ARGUMENT, "1 broker");
    hw_admin *a = NULL;
    OK(hw_admin_connect(g_endpoint, &a));
    hw_error *e = hw_shutdown();
    int kind = hw_error_number(e);
    int says_both = e != NULL && strstr(hw_error_message(e), "1 broker, 1 admin") != NULL;
    hw_error_free(e);
    hw_admin_free(a);
    CHECK(kind == HW_ERROR_KIND_INVALID_ARGUMENT);
    CHECK(says_both);
    OK(hw_broker_create_topic(g_broker, "after-refused-shutdown", 1));
    hw_producer *p = connect_producer("after-refused-shutdown", NULL, NULL, NULL, NULL);
    CHECK(p != NULL);
    hw_record_metadata m;
    OK(hw_producer_send_sync(p, NULL, 0, (const uint8_t *)"still working", 13, &m));
    CHECK(m.offset == 0);
    OK(hw_producer_free(p));
}

static const test_case TESTS[] = {
    {"fault injection per error class", test_fault_injection},
    {"error accessors are NULL-safe", test_error_accessors_null_safe},
    {"error code string and number", test_error_code_and_number},
    {"a panic becomes INTERNAL", test_panic_becomes_internal},
    {"vectors: error kinds", test_vectors_error_kinds},
    {"vectors: config inputs and unknown keys", test_vectors_config},
    {"vectors: stats fields", test_vectors_stats_fields},
    {"config errors", test_config_errors},
    {"broker errors", test_broker_errors},
    {"record list errors", test_record_list_errors},
    {"admin", test_admin},
    {"producer NULL arguments", test_producer_null_arguments},
    {"send many with callbacks, read back", test_send_many_and_read_back},
    {"NULL key vs empty key", test_null_key_vs_empty_key},
    {"send_sync, send_to, send_record", test_send_sync_send_to_send_record},
    {"send_sync does not wait out linger_ms", test_send_sync_does_not_linger},
    {"compression read back", test_compression_read_back},
    {"error kinds triggered", test_error_kinds_triggered},
    {"QUEUE_FULL and TIMEOUT", test_queue_full_and_timeout},
    {"a send waits for queue space", test_send_waits_for_queue_space},
    {"PROTOCOL error", test_protocol_error},
    {"FORKED error", test_forked},
    {"callback re-entrancy", test_callback_reentrancy},
    {"free without close reports unsent records", test_free_without_close_reports_unsent},
    {"flush(HW_NO_WAIT) seals", test_flush_zero_seals},
    {"close then free ordering", test_close_then_free_ordering},
    {"threads share a producer", test_threads_share_a_producer},
    {"durable broker data dir", test_durable_broker_data_dir},
    {"broker topic options", test_broker_topic_options},
    {"broker offsets, leader, high watermark, stats, delete", test_broker_queries},
    {"pause one SPU", test_pause_one_spu},
    {"admin topic options and list", test_admin_options_and_list},
    {"producer accessors", test_producer_accessors},
    {"send_all", test_send_all},
    {"send_records: partitions written as records are sent", test_send_records_partitions},
    {"send_records: one callback call per batch", test_deliveries_one_call_per_batch},
    {"seal sends lingering batches", test_seal_sends_lingering_batches},
    {"send_now sends the named batch", test_send_now_sends_the_named_batch},
    {"log levels: parse, OFF", test_log_levels},
    {"vectors: keyed partitioning", test_vectors_partitioner_keyed},
    {"vectors: keyless round robin", test_vectors_partitioner_keyless},
    {"TLS: mutual TLS end to end", test_tls_mutual_end_to_end},
    {"TLS: wrong CA, no client certificate", test_tls_handshake_failures},
    {"broker options: errors name the key, NULL arguments", test_broker_start_with_errors},
    {"admin TLS options: errors name the key, NULL arguments", test_admin_connect_with_errors},
    {"hw_shutdown refused while objects are alive", test_shutdown_refused_while_alive},
};

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    /* SIGPIPE keeps its default action (end the process) on purpose: the library must never raise
     * it, TLS included (core writes TLS records with send(MSG_NOSIGNAL), never writev). */
    hw_error *e = hw_broker_start(1, NULL, &g_broker);
    if (e) {
        fprintf(stderr, "cannot start the broker: %s\n", hw_error_message(e));
        hw_error_free(e);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    g_endpoint = hw_broker_endpoint(g_broker);
    int passed = 0, failed = 0;
    size_t n = sizeof(TESTS) / sizeof(TESTS[0]);
    for (size_t i = 0; i < n; i++) {
        if (only && strstr(TESTS[i].name, only) == NULL) continue;
        int before = g_failed_checks;
        TESTS[i].fn();
        if (g_failed_checks == before) {
            passed++;
            printf("ok   - %s\n", TESTS[i].name);
        } else {
            failed++;
            printf("FAIL - %s\n", TESTS[i].name);
        }
        fflush(stdout);
    }
    hw_broker_stop(g_broker);
    /* Every test freed what it made: stop the library's threads, so valgrind sees none at exit. */
    e = hw_shutdown();
    if (e) {
        fprintf(stderr, "hw_shutdown: %s\n", hw_error_message(e));
        hw_error_free(e);
        failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
