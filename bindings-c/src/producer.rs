//! The producer: `hw_producer`, its sends, delivery callbacks, flush and close.
//!
//! Delivery callbacks go through core's `DeliveryTracker`: one sink call per batch, and the barrier
//! that lets flush and close return only after the callbacks of the records sent before them ran.

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use hw::error::{check_range, MAX_COUNT};
use hw::producer::{
    in_delivery, BatchDelivery, DeliveryTracker, ProduceOutput, RecordRef, TrackedRecord,
};
use hw::{Error, Producer, ProducerConfig, Result};

use crate::config::hw_config;
use crate::error::hw_error;
use crate::ffi::{
    arg, boxed, c_string, codec_name, copy_fields, get, guard, guard_out, guard_send,
    partition_index, slice_arg, str_arg, Ctx,
};
use crate::runtime::PRODUCERS;

/// `timeout_ms` of `hw_producer_flush` and `hw_producer_close`: wait as long as it takes.
pub const HW_WAIT_FOREVER: u32 = u32::MAX;

/// `timeout_ms` of `hw_producer_flush` and `hw_producer_close`: do not wait (seal the open batches,
/// then report `HW_ERROR_KIND_TIMEOUT` if anything is still pending).
pub const HW_NO_WAIT: u32 = 0;

/// Where a record landed.
#[repr(C)]
pub struct hw_record_metadata {
    /// The topic, NUL-terminated. In a delivery callback: valid during the callback only. From
    /// `hw_producer_send_sync`: owned by the producer, valid until `hw_producer_free`.
    pub topic: *const c_char,
    pub partition: u32,
    /// The record's offset; -1 when unknown (`delivery` = `at_most_once`).
    pub offset: i64,
    /// Milliseconds since the epoch, as stored in the batch.
    pub timestamp: i64,
}

/// Delivery callback: called exactly once for every record whose send returned NULL, from a
/// library thread, with either `meta` (success; `err` NULL) or `err` (failure; `meta` NULL). Both
/// are owned by the library and valid during the call only (do not free `err`). It must not block
/// for long. It may call `hw_producer_send*`; `hw_producer_flush`, `hw_producer_close`,
/// `hw_producer_free` and `hw_producer_send_sync` called from inside it return an
/// `HW_ERROR_KIND_INVALID_ARGUMENT` error instead of deadlocking.
pub type hw_delivery_cb = Option<
    unsafe extern "C" fn(ctx: *mut c_void, meta: *const hw_record_metadata, err: *const hw_error),
>;

/// One record's result, as an `hw_deliveries_cb` receives it.
#[repr(C)]
pub struct hw_delivery {
    /// The record's context (`ctxs[i]` of `hw_producer_send_records`).
    pub ctx: *mut c_void,
    pub partition: u32,
    /// The record's offset; -1 when unknown (`delivery` = `at_most_once`) or when it failed.
    pub offset: i64,
    /// Milliseconds since the epoch, as stored in the batch.
    pub timestamp: i64,
    /// NULL on success; else why the record failed (owned by the library, valid during the call).
    pub err: *const hw_error,
}

/// Batch delivery callback of `hw_producer_send_records`: called from a library thread once per
/// completed batch holding records sent with it, with their results in send order (`n` >= 1), so
/// each record is reported exactly once. `deliveries` and what it points to are owned by the
/// library and valid during the call only. The rules of `hw_delivery_cb` apply (do not block for
/// long; no flush, close, free or send_sync from inside it).
pub type hw_deliveries_cb = Option<unsafe extern "C" fn(deliveries: *const hw_delivery, n: usize)>;

/// A record with options, for `hw_producer_send_record` and `hw_producer_send_all`. The pointers
/// are borrowed for the call.
#[repr(C)]
pub struct hw_record {
    /// NULL = no key; non-NULL with `key_len == 0` = an empty key (they partition differently).
    pub key: *const u8,
    pub key_len: usize,
    /// May be NULL only when `value_len == 0`.
    pub value: *const u8,
    pub value_len: usize,
    /// An explicit partition (0 to 2147483647), or -1 to let the partitioner choose.
    pub partition: i64,
    /// Milliseconds since the epoch, or -1 for now.
    pub timestamp: i64,
}

/// Producer counters, filled by `hw_producer_stats` (the struct cannot share the function's name in
/// C); the field names of `tests/vectors/config.json`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct hw_stats {
    pub records_sent: u64,
    pub records_acked: u64,
    pub records_failed: u64,
    pub bytes_uncompressed: u64,
    pub bytes_compressed: u64,
    pub batches_sent: u64,
    pub requests_sent: u64,
    pub retries: u64,
    pub errors: u64,
    pub queued_records: u64,
    pub queued_batches: u64,
}

/// A producer for one topic (opaque). Connect with `hw_producer_connect`; `hw_producer_close`
/// (flush, then stop) and then `hw_producer_free`. Every function is thread-safe on the same
/// producer, except `hw_producer_free`, which must be the last call.
pub struct hw_producer {
    inner: Producer,
    topic: Arc<CString>,
    /// Runs the delivery callbacks, one sink call per batch, and counts them for flush and close.
    tracker: DeliveryTracker<CDelivery>,
}

type RecordCb = unsafe extern "C" fn(*mut c_void, *const hw_record_metadata, *const hw_error);
type BatchCb = unsafe extern "C" fn(*const hw_delivery, usize);

/// One pending delivery: the record's context for its own callback, or for its entry in a batch
/// callback.
struct CDelivery {
    cb: Cb,
    ctx: Ctx,
}

#[derive(Clone, Copy)]
enum Cb {
    Record(RecordCb),
    Batch(BatchCb),
}

/// The delivery of record `i`: with `ctxs[i]`, or NULL when the caller passed no contexts.
fn delivery(cb: Cb, ctxs: Option<&[*mut c_void]>, i: usize) -> CDelivery {
    let ctx = Ctx(ctxs.map_or(ptr::null_mut(), |c| c[i]));
    CDelivery { cb, ctx }
}

/// Calls the callbacks of one batch's records, in send order, from the library thread completing it:
/// each record callback once, and each batch callback once for its run of consecutive records.
fn deliver_batch(topic: &CStr, d: BatchDelivery<'_, CDelivery>) {
    // A batch fails as a whole: one error serves every record of it.
    let err = d.result.as_ref().err().map(hw_error::new);
    let err_ptr = err.as_ref().map_or(ptr::null(), |e| e as *const hw_error);
    // A run of consecutive records of one batch callback goes to it in one call.
    let batch_cb = |r: &TrackedRecord<CDelivery>| match r.token.cb {
        Cb::Batch(cb) => Some(cb as usize),
        Cb::Record(_) => None,
    };
    for run in d
        .records
        .chunk_by(|a, b| batch_cb(a).is_some() && batch_cb(a) == batch_cb(b))
    {
        let offset = |r: &TrackedRecord<CDelivery>| d.offset(r).unwrap_or(-1);
        // The callbacks are C code and cannot unwind; catch anything on our side all the same.
        // SAFETY: the caller gave us these callbacks for exactly these records.
        let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
            match run[0].token.cb {
                Cb::Record(cb) => {
                    let r = &run[0]; // a run of one
                    let meta = hw_record_metadata {
                        topic: topic.as_ptr(),
                        partition: d.partition,
                        offset: offset(r),
                        timestamp: r.timestamp,
                    };
                    let meta_ptr = if err.is_none() { &meta } else { ptr::null() };
                    cb(r.token.ctx.0, meta_ptr, err_ptr)
                }
                Cb::Batch(cb) => {
                    let run: Vec<hw_delivery> = (run.iter())
                        .map(|r| hw_delivery {
                            ctx: r.token.ctx.0,
                            partition: d.partition,
                            offset: offset(r),
                            timestamp: r.timestamp,
                            err: err_ptr,
                        })
                        .collect();
                    cb(run.as_ptr(), run.len())
                }
            }
        }));
    }
}

/// Refuses a call that would wait for the delivery callbacks from inside one of them.
fn refuse_in_callback(what: &str) -> Result<()> {
    if in_delivery() {
        return Err(Error::invalid(format!(
            "{what} must not be called from inside a delivery callback (it would wait for itself)"
        )));
    }
    Ok(())
}

/// Connects a producer for `topic` to the SC at `endpoint` and waits (up to `metadata_timeout_ms`)
/// for the topic. `cfg` may be NULL for the defaults; it is copied, so it may be freed right after.
/// Strings are borrowed for the call. On success `*out` is a producer the caller owns: call
/// `hw_producer_close` then `hw_producer_free`.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_connect(
    endpoint: *const c_char,
    topic: *const c_char,
    cfg: *const hw_config,
    out: *mut *mut hw_producer,
) -> *mut hw_error {
    guard_out(out, || {
        let endpoint = str_arg(endpoint, "endpoint")?;
        let topic_s = str_arg(topic, "topic")?;
        let config = cfg
            .as_ref()
            .map_or_else(ProducerConfig::default, |c| c.inner.clone());
        hw::logging::install();
        let inner = Producer::connect_blocking(endpoint, topic_s, config)?;
        let topic = Arc::new(c_string(topic_s));
        let sink_topic = topic.clone();
        PRODUCERS.created();
        Ok(boxed(hw_producer {
            inner,
            tracker: DeliveryTracker::new(move |d| deliver_batch(&sink_topic, d)),
            topic,
        }))
    })
}

/// The topic `p` sends to, NUL-terminated. Owned by the producer: valid until `hw_producer_free`.
/// NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_topic(p: *const hw_producer) -> *const c_char {
    get(p, ptr::null(), |p| p.topic.as_ptr())
}

/// The number of partitions of the producer's topic (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn hw_producer_partition_count(p: *const hw_producer) -> u32 {
    get(p, 0, |p| p.inner.partition_count())
}

/// The codec the producer compresses batches with: `"none"`, `"gzip"`, `"snappy"`, `"lz4"` or
/// `"zstd"` (static storage). NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_compression(p: *const hw_producer) -> *const c_char {
    get(p, ptr::null(), |p| codec_name(p.inner.compression()))
}

/// Whether `hw_producer_close` was called (later sends fail with `HW_ERROR_KIND_CLOSED`). False for
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_is_closed(p: *const hw_producer) -> bool {
    get(p, false, |p| p.inner.is_closed())
}

/// `(key, key_len)`: NULL = no key (then `key_len` must be 0), non-NULL = a key, even an empty one;
/// `(value, value_len)`: NULL only with length 0.
unsafe fn key_value<'a>(
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Result<RecordRef<'a>> {
    let key = match (key.is_null(), key_len) {
        (false, _) => Some(std::slice::from_raw_parts(key, key_len)),
        (true, 0) => None,
        (true, _) => {
            let msg = format!("`key` is NULL (no key) but `key_len` is {key_len}");
            return Err(Error::invalid(msg));
        }
    };
    let value = slice_arg(value, value_len, "value", "value_len")?;
    Ok(RecordRef::new(key, value))
}

/// The key and value of `*r` with its partition and timestamp (-1: none), checked.
unsafe fn record_arg<'a>(r: &hw_record) -> Result<RecordRef<'a>> {
    let partition = match r.partition {
        -1 => None,
        n => Some(check_range("partition", n, 0, MAX_COUNT)? as u32),
    };
    let timestamp = match r.timestamp {
        -1 => None,
        t => Some(check_range("timestamp", t, 0, i64::MAX)?),
    };
    Ok(RecordRef {
        partition,
        timestamp,
        ..key_value(r.key, r.key_len, r.value, r.value_len)?
    })
}

/// One send, filed with the tracker under `token` when there is one.
fn send_ref(p: &hw_producer, r: RecordRef<'_>, token: Option<CDelivery>) -> Result<ProduceOutput> {
    let (key, value, partition, timestamp) = (r.key, r.value, r.partition, r.timestamp);
    match token {
        Some(t) => (p.inner).send_blocking_tracked(key, value, partition, timestamp, &p.tracker, t),
        None => p.inner.send_blocking(key, value, partition, timestamp),
    }
}

/// One send with a record callback: tracked (its callback runs once its batch completes) when
/// there is one.
unsafe fn send_one(
    p: *mut hw_producer,
    r: RecordRef<'_>,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> Result<()> {
    let token = cb.map(|cb| CDelivery {
        cb: Cb::Record(cb),
        ctx: Ctx(ctx),
    });
    send_ref(arg(p, "p")?, r, token).map(drop)
}

/// Sends a record to the partition the partitioner picks. `key` NULL = no key (then `key_len` must
/// be 0); a non-NULL key with `key_len == 0` is an empty key. `value` may be NULL only when
/// `value_len` is 0. The bytes are copied before the call returns. Returns at once unless the
/// partition's queue is full (then it waits up to `send_timeout_ms` and fails with
/// `HW_ERROR_KIND_QUEUE_FULL`). `cb` (may be NULL: failures then show in the next flush/close) is
/// called exactly once with `ctx` if and only if this returns NULL. A refused send (an error
/// returned here) is not reported again by a later flush or close.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send(
    p: *mut hw_producer,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> *mut hw_error {
    guard_send(|| send_one(p, key_value(key, key_len, value, value_len)?, cb, ctx))
}

/// Like `hw_producer_send`, to an explicit partition (below the topic's partition count, else
/// `HW_ERROR_KIND_UNKNOWN_PARTITION`).
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_to(
    p: *mut hw_producer,
    partition: u32,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> *mut hw_error {
    guard_send(|| {
        let r = key_value(key, key_len, value, value_len)?;
        send_one(p, r.partition(partition_index(partition)?), cb, ctx)
    })
}

/// Like `hw_producer_send` with the options of `*record` (explicit partition, timestamp).
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_record(
    p: *mut hw_producer,
    record: *const hw_record,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> *mut hw_error {
    guard_send(|| send_one(p, record_arg(arg(record, "record")?)?, cb, ctx))
}

/// The `n` records of `records` (NULL only when `n` is 0), each checked as in
/// `hw_producer_send_record`; a bad one names its index.
unsafe fn records_arg<'a>(records: *const hw_record, n: usize) -> Result<Vec<RecordRef<'a>>> {
    slice_arg(records, n, "records", "n")?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            record_arg(r)
                .map_err(|e| Error::invalid(format!("`records[{i}]`: {}", e.message.trim_start())))
        })
        .collect()
}

/// Sends `n` records (`records[0]` to `records[n - 1]`, each as in `hw_producer_send_record`).
/// Every record's arguments and size are checked before any is sent: a bad one (or one larger
/// than `max_request_size`: `HW_ERROR_KIND_RECORD_TOO_LARGE`) refuses the whole call and nothing is
/// sent. `cb` is then called exactly once per record, with `ctxs[i]` for record `i` (`ctxs` may be
/// NULL: every call gets NULL). A failure while sending (a full queue, an unknown partition, a
/// closed producer) stops there and returns the error: the records before it were sent (their
/// callbacks will run), the rest were not. `records` may be NULL only when `n` is 0.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_all(
    p: *mut hw_producer,
    records: *const hw_record,
    n: usize,
    cb: hw_delivery_cb,
    ctxs: *const *mut c_void,
) -> *mut hw_error {
    guard_send(|| {
        let prod = arg(p, "p")?;
        let refs = records_arg(records, n)?;
        let ctxs = (!ctxs.is_null()).then(|| std::slice::from_raw_parts(ctxs, n));
        let tracked = cb.map(|cb| (&prod.tracker, move |i| delivery(Cb::Record(cb), ctxs, i)));
        prod.inner.send_all_blocking_each(&refs, tracked, |_, _| {})
    })
}

/// Sends `n` records as `hw_producer_send_all` does (checked first; a failure while sending stops
/// there), for bindings that hand out a result object per record (Go's `ProduceOutput`): the results
/// come in one `cb` call per completed batch (`hw_deliveries_cb`: record `i` with `ctxs[i]`, exactly
/// once, iff it was sent; `cb` NULL: failures show in the next flush/close), and `partitions[i]` is set
/// to the partition record `i` was assigned to as soon as it is enqueued (`partitions` has room for
/// `n` entries; NULL only when `n` is 0). After a failure while sending, the entries of the records
/// sent before it are written and the others are left as they were, so a caller that pre-fills the
/// array (e.g. with `UINT32_MAX`) knows which records were sent and will be reported. `batches`, if not
/// NULL, gets the id of each sent record's batch in the same way: with the partition, what
/// `hw_producer_send_now` takes to send that batch when someone starts waiting on the record.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_records(
    p: *mut hw_producer,
    records: *const hw_record,
    n: usize,
    cb: hw_deliveries_cb,
    ctxs: *const *mut c_void,
    partitions: *mut u32,
    batches: *mut u64,
) -> *mut hw_error {
    guard_send(|| {
        let prod = arg(p, "p")?;
        slice_arg(partitions, n, "partitions", "n")?; // written through below
        let ctxs = (!ctxs.is_null()).then(|| std::slice::from_raw_parts(ctxs, n));
        // With a callback, record `i` is filed with the tracker under its context.
        let token = move |cb, i| delivery(Cb::Batch(cb), ctxs, i);
        // Each record's partition and batch are written as soon as it is enqueued.
        let sent = |i: usize, out: ProduceOutput| {
            *partitions.add(i) = out.partition();
            if !batches.is_null() {
                *batches.add(i) = out.batch_id();
            }
        };
        if n == 1 {
            // One record: checked and reported as hw_producer_send_record does (the send checks its
            // size), without building a list first; this is the per-record send path of bindings.
            let r = record_arg(arg(records, "records")?)?;
            sent(0, send_ref(prod, r, cb.map(|cb| token(cb, 0)))?);
            return Ok(());
        }
        let refs = records_arg(records, n)?;
        let tracked = cb.map(|cb| (&prod.tracker, move |i| token(cb, i)));
        prod.inner.send_all_blocking_each(&refs, tracked, sent)
    })
}

/// Sends the batch `batch` of `partition` now if it is still open (lingering), as waiting on one of
/// its records does in other languages: the numbers `hw_producer_send_records` wrote for a record. A
/// batch already sent, or an id that names no open batch, is left alone (no error). Allowed inside a
/// delivery callback.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_now(
    p: *mut hw_producer,
    partition: u32,
    batch: u64,
) -> *mut hw_error {
    guard_send(|| arg(p, "p").map(|p| p.inner.send_now(partition, batch)))
}

/// Seals every open batch so it goes out now, without waiting and without reporting anything (the
/// failure the next flush reports stays for it). For bindings whose wait on one record must send
/// that record's batch at once rather than after `linger_ms`: Go's `ProduceOutput.Wait` and `Done`
/// call it when a caller starts waiting. Allowed inside a delivery callback.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_seal(p: *mut hw_producer) -> *mut hw_error {
    guard(|| arg(p, "p").map(|p| p.inner.seal()))
}

/// Sends a record and blocks until it is acknowledged (or fails, at most `delivery_timeout_ms`).
/// Key and value as in `hw_producer_send`. On success `*out` holds where it landed; `out->topic` is
/// owned by the producer (valid until `hw_producer_free`). Not allowed inside a delivery callback.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_sync(
    p: *mut hw_producer,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    out: *mut hw_record_metadata,
) -> *mut hw_error {
    guard_out(out, || {
        refuse_in_callback("hw_producer_send_sync")?;
        let prod = arg(p, "p")?;
        let r = key_value(key, key_len, value, value_len)?;
        // Waiting sends the record's batch at once (core), so a lone record skips linger_ms.
        let m = send_ref(prod, r, None)?.wait_blocking(None)?;
        Ok(hw_record_metadata {
            topic: prod.topic.as_ptr(),
            partition: m.partition,
            offset: m.offset,
            timestamp: m.timestamp,
        })
    })
}

/// A flush or a close (`f`) with the delivery callbacks' barrier, waiting up to `timeout_ms`.
unsafe fn finish(
    p: *mut hw_producer,
    timeout_ms: u32,
    f: fn(&Producer, &DeliveryTracker<CDelivery>, Option<Duration>) -> Result<()>,
) -> *mut hw_error {
    let timeout = (timeout_ms != HW_WAIT_FOREVER).then(|| Duration::from_millis(timeout_ms.into()));
    guard(|| {
        let p = arg(p, "p")?;
        f(&p.inner, &p.tracker, timeout)
    })
}

/// Seals every open batch (they go out now) and waits up to `timeout_ms` (`HW_WAIT_FOREVER`: no
/// limit; `HW_NO_WAIT`: not at all) until everything sent so far is acknowledged or failed and its
/// delivery callback has returned. Returns the first delivery failure since the last flush
/// (including failures of sends without a callback), or `HW_ERROR_KIND_TIMEOUT` if something is
/// still pending at the deadline (nothing is dropped: it stays queued or in flight). Sends refused
/// by their call are not reported again. Not allowed inside a delivery callback.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_flush(p: *mut hw_producer, timeout_ms: u32) -> *mut hw_error {
    finish(p, timeout_ms, Producer::flush_blocking_tracked)
}

/// Copies the producer's counters into `*out`.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_stats(
    p: *const hw_producer,
    out: *mut hw_stats,
) -> *mut hw_error {
    guard_out(out, || {
        Ok(copy_fields!(arg(p, "p")?.inner.stats() => hw_stats {
            records_sent, records_acked, records_failed, bytes_uncompressed, bytes_compressed,
            batches_sent, requests_sent, retries, errors, queued_records, queued_batches,
        }))
    })
}

/// Flushes (waiting up to `timeout_ms` as `hw_producer_flush` does), then stops the producer: later
/// sends fail with `HW_ERROR_KIND_CLOSED`, and records still unsent after the timeout fail (their
/// callbacks get `HW_ERROR_KIND_CLOSED`). Returns the flush's result (`HW_ERROR_KIND_TIMEOUT` if
/// anything was still pending at the deadline). Unless it times out, every delivery callback of the
/// records sent before it has returned when it returns. Idempotent (a second close returns NULL).
/// Not allowed inside a delivery callback. The producer must still be freed with
/// `hw_producer_free`.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_close(p: *mut hw_producer, timeout_ms: u32) -> *mut hw_error {
    finish(p, timeout_ms, Producer::close_blocking_tracked)
}

/// Frees a producer; call `hw_producer_close` first. Freeing an open producer stops it: its unsent
/// records are not silently lost — their callbacks get `HW_ERROR_KIND_CLOSED` and a warning is
/// logged. Blocks until every pending delivery callback of this producer has run (at most about
/// `delivery_timeout_ms`), so none runs after it returns. NULL is fine (returns NULL). From inside a
/// delivery callback it returns an `HW_ERROR_KIND_INVALID_ARGUMENT` error and frees nothing.
/// Must not be called twice on the same producer, nor concurrently with other calls on it.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_free(p: *mut hw_producer) -> *mut hw_error {
    guard(|| {
        if p.is_null() {
            return Ok(());
        }
        refuse_in_callback("hw_producer_free")?;
        let hw_producer { inner, tracker, .. } = *Box::from_raw(p);
        PRODUCERS.freed();
        let limit = inner.config().delivery_timeout + Duration::from_secs(10);
        drop(inner); // stops the producer: unsent records fail with CLOSED
        let barrier = tracker.barrier();
        if let Err(e) = tracker.wait_reported(barrier, Some(limit), &mut || Ok(())) {
            tracing::warn!(
                pending = tracker.unreported(),
                "hw_producer_free: delivery callbacks still pending ({e}); they may run later"
            );
        }
        Ok(())
    })
}
