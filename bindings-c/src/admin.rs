//! Topic administration over the network: `hw_admin`.

use std::ffi::{c_char, CString};
use std::ptr;

use hw::{Admin, TlsConfig, TopicConfig};

use crate::error::hw_error;
use crate::ffi::{
    arg, boxed, c_string, free_with, get, guard, guard_out, list_get, out_arg, pairs_arg, str_arg,
};
use crate::runtime::ADMINS;

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
    hw_admin_connect_with(endpoint, ptr::null(), ptr::null(), 0, out)
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
    guard_out(out, || {
        let endpoint = str_arg(endpoint, "endpoint")?;
        let tls = TlsConfig::from_options(pairs_arg(keys, values, n)?)?;
        hw::logging::install();
        let inner = hw::runtime::block_on(Admin::connect_with(endpoint, &tls))?;
        ADMINS.created();
        Ok(boxed(hw_admin { inner }))
    })
}

/// Creates a topic with `partitions` partitions and waits until it is usable: the short form of
/// `hw_admin_create_topic_with` with the options `partitions` and `compression`. `compression` is
/// the topic's compression policy: NULL or `"any"` (each producer picks), or one of `"none"`,
/// `"gzip"`, `"snappy"`, `"lz4"`, `"zstd"` (producers must then use that codec).
#[no_mangle]
pub unsafe extern "C" fn hw_admin_create_topic(
    a: *mut hw_admin,
    name: *const c_char,
    partitions: u32,
    compression: *const c_char,
) -> *mut hw_error {
    guard(|| {
        let (a, name) = (arg(a, "a")?, str_arg(name, "name")?);
        let mut cfg = TopicConfig::new(partitions);
        if !compression.is_null() {
            cfg.set("compression", str_arg(compression, "compression")?)?;
        }
        hw::runtime::block_on(a.inner.create_topic(name, cfg))
    })
}

/// Creates a topic from `n` string options (`keys[i]` = `values[i]`; the keys and errors of
/// `hw_broker_create_topic_with`) and waits until it is usable. The SC's refusals are
/// `HW_ERROR_KIND_BROKER` errors with the Fluvio code (2002 TopicAlreadyExists, ...). `keys` and
/// `values` may be NULL only when `n` is 0. Everything is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_create_topic_with(
    a: *mut hw_admin,
    name: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
) -> *mut hw_error {
    guard(|| {
        let (a, name) = (arg(a, "a")?, str_arg(name, "name")?);
        let cfg = TopicConfig::from_options(pairs_arg(keys, values, n)?)?;
        hw::runtime::block_on(a.inner.create_topic(name, cfg))
    })
}

/// Deletes a topic and waits until it is gone. `name` is borrowed for the call.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_delete_topic(
    a: *mut hw_admin,
    name: *const c_char,
) -> *mut hw_error {
    guard(|| hw::runtime::block_on(arg(a, "a")?.inner.delete_topic(str_arg(name, "name")?)))
}

/// Whether a (non-system) topic named `name` exists, written to `*exists`. `name` is borrowed.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_topic_exists(
    a: *mut hw_admin,
    name: *const c_char,
    exists: *mut bool,
) -> *mut hw_error {
    guard(|| {
        let (a, name) = (arg(a, "a")?, str_arg(name, "name")?);
        let exists = out_arg(exists, "exists")?;
        let topics = hw::runtime::block_on(a.inner.list_topics())?;
        *exists = topics.iter().any(|t| t.name == name);
        Ok(())
    })
}

/// A topic as `hw_admin_list_topics` reports it, read from an `hw_topic_list`. Every string is
/// NUL-terminated and owned by the list: valid until `hw_topic_list_free`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct hw_topic_info {
    pub name: *const c_char,
    pub partitions: u32,
    /// The replication factor.
    pub replication: u32,
    /// The compression policy: `"any"`, `"none"`, `"gzip"`, `"snappy"`, `"lz4"` or `"zstd"`.
    pub compression: *const c_char,
    /// Retention in seconds; -1 when the topic has none.
    pub retention_secs: i64,
    /// The SC's resolution (`"Provisioned"`, ...).
    pub status: *const c_char,
}

/// The topics `hw_admin_list_topics` found (opaque): `hw_topic_list_len`, `hw_topic_list_get`
/// and `hw_topic_list_free`.
pub struct hw_topic_list {
    items: Vec<hw_topic_info>,
    /// The strings `items` points at.
    _strings: Vec<CString>,
}

/// Lists the (non-system) topics. On success `*out` is a list the caller owns: free it with
/// `hw_topic_list_free`.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_list_topics(
    a: *mut hw_admin,
    out: *mut *mut hw_topic_list,
) -> *mut hw_error {
    guard_out(out, || {
        let topics = hw::runtime::block_on(arg(a, "a")?.inner.list_topics())?;
        let mut strings = Vec::new();
        let mut keep = |s: &str| {
            let c = c_string(s);
            let p = c.as_ptr(); // the heap buffer stays put as the CString moves
            strings.push(c);
            p
        };
        let items = (topics.iter())
            .map(|t| hw_topic_info {
                name: keep(&t.name),
                partitions: t.partitions,
                replication: t.replication,
                compression: keep(&t.compression),
                retention_secs: t.retention_secs.map_or(-1, i64::from),
                status: keep(&t.status),
            })
            .collect();
        Ok(boxed(hw_topic_list {
            items,
            _strings: strings,
        }))
    })
}

/// The number of topics in `list` (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn hw_topic_list_len(list: *const hw_topic_list) -> usize {
    get(list, 0, |l| l.items.len())
}

/// Reads topic `index` (0-based, below `hw_topic_list_len`) into `*out`. The strings written into
/// `*out` are owned by `list`. An index out of range is an `HW_ERROR_KIND_INVALID_ARGUMENT` error.
#[no_mangle]
pub unsafe extern "C" fn hw_topic_list_get(
    list: *const hw_topic_list,
    index: usize,
    out: *mut hw_topic_info,
) -> *mut hw_error {
    list_get(list, index, out, |l| &l.items[..], "topics")
}

/// Frees a topic list and its strings. NULL is fine. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_topic_list_free(list: *mut hw_topic_list) {
    free_with(list, drop)
}

/// Frees an admin. NULL is fine. Must not be called twice.
#[no_mangle]
pub unsafe extern "C" fn hw_admin_free(a: *mut hw_admin) {
    free_with(a, |_| ADMINS.freed())
}
