/*
 * Interop helper: starts an embedded broker, produces records FROM C into one topic per codec (and a
 * 3-partition topic through hw_producer_send_to), prints "ENDPOINT host:port", then keeps the broker up
 * until stdin closes, so tests/interop.py can read the records back with the OFFICIAL Fluvio client.
 * Record i of a topic: key "k-<i>" for even i, no key (NULL) for odd i; value "v-<topic>-<i>".
 */
#include <stdio.h>
#include <string.h>

#include "headwater.h"

#define COUNT 40

static int fail(hw_error *e, const char *what) {
    fprintf(stderr, "interop_produce: %s: %s\n", what, hw_error_message(e));
    hw_error_free(e);
    return 1;
}

static int produce(hw_broker *b, const char *topic, uint32_t partitions, const char *codec) {
    hw_error *e = hw_broker_create_topic(b, topic, partitions);
    if (e) return fail(e, "create topic");
    hw_config *cfg = hw_config_new();
    if ((e = hw_config_set(cfg, "linger_ms", "5"))) return fail(e, "config");
    if (codec && (e = hw_config_set(cfg, "compression", codec))) return fail(e, "config");
    hw_producer *p = NULL;
    e = hw_producer_connect(hw_broker_endpoint(b), topic, cfg, &p);
    hw_config_free(cfg);
    if (e) return fail(e, "connect");
    for (uint32_t part = 0; part < partitions; part++) {
        for (int i = 0; i < COUNT; i++) {
            char key[32], value[96];
            int kl = snprintf(key, sizeof key, "k-%d", i);
            int vl = snprintf(value, sizeof value, "v-%s-%d", topic, i);
            const uint8_t *k = (i % 2 == 0) ? (const uint8_t *)key : NULL;
            size_t klen = (i % 2 == 0) ? (size_t)kl : 0;
            e = hw_producer_send_to(p, part, k, klen, (const uint8_t *)value, (size_t)vl, NULL, NULL);
            if (e) return fail(e, "send");
        }
    }
    if ((e = hw_producer_close(p, HW_WAIT_FOREVER))) return fail(e, "close");
    if ((e = hw_producer_free(p))) return fail(e, "free");
    return 0;
}

int main(void) {
    hw_broker *b = NULL;
    hw_error *e = hw_broker_start(1, NULL, &b);
    if (e) return fail(e, "broker start");
    static const char *codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (int c = 0; c < 5; c++) {
        char topic[32];
        snprintf(topic, sizeof topic, "c-interop-%s", codecs[c]);
        if (produce(b, topic, 1, codecs[c])) return 1;
    }
    if (produce(b, "c-interop-parts", 3, NULL)) return 1;
    printf("ENDPOINT %s\n", hw_broker_endpoint(b));
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof buf, stdin) != NULL) {
    }
    hw_broker_stop(b);
    return 0;
}
