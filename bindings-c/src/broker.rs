//! The embedded broker (`hw_broker`) and the records it stores (`hw_record_list`).

use std::ffi::{c_char, CString};
use std::ptr;

use hw::broker::StoredRecord;
use hw::{BrokerConfig, Result, TestBroker, TopicConfig};

use crate::error::hw_error;
use crate::ffi::{
    arg, boxed, c_string, codec_name, copy_fields, free_with, get, guard, guard_out, item,
    list_get, out_arg, pairs_arg, partition_index, str_arg,
};
use crate::runtime::BROKERS;

/// An embedded Fluvio-protocol broker (opaque) on loopback ports. Start with `hw_broker_start` (or
/// `hw_broker_start_with` for options such as TLS); `hw_broker_stop` stops and frees it.
pub struct hw_broker {
    inner: TestBroker,
    endpoint: CString,
}

/// Starts an embedded broker with `spus` SPUs on free loopback ports: the short form of
/// `hw_broker_start_with` with the options `spus` and `data_dir` (so `spus` outside 1 to 1024 is an
/// `HW_ERROR_KIND_CONFIG` error naming `spus`). `data_dir` is a directory for durable segment files
/// (borrowed for the call), or NULL to keep records in memory. On success `*out` is a broker the
/// caller owns: stop and free it with `hw_broker_stop`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_start(
    spus: u32,
    data_dir: *const c_char,
    out: *mut *mut hw_broker,
) -> *mut hw_error {
    guard_out(out, || {
        let spus = spus.to_string();
        let mut options = vec![("spus", spus.as_str())];
        if !data_dir.is_null() {
            options.push(("data_dir", str_arg(data_dir, "data_dir")?));
        }
        start(BrokerConfig::from_options(options)?)
    })
}

fn start(cfg: BrokerConfig) -> Result<*mut hw_broker> {
    hw::logging::install();
    let inner = TestBroker::start_blocking(cfg)?;
    let endpoint = c_string(&inner.endpoint());
    BROKERS.created();
    Ok(boxed(hw_broker { inner, endpoint }))
}

/// Starts an embedded broker from `n` string options: `keys[i]` = `values[i]`, snake_case or
/// camelCase. Keys: `spus` (1 to 1024, default 1), `data_dir` (durable segment files; default in
/// memory), `sync` (`request`, `never` or an interval in milliseconds), `tls_cert` + `tls_key` (PEM
/// files: every listener speaks TLS) and `tls_client_ca` (PEM CA: clients must present a certificate
/// it signed). An unknown key, a bad value or a missing file is an `HW_ERROR_KIND_CONFIG` error
/// naming the key as given; `tls_cert` and `tls_key` come together. `keys` and `values` may be NULL
/// only when `n` is 0 (the defaults); a NULL element is an `HW_ERROR_KIND_INVALID_ARGUMENT` error.
/// Everything is borrowed for the call. On success `*out` is a broker the caller owns: stop and free
/// it with `hw_broker_stop`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_start_with(
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    out: *mut *mut hw_broker,
) -> *mut hw_error {
    guard_out(out, || {
        start(BrokerConfig::from_options(pairs_arg(keys, values, n)?)?)
    })
}

/// The broker's SC endpoint (`"127.0.0.1:PORT"`), what producers and admins connect to. Owned by
/// the broker: valid until `hw_broker_stop`. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_endpoint(b: *const hw_broker) -> *const c_char {
    get(b, ptr::null(), |b| b.endpoint.as_ptr())
}

/// Creates a topic with `partitions` partitions directly in the broker: the short form of
/// `hw_broker_create_topic_with` with the option `partitions`. `name` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_create_topic(
    b: *mut hw_broker,
    name: *const c_char,
    partitions: u32,
) -> *mut hw_error {
    guard(|| {
        arg(b, "b")?
            .inner
            .create_topic(str_arg(name, "name")?, partitions)
    })
}

/// Creates a topic directly in the broker from `n` string options: `keys[i]` = `values[i]`,
/// snake_case or camelCase. Keys: `partitions` (default 1) and `replication` (default 1), each 1 to
/// 2147483647; `compression` (`any`, the default: each producer picks; or `none`, `gzip`,
/// `snappy`, `lz4`, `zstd`: producers must use that codec); `retention_secs`, `segment_size`,
/// `max_partition_size`. An unknown key or a bad value is an `HW_ERROR_KIND_INVALID_ARGUMENT` error
/// naming the key. The broker's refusals are `HW_ERROR_KIND_BROKER` errors with the Fluvio code
/// (2002 TopicAlreadyExists, 2006 TopicInvalidName, ...), as `hw_admin_create_topic_with` reports
/// them. `keys` and `values` may be NULL only when `n` is 0. Everything is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_create_topic_with(
    b: *mut hw_broker,
    name: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
) -> *mut hw_error {
    guard(|| {
        let (b, name) = (arg(b, "b")?, str_arg(name, "name")?);
        let cfg = TopicConfig::from_options(pairs_arg(keys, values, n)?)?;
        b.inner.create_topic_with(name, cfg)
    })
}

/// Deletes a topic and its records. `name` is borrowed for the call. An unknown topic is an
/// `HW_ERROR_KIND_UNKNOWN_TOPIC` error.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_delete_topic(
    b: *mut hw_broker,
    name: *const c_char,
) -> *mut hw_error {
    guard(|| arg(b, "b")?.inner.delete_topic(str_arg(name, "name")?))
}

/// The log start and log end offsets of `topic`/`partition`, written to `*start` and `*end` (the
/// next offset to be written). `topic` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_offsets(
    b: *const hw_broker,
    topic: *const c_char,
    partition: u32,
    start: *mut i64,
    end: *mut i64,
) -> *mut hw_error {
    guard(|| {
        let (b, topic) = (arg(b, "b")?, str_arg(topic, "topic")?);
        let (start, end) = (out_arg(start, "start")?, out_arg(end, "end")?);
        (*start, *end) = b.inner.offsets(topic, partition_index(partition)?)?;
        Ok(())
    })
}

/// The id of the SPU that leads `topic`/`partition`, written to `*out`. `topic` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_leader(
    b: *const hw_broker,
    topic: *const c_char,
    partition: u32,
    out: *mut i32,
) -> *mut hw_error {
    query(b, topic, partition, out, TestBroker::leader)
}

/// The high watermark of `topic`/`partition` (every in-sync replica holds the records below it),
/// written to `*out`. `topic` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_high_watermark(
    b: *const hw_broker,
    topic: *const c_char,
    partition: u32,
    out: *mut i64,
) -> *mut hw_error {
    query(b, topic, partition, out, TestBroker::high_watermark)
}

/// A query of one partition: `f(broker, topic, partition)` written to `*out`.
unsafe fn query<T>(
    b: *const hw_broker,
    topic: *const c_char,
    partition: u32,
    out: *mut T,
    f: impl FnOnce(&TestBroker, &str, u32) -> Result<T>,
) -> *mut hw_error {
    guard_out(out, || {
        let (b, topic) = (arg(b, "b")?, str_arg(topic, "topic")?);
        f(&b.inner, topic, partition_index(partition)?)
    })
}

/// Pauses every SPU of the broker: produce requests wait (unanswered) until `hw_broker_resume`.
/// For back-pressure tests.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_pause(b: *mut hw_broker) -> *mut hw_error {
    guard(|| arg(b, "b").map(|b| b.inner.pause()))
}

/// Resumes the SPUs paused by `hw_broker_pause`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_resume(b: *mut hw_broker) -> *mut hw_error {
    guard(|| arg(b, "b").map(|b| b.inner.resume()))
}

/// Pauses one SPU (`spu_id`, e.g. from `hw_broker_spu_id`): its produce requests wait unanswered
/// until `hw_broker_resume_spu`. An unknown id is an `HW_ERROR_KIND_INVALID_ARGUMENT` error.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_pause_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| arg(b, "b")?.inner.pause_spu(spu_id))
}

/// Resumes an SPU paused by `hw_broker_pause_spu`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_resume_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| arg(b, "b")?.inner.resume_spu(spu_id))
}

/// Fault injection: the next `count` requests of `api_key` (0 = Produce) on any SPU are answered with
/// the Fluvio error `code` (e.g. 6 NotLeaderForPartition, 56 StorageError) instead of being served.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_fail_next(
    b: *mut hw_broker,
    api_key: u16,
    count: u32,
    code: i16,
) -> *mut hw_error {
    guard(|| arg(b, "b").map(|b| b.inner.fail_next(api_key, count, code)))
}

/// Fault injection: the next `count` requests of `api_key` close their connection unanswered.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_drop_next(
    b: *mut hw_broker,
    api_key: u16,
    count: u32,
) -> *mut hw_error {
    guard(|| arg(b, "b").map(|b| b.inner.drop_next(api_key, count)))
}

/// Fault injection: every request of `api_key` waits `delay_ms` before it is served (0 clears).
#[no_mangle]
pub unsafe extern "C" fn hw_broker_delay(
    b: *mut hw_broker,
    api_key: u16,
    delay_ms: u32,
) -> *mut hw_error {
    let d = (delay_ms > 0).then(|| std::time::Duration::from_millis(delay_ms.into()));
    guard(|| arg(b, "b").map(|b| b.inner.delay(api_key, d)))
}

/// The id of the broker's `index`-th SPU (5001, 5002, ...), written to `*out` on success.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_spu_id(
    b: *const hw_broker,
    index: u32,
    out: *mut i32,
) -> *mut hw_error {
    guard_out(out, || {
        let ids = arg(b, "b")?.inner.spu_ids();
        item(&ids, index as usize, "SPUs").copied()
    })
}

/// Stops SPU `spu_id` (its partitions fail over to in-sync followers, or wait offline).
#[no_mangle]
pub unsafe extern "C" fn hw_broker_stop_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| hw::runtime::block_on(arg(b, "b")?.inner.stop_spu(spu_id)))
}

/// Starts a stopped SPU again on the same port.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_start_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| hw::runtime::block_on(arg(b, "b")?.inner.start_spu(spu_id)))
}

/// Broker counters, filled by `hw_broker_stats` (the struct cannot share the function's name in
/// C).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct hw_broker_counters {
    /// Produce requests received by the SPUs.
    pub produce_requests: u64,
    /// Batches appended to partition logs.
    pub batches_appended: u64,
    /// Records appended to partition logs.
    pub records_appended: u64,
    /// Bytes appended to partition logs.
    pub bytes_appended: u64,
    /// fsyncs of segment files (0 in memory).
    pub fsyncs: u64,
    /// Segments deleted by retention.
    pub segments_deleted: u64,
    /// Torn or unreachable bytes dropped when a log was recovered.
    pub truncated_bytes: u64,
    /// Client connections open now (a gauge).
    pub connections: u64,
    /// Client connections accepted so far.
    pub connections_total: u64,
    /// Request frames refused (too large, undecodable).
    pub rejected_frames: u64,
    /// Fetch responses sent.
    pub fetch_responses: u64,
}

/// Copies the broker's counters into `*out`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_stats(
    b: *const hw_broker,
    out: *mut hw_broker_counters,
) -> *mut hw_error {
    guard_out(out, || {
        let stats = arg(b, "b")?.inner.stats();
        Ok(copy_fields!(stats => hw_broker_counters {
            produce_requests, batches_appended, records_appended, bytes_appended, fsyncs,
            segments_deleted, truncated_bytes, connections, connections_total, rejected_frames,
            fetch_responses,
        }))
    })
}

/// A record as the broker stores it, read from an `hw_record_list`. Every pointer is owned by the
/// list: valid until `hw_record_list_free`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hw_stored_record {
    /// The record's offset in its partition.
    pub offset: i64,
    /// NULL when the record has no key; non-NULL (possibly with `key_len == 0`) for a key, even an
    /// empty one.
    pub key: *const u8,
    pub key_len: usize,
    /// Never NULL (an empty value has `value_len == 0`).
    pub value: *const u8,
    pub value_len: usize,
    /// Milliseconds since the epoch (-1 if the batch carried none).
    pub timestamp: i64,
    /// The partition the list was read from.
    pub partition: u32,
    /// The codec of the batch that carried it: `"none"`, `"gzip"`, `"snappy"`, `"lz4"`, `"zstd"`
    /// (static storage).
    pub compression: *const c_char,
    /// The base offset of that batch (records of one batch share it).
    pub batch_base_offset: i64,
}

/// Records read back from the broker (opaque): `hw_record_list_len`, `hw_record_list_get`, and
/// `hw_record_list_free`.
pub struct hw_record_list {
    items: Vec<hw_stored_record>,
    /// What `items` points into.
    _records: Vec<StoredRecord>,
}

/// What the broker stores for `topic`/`partition` from offset `from` on (0 = everything), in
/// offset order. `topic` is borrowed for the call. On success `*out` is a list the caller owns:
/// free it with `hw_record_list_free`. An unknown topic or partition is an error.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_records(
    b: *mut hw_broker,
    topic: *const c_char,
    partition: u32,
    from: i64,
    out: *mut *mut hw_record_list,
) -> *mut hw_error {
    guard_out(out, || {
        let (b, topic) = (arg(b, "b")?, str_arg(topic, "topic")?);
        let records = b.inner.records(topic, partition_index(partition)?, from)?;
        // Where a key or value starts: never NULL, even when empty (a static byte then).
        let bytes = |b: &[u8]| -> *const u8 { b.first().unwrap_or(&0) };
        let items = (records.iter())
            .map(|r| hw_stored_record {
                offset: r.offset,
                key: r.key.as_deref().map_or(ptr::null(), bytes),
                key_len: r.key.as_ref().map_or(0, Vec::len),
                value: bytes(&r.value),
                value_len: r.value.len(),
                timestamp: r.timestamp,
                partition,
                compression: codec_name(r.compression),
                batch_base_offset: r.batch_base_offset,
            })
            .collect();
        Ok(boxed(hw_record_list {
            items,
            _records: records,
        }))
    })
}

/// Stops the broker (every listener and connection) and frees it. NULL is fine. Producers and
/// admins connected to it then fail with transport errors. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_stop(b: *mut hw_broker) {
    free_with(b, |b| {
        BROKERS.freed();
        b.inner.stop();
    })
}

/// The number of records in `list` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_len(list: *const hw_record_list) -> usize {
    get(list, 0, |l| l.items.len())
}

/// Reads record `index` (0-based, below `hw_record_list_len`) into `*out`. The pointers written
/// into `*out` are owned by `list`. An index out of range is an `HW_ERROR_KIND_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_get(
    list: *const hw_record_list,
    index: usize,
    out: *mut hw_stored_record,
) -> *mut hw_error {
    list_get(list, index, out, |l| &l.items[..], "records")
}

/// Frees a record list and everything it points to. NULL is fine. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_free(list: *mut hw_record_list) {
    free_with(list, drop)
}
