/* See hwgo.h. */
#include <stdlib.h>

#include "_cgo_export.h"
#include "hwgo.h"

static void hwgo_deliver(const hw_delivery *deliveries, size_t n) {
    hwgoDeliver((hw_delivery *)deliveries, n);
}

static void hwgo_log(void *ctx, hw_log_level level, const char *target, const char *message) {
    (void)ctx;
    hwgoLog((int)level, (char *)target, (char *)message);
}

hwgo_sent hwgo_send(hw_producer *p, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len, int64_t partition, int64_t timestamp, uintptr_t ctx) {
    hw_record r = {key, key_len, value, value_len, partition, timestamp};
    void *c = (void *)ctx;
    hwgo_sent sent = {NULL, 0, 0};
    sent.err = hw_producer_send_records(p, &r, 1, hwgo_deliver, &c, &sent.partition, &sent.batch);
    return sent;
}

hw_error *hwgo_send_all(hw_producer *p, const uint8_t *buf, const hwgo_record *recs, size_t n,
                        const uintptr_t *ctxs, uint32_t *partitions, uint64_t *batches) {
    hw_record *rs = malloc(sizeof *rs * (n ? n : 1));
    void **cs = malloc(sizeof *cs * (n ? n : 1));
    if (!rs || !cs) {
        free(rs);
        free(cs);
        /* Out of memory: let the library report it the way it reports a NULL argument. */
        return hw_producer_send_records(p, NULL, n, hwgo_deliver, NULL, partitions, batches);
    }
    for (size_t i = 0; i < n; i++) {
        rs[i].key = recs[i].key_off < 0 ? NULL : buf + recs[i].key_off;
        rs[i].key_len = recs[i].key_len;
        rs[i].value = buf + recs[i].value_off;
        rs[i].value_len = recs[i].value_len;
        rs[i].partition = recs[i].partition;
        rs[i].timestamp = recs[i].timestamp;
        cs[i] = (void *)ctxs[i];
    }
    hw_error *err =
        hw_producer_send_records(p, rs, n, hwgo_deliver, (void *const *)cs, partitions, batches);
    free(cs);
    free(rs);
    return err;
}

hw_error *hwgo_set_log_callback(int on, uint32_t max_level) {
    return hw_set_log_callback(on ? hwgo_log : NULL, NULL, max_level);
}
