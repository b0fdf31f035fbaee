/* Headwater's C binding under the cross-language benchmark's workload (see ../../bench/README.md).
 *
 *   bench --endpoint E --topic T --records N --seconds S --size B --compression C --linger-ms L [--latency]
 *         [--batch-size BYTES]
 *
 * Creates the topic (1 partition) if it is missing, then either
 *   - throughput: one thread calls hw_producer_send (keyless, with a counting delivery callback) until
 *     N records or S seconds, then hw_producer_flush; every callback must report success;
 *   - latency (--latency): linger 0, one record in flight (send, wait for its callback), p50/p99/p999.
 * Every other producer setting is core's default (--batch-size overrides batch_size; the harness does
 * not pass it). Prints one JSON line; exits non-zero on any failure.
 *
 * Built by `make -C bindings-c bench-build [PROFILE=release|debug]` into bindings-c/build/bench.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "headwater.h"

/* The clock is read once per this many records in the send loop. */
#define CLOCK_EVERY 4096u

typedef struct {
    const char *endpoint, *topic, *compression, *batch_size;
    uint64_t records;
    double seconds;
    size_t size;
    uint64_t linger_ms;
    bool latency;
} args_t;

static int fail(hw_error *err, const char *what) {
    fprintf(stderr, "bench: %s failed: %s\n", what, err ? hw_error_message(err) : "?");
    hw_error_free(err);
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(void) {
    fprintf(stderr, "usage: bench --endpoint E --topic T --records N --seconds S --size B "
                    "--compression C --linger-ms L [--latency] [--batch-size BYTES]\n");
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return false;
    *out = (uint64_t)v;
    return true;
}

static int parse_args(int argc, char **argv, args_t *a) {
    *a = (args_t){.records = 1000000, .seconds = 5.0, .size = 100, .compression = "none"};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--latency") == 0) {
            a->latency = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench: %s needs a value\n", k);
            return 1;
        }
        const char *v = argv[++i];
        uint64_t n;
        if (strcmp(k, "--endpoint") == 0) a->endpoint = v;
        else if (strcmp(k, "--topic") == 0) a->topic = v;
        else if (strcmp(k, "--compression") == 0) a->compression = v;
        else if (strcmp(k, "--batch-size") == 0) a->batch_size = v;
        else if (strcmp(k, "--records") == 0 && parse_u64(v, &n) && n > 0) a->records = n;
        else if (strcmp(k, "--size") == 0 && parse_u64(v, &n)) a->size = (size_t)n;
        else if (strcmp(k, "--linger-ms") == 0 && parse_u64(v, &n)) a->linger_ms = n;
        else if (strcmp(k, "--seconds") == 0) {
            char *end;
            a->seconds = strtod(v, &end);
            if (end == v || *end || !(a->seconds > 0)) {
                fprintf(stderr, "bench: bad --seconds %s\n", v);
                return 1;
            }
        } else {
            fprintf(stderr, "bench: unknown or bad argument %s %s\n", k, v);
            usage();
            return 1;
        }
    }
    if (!a->endpoint || !a->topic) {
        usage();
        return 1;
    }
    return 0;
}

static int ensure_topic(const char *endpoint, const char *topic) {
    hw_admin *admin = NULL;
    hw_error *err = hw_admin_connect(endpoint, &admin);
    if (err) return fail(err, "hw_admin_connect");
    bool exists = false;
    err = hw_admin_topic_exists(admin, topic, &exists);
    if (!err && !exists) {
        err = hw_admin_create_topic(admin, topic, 1, NULL);
        if (err) { /* created concurrently by someone else is fine */
            bool now = false;
            hw_error *e2 = hw_admin_topic_exists(admin, topic, &now);
            if (!e2 && now) {
                hw_error_free(err);
                err = NULL;
            }
            hw_error_free(e2);
        }
    }
    hw_admin_free(admin);
    return err ? fail(err, "creating the topic") : 0;
}

/* ---- throughput: callbacks count, from library threads ---- */

typedef struct {
    uint64_t ok;     /* atomic */
    uint64_t failed; /* atomic */
    const char *first_error; /* its code (static storage) */
} counts_t;

static void on_delivery(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    counts_t *c = ctx;
    (void)meta;
    if (err == NULL) {
        __atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
    } else if (__atomic_fetch_add(&c->failed, 1, __ATOMIC_RELAXED) == 0) {
        c->first_error = hw_error_code(err);
        fprintf(stderr, "bench: delivery failed: %s\n", hw_error_message(err));
    }
}

static int throughput(hw_producer *p, const args_t *a, const uint8_t *value, uint64_t *sent_out,
                      double *secs_out) {
    counts_t counts = {0};
    uint64_t sent = 0;
    double t0 = now_s(), deadline = t0 + a->seconds;
    while (sent < a->records) {
        uint64_t n = a->records - sent < CLOCK_EVERY ? a->records - sent : CLOCK_EVERY;
        for (uint64_t i = 0; i < n; i++) {
            hw_error *err = hw_producer_send(p, NULL, 0, value, a->size, on_delivery, &counts);
            if (err) return fail(err, "hw_producer_send");
        }
        sent += n;
        if (now_s() >= deadline) break;
    }
    hw_error *err = hw_producer_flush(p, HW_WAIT_FOREVER);
    if (err) return fail(err, "hw_producer_flush");
    /* flush returned NULL: the callback of every record sent before it has returned. */
    double secs = now_s() - t0;
    uint64_t ok = __atomic_load_n(&counts.ok, __ATOMIC_ACQUIRE);
    uint64_t failed = __atomic_load_n(&counts.failed, __ATOMIC_ACQUIRE);
    if (ok != sent || failed != 0) {
        fprintf(stderr, "bench: sent %" PRIu64 " records, %" PRIu64 " delivered, %" PRIu64 " failed\n", sent,
                ok, failed);
        return 1;
    }
    *sent_out = sent;
    *secs_out = secs;
    return 0;
}

/* ---- latency: one record in flight, its callback wakes the sender ---- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool failed;
} one_t;

static void on_one(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    one_t *o = ctx;
    (void)meta;
    pthread_mutex_lock(&o->lock);
    if (err) {
        o->failed = true;
        fprintf(stderr, "bench: delivery failed: %s\n", hw_error_message(err));
    }
    o->done = true;
    pthread_cond_signal(&o->cond);
    pthread_mutex_unlock(&o->lock);
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static double pct_us(const uint64_t *sorted, uint64_t n, double q) {
    uint64_t i = (uint64_t)((double)n * q);
    if (i >= n) i = n - 1;
    return (double)sorted[i] / 1000.0;
}

static int latency(hw_producer *p, const args_t *a, const uint8_t *value, uint64_t *sent_out,
                   double *secs_out, uint64_t **lat_out) {
    uint64_t *lat = malloc(sizeof *lat * a->records);
    if (!lat) {
        fprintf(stderr, "bench: out of memory\n");
        return 1;
    }
    one_t o = {.done = false, .failed = false};
    pthread_mutex_init(&o.lock, NULL);
    pthread_cond_init(&o.cond, NULL);
    uint64_t n = 0;
    double t0 = now_s(), deadline = t0 + a->seconds;
    int rc = 0;
    while (n < a->records && now_s() < deadline) {
        o.done = false;
        uint64_t t = now_ns();
        hw_error *err = hw_producer_send(p, NULL, 0, value, a->size, on_one, &o);
        if (err) {
            rc = fail(err, "hw_producer_send");
            break;
        }
        pthread_mutex_lock(&o.lock);
        while (!o.done) pthread_cond_wait(&o.cond, &o.lock);
        bool failed = o.failed;
        pthread_mutex_unlock(&o.lock);
        lat[n++] = now_ns() - t;
        if (failed) {
            rc = 1;
            break;
        }
    }
    if (rc == 0 && n == 0) {
        fprintf(stderr, "bench: no round trip completed within --seconds\n");
        rc = 1;
    }
    if (rc == 0) {
        hw_error *err = hw_producer_flush(p, HW_WAIT_FOREVER);
        if (err) rc = fail(err, "hw_producer_flush");
    }
    double secs = now_s() - t0;
    pthread_cond_destroy(&o.cond);
    pthread_mutex_destroy(&o.lock);
    if (rc) {
        free(lat);
        return rc;
    }
    *sent_out = n;
    *secs_out = secs;
    *lat_out = lat;
    return 0;
}

int main(int argc, char **argv) {
    args_t a;
    if (parse_args(argc, argv, &a)) return 2;
    if (ensure_topic(a.endpoint, a.topic)) return 1;

    hw_config *cfg = hw_config_new();
    if (!cfg) return fail(NULL, "hw_config_new");
    char linger[32];
    snprintf(linger, sizeof linger, "%" PRIu64, a.latency ? (uint64_t)0 : a.linger_ms);
    hw_error *err = hw_config_set(cfg, "compression", a.compression);
    if (!err) err = hw_config_set(cfg, "linger_ms", linger);
    if (!err && a.batch_size) err = hw_config_set(cfg, "batch_size", a.batch_size);
    if (err) {
        hw_config_free(cfg);
        return fail(err, "hw_config_set");
    }
    hw_producer *p = NULL;
    err = hw_producer_connect(a.endpoint, a.topic, cfg, &p);
    hw_config_free(cfg);
    if (err) return fail(err, "hw_producer_connect");

    uint8_t *value = malloc(a.size ? a.size : 1);
    if (!value) return fail(NULL, "malloc");
    for (size_t i = 0; i < a.size; i++) value[i] = (uint8_t)('a' + i % 26);

    uint64_t n = 0;
    double secs = 0;
    uint64_t *lat = NULL;
    int rc = a.latency ? latency(p, &a, value, &n, &secs, &lat) : throughput(p, &a, value, &n, &secs);

    hw_stats st = {0};
    if (rc == 0 && (err = hw_producer_stats(p, &st)) != NULL) rc = fail(err, "hw_producer_stats");
    if (rc == 0 && (st.records_failed != 0 || st.records_acked != n)) {
        fprintf(stderr, "bench: sent %" PRIu64 " but the producer reports acked=%" PRIu64 " failed=%" PRIu64 "\n",
                n, st.records_acked, st.records_failed);
        rc = 1;
    }
    if ((err = hw_producer_close(p, HW_WAIT_FOREVER)) != NULL && rc == 0) rc = fail(err, "hw_producer_close");
    else hw_error_free(err);
    if ((err = hw_producer_free(p)) != NULL && rc == 0) rc = fail(err, "hw_producer_free");
    else hw_error_free(err);
    free(value);
    if (rc) {
        free(lat);
        return rc;
    }

    printf("{\"client\": \"headwater-c\", \"records\": %" PRIu64 ", \"seconds\": %.4f, \"records_per_sec\": %.0f, "
           "\"mb_per_sec\": %.2f",
           n, secs, (double)n / secs, (double)n * (double)a.size / secs / 1e6);
    if (a.latency) {
        qsort(lat, n, sizeof *lat, cmp_u64);
        printf(", \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f", pct_us(lat, n, 0.5),
               pct_us(lat, n, 0.99), pct_us(lat, n, 0.999));
        free(lat);
    }
    printf("}\n");
    return fflush(stdout) == 0 ? 0 : 1;
}
