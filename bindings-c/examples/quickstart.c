/* Headwater C quickstart: an embedded broker, a producer with a delivery callback, read back. */
#include <stdio.h>
#include <string.h>

#include "headwater.h"

static int check(hw_error *err, const char *what) {
    if (err == NULL) return 0;
    fprintf(stderr, "%s failed: %s\n", what, hw_error_message(err));
    hw_error_free(err);
    return 1;
}

static void on_delivery(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    int *delivered = ctx; /* called once per record, from a library thread */
    if (err == NULL) {
        __atomic_fetch_add(delivered, 1, __ATOMIC_SEQ_CST);
        (void)meta; /* meta->topic, meta->partition, meta->offset, meta->timestamp */
    } else {
        fprintf(stderr, "delivery failed: %s\n", hw_error_message(err)); /* the library owns err */
    }
}

int main(void) {
    hw_broker *broker = NULL;
    if (check(hw_broker_start(1, NULL, &broker), "hw_broker_start")) return 1;
    if (check(hw_broker_create_topic(broker, "events", 3), "hw_broker_create_topic")) return 1;

    hw_config *cfg = hw_config_new();
    if (check(hw_config_set(cfg, "linger_ms", "10"), "hw_config_set")) return 1;
    hw_producer *producer = NULL;
    hw_error *err = hw_producer_connect(hw_broker_endpoint(broker), "events", cfg, &producer);
    hw_config_free(cfg); /* the producer keeps its own copy */
    if (check(err, "hw_producer_connect")) return 1;

    int delivered = 0;
    for (int i = 0; i < 100; i++) {
        char key[16], value[32];
        int klen = snprintf(key, sizeof key, "user-%d", i % 10);
        int vlen = snprintf(value, sizeof value, "event %d", i);
        if (check(hw_producer_send(producer, (const uint8_t *)key, (size_t)klen, (const uint8_t *)value,
                                   (size_t)vlen, on_delivery, &delivered),
                  "hw_producer_send"))
            return 1;
    }
    /* close = flush (every callback has run when it returns), then stop; then free. */
    if (check(hw_producer_close(producer, HW_WAIT_FOREVER), "hw_producer_close")) return 1;
    if (check(hw_producer_free(producer), "hw_producer_free")) return 1;
    printf("delivered %d records\n", __atomic_load_n(&delivered, __ATOMIC_SEQ_CST));

    size_t stored = 0;
    for (uint32_t partition = 0; partition < 3; partition++) {
        hw_record_list *records = NULL;
        if (check(hw_broker_records(broker, "events", partition, 0, &records), "hw_broker_records")) return 1;
        stored += hw_record_list_len(records);
        hw_stored_record r;
        if (hw_record_list_len(records) > 0 && hw_record_list_get(records, 0, &r) == NULL)
            printf("partition %u: offset %lld key=%.*s value=%.*s\n", partition, (long long)r.offset,
                   (int)r.key_len, (const char *)r.key, (int)r.value_len, (const char *)r.value);
        hw_record_list_free(records);
    }
    printf("stored %zu records\n", stored);
    hw_broker_stop(broker);
    /* Optional, last: everything is freed, so stop the library's threads (valgrind then sees none). */
    if (check(hw_shutdown(), "hw_shutdown")) return 1;
    return (delivered == 100 && stored == 100) ? 0 : 1;
}
