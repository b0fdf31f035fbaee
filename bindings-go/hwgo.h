/*
 * The Go binding's C side: small shims over include/headwater.h that cgo cannot express in Go
 * (function pointers to exported Go functions, arrays of hw_record built from one Go buffer).
 * No Go pointer is kept past a call: the per-record context is a handle (an integer; handles.go).
 */
#ifndef HEADWATER_GO_H
#define HEADWATER_GO_H

#include <stdint.h>

#include "headwater.h"

/* One record of hwgo_send_all: offsets into the call's byte buffer (no pointers, so the array may
 * live in Go memory). key_off -1 = no key. */
typedef struct {
    int64_t key_off;
    size_t key_len;
    size_t value_off;
    size_t value_len;
    int64_t partition;
    int64_t timestamp;
} hwgo_record;

/* What hwgo_send returns (by value: an output pointer would make Go allocate per send). */
typedef struct {
    hw_error *err;
    uint32_t partition; /* where the record went, when err is NULL */
    uint64_t batch;     /* its batch, for hw_producer_send_now, when err is NULL */
} hwgo_sent;

/* hw_producer_send_records for one record; `ctx` (a handle) comes back to hwgoDeliver. */
hwgo_sent hwgo_send(hw_producer *p, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len, int64_t partition, int64_t timestamp, uintptr_t ctx);

/* hw_producer_send_records for n records whose bytes are in `buf`; ctxs[i] comes back to
 * hwgoDeliver. */
hw_error *hwgo_send_all(hw_producer *p, const uint8_t *buf, const hwgo_record *recs, size_t n,
                        const uintptr_t *ctxs, uint32_t *partitions, uint64_t *batches);

/* hw_set_log_callback with hwgoLog as the callback (on != 0) or the default sink (on == 0). */
hw_error *hwgo_set_log_callback(int on, uint32_t max_level);

#endif
