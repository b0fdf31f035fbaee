/* Produce driver for the C binding (format: README.md beside this file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headwater.h"

typedef struct {
    int done;
    uint32_t partition;
    int64_t offset;
    char error[256];
} result;

static void on_delivery(void *ctx, const hw_record_metadata *meta, const hw_error *err) {
    result *r = ctx;
    if (err == NULL) {
        r->partition = meta->partition;
        r->offset = meta->offset;
    } else {
        snprintf(r->error, sizeof r->error, "%s", hw_error_message(err));
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
}

static int fail(hw_error *err, const char *what) {
    fprintf(stderr, "produce.c: %s: %s\n", what, hw_error_message(err));
    hw_error_free(err);
    return 1;
}

/* Decodes hex in place; returns the byte count. */
static size_t unhex(char *s) {
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned int b;
        sscanf(s + 2 * i, "%2x", &b);
        ((unsigned char *)s)[i] = (unsigned char)b;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: produce ENDPOINT TOPIC CODEC [key=value ...]\n");
        return 2;
    }
    hw_config *cfg = hw_config_new();
    hw_error *err = hw_config_set(cfg, "compression", argv[3]);
    if (err) return fail(err, "compression");
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        *eq = '\0';
        if ((err = hw_config_set(cfg, argv[i], eq + 1))) return fail(err, argv[i]);
    }
    hw_producer *p = NULL;
    err = hw_producer_connect(argv[1], argv[2], cfg, &p);
    hw_config_free(cfg);
    if (err) return fail(err, "connect");

    size_t cap = 1024, n = 0;
    result *results = calloc(cap, sizeof *results);
    char part[32], key[8192], value[8192];
    while (scanf("%31s %8191s %8191s", part, key, value) == 3) {
        if (n == cap) {
            /* Results are written by callbacks: wait for every earlier one before moving them. */
            if ((err = hw_producer_flush(p, HW_WAIT_FOREVER))) return fail(err, "flush");
            results = realloc(results, 2 * cap * sizeof *results);
            memset(results + cap, 0, cap * sizeof *results);
            cap *= 2;
        }
        int keyed = strcmp(key, "-") != 0;
        size_t klen = keyed ? unhex(key + 1) : 0;
        size_t vlen = unhex(value);
        const uint8_t *k = keyed ? (const uint8_t *)key + 1 : NULL;
        if (strcmp(part, "-") == 0)
            err = hw_producer_send(p, k, klen, (const uint8_t *)value, vlen, on_delivery, &results[n]);
        else
            err = hw_producer_send_to(p, (uint32_t)strtoul(part, NULL, 10), k, klen, (const uint8_t *)value, vlen,
                                      on_delivery, &results[n]);
        if (err) return fail(err, "send");
        n++;
    }
    if ((err = hw_producer_close(p, HW_WAIT_FOREVER))) return fail(err, "close");
    int status = 0;
    for (size_t i = 0; i < n; i++) {
        if (!__atomic_load_n(&results[i].done, __ATOMIC_ACQUIRE) || results[i].error[0]) {
            fprintf(stderr, "produce.c: record %zu: %s\n", i, results[i].error[0] ? results[i].error : "no result");
            status = 1;
        } else {
            printf("%u %lld\n", results[i].partition, (long long)results[i].offset);
        }
    }
    if ((err = hw_producer_free(p))) return fail(err, "free");
    free(results);
    return status;
}
