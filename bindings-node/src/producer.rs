//! `Producer`: argument conversion around `headwater::Producer`. Behaviour is core's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

use crate::js::{self, Check, TypeErr};
use crate::rt::{self, Deferred, Poster};

/// Where a record landed. `offset` is -1 under at-most-once delivery (no acknowledgement).
#[napi(object)]
pub struct RecordMetadata {
    pub topic: String,
    pub partition: u32,
    pub offset: i64,
    /// Milliseconds since the epoch, as stored in the batch.
    pub timestamp: i64,
}

/// Producer counters (the same names in every language, camelCased).
#[napi(object)]
pub struct ProducerStats {
    pub records_sent: i64,
    pub records_acked: i64,
    pub records_failed: i64,
    pub bytes_uncompressed: i64,
    pub bytes_compressed: i64,
    pub batches_sent: i64,
    pub requests_sent: i64,
    pub retries: i64,
    pub errors: i64,
    pub queued_records: i64,
    pub queued_batches: i64,
}

/// A failure `send` reported at once (bad argument, closed producer, oversize record), kept for the
/// next `flush()`/`close()` the way core keeps delivery failures.
enum Local {
    Type(String),
    Core(headwater::Error),
}

/// The error handler, a `napi_ref` touched only on the JS thread.
#[derive(Default)]
struct Handler(Mutex<usize>);

impl Handler {
    fn call(&self, env: js::Env, err: js::Value) {
        let r = *self.0.lock().unwrap();
        if r == 0 {
            return;
        }
        let mut f = std::ptr::null_mut();
        unsafe { sys::napi_get_reference_value(env, r as sys::napi_ref, &mut f) };
        if !f.is_null() {
            rt::call_user(env, f, err);
        }
    }
    fn set(&self, env: js::Env, f: Option<js::Value>) -> Result<()> {
        let mut r = std::ptr::null_mut();
        if let Some(f) = f {
            js::check(
                unsafe { sys::napi_create_reference(env, f, 1, &mut r) },
                "reference",
            )?;
        }
        let old = std::mem::replace(&mut *self.0.lock().unwrap(), r as usize);
        if old != 0 {
            unsafe { sys::napi_delete_reference(env, old as sys::napi_ref) };
        }
        Ok(())
    }
}

/// A producer for one topic: partitioning, batching, compression and delivery happen in the Rust
/// core. Create it with `Producer.connect`.
#[napi(custom_finalize)]
pub struct Producer {
    inner: headwater::Producer,
    handler: Arc<Handler>,
    local: Arc<Mutex<Option<Local>>>,
}

impl napi::bindgen_prelude::ObjectFinalize for Producer {
    /// Garbage-collected: release the error handler. Core's `Drop` warns about unsent records.
    fn finalize(self, env: Env) -> Result<()> {
        self.handler.set(env.raw(), None)
    }
}

fn metadata(env: js::Env, m: headwater::RecordMetadata) -> Result<js::Value> {
    unsafe {
        RecordMetadata::to_napi_value(
            env,
            RecordMetadata {
                topic: m.topic,
                partition: m.partition,
                offset: m.offset,
                timestamp: m.timestamp,
            },
        )
    }
}

/// Parses a `ProducerConfig` object through core's one parser (`ProducerConfig::set`).
pub fn parse_config(
    env: js::Env,
    config: Option<js::Value>,
) -> Result<Check<headwater::Result<headwater::ProducerConfig>>> {
    let mut cfg = headwater::ProducerConfig::default();
    let obj = match js::get_options(env, config, "config")? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(obj) = obj {
        for (k, v) in js::own_keys(env, obj)? {
            match js::config_value(env, &k, v)? {
                Err(e) => return Ok(Err(e)),
                Ok(None) => {}
                Ok(Some(s)) => {
                    if let Err(e) = cfg.set(&k, &s) {
                        return Ok(Ok(Err(e)));
                    }
                }
            }
        }
    }
    Ok(Ok(Ok(cfg)))
}

fn timeout_opt(
    env: js::Env,
    opts: Option<js::Value>,
    what: &str,
) -> Result<Check<Option<Duration>>> {
    let o = match js::get_options(env, opts, what)? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    Ok(
        js::opt_int(env, o, "timeoutMs", "timeoutMs", 0.0, 9007199254740991.0)?
            .map(|t| t.map(|ms| Duration::from_millis(ms as u64))),
    )
}

struct SendArgs<'a> {
    key: Option<js::Bytes<'a>>,
    value: js::Bytes<'a>,
    partition: Option<u32>,
    timestamp: Option<i64>,
}

fn read_record<'a>(
    env: js::Env,
    key: Option<js::Value>,
    value: Option<js::Value>,
    opts: Option<js::Value>,
    at: &str,
) -> Result<Check<SendArgs<'a>>> {
    let key = if js::is_nullish(env, key)? {
        None
    } else {
        match js::get_bytes(env, key.unwrap(), &format!("{at}key"))? {
            Ok(b) => Some(b),
            Err(e) => return Ok(Err(e)),
        }
    };
    let value = match value {
        Some(v) => match js::get_bytes(env, v, &format!("{at}value"))? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        },
        None => {
            return Ok(js::type_err(format!(
                "{at}value must be a Buffer, Uint8Array or string, got undefined"
            )))
        }
    };
    let o = match js::get_options(env, opts, &format!("{at}options"))? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    let partition = match js::opt_int(
        env,
        o,
        "partition",
        &format!("{at}partition"),
        0.0,
        u32::MAX as f64,
    )? {
        Ok(p) => p.map(|p| p as u32),
        Err(e) => return Ok(Err(e)),
    };
    let timestamp = match js::opt_int(
        env,
        o,
        "timestamp",
        &format!("{at}timestamp"),
        -9007199254740991.0,
        9007199254740991.0,
    )? {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(SendArgs {
        key,
        value,
        partition,
        timestamp,
    }))
}

fn raw(v: &Unknown<'_>) -> js::Value {
    v.raw()
}

#[napi]
impl Producer {
    /// Connects to the cluster at `endpoint` (the SC, `host:port`), waits for `topic`'s metadata and
    /// starts the background sender. `config` keys are camelCase (`{ lingerMs: 10 }`); an unknown key
    /// or a bad value rejects with a `CONFIG` error naming the key.
    #[napi(
        ts_args_type = "endpoint: string, topic: string, config?: ProducerConfig | null",
        ts_return_type = "Promise<Producer>"
    )]
    pub fn connect(
        env: Env,
        endpoint: Unknown,
        topic: Unknown,
        config: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let endpoint = match js::get_string(env, Some(raw(&endpoint)), "endpoint")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let topic = match js::get_string(env, Some(raw(&topic)), "topic")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let cfg = match parse_config(env, config.as_ref().map(raw))? {
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
            Ok(Err(e)) => return rt::rejected_core(env, &e),
            Ok(Ok(c)) => c,
        };
        rt::run_blocking(
            env,
            move || headwater::Producer::connect_blocking(&endpoint, &topic, cfg),
            |env, p| unsafe {
                Producer::to_napi_value(
                    env,
                    Producer {
                        inner: p,
                        handler: Arc::default(),
                        local: Arc::default(),
                    },
                )
            },
        )
    }

    /// The topic this producer sends to.
    #[napi(getter)]
    pub fn topic(&self) -> String {
        self.inner.topic().to_string()
    }

    /// Partitions of the topic, as last seen in the metadata.
    #[napi(getter)]
    pub fn partition_count(&self) -> u32 {
        self.inner.partition_count()
    }

    /// The batch codec in use (config and topic policy combined).
    #[napi(getter)]
    pub fn compression(&self) -> String {
        self.inner.compression().name().to_string()
    }

    #[napi(getter)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    fn fail_now(
        &self,
        env: js::Env,
        poster: &Arc<Poster>,
        local: Local,
    ) -> Result<sys::napi_value> {
        let err = match &local {
            Local::Type(m) => js::type_error_value(env, m)?,
            Local::Core(e) => rt::error_value(env, e),
        };
        {
            let mut l = self.local.lock().unwrap();
            if l.is_none() {
                *l = Some(local);
            }
        }
        // The handler runs later, from the event loop, never inside `send`.
        let mut r = std::ptr::null_mut();
        js::check(
            unsafe { sys::napi_create_reference(env, err, 1, &mut r) },
            "reference",
        )?;
        let r = r as usize;
        let handler = self.handler.clone();
        poster.post(Box::new(move |env| {
            let mut v = std::ptr::null_mut();
            unsafe { sys::napi_get_reference_value(env, r as sys::napi_ref, &mut v) };
            unsafe { sys::napi_delete_reference(env, r as sys::napi_ref) };
            if !v.is_null() {
                handler.call(env, v);
            }
        }));
        rt::rejected(env, err)
    }

    /// Sends one record. Returns at once (unless the partition's queue is full, then it waits up to
    /// `sendTimeoutMs`); the promise resolves when the broker acknowledges the record. A `null` or
    /// `undefined` key means no key; `''` or an empty Buffer is a real, empty key.
    ///
    /// A failed send that nobody awaits never crashes the process: its failure goes to the error
    /// handler (`setErrorHandler`) and is reported by the next `flush()`/`close()`.
    #[napi(
        ts_args_type = "key: Buffer | Uint8Array | string | null | undefined, value: Buffer | Uint8Array | string, options?: SendOptions | null",
        ts_return_type = "Promise<RecordMetadata>"
    )]
    pub fn send(
        &self,
        env: Env,
        key: Option<Unknown>,
        value: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let poster = rt::poster(env)?;
        let args = match read_record(
            env,
            key.as_ref().map(raw),
            value.as_ref().map(raw),
            options.as_ref().map(raw),
            "",
        )? {
            Ok(a) => a,
            Err(TypeErr(m)) => return self.fail_now(env, &poster, Local::Type(m)),
        };
        let out = match self.inner.send_blocking(
            args.key.as_deref(),
            &args.value,
            args.partition,
            args.timestamp,
        ) {
            Ok(o) => o,
            Err(e) => return self.fail_now(env, &poster, Local::Core(e)),
        };
        let (d, p) = rt::promise(env)?;
        let handler = self.handler.clone();
        out.on_done(move |r| {
            poster.post(Box::new(move |env| settle_send(env, d, r, &handler)));
        });
        Ok(p)
    }

    /// Sends many records (`[key, value]` or `[key, value, options]` each); sizes are checked before
    /// any is enqueued. Resolves to their metadata in order, or rejects with the first failure.
    #[napi(
        ts_args_type = "records: Array<[Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string] | [Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string, SendOptions | null | undefined]>",
        ts_return_type = "Promise<RecordMetadata[]>"
    )]
    pub fn send_all(&self, env: Env, records: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let poster = rt::poster(env)?;
        let list = match records.as_ref().map(raw) {
            Some(v) if js::is_array(env, v)? => v,
            other => {
                let got = other.map_or("undefined", |v| js::type_name(env, v));
                return self.fail_now(
                    env,
                    &poster,
                    Local::Type(format!(
                        "records must be an array of [key, value] pairs, got {got}"
                    )),
                );
            }
        };
        let n = js::array_len(env, list)?;
        let mut recs = Vec::with_capacity(n as usize);
        for i in 0..n {
            let item = js::element(env, list, i)?;
            if !js::is_array(env, item)? {
                let m = format!(
                    "records[{i}] must be a [key, value] array, got {}",
                    js::type_name(env, item)
                );
                return self.fail_now(env, &poster, Local::Type(m));
            }
            let len = js::array_len(env, item)?;
            let get = |j: u32| -> Result<Option<js::Value>> {
                if j < len {
                    Ok(Some(js::element(env, item, j)?))
                } else {
                    Ok(None)
                }
            };
            let (k, v, o) = (get(0)?, get(1)?, get(2)?);
            match read_record(env, k, v, o, &format!("records[{i}]."))? {
                Ok(a) => {
                    let mut r = headwater::Record::new(a.key.map(|k| k.to_vec()), a.value.to_vec());
                    r.partition = a.partition;
                    r.timestamp = a.timestamp;
                    recs.push(r)
                }
                Err(TypeErr(m)) => return self.fail_now(env, &poster, Local::Type(m)),
            }
        }
        let outs = match self.inner.send_all_blocking(&recs) {
            Ok(o) => o,
            Err(e) => return self.fail_now(env, &poster, Local::Core(e)),
        };
        drop(recs);
        let (d, p) = rt::promise(env)?;
        let handler = self.handler.clone();
        let group = Arc::new(Group {
            results: Mutex::new((0..outs.len()).map(|_| None).collect()),
            remaining: std::sync::atomic::AtomicUsize::new(outs.len()),
            finish: Mutex::new(Some((d, poster, handler))),
        });
        if outs.is_empty() {
            group.finish();
        }
        for (i, out) in outs.into_iter().enumerate() {
            let g = group.clone();
            out.on_done(move |r| {
                g.results.lock().unwrap()[i] = Some(r);
                if g.remaining
                    .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
                    == 1
                {
                    g.finish();
                }
            });
        }
        Ok(p)
    }

    /// Seals every open batch and waits until everything sent so far is acknowledged or failed.
    /// Rejects with the first failure since the last flush, including failures of sends nobody
    /// awaited. `timeoutMs` bounds the wait (`TIMEOUT` after it; nothing is dropped).
    #[napi(
        ts_args_type = "options?: { timeoutMs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn flush(&self, env: Env, options: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let t = match timeout_opt(env, options.as_ref().map(raw), "options")? {
            Ok(t) => t,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let p = self.inner.clone();
        let local = self.local.clone();
        rt::run_blocking(
            env,
            move || p.flush_blocking(t),
            move |env, ()| report_local(env, &local),
        )
    }

    /// Flushes, then stops the background sender; later sends reject with `CLOSED`. Idempotent.
    /// Reports the first unreported failure like `flush()`.
    #[napi(
        ts_args_type = "options?: { timeoutMs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn close(&self, env: Env, options: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let t = match timeout_opt(env, options.as_ref().map(raw), "options")? {
            Ok(t) => t,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let p = self.inner.clone();
        let local = self.local.clone();
        rt::run_blocking(
            env,
            move || p.close_blocking(t),
            move |env, ()| report_local(env, &local),
        )
    }

    /// Counters since connect.
    #[napi]
    pub fn stats(&self) -> ProducerStats {
        let s = self.inner.stats();
        let n = |v: u64| v as i64;
        ProducerStats {
            records_sent: n(s.records_sent),
            records_acked: n(s.records_acked),
            records_failed: n(s.records_failed),
            bytes_uncompressed: n(s.bytes_uncompressed),
            bytes_compressed: n(s.bytes_compressed),
            batches_sent: n(s.batches_sent),
            requests_sent: n(s.requests_sent),
            retries: n(s.retries),
            errors: n(s.errors),
            queued_records: n(s.queued_records),
            queued_batches: n(s.queued_batches),
        }
    }

    /// Called (from the event loop) with every failed send, awaited or not; `null` removes it.
    #[napi(
        ts_args_type = "handler: ((error: HeadwaterError | TypeError) => void) | null | undefined"
    )]
    pub fn set_error_handler(&self, env: Env, handler: Option<Unknown>) -> Result<()> {
        let env = env.raw();
        let f = handler.as_ref().map(raw);
        if js::is_nullish(env, f)? {
            return self.handler.set(env, None);
        }
        let f = f.unwrap();
        if js::type_of(env, f)? != sys::ValueType::napi_function {
            return Err(js::throw_type_error(
                env,
                &format!(
                    "handler must be a function or null, got {}",
                    js::type_name(env, f)
                ),
            ));
        }
        self.handler.set(env, Some(f))
    }
}

fn report_local(env: js::Env, local: &Mutex<Option<Local>>) -> Result<js::Value> {
    match local.lock().unwrap().take() {
        None => js::undefined(env),
        Some(l) => {
            let v = match l {
                Local::Type(m) => js::type_error_value(env, &m)?,
                Local::Core(e) => rt::error_value(env, &e),
            };
            unsafe { sys::napi_throw(env, v) };
            Err(js::pending())
        }
    }
}

fn settle_send(
    env: js::Env,
    d: Deferred,
    r: headwater::Result<headwater::RecordMetadata>,
    handler: &Handler,
) {
    match r {
        Ok(m) => d.settle(env, metadata(env, m)),
        Err(e) => {
            let v = rt::error_value(env, &e);
            handler.call(env, v);
            d.reject(env, v)
        }
    }
}

type Finish = (Deferred, Arc<Poster>, Arc<Handler>);

struct Group {
    results: Mutex<Vec<Option<headwater::Result<headwater::RecordMetadata>>>>,
    remaining: std::sync::atomic::AtomicUsize,
    finish: Mutex<Option<Finish>>,
}

impl Group {
    fn finish(self: &Arc<Self>) {
        let Some((d, poster, handler)) = self.finish.lock().unwrap().take() else {
            return;
        };
        let me = self.clone();
        poster.post(Box::new(move |env| {
            let results = std::mem::take(&mut *me.results.lock().unwrap());
            if let Some(e) = results
                .iter()
                .find_map(|r| r.as_ref().and_then(|r| r.as_ref().err()))
            {
                let v = rt::error_value(env, e);
                handler.call(env, v);
                return d.reject(env, v);
            }
            let r = (|| {
                let arr = js::array(env, results.len())?;
                for (i, r) in results.into_iter().enumerate() {
                    if let Some(Ok(m)) = r {
                        js::set_element(env, arr, i as u32, metadata(env, m)?)?;
                    }
                }
                Ok(arr)
            })();
            d.settle(env, r)
        }));
    }
}
