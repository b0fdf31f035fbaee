//! The C ABI of Headwater (`include/headwater.h`, generated from this file by cbindgen).
//!
//! This layer only converts arguments, calls the core crate (`hw` here) and maps errors. Conventions,
//! kept by every exported function:
//!
//! - Fallible functions return `hw_error *`: `NULL` on success, otherwise an error the caller owns and
//!   frees with `hw_error_free`.
//! - Every pointer argument is checked: `NULL` where a value is required is an
//!   `HW_ERROR_KIND_INVALID_ARGUMENT` error, never a crash.
//! - Panics are caught at the boundary and become `HW_ERROR_KIND_INTERNAL` errors.
//! - Output parameters are written only on success.
//! - The library copies what it needs: caller buffers may be reused as soon as a call returns.
#![allow(non_camel_case_types)]
// Every `unsafe extern "C"` function documents its pointer contract in its doc comment (copied into
// the header); the checks that can be made (NULL) are made.
#![allow(clippy::missing_safety_doc)]

use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hw::broker::StoredRecord;
use hw::producer::DeliveryTracker;
use hw::{
    Admin, BrokerConfig, Compression, Error, ErrorKind, Producer, ProducerConfig, TestBroker,
};

type Result<T> = std::result::Result<T, Error>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The kind of an error: one value per core `ErrorKind`, with the numbers of
/// `tests/vectors/errors.json` (stable across releases).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hw_error_kind {
    /// Not an error (what `hw_error_code(NULL)` returns).
    Ok = 0,
    /// An invalid configuration key or value; the message names the key.
    Config = 1,
    /// A wait ran past its deadline (retriable).
    Timeout = 2,
    /// The partition's queue stayed full for `send_timeout_ms`.
    QueueFull = 3,
    /// A record larger than `max_request_size`.
    RecordTooLarge = 4,
    /// The topic does not exist.
    UnknownTopic = 5,
    /// The topic has no such partition.
    UnknownPartition = 6,
    /// A codec failed, or the topic's compression policy forbids the codec.
    Compression = 7,
    /// The connection failed or dropped (retriable).
    Transport = 8,
    /// A peer sent bytes that do not decode.
    Protocol = 9,
    /// The broker answered with a Fluvio error code (`hw_error_broker_code`); retriability follows it.
    Broker = 10,
    /// The producer (or broker) was closed.
    Closed = 11,
    /// The object was created before `fork()` and cannot be used in the child.
    Forked = 12,
    /// A bad argument: a NULL pointer, invalid UTF-8, a call that is not allowed here.
    InvalidArgument = 13,
    /// A bug: a panic caught at the C boundary, a broken invariant.
    Internal = 14,
}

impl hw_error_kind {
    fn from_kind(kind: ErrorKind) -> hw_error_kind {
        match kind {
            ErrorKind::Config => hw_error_kind::Config,
            ErrorKind::Timeout => hw_error_kind::Timeout,
            ErrorKind::QueueFull => hw_error_kind::QueueFull,
            ErrorKind::RecordTooLarge => hw_error_kind::RecordTooLarge,
            ErrorKind::UnknownTopic => hw_error_kind::UnknownTopic,
            ErrorKind::UnknownPartition => hw_error_kind::UnknownPartition,
            ErrorKind::Compression => hw_error_kind::Compression,
            ErrorKind::Transport => hw_error_kind::Transport,
            ErrorKind::Protocol => hw_error_kind::Protocol,
            ErrorKind::Broker(_) => hw_error_kind::Broker,
            ErrorKind::Closed => hw_error_kind::Closed,
            ErrorKind::Forked => hw_error_kind::Forked,
            ErrorKind::InvalidArgument => hw_error_kind::InvalidArgument,
            ErrorKind::Internal => hw_error_kind::Internal,
        }
    }
}

/// An error (opaque). Created by the library; read it with `hw_error_code`, `hw_error_message`,
/// `hw_error_is_retriable` and `hw_error_broker_code`; free it with `hw_error_free` unless the
/// function that handed it to you says the library owns it (delivery callbacks).
pub struct hw_error {
    code: hw_error_kind,
    message: CString,
    retriable: bool,
    broker_code: i16,
}

impl hw_error {
    fn new(e: &Error) -> hw_error {
        // Display = "[CODE] message" (broker errors also carry the Fluvio code and its name).
        let text = e.to_string().replace('\0', "\u{FFFD}");
        hw_error {
            code: hw_error_kind::from_kind(e.kind),
            message: CString::new(text).unwrap_or_default(),
            retriable: e.is_retriable(),
            broker_code: e.broker_code().unwrap_or(0),
        }
    }
    fn into_raw(e: &Error) -> *mut hw_error {
        Box::into_raw(Box::new(hw_error::new(e)))
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, msg)
}

fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::internal(format!("panic caught at the C boundary: {what}"))
}

/// The boundary of every fallible export: runs `f` inside the shared runtime's context, maps its
/// error, catches panics.
///
/// The runtime context is entered because some core futures create tokio timers on the polling
/// thread (e.g. `Cluster::wait_until`, reached from `Producer::connect` and `Admin::create_topic`),
/// which panics ("no reactor running") on a plain C thread otherwise. See the report for the core fix.
fn guard(f: impl FnOnce() -> Result<()>) -> *mut hw_error {
    match catch_unwind(AssertUnwindSafe(|| {
        let _rt = hw::runtime::get().enter();
        f()
    })) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => hw_error::into_raw(&e),
        Err(p) => hw_error::into_raw(&panic_error(p)),
    }
}

/// [`guard`] without entering the runtime, for the per-record send functions: entering costs an
/// `Arc` clone and drop of the runtime handle plus thread-local bookkeeping per call, and the send
/// path needs no context (enqueueing is synchronous; a full queue waits through
/// `hw::runtime::block_on`, whose timer is created inside the runtime by `hw::runtime::timeout`).
fn guard_send(f: impl FnOnce() -> Result<()>) -> *mut hw_error {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => ptr::null_mut(),
        Ok(Err(e)) => hw_error::into_raw(&e),
        Err(p) => hw_error::into_raw(&panic_error(p)),
    }
}

/// The boundary of infallible exports: a panic yields `fallback`.
fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

unsafe fn arg<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    p.as_ref()
        .ok_or_else(|| invalid(format!("`{name}` must not be NULL")))
}

unsafe fn out_arg<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    p.as_mut()
        .ok_or_else(|| invalid(format!("`{name}` (an output) must not be NULL")))
}

unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(invalid(format!("`{name}` must not be NULL")));
    }
    CStr::from_ptr(p)
        .to_str()
        .map_err(|_| invalid(format!("`{name}` is not valid UTF-8")))
}

/// `(ptr, len)` as bytes; NULL is allowed only with `len == 0`.
unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(invalid(format!("`{name}` is NULL but its length is {len}")));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// `n` key/value pairs from parallel arrays of C strings. The arrays may be NULL only when `n` is 0;
/// no element may be NULL.
unsafe fn pairs_arg<'a>(
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
) -> Result<Vec<(&'a str, &'a str)>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if keys.is_null() || values.is_null() {
        let which = if keys.is_null() { "keys" } else { "values" };
        return Err(invalid(format!("`{which}` is NULL but `n` is {n}")));
    }
    let (keys, values) = (
        std::slice::from_raw_parts(keys, n),
        std::slice::from_raw_parts(values, n),
    );
    keys.iter()
        .zip(values)
        .enumerate()
        .map(|(i, (&k, &v))| {
            let k = str_arg(k, &format!("keys[{i}]"))?;
            let v = str_arg(v, &format!("values[{i}]"))?;
            Ok((k, v))
        })
        .collect()
}

/// The kind of `err`; `HW_ERROR_KIND_OK` for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_code(err: *const hw_error) -> hw_error_kind {
    guard_or(hw_error_kind::Internal, || match err.as_ref() {
        Some(e) => e.code,
        None => hw_error_kind::Ok,
    })
}

/// The message of `err`: NUL-terminated UTF-8 (it starts with the code, e.g. `[CONFIG] ...`).
/// Owned by `err`: valid until `err` is freed. Returns NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_message(err: *const hw_error) -> *const c_char {
    guard_or(ptr::null(), || match err.as_ref() {
        Some(e) => e.message.as_ptr(),
        None => ptr::null(),
    })
}

/// Whether retrying the failed operation may succeed (transport errors, timeouts, retriable Fluvio
/// codes). False for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_is_retriable(err: *const hw_error) -> bool {
    guard_or(false, || err.as_ref().is_some_and(|e| e.retriable))
}

/// The Fluvio error code of an `HW_ERROR_KIND_BROKER` error; 0 for other kinds and for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_error_broker_code(err: *const hw_error) -> i16 {
    guard_or(0, || err.as_ref().map_or(0, |e| e.broker_code))
}

/// The stable code string of a kind (`"CONFIG"`, `"QUEUE_FULL"`, ...; `"OK"` for
/// `HW_ERROR_KIND_OK`), as the other languages spell it. Static storage: never free it. NULL for a value outside the enum.
#[no_mangle]
pub extern "C" fn hw_error_kind_name(code: i32) -> *const c_char {
    let s: &'static [u8] = match code {
        0 => b"OK\0",
        1 => b"CONFIG\0",
        2 => b"TIMEOUT\0",
        3 => b"QUEUE_FULL\0",
        4 => b"RECORD_TOO_LARGE\0",
        5 => b"UNKNOWN_TOPIC\0",
        6 => b"UNKNOWN_PARTITION\0",
        7 => b"COMPRESSION\0",
        8 => b"TRANSPORT\0",
        9 => b"PROTOCOL\0",
        10 => b"BROKER\0",
        11 => b"CLOSED\0",
        12 => b"FORKED\0",
        13 => b"INVALID_ARGUMENT\0",
        14 => b"INTERNAL\0",
        _ => return ptr::null(),
    };
    s.as_ptr() as *const c_char
}

/// Frees an error returned by any `hw_*` function. NULL is fine. Must not be called twice on the
/// same error, nor on the `const hw_error *` a delivery callback receives (the library owns that).
#[no_mangle]
pub unsafe extern "C" fn hw_error_free(err: *mut hw_error) {
    guard_or((), || {
        if !err.is_null() {
            drop(Box::from_raw(err));
        }
    })
}

/// The library version (`"0.1.0"`). Static storage: never free it.
#[no_mangle]
pub extern "C" fn hw_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// Producer configuration (opaque): the defaults of the configuration table (README, `tests/vectors/config.json`), changed key by key with
/// `hw_config_set`. Create with `hw_config_new`, free with `hw_config_free`.
pub struct hw_config {
    inner: ProducerConfig,
}

/// A new configuration holding the defaults. The caller owns it: free it with `hw_config_free`
/// (connecting a producer copies it, so it may be freed right after). NULL only if out of memory.
#[no_mangle]
pub extern "C" fn hw_config_new() -> *mut hw_config {
    guard_or(ptr::null_mut(), || {
        Box::into_raw(Box::new(hw_config {
            inner: ProducerConfig::default(),
        }))
    })
}

/// Sets one key (snake_case or camelCase, e.g. `"linger_ms"` / `"lingerMs"`) from its string form
/// (`"10"`, `"gzip"`, ...). An unknown key or a bad value is an `HW_ERROR_KIND_CONFIG` error naming
/// the key, and leaves `cfg` unchanged. `key` and `value` are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn hw_config_set(
    cfg: *mut hw_config,
    key: *const c_char,
    value: *const c_char,
) -> *mut hw_error {
    guard(|| {
        let cfg = out_arg(cfg, "cfg")?;
        let key = str_arg(key, "key")?;
        let value = str_arg(value, "value")?;
        // Parse into a copy so a failed set leaves the configuration as it was.
        let mut next = cfg.inner.clone();
        next.set(key, value)?;
        cfg.inner = next;
        Ok(())
    })
}

/// Frees a configuration. NULL is fine. Must not be called twice on the same pointer.
#[no_mangle]
pub unsafe extern "C" fn hw_config_free(cfg: *mut hw_config) {
    guard_or((), || {
        if !cfg.is_null() {
            drop(Box::from_raw(cfg));
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Embedded broker
// ---------------------------------------------------------------------------------------------

/// An embedded Fluvio-protocol broker (opaque) on loopback ports. Start with `hw_broker_start` (or
/// `hw_broker_start_with` for options such as TLS); `hw_broker_stop` stops and frees it.
pub struct hw_broker {
    inner: TestBroker,
    endpoint: CString,
}

/// Starts an embedded broker with `spus` SPUs (at least 1) on free loopback ports. `data_dir` is a
/// directory for durable segment files (borrowed for the call), or NULL to keep records in memory.
/// On success `*out` is a broker the caller owns: stop and free it with `hw_broker_stop`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_start(
    spus: u32,
    data_dir: *const c_char,
    out: *mut *mut hw_broker,
) -> *mut hw_error {
    guard(|| {
        let out = out_arg(out, "out")?;
        let mut cfg = BrokerConfig::default().spus(spus);
        if !data_dir.is_null() {
            cfg = cfg.data_dir(str_arg(data_dir, "data_dir")?);
        }
        hw::logging::install();
        let broker = TestBroker::start_blocking(cfg)?;
        let endpoint = CString::new(broker.endpoint())
            .map_err(|_| Error::internal("endpoint contains NUL"))?;
        *out = Box::into_raw(Box::new(hw_broker {
            inner: broker,
            endpoint,
        }));
        Ok(())
    })
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
    guard(|| {
        let pairs = pairs_arg(keys, values, n)?;
        let out = out_arg(out, "out")?;
        let cfg = BrokerConfig::from_options(pairs)?;
        hw::logging::install();
        let broker = TestBroker::start_blocking(cfg)?;
        let endpoint = CString::new(broker.endpoint())
            .map_err(|_| Error::internal("endpoint contains NUL"))?;
        *out = Box::into_raw(Box::new(hw_broker {
            inner: broker,
            endpoint,
        }));
        Ok(())
    })
}

/// The broker's SC endpoint (`"127.0.0.1:PORT"`), what producers and admins connect to. Owned by
/// the broker: valid until `hw_broker_stop`. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_endpoint(b: *const hw_broker) -> *const c_char {
    guard_or(ptr::null(), || match b.as_ref() {
        Some(b) => b.endpoint.as_ptr(),
        None => ptr::null(),
    })
}

/// Creates a topic with `partitions` partitions (at least 1) directly in the broker. `name` is
/// borrowed for the call. Creating an existing topic is an `HW_ERROR_KIND_BROKER` error
/// (TopicAlreadyExists).
#[no_mangle]
pub unsafe extern "C" fn hw_broker_create_topic(
    b: *mut hw_broker,
    name: *const c_char,
    partitions: u32,
) -> *mut hw_error {
    guard(|| {
        let b = arg(b, "b")?;
        let name = str_arg(name, "name")?;
        b.inner.create_topic(name, partitions)
    })
}

/// Pauses every SPU of the broker: produce requests wait (unanswered) until `hw_broker_resume`.
/// For back-pressure tests.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_pause(b: *mut hw_broker) -> *mut hw_error {
    guard(|| {
        arg(b, "b")?.inner.pause();
        Ok(())
    })
}

/// Resumes the SPUs paused by `hw_broker_pause`.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_resume(b: *mut hw_broker) -> *mut hw_error {
    guard(|| {
        arg(b, "b")?.inner.resume();
        Ok(())
    })
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
    guard(|| {
        arg(b, "b")?.inner.fail_next(api_key, count, code);
        Ok(())
    })
}

/// Fault injection: the next `count` requests of `api_key` close their connection unanswered.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_drop_next(
    b: *mut hw_broker,
    api_key: u16,
    count: u32,
) -> *mut hw_error {
    guard(|| {
        arg(b, "b")?.inner.drop_next(api_key, count);
        Ok(())
    })
}

/// Fault injection: every request of `api_key` waits `delay_ms` before it is served (0 clears).
#[no_mangle]
pub unsafe extern "C" fn hw_broker_delay(
    b: *mut hw_broker,
    api_key: u16,
    delay_ms: u32,
) -> *mut hw_error {
    guard(|| {
        let d = (delay_ms > 0).then(|| std::time::Duration::from_millis(delay_ms as u64));
        arg(b, "b")?.inner.delay(api_key, d);
        Ok(())
    })
}

/// The id of the broker's `index`-th SPU (5001, 5002, ...), written to `*out` on success.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_spu_id(
    b: *const hw_broker,
    index: u32,
    out: *mut i32,
) -> *mut hw_error {
    guard(|| {
        let ids = arg(b, "b")?.inner.spu_ids();
        let out = out_arg(out, "out")?;
        let id = *ids.get(index as usize).ok_or_else(|| {
            hw::Error::invalid(format!(
                "the broker has {} SPUs; there is no SPU #{index}",
                ids.len()
            ))
        })?;
        *out = id;
        Ok(())
    })
}

/// Stops SPU `spu_id` (its partitions fail over to in-sync followers, or wait offline).
#[no_mangle]
pub unsafe extern "C" fn hw_broker_stop_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| {
        let b = arg(b, "b")?;
        hw::runtime::block_on(b.inner.stop_spu(spu_id))
    })
}

/// Starts a stopped SPU again on the same port.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_start_spu(b: *mut hw_broker, spu_id: i32) -> *mut hw_error {
    guard(|| {
        let b = arg(b, "b")?;
        hw::runtime::block_on(b.inner.start_spu(spu_id))
    })
}

/// A record as the broker stores it, read from an `hw_record_list`. Every pointer is owned by the
/// list: valid until `hw_record_list_free`.
#[repr(C)]
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
    records: Vec<StoredRecord>,
    partition: u32,
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
    guard(|| {
        let b = arg(b, "b")?;
        let topic = str_arg(topic, "topic")?;
        let out = out_arg(out, "out")?;
        let records = b.inner.records(topic, partition, from)?;
        *out = Box::into_raw(Box::new(hw_record_list { records, partition }));
        Ok(())
    })
}

/// Stops the broker (every listener and connection) and frees it. NULL is fine. Producers and
/// admins connected to it then fail with transport errors. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_broker_stop(b: *mut hw_broker) {
    guard_or((), || {
        if !b.is_null() {
            let b = Box::from_raw(b);
            b.inner.stop();
            drop(b);
        }
    })
}

/// The number of records in `list` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_len(list: *const hw_record_list) -> usize {
    guard_or(0, || list.as_ref().map_or(0, |l| l.records.len()))
}

fn codec_name(c: Compression) -> *const c_char {
    let s: &'static [u8] = match c {
        Compression::None => b"none\0",
        Compression::Gzip => b"gzip\0",
        Compression::Snappy => b"snappy\0",
        Compression::Lz4 => b"lz4\0",
        Compression::Zstd => b"zstd\0",
    };
    s.as_ptr() as *const c_char
}

/// Reads record `index` (0-based, below `hw_record_list_len`) into `*out`. The pointers written
/// into `*out` are owned by `list`. An index out of range is an `HW_ERROR_KIND_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_get(
    list: *const hw_record_list,
    index: usize,
    out: *mut hw_stored_record,
) -> *mut hw_error {
    guard(|| {
        let list = arg(list, "list")?;
        let out = out_arg(out, "out")?;
        let r = list.records.get(index).ok_or_else(|| {
            invalid(format!(
                "index {index} is out of range (the list holds {} records)",
                list.records.len()
            ))
        })?;
        static EMPTY: [u8; 1] = [0];
        let (key, key_len) = match &r.key {
            None => (ptr::null(), 0),
            Some(k) if k.is_empty() => (EMPTY.as_ptr(), 0),
            Some(k) => (k.as_ptr(), k.len()),
        };
        let value = if r.value.is_empty() {
            EMPTY.as_ptr()
        } else {
            r.value.as_ptr()
        };
        *out = hw_stored_record {
            offset: r.offset,
            key,
            key_len,
            value,
            value_len: r.value.len(),
            timestamp: r.timestamp,
            partition: list.partition,
            compression: codec_name(r.compression),
            batch_base_offset: r.batch_base_offset,
        };
        Ok(())
    })
}

/// Frees a record list and everything it points to. NULL is fine. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_record_list_free(list: *mut hw_record_list) {
    guard_or((), || {
        if !list.is_null() {
            drop(Box::from_raw(list));
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------------------------

/// Topic administration over the network (opaque). Connect with `hw_admin_connect` (or
/// `hw_admin_connect_with` for TLS), free with `hw_admin_free`.
pub struct hw_admin {
    inner: Admin,
}

/// Connects to the SC at `endpoint` (`"host:port"`, borrowed for the call). On success `*out` is an
/// admin the caller owns: free it with `hw_admin_free`.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_connect(
    endpoint: *const c_char,
    out: *mut *mut hw_admin,
) -> *mut hw_error {
    guard(|| {
        let endpoint = str_arg(endpoint, "endpoint")?;
        let out = out_arg(out, "out")?;
        hw::logging::install();
        let admin = hw::runtime::block_on(Admin::connect(endpoint))?;
        *out = Box::into_raw(Box::new(hw_admin { inner: admin }));
        Ok(())
    })
}

/// Connects to the SC at `endpoint` with `n` TLS options: `keys[i]` = `values[i]`, the producer's
/// TLS keys (snake_case or camelCase): `tls` (`true`/`false`), `tls_ca_file` (PEM CA bundle; default
/// the system roots), `tls_cert_file` + `tls_key_file` (client certificate and key: mutual TLS),
/// `tls_server_name` (the name the SC's certificate must carry; default the endpoint's host). An
/// unknown key, a bad value or a missing file is an `HW_ERROR_KIND_CONFIG` error naming the key; a
/// failed handshake (untrusted certificate, no client certificate) is `HW_ERROR_KIND_TRANSPORT`.
/// `keys` and `values` may be NULL only when `n` is 0 (plaintext, like `hw_admin_connect`); a NULL
/// element is an `HW_ERROR_KIND_INVALID_ARGUMENT` error. Everything is borrowed for the call. On
/// success `*out` is an admin the caller owns: free it with `hw_admin_free`. No call of this
/// library raises `SIGPIPE`, TLS included.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_connect_with(
    endpoint: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    out: *mut *mut hw_admin,
) -> *mut hw_error {
    guard(|| {
        let endpoint = str_arg(endpoint, "endpoint")?;
        let pairs = pairs_arg(keys, values, n)?;
        let out = out_arg(out, "out")?;
        let mut tls = hw::TlsConfig::default();
        for (k, v) in pairs {
            tls.set(k, v)?;
        }
        hw::logging::install();
        let admin = hw::runtime::block_on(Admin::connect_with(endpoint, &tls))?;
        *out = Box::into_raw(Box::new(hw_admin { inner: admin }));
        Ok(())
    })
}

/// Creates a topic with `partitions` partitions (at least 1) and waits until it is usable.
/// `compression` is the topic's compression policy: NULL or `"any"` (each producer picks), or one
/// of `"none"`, `"gzip"`, `"snappy"`, `"lz4"`, `"zstd"` (producers must then use that codec).
/// Strings are borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_create_topic(
    a: *mut hw_admin,
    name: *const c_char,
    partitions: u32,
    compression: *const c_char,
) -> *mut hw_error {
    guard(|| {
        let a = arg(a, "a")?;
        let name = str_arg(name, "name")?;
        let mut cfg = hw::TopicConfig::new(partitions);
        if !compression.is_null() {
            let c = str_arg(compression, "compression")?;
            if c != "any" {
                let codec = Compression::parse(c).ok_or_else(|| {
                    invalid(format!(
                        "`compression` must be any, none, gzip, snappy, lz4 or zstd, got {c:?}"
                    ))
                })?;
                cfg = cfg.compression(codec);
            }
        }
        hw::runtime::block_on(a.inner.create_topic(name, cfg))
    })
}

/// Deletes a topic and waits until it is gone. `name` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_delete_topic(
    a: *mut hw_admin,
    name: *const c_char,
) -> *mut hw_error {
    guard(|| {
        let a = arg(a, "a")?;
        let name = str_arg(name, "name")?;
        hw::runtime::block_on(a.inner.delete_topic(name))
    })
}

/// Whether a (non-system) topic named `name` exists, written to `*exists`. `name` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_topic_exists(
    a: *mut hw_admin,
    name: *const c_char,
    exists: *mut bool,
) -> *mut hw_error {
    guard(|| {
        let a = arg(a, "a")?;
        let name = str_arg(name, "name")?;
        let exists = out_arg(exists, "exists")?;
        let topics = hw::runtime::block_on(a.inner.list_topics())?;
        *exists = topics.iter().any(|t| t.name == name);
        Ok(())
    })
}

/// Frees an admin. NULL is fine. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_free(a: *mut hw_admin) {
    guard_or((), || {
        if !a.is_null() {
            drop(Box::from_raw(a));
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Producer
// ---------------------------------------------------------------------------------------------

/// `timeout_ms` value meaning "wait as long as it takes" for `hw_producer_flush`/`close`.
pub const HW_TIMEOUT_INFINITE: u32 = 0xFFFF_FFFF;

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

/// A record with options, for `hw_producer_send_record`. The pointers are borrowed for the call.
#[repr(C)]
pub struct hw_record {
    /// NULL = no key; non-NULL with `key_len == 0` = an empty key (they partition differently).
    pub key: *const u8,
    pub key_len: usize,
    /// May be NULL only when `value_len == 0`.
    pub value: *const u8,
    pub value_len: usize,
    /// An explicit partition, or -1 to let the partitioner choose.
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

/// Delivery callbacks not yet run, so `hw_producer_free` can wait for them.
struct Pending {
    count: AtomicU64,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Pending {
    fn new() -> Arc<Pending> {
        Arc::new(Pending {
            count: AtomicU64::new(0),
            lock: Mutex::new(()),
            zero: Condvar::new(),
        })
    }
    fn add(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.zero.notify_all();
        }
    }
    /// Waits until no callback is pending, at most `limit`; true if none is.
    fn wait_zero(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.count.load(Ordering::Acquire) > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let step = (deadline - now).min(Duration::from_millis(50));
            g = self
                .zero
                .wait_timeout(g, step)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// The producer's delivery callbacks, in epochs cut by every flush/close, so that a flush returns
/// only after the callbacks of the records sent before it have run, whatever thread sent them (core
/// already runs a batch's callbacks before its flush waiters wake; the epochs also let
/// `hw_producer_free` wait for callbacks still running).
struct Deliveries {
    /// Epochs that may still have pending callbacks; the last one is current, never empty.
    epochs: Mutex<Vec<Arc<Pending>>>,
}

impl Deliveries {
    fn new() -> Deliveries {
        Deliveries {
            epochs: Mutex::new(vec![Pending::new()]),
        }
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Pending>>> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Counts one more pending callback in the current epoch.
    fn register(&self) -> Arc<Pending> {
        let g = self.lock();
        let p = g.last().expect("never empty").clone();
        p.add();
        p
    }
    /// Starts a new epoch; returns the earlier ones that still have pending callbacks.
    fn cut(&self) -> Vec<Arc<Pending>> {
        let mut g = self.lock();
        g.retain(|p| p.count.load(Ordering::Acquire) > 0);
        let before = g.clone();
        g.push(Pending::new());
        before
    }
    /// Waits until every epoch in `epochs` has no pending callback; false after `limit`.
    fn wait(epochs: &[Arc<Pending>], limit: Option<Duration>) -> bool {
        let deadline = limit.map(|l| Instant::now() + l);
        epochs.iter().all(|p| loop {
            let step = Duration::from_secs(3600);
            let left = deadline.map_or(step, |d| d.saturating_duration_since(Instant::now()));
            if p.wait_zero(left.min(step)) {
                break true;
            }
            if deadline.is_some() {
                break false;
            }
        })
    }
    fn pending(&self) -> u64 {
        self.lock()
            .iter()
            .map(|p| p.count.load(Ordering::Acquire))
            .sum()
    }
}

/// A producer for one topic (opaque). Connect with `hw_producer_connect`; `hw_producer_close`
/// (flush, then stop) and then `hw_producer_free`. Every function is thread-safe on the same
/// producer, except `hw_producer_free`, which must be the last call.
pub struct hw_producer {
    inner: Producer,
    topic: Arc<CString>,
    deliveries: Deliveries,
    /// Runs the delivery callbacks, one call per batch (core's per-batch mechanism).
    tracker: DeliveryTracker<CDelivery>,
}

/// One pending delivery callback. Dropping it (after the callback ran, or unused when the send
/// failed) counts it off its flush epoch.
struct CDelivery {
    cb: unsafe extern "C" fn(*mut c_void, *const hw_record_metadata, *const hw_error),
    ctx: SendCtx,
    pending: Arc<Pending>,
}

impl Drop for CDelivery {
    fn drop(&mut self) {
        self.pending.done();
    }
}

/// Calls the callbacks of one batch's records, in send order, from the library thread completing it.
fn deliver_batch(topic: &CStr, d: hw::producer::BatchDelivery<'_, CDelivery>) {
    IN_CALLBACK.with(|c| c.set(c.get() + 1));
    for r in &d.records {
        let res = d.offset(r);
        // The callback is C code and cannot unwind; catch anything on our side all the same.
        let _ = catch_unwind(AssertUnwindSafe(|| match res {
            Ok(offset) => {
                let meta = hw_record_metadata {
                    topic: topic.as_ptr(),
                    partition: d.partition,
                    offset,
                    timestamp: r.timestamp,
                };
                // SAFETY: the caller gave us this callback for exactly this record.
                unsafe { (r.token.cb)(r.token.ctx.0, &meta, ptr::null()) }
            }
            Err(e) => {
                let err = hw_error::new(&e);
                unsafe { (r.token.cb)(r.token.ctx.0, ptr::null(), &err) }
            }
        }));
    }
    IN_CALLBACK.with(|c| c.set(c.get() - 1));
    // Dropping the tokens counts them off (after every callback of the batch ran).
    drop(d);
}

thread_local! {
    /// How deep this thread is inside delivery callbacks.
    static IN_CALLBACK: Cell<u32> = const { Cell::new(0) };
}

fn in_callback() -> bool {
    IN_CALLBACK.with(|c| c.get() > 0)
}

fn refuse_in_callback(what: &str) -> Result<()> {
    if in_callback() {
        return Err(invalid(format!(
            "{what} must not be called from inside a delivery callback (it would wait for itself)"
        )));
    }
    Ok(())
}

struct SendCtx(*mut c_void);
// SAFETY: the caller hands `ctx` to the library to be passed back from a library thread; the
// header says so (the C side is responsible for making what it points to usable there).
unsafe impl Send for SendCtx {}

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
    guard(|| {
        let endpoint = str_arg(endpoint, "endpoint")?;
        let topic_s = str_arg(topic, "topic")?;
        let out = out_arg(out, "out")?;
        let config = match cfg.as_ref() {
            Some(c) => c.inner.clone(),
            None => ProducerConfig::default(),
        };
        hw::logging::install();
        let producer = Producer::connect_blocking(endpoint, topic_s, config)?;
        let topic = Arc::new(CString::new(topic_s).map_err(|_| invalid("topic contains NUL"))?);
        let sink_topic = topic.clone();
        *out = Box::into_raw(Box::new(hw_producer {
            inner: producer,
            deliveries: Deliveries::new(),
            tracker: DeliveryTracker::new(move |d| deliver_batch(&sink_topic, d)),
            topic,
        }));
        Ok(())
    })
}

/// `(key, key_len)`: NULL = no key (then `key_len` must be 0); non-NULL = a key, even an empty one.
unsafe fn key_arg<'a>(key: *const u8, key_len: usize) -> Result<Option<&'a [u8]>> {
    if key.is_null() {
        if key_len != 0 {
            return Err(invalid(format!(
                "`key` is NULL (no key) but `key_len` is {key_len}"
            )));
        }
        return Ok(None);
    }
    Ok(Some(bytes_arg(key, key_len, "key")?))
}

/// The producer, key and value of a send, checked.
type SendArgs<'a> = (&'a hw_producer, Option<&'a [u8]>, &'a [u8]);

unsafe fn send_args<'a>(
    p: *mut hw_producer,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> Result<SendArgs<'a>> {
    let p = arg(p, "p")?;
    let key = key_arg(key, key_len)?;
    let value = bytes_arg(value, value_len, "value")?;
    Ok((p, key, value))
}

fn send_impl(
    (p, key, value): SendArgs<'_>,
    partition: Option<u32>,
    timestamp: Option<i64>,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> Result<()> {
    match cb {
        Some(cb) => {
            let token = CDelivery {
                cb,
                ctx: SendCtx(ctx),
                pending: p.deliveries.register(),
            };
            p.inner
                .send_blocking_tracked(key, value, partition, timestamp, &p.tracker, token)?;
        }
        None => {
            p.inner.send_blocking(key, value, partition, timestamp)?;
        }
    }
    Ok(())
}

/// Sends a record to the partition the partitioner picks. `key` NULL = no key (then `key_len` must
/// be 0); a non-NULL key with `key_len == 0` is an empty key. `value` may be NULL only when
/// `value_len` is 0. The bytes are copied before the call returns. Returns at once unless the
/// partition's queue is full (then it waits up to `send_timeout_ms` and fails with
/// `HW_ERROR_KIND_QUEUE_FULL`). `cb` (may be NULL: failures then show in the next flush/close) is
/// called exactly once with `ctx` if and only if this returns NULL.
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
    guard_send(|| {
        let args = send_args(p, key, key_len, value, value_len)?;
        send_impl(args, None, None, cb, ctx)
    })
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
        let args = send_args(p, key, key_len, value, value_len)?;
        send_impl(args, Some(partition), None, cb, ctx)
    })
}

/// Like `hw_producer_send` with the options of `*record` (explicit partition, timestamp).
/// `record` and what it points to are borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_send_record(
    p: *mut hw_producer,
    record: *const hw_record,
    cb: hw_delivery_cb,
    ctx: *mut c_void,
) -> *mut hw_error {
    guard_send(|| {
        let r = arg(record, "record")?;
        let partition = match r.partition {
            -1 => None,
            n if (0..=u32::MAX as i64).contains(&n) => Some(n as u32),
            n => {
                return Err(invalid(format!(
                    "`partition` must be -1 or 0..2^32, got {n}"
                )))
            }
        };
        let timestamp = match r.timestamp {
            -1 => None,
            t if t >= 0 => Some(t),
            t => return Err(invalid(format!("`timestamp` must be -1 or >= 0, got {t}"))),
        };
        let args = send_args(p, r.key, r.key_len, r.value, r.value_len)?;
        send_impl(args, partition, timestamp, cb, ctx)
    })
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
    guard(|| {
        refuse_in_callback("hw_producer_send_sync")?;
        let (prod, key, value) = send_args(p, key, key_len, value, value_len)?;
        let out = out_arg(out, "out")?;
        let output = prod.inner.send_blocking(key, value, None, None)?;
        // Waiting sends the record's batch at once (core), so a lone record skips linger_ms.
        let m = output.wait_blocking(None)?;
        *out = hw_record_metadata {
            topic: prod.topic.as_ptr(),
            partition: m.partition,
            offset: m.offset,
            timestamp: m.timestamp,
        };
        Ok(())
    })
}

/// Runs a core flush or close, then waits (within the same timeout) until the delivery callbacks
/// of every record sent before the call have run, so the caller sees them all when it returns.
fn flush_like(
    p: &hw_producer,
    timeout_ms: u32,
    op: impl FnOnce(Option<Duration>) -> Result<()>,
) -> Result<()> {
    let earlier = p.deliveries.cut();
    let start = Instant::now();
    let timeout = timeout_of(timeout_ms);
    let r = op(timeout);
    if timeout_ms == 0 {
        return r;
    }
    if matches!(&r, Err(e) if e.kind == ErrorKind::Timeout) {
        return r;
    }
    let left = timeout.map(|t| t.saturating_sub(start.elapsed()));
    if !Deliveries::wait(&earlier, left) {
        return Err(Error::timeout(format!(
            "the records were delivered but their callbacks did not all return within {timeout_ms} ms"
        )));
    }
    r
}

fn timeout_of(ms: u32) -> Option<Duration> {
    (ms != HW_TIMEOUT_INFINITE).then(|| Duration::from_millis(ms as u64))
}

/// Seals every open batch and waits up to `timeout_ms` (`HW_TIMEOUT_INFINITE` = no limit) until
/// everything sent so far is acknowledged or failed; returns the first failure since the last
/// flush (including failures of sends without a callback), or `HW_ERROR_KIND_TIMEOUT` (nothing is
/// dropped). When it returns NULL (or a delivery failure), the delivery callback of every record
/// sent before the call has returned. `timeout_ms == 0` only seals the open batches (they go out
/// now) and returns without waiting. Not allowed inside a delivery callback.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_flush(p: *mut hw_producer, timeout_ms: u32) -> *mut hw_error {
    guard(|| {
        refuse_in_callback("hw_producer_flush")?;
        let p = arg(p, "p")?;
        flush_like(p, timeout_ms, |t| match p.inner.flush_blocking(t) {
            // A zero timeout seals without waiting: the timeout is the expected outcome.
            Err(e) if timeout_ms == 0 && e.kind == ErrorKind::Timeout => Ok(()),
            r => r,
        })
    })
}

/// Copies the producer's counters into `*out`.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_stats(
    p: *const hw_producer,
    out: *mut hw_stats,
) -> *mut hw_error {
    guard(|| {
        let p = arg(p, "p")?;
        let out = out_arg(out, "out")?;
        let s = p.inner.stats();
        *out = hw_stats {
            records_sent: s.records_sent,
            records_acked: s.records_acked,
            records_failed: s.records_failed,
            bytes_uncompressed: s.bytes_uncompressed,
            bytes_compressed: s.bytes_compressed,
            batches_sent: s.batches_sent,
            requests_sent: s.requests_sent,
            retries: s.retries,
            errors: s.errors,
            queued_records: s.queued_records,
            queued_batches: s.queued_batches,
        };
        Ok(())
    })
}

/// Flushes (waiting up to `timeout_ms`, `HW_TIMEOUT_INFINITE` = no limit), then stops the
/// producer: later sends fail with `HW_ERROR_KIND_CLOSED`, and records still unsent after the
/// timeout fail (their callbacks get `HW_ERROR_KIND_CLOSED`). Returns the flush's result (with
/// `timeout_ms == 0`, `HW_ERROR_KIND_TIMEOUT` if anything was still queued). Unless it times out,
/// every delivery callback of the records sent before it has returned when it returns.
/// Idempotent (a second close returns NULL). Not allowed inside a delivery callback. The producer
/// must still be freed with `hw_producer_free`.
#[no_mangle]
pub unsafe extern "C" fn hw_producer_close(p: *mut hw_producer, timeout_ms: u32) -> *mut hw_error {
    guard(|| {
        refuse_in_callback("hw_producer_close")?;
        let p = arg(p, "p")?;
        flush_like(p, timeout_ms, |t| p.inner.close_blocking(t))
    })
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
        let hw_producer {
            inner, deliveries, ..
        } = *Box::from_raw(p);
        let limit = inner.config().delivery_timeout + Duration::from_secs(10);
        drop(inner); // stops the producer: unsent records fail with CLOSED
        if !Deliveries::wait(&deliveries.cut(), Some(limit)) {
            tracing::warn!(
                pending = deliveries.pending(),
                "hw_producer_free: delivery callbacks still pending after {limit:?}; they may run later"
            );
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------

/// Log levels, most severe first.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hw_log_level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// Log callback: `target` (the module) and `message` are NUL-terminated, owned by the library and
/// valid during the call only. Called from any thread, including library threads.
pub type hw_log_cb = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        level: hw_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct LogCtx(*mut c_void);
// SAFETY: see `SendCtx`; the header says the callback is called from any thread.
unsafe impl Send for LogCtx {}
unsafe impl Sync for LogCtx {}

/// Routes the library's log lines at `max_level` (an `hw_log_level` value, 1..=5) and more severe to
/// `cb` with `ctx`. NULL `cb` restores the default (warnings and errors to stderr; the
/// `HEADWATER_LOG` variable sets that level). Process-wide; a later call replaces the callback.
#[no_mangle]
pub unsafe extern "C" fn hw_set_log_callback(
    cb: hw_log_cb,
    ctx: *mut c_void,
    max_level: u32,
) -> *mut hw_error {
    guard(|| {
        hw::logging::install();
        let Some(cb) = cb else {
            hw::logging::clear_sink();
            tracing::callsite::rebuild_interest_cache();
            return Ok(());
        };
        let level = match max_level {
            1 => tracing::Level::ERROR,
            2 => tracing::Level::WARN,
            3 => tracing::Level::INFO,
            4 => tracing::Level::DEBUG,
            5 => tracing::Level::TRACE,
            n => return Err(invalid(format!("`max_level` must be 1..=5, got {n}"))),
        };
        let ctx = LogCtx(ctx);
        hw::logging::set_sink(
            level,
            Arc::new(move |lvl: tracing::Level, target: &str, msg: &str| {
                let l = match lvl {
                    tracing::Level::ERROR => hw_log_level::Error,
                    tracing::Level::WARN => hw_log_level::Warn,
                    tracing::Level::INFO => hw_log_level::Info,
                    tracing::Level::DEBUG => hw_log_level::Debug,
                    _ => hw_log_level::Trace,
                };
                let t = CString::new(target.replace('\0', "?")).unwrap_or_default();
                let m = CString::new(msg.replace('\0', "?")).unwrap_or_default();
                let ctx = &ctx; // capture the whole (Send + Sync) wrapper, not its raw field
                                // SAFETY: the C caller registered this callback and context for exactly this use.
                unsafe { cb(ctx.0, l, t.as_ptr(), m.as_ptr()) }
            }),
        );
        // Callsites seen before the sink was set may have cached "disabled"; re-evaluate them.
        tracing::callsite::rebuild_interest_cache();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_internal_errors() {
        let e = guard(|| panic!("boom"));
        unsafe {
            assert_eq!(hw_error_code(e), hw_error_kind::Internal);
            let msg = CStr::from_ptr(hw_error_message(e)).to_str().unwrap();
            assert!(msg.contains("boom"), "{msg}");
            hw_error_free(e);
        }
        assert_eq!(guard_or(7, || panic!("x")), 7);
    }

    #[test]
    fn codes_match_core_numbers() {
        for k in [
            ErrorKind::Config,
            ErrorKind::Timeout,
            ErrorKind::QueueFull,
            ErrorKind::RecordTooLarge,
            ErrorKind::UnknownTopic,
            ErrorKind::UnknownPartition,
            ErrorKind::Compression,
            ErrorKind::Transport,
            ErrorKind::Protocol,
            ErrorKind::Broker(6),
            ErrorKind::Closed,
            ErrorKind::Forked,
            ErrorKind::InvalidArgument,
            ErrorKind::Internal,
        ] {
            let c = hw_error_kind::from_kind(k);
            assert_eq!(c as i32, k.number());
            let name = unsafe { CStr::from_ptr(hw_error_kind_name(c as i32)) };
            assert_eq!(name.to_str().unwrap(), k.code());
        }
    }
}
