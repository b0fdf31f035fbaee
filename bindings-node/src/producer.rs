//! `Producer`: argument conversion around `headwater::Producer`. Behaviour is core's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

use crate::js::{self, Check, TypeErr};
use crate::rt::{self, Poster, SendPromise};
use crate::waiting::{self, Waiting};

/// Where a record landed. `offset` is -1 under at-most-once delivery (no acknowledgement).
// Built in JavaScript (index.js, in bulk: `rt::metadata_array`); declared here for index.d.ts.
#[allow(dead_code)]
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
    s: Arc<Shared>,
    /// This producer's entry in [`NATIVE`] (0: none).
    id: f64,
}

/// Producers of this JS environment by id, for the fast `send` path ([`send_function`]): index.js
/// reads the id from a symbol-keyed property of the `Producer` and passes it back. An id is checked
/// here (no pointer comes from JS), and a finalized producer's id is never valid again.
#[derive(Default)]
struct Registry {
    /// (generation, producer) per slot.
    slots: Vec<(u32, Option<Arc<Shared>>)>,
    free: Vec<u32>,
}

/// Slot bits of an id; the generation is above them (ids stay exact in a JS number).
const SLOT_BITS: u32 = 24;

thread_local! {
    static NATIVE: std::cell::RefCell<Registry> = std::cell::RefCell::default();
}

fn register(s: Arc<Shared>) -> f64 {
    NATIVE.with(|r| {
        let mut r = r.borrow_mut();
        let slot = match r.free.pop() {
            Some(i) => i,
            None => {
                r.slots.push((0, None));
                (r.slots.len() - 1) as u32
            }
        };
        let e = &mut r.slots[slot as usize];
        e.0 = (e.0 + 1) % (1 << 28);
        e.1 = Some(s);
        e.0 as f64 * (1u64 << SLOT_BITS) as f64 + slot as f64
    })
}

fn split(id: f64) -> Option<(usize, u32)> {
    if !(id >= 1.0 && id.fract() == 0.0 && id < 9007199254740992.0) {
        return None;
    }
    let id = id as u64;
    Some((
        (id & ((1 << SLOT_BITS) - 1)) as usize,
        (id >> SLOT_BITS) as u32,
    ))
}

fn lookup(id: f64) -> Option<Arc<Shared>> {
    let (slot, generation) = split(id)?;
    NATIVE.with(|r| match r.borrow().slots.get(slot) {
        Some((g, Some(s))) if *g == generation => Some(s.clone()),
        _ => None,
    })
}

fn unregister(id: f64) {
    let Some((slot, generation)) = split(id) else {
        return;
    };
    let _ = NATIVE.try_with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return;
        };
        if matches!(r.slots.get(slot), Some((g, Some(_))) if *g == generation) {
            r.slots[slot].1 = None;
            r.free.push(slot as u32);
        }
    });
}

/// The state behind a `Producer`, shared with the fast `send` path (see [`send_function`]).
pub struct Shared {
    inner: headwater::Producer,
    handler: Arc<Handler>,
    local: Arc<Mutex<Option<Local>>>,
    /// Where `send` results wait for the JS thread.
    done: Arc<Completions>,
    /// Files every `send`/`sendAll` record with its batch; the batch's outcome reaches `done` once.
    tracker: headwater::producer::DeliveryTracker<Token>,
    /// `lingerMs` is 0: a batch never waits for its timer, so awaiting has nothing to send sooner and
    /// index.js gets no tickets (its promises stay plain, with nothing added per record).
    eager: bool,
}

/// What a record filed with the [`DeliveryTracker`](headwater::producer::DeliveryTracker) settles.
enum Token {
    /// A `send`: its ticket in [`waiting`], where its promise is.
    Send(u64),
    /// Record `i` of a `sendAll`.
    All(Arc<Group>, u32),
}

impl std::ops::Deref for Producer {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.s
    }
}

/// The results of this producer's `send`s, settled on the JS thread in bulk.
///
/// Core's threads push each batch's results here (through the producer's `DeliveryTracker`, which
/// calls [`deliver`](Self::deliver) once per batch); the first push after a drain posts one job to
/// the JS thread, which settles everything queued by then: one threadsafe-function wakeup, one lock
/// per batch and one JS call building every `RecordMetadata` per drain, instead of a boxed job, a
/// lock round and an object built through Node-API per record.
struct Completions {
    q: Mutex<Queued>,
    poster: Arc<Poster>,
    handler: Arc<Handler>,
    topic: String,
}

#[derive(Default)]
struct Queued {
    sends: Vec<(u64, headwater::Result<rt::Landed>)>,
    /// A drain job is posted and has not started yet.
    posted: bool,
}

/// Settled per handle scope (each settles a few handles).
const PER_SCOPE: usize = 256;

impl Completions {
    /// From core's thread, once per batch: queues the results of its `send`s (waking the JS thread
    /// if no drain is pending) and records those of its `sendAll` records with their groups, in the
    /// batch's order, one lock per run of records that go to the same place.
    fn deliver(self: &Arc<Self>, b: headwater::producer::BatchDelivery<'_, Token>) {
        let landed = |r: &headwater::producer::TrackedRecord<Token>| {
            b.offset(r).map(|offset| (b.partition, offset, r.timestamp))
        };
        let recs = &b.records;
        let mut j = 0;
        while j < recs.len() {
            match &recs[j].token {
                Token::Send(_) => {
                    let mut q = self.q.lock().unwrap();
                    while let Some(r) = recs.get(j) {
                        let Token::Send(t) = r.token else { break };
                        q.sends.push((t, landed(r)));
                        j += 1;
                    }
                    if q.posted {
                        continue;
                    }
                    q.posted = true;
                    drop(q);
                    let me = self.clone();
                    self.poster.post(Box::new(move |env| me.drain(env)));
                }
                Token::All(g, _) => {
                    let start = j;
                    {
                        let mut results = g.results.lock().unwrap();
                        while let Some(r) = recs.get(j) {
                            let Token::All(h, i) = &r.token else { break };
                            if !Arc::ptr_eq(g, h) {
                                break;
                            }
                            results[*i as usize] = Some(landed(r));
                            j += 1;
                        }
                    }
                    g.arrived(j - start);
                }
            }
        }
    }

    /// On the JS thread: settles everything queued.
    fn drain(&self, env: js::Env) {
        let sends = {
            let mut q = self.q.lock().unwrap();
            q.posted = false;
            std::mem::take(&mut q.sends)
        };
        let landed: Vec<rt::Landed> = sends
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().copied())
            .collect();
        let metas = if landed.is_empty() {
            Ok(std::ptr::null_mut())
        } else {
            rt::metadata_array(env, &self.topic, &landed)
        };
        // Core reports each filed record once, so each ticket is here once.
        let promises = waiting::take_sends(sends.iter().map(|(t, _)| *t));
        let mut k = 0u32;
        let mut scope: sys::napi_handle_scope = std::ptr::null_mut();
        for (i, ((_, r), d)) in sends.into_iter().zip(promises).enumerate() {
            if i % PER_SCOPE == 0 {
                if !scope.is_null() {
                    unsafe { sys::napi_close_handle_scope(env, scope) };
                }
                unsafe { sys::napi_open_handle_scope(env, &mut scope) };
            }
            let Some(d) = d else {
                k += r.is_ok() as u32;
                continue;
            };
            match r {
                Ok(_) => {
                    let m = match &metas {
                        Ok(arr) => js::element(env, *arr, k),
                        Err(e) => Err(napi::Error::new(e.status, e.reason.clone())),
                    };
                    k += 1;
                    d.settle(env, m)
                }
                Err(e) => {
                    let v = rt::error_value(env, &e);
                    self.handler.call(env, v);
                    d.reject(env, v)
                }
            }
        }
        if !scope.is_null() {
            unsafe { sys::napi_close_handle_scope(env, scope) };
        }
    }
}

impl napi::bindgen_prelude::ObjectFinalize for Producer {
    /// Garbage-collected: release the error handler. Core's `Drop` warns about unsent records.
    fn finalize(self, env: Env) -> Result<()> {
        unregister(self.id);
        self.handler.set(env.raw(), None)
    }
}

/// Parses a `ProducerConfig` object through core's one parser (`ProducerConfig::set`).
pub fn parse_config(
    env: js::Env,
    config: Option<js::Value>,
) -> Result<Check<headwater::Result<headwater::ProducerConfig>>> {
    Ok(js::string_options(env, config, "config")?.map(|pairs| {
        headwater::ProducerConfig::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }))
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

/// Reads one record's arguments. `index` is the record's position in a `sendAll` array: argument
/// names in `TypeError` messages are then `records[i].key` etc. Names are only formatted for an
/// error (nothing is allocated per record on the way to core).
fn read_record<'a>(
    env: js::Env,
    key: Option<js::Value>,
    value: Option<js::Value>,
    opts: Option<js::Value>,
    index: Option<u32>,
) -> Result<Check<SendArgs<'a>>> {
    Ok(
        read_record_as(env, key, value, opts)?.map_err(|TypeErr(m)| match index {
            // every message starts with the argument's bare name
            Some(i) => TypeErr(format!("records[{i}].{m}")),
            None => TypeErr(m),
        }),
    )
}

fn read_record_as<'a>(
    env: js::Env,
    key: Option<js::Value>,
    value: Option<js::Value>,
    opts: Option<js::Value>,
) -> Result<Check<SendArgs<'a>>> {
    let key = if js::is_nullish(env, key)? {
        None
    } else {
        match js::get_bytes(env, key.unwrap(), "key")? {
            Ok(b) => Some(b),
            Err(e) => return Ok(Err(e)),
        }
    };
    let value = match value {
        Some(v) => match js::get_bytes(env, v, "value")? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        },
        None => {
            return Ok(js::type_err(
                "value must be a Buffer, Uint8Array or string, got undefined",
            ))
        }
    };
    let o = match js::get_options(env, opts, "options")? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    if o.is_none() {
        return Ok(Ok(SendArgs {
            key,
            value,
            partition: None,
            timestamp: None,
        }));
    }
    let partition = match js::opt_int(env, o, "partition", "partition", 0.0, u32::MAX as f64)? {
        Ok(p) => p.map(|p| p as u32),
        Err(e) => return Ok(Err(e)),
    };
    let timestamp = match js::opt_int(
        env,
        o,
        "timestamp",
        "timestamp",
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
            |env, p| {
                let handler = Arc::<Handler>::default();
                let done = Arc::new(Completions {
                    q: Mutex::default(),
                    poster: rt::poster(env)?,
                    handler: handler.clone(),
                    topic: p.topic().to_string(),
                });
                let sink = done.clone();
                let eager = p.config().linger.is_zero();
                let s = Arc::new(Shared {
                    inner: p,
                    handler,
                    local: Arc::default(),
                    done,
                    tracker: headwater::producer::DeliveryTracker::new(move |b| sink.deliver(b)),
                    eager,
                });
                let id = register(s.clone());
                let obj = unsafe { Producer::to_napi_value(env, Producer { s, id }) }?;
                rt::set_native_id(env, obj, id)?;
                Ok(obj)
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

    /// Sends one record. Returns at once (unless the partition's queue is full, then it waits up to
    /// `sendTimeoutMs`); the promise resolves when the broker acknowledges the record. A `null` or
    /// `undefined` key means no key; `''` or an empty Buffer is a real, empty key.
    ///
    /// The record waits up to `lingerMs` in its batch for more records, unless someone waits on it:
    /// awaiting the promise (or `then`, `Promise.all`, ...) sends its batch at once.
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
        Ok(self
            .s
            .send(
                env.raw(),
                key.as_ref().map(raw),
                value.as_ref().map(raw),
                options.as_ref().map(raw),
            )?
            .0)
    }

    /// Sends many records (`[key, value]` or `[key, value, options]` each); sizes are checked before
    /// any is enqueued. Resolves to their metadata in order, or rejects with the first failure.
    /// Awaiting the promise sends the batches holding the records at once.
    #[napi(
        ts_args_type = "records: Array<[Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string] | [Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string, SendOptions | null | undefined]>",
        ts_return_type = "Promise<RecordMetadata[]>"
    )]
    pub fn send_all(&self, env: Env, records: Option<Unknown>) -> Result<sys::napi_value> {
        Ok(self
            .s
            .send_all_list(env.raw(), records.as_ref().map(raw))?
            .0)
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

impl Shared {
    fn fail_now(&self, env: js::Env, local: Local) -> Result<sys::napi_value> {
        let err = self.fail(env, local)?;
        rt::rejected_handled(env, err)
    }

    /// Keeps `local` for the next `flush()`/`close()`, queues it for the error handler and returns
    /// its JS error.
    fn fail(&self, env: js::Env, local: Local) -> Result<js::Value> {
        let poster = &self.done.poster;
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
        Ok(err)
    }

    /// `send` itself: shared by the `Producer.prototype.send` method and the fast path. Returns the
    /// promise and its ticket in [`waiting`] for index.js (0: none, for a send refused at once or
    /// when nothing lingers).
    fn send(
        &self,
        env: js::Env,
        key: Option<js::Value>,
        value: Option<js::Value>,
        options: Option<js::Value>,
    ) -> Result<(sys::napi_value, u64)> {
        let args = match read_record(env, key, value, options, None)? {
            Ok(a) => a,
            Err(TypeErr(m)) => return Ok((self.fail_now(env, Local::Type(m))?, 0)),
        };
        let (d, p) = rt::send_promise(env)?;
        // The record's token is the ticket its promise and output are filed under right after the
        // send: its batch may complete at once, but the drain settling it runs on this thread, later.
        let ticket = waiting::next();
        let e = match self.inner.send_blocking_tracked(
            args.key.as_deref(),
            &args.value,
            args.partition,
            args.timestamp,
            &self.tracker,
            Token::Send(ticket),
        ) {
            Ok(out) => {
                let t = waiting::file(Waiting::Send(d, out));
                debug_assert_eq!(t, ticket);
                return Ok((p, if self.eager { 0 } else { t }));
            }
            Err(e) => e,
        };
        // Refused: core dropped the token without filing it; nothing was filed.
        match self.fail(env, Local::Core(e)) {
            Ok(err) => {
                d.reject(env, err);
                Ok((p, 0))
            }
            Err(e) => {
                d.resolve(env, js::undefined(env)?);
                Err(e)
            }
        }
    }
}

impl Shared {
    /// `sendAll` of an array of `[key, value]` or `[key, value, options]` (any accepted types): checks
    /// and converts every record, then [`send_all_records`](Self::send_all_records).
    fn send_all_list(
        &self,
        env: js::Env,
        records: Option<js::Value>,
    ) -> Result<(sys::napi_value, u64)> {
        let list = match records {
            Some(v) if js::is_array(env, v)? => v,
            other => {
                let got = other.map_or("undefined", |v| js::type_name(env, v));
                let m = format!("records must be an array of [key, value] pairs, got {got}");
                return Ok((self.fail_now(env, Local::Type(m))?, 0));
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
                return Ok((self.fail_now(env, Local::Type(m))?, 0));
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
            match read_record(env, k, v, o, Some(i))? {
                Ok(a) => {
                    let mut r = headwater::Record::new(a.key.map(|k| k.to_vec()), a.value.to_vec());
                    r.partition = a.partition;
                    r.timestamp = a.timestamp;
                    recs.push(r)
                }
                Err(TypeErr(m)) => return Ok((self.fail_now(env, Local::Type(m))?, 0)),
            }
        }
        self.send_all_records(env, recs)
    }

    /// The end of `sendAll`: enqueues the records (sizes checked first by core) and returns the
    /// promise of their metadata and its ticket in [`waiting`] (0: none).
    fn send_all_records(
        &self,
        env: js::Env,
        recs: Vec<headwater::Record>,
    ) -> Result<(sys::napi_value, u64)> {
        // One count per record plus one for this call, given up once the promise is in place: a
        // refused `sendAll` never finishes, whatever its enqueued records do.
        let group = Arc::new(Group {
            results: Mutex::new(vec![None; recs.len()]),
            remaining: std::sync::atomic::AtomicUsize::new(recs.len() + 1),
            finish: Mutex::new(None),
        });
        let outs = match self
            .inner
            .send_all_blocking_tracked(&recs, &self.tracker, |i| {
                Token::All(group.clone(), i as u32)
            }) {
            Ok(outs) => outs,
            Err(e) => return Ok((self.fail_now(env, Local::Core(e))?, 0)),
        };
        drop(recs);
        let (d, p) = rt::send_promise(env)?;
        // Released by the group's settling job, on this thread.
        let ticket = if outs.is_empty() || self.eager {
            0
        } else {
            waiting::file(Waiting::All(outs))
        };
        *group.finish.lock().unwrap() = Some((d, self.done.clone(), ticket));
        group.arrived(1);
        Ok((p, ticket))
    }

    /// `sendAll` of records index.js packed: record `i`'s value is the next `valueLengths[i]` bytes of
    /// `values`; its key the next `keyLengths[i]` bytes of `keys` (-1: no key), or no key when
    /// `keyLengths` is null.
    fn send_all_packed(
        &self,
        env: js::Env,
        values: js::Value,
        value_lengths: js::Value,
        keys: js::Value,
        key_lengths: js::Value,
    ) -> Result<(sys::napi_value, u64)> {
        let values = typed::<u8>(env, values, sys::TypedarrayType::uint8_array)?;
        let value_lengths = typed::<u32>(env, value_lengths, sys::TypedarrayType::uint32_array)?;
        let (keys, key_lengths) = if js::is_nullish(env, Some(key_lengths))? {
            (&[][..], None)
        } else {
            (
                typed::<u8>(env, keys, sys::TypedarrayType::uint8_array)?,
                Some(typed::<i32>(
                    env,
                    key_lengths,
                    sys::TypedarrayType::int32_array,
                )?),
            )
        };
        let bad = || napi::Error::from_reason("sendAll: inconsistent packed records");
        if key_lengths.is_some_and(|k| k.len() != value_lengths.len()) {
            return Err(bad());
        }
        let (mut k, mut v) = (0usize, 0usize);
        let mut recs = Vec::with_capacity(value_lengths.len());
        for (i, &len) in value_lengths.iter().enumerate() {
            let key = match key_lengths.map(|l| l[i]) {
                None | Some(-1) => None,
                Some(l) if l >= 0 => {
                    let s = keys.get(k..k + l as usize).ok_or_else(bad)?;
                    k += l as usize;
                    Some(s.to_vec())
                }
                Some(_) => return Err(bad()),
            };
            let value = values.get(v..v + len as usize).ok_or_else(bad)?.to_vec();
            v += len as usize;
            recs.push(headwater::Record::new(key, value));
        }
        self.send_all_records(env, recs)
    }
}

/// The contents of a typed array of type `ty` (borrowed for the running call).
fn typed<'a, T>(env: js::Env, v: js::Value, ty: i32) -> Result<&'a [T]> {
    let mut is_ta = false;
    js::check(
        unsafe { sys::napi_is_typedarray(env, v, &mut is_ta) },
        "is typedarray",
    )?;
    let (mut t, mut len, mut data, mut ab, mut off) = (
        0,
        0usize,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        0usize,
    );
    if is_ta {
        js::check(
            unsafe {
                sys::napi_get_typedarray_info(
                    env, v, &mut t, &mut len, &mut data, &mut ab, &mut off,
                )
            },
            "typedarray info",
        )?;
    }
    if !is_ta || t != ty {
        return Err(napi::Error::from_reason("sendAll: bad packed records"));
    }
    Ok(if len == 0 || data.is_null() {
        &[]
    } else {
        // SAFETY: the typed array's backing store holds `len` elements of `T` and stays put while
        // the JS value is alive (an argument of the running call).
        unsafe { std::slice::from_raw_parts(data as *const T, len) }
    })
}

/// A fast function's arguments (`N` at most; missing ones are `undefined`) and their count.
fn fast_args<const N: usize>(
    env: js::Env,
    info: sys::napi_callback_info,
) -> Result<(usize, [js::Value; N])> {
    let mut argc = N;
    let mut argv = [std::ptr::null_mut(); N];
    js::check(
        unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        },
        "callback info",
    )?;
    Ok((argc, argv))
}

/// The producer of a fast function's id argument, or a `TypeError` naming `what`.
fn producer_arg(env: js::Env, id: js::Value, what: &str) -> Result<Arc<Shared>> {
    shared_of(env, id)?.ok_or_else(|| {
        js::throw_type_error(
            env,
            &format!("{what} must be called on a connected Producer"),
        )
    })
}

/// Returns a send's promise, its ticket written where index.js reads it.
fn with_ticket((p, ticket): (js::Value, u64)) -> Result<js::Value> {
    waiting::report(ticket);
    Ok(p)
}

/// `sendAll(id, values, valueLengths, keys, keyLengths)`: index.js's `sendAll` for an array of
/// `[key, value]` pairs of `Uint8Array`s (keys may be null), packed into two buffers: no per-record
/// Node-API call. Anything else goes through [`send_all_list_fast`].
unsafe extern "C" fn send_all_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<js::Value> {
        let (_, argv) = fast_args::<5>(env, info)?;
        let shared = producer_arg(env, argv[0], "sendAll")?;
        with_ticket(shared.send_all_packed(env, argv[1], argv[2], argv[3], argv[4])?)
    }));
    finish_fast(env, r, "sendAll")
}

/// `sendAllList(id, records)`: `sendAll` of any other input, checked and converted record by record
/// (the same as the `sendAll` method, plus the ticket).
unsafe extern "C" fn send_all_list_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<js::Value> {
        let (argc, argv) = fast_args::<2>(env, info)?;
        let shared = producer_arg(env, argv[0], "sendAll")?;
        with_ticket(shared.send_all_list(env, (argc > 1).then_some(argv[1]))?)
    }));
    finish_fast(env, r, "sendAll")
}

/// `sendNow(n)`: someone started waiting on the promises of the `n` tickets index.js queued in its
/// register (one call per microtask, not one per promise): their batches are sent now if still open
/// (see [`waiting`]). Never throws (index.js calls it from a microtask).
unsafe extern "C" fn send_now_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    let _ = std::panic::catch_unwind(|| {
        let Ok((1, [n])) = fast_args::<1>(env, info) else {
            return;
        };
        let mut n_f64 = 0f64;
        if unsafe { sys::napi_get_value_double(env, n, &mut n_f64) } == sys::Status::napi_ok
            && n_f64 >= 1.0
        {
            waiting::send_now_queued(n_f64 as usize);
        }
    });
    std::ptr::null_mut()
}

/// The producer an id from index.js stands for.
fn shared_of(env: js::Env, id: js::Value) -> Result<Option<Arc<Shared>>> {
    if id.is_null() || js::type_of(env, id)? != sys::ValueType::napi_number {
        return Ok(None);
    }
    Ok(lookup(js::get_f64(env, id)?))
}

/// The return value of a fast function: its result, or `undefined` with the exception thrown.
fn finish_fast(env: js::Env, r: std::thread::Result<Result<js::Value>>, what: &str) -> js::Value {
    match r {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            rt::throw(env, e);
            std::ptr::null_mut()
        }
        Err(_) => {
            rt::throw(
                env,
                napi::Error::from_reason(format!("panic in the Node binding's {what}")),
            );
            std::ptr::null_mut()
        }
    }
}

/// `send(id, key, value, options)`: the same as `Producer.prototype.send`, called by index.js's
/// `send` with the producer's id (read from a symbol-keyed property), plus the ticket. A plain
/// Node-API callback: it skips the per-call work of a napi-rs class method (unwrapping and
/// type-checking `this`, borrow tracking, argument conversion), which costs about as much as core's
/// whole enqueue.
unsafe extern "C" fn send_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<js::Value> {
        let (argc, argv) = fast_args::<4>(env, info)?;
        let shared = producer_arg(env, argv[0], "send")?;
        let arg = |i: usize| (i < argc).then_some(argv[i]);
        with_ticket(shared.send(env, arg(1), arg(2), arg(3))?)
    }));
    finish_fast(env, r, "send")
}

/// The fast functions index.js uses: `send`, `sendAll` (packed), `sendAllList` and `sendNow`. The
/// three sends write each promise's ticket (0: none) to index.js's register ([`waiting::report`]).
pub fn fast_functions(env: js::Env) -> Result<[js::Value; 4]> {
    let make = |name: &std::ffi::CStr, cb: sys::napi_callback| -> Result<js::Value> {
        let mut f = std::ptr::null_mut();
        js::check(
            unsafe {
                sys::napi_create_function(
                    env,
                    name.as_ptr(),
                    name.count_bytes() as isize,
                    cb,
                    std::ptr::null_mut(),
                    &mut f,
                )
            },
            "create function",
        )?;
        Ok(f)
    };
    Ok([
        make(c"send", Some(send_fast))?,
        make(c"sendAll", Some(send_all_fast))?,
        make(c"sendAllList", Some(send_all_list_fast))?,
        make(c"sendNow", Some(send_now_fast))?,
    ])
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

/// The promise, where it is settled, and the `sendAll`'s ticket in [`waiting`].
type Finish = (SendPromise, Arc<Completions>, u64);

/// One `sendAll` call: resolves with every record's metadata once the last one is known.
struct Group {
    results: Mutex<Vec<Option<headwater::Result<rt::Landed>>>>,
    remaining: std::sync::atomic::AtomicUsize,
    finish: Mutex<Option<Finish>>,
}

impl Group {
    /// `n` more records (or the `sendAll` call itself) are done; the last one finishes the group.
    fn arrived(self: &Arc<Self>, n: usize) {
        if self
            .remaining
            .fetch_sub(n, std::sync::atomic::Ordering::AcqRel)
            == n
        {
            self.finish();
        }
    }

    fn finish(self: &Arc<Self>) {
        let Some((d, done, ticket)) = self.finish.lock().unwrap().take() else {
            return;
        };
        let me = self.clone();
        let poster = done.poster.clone();
        poster.post(Box::new(move |env| {
            drop(waiting::take(ticket));
            let results = std::mem::take(&mut *me.results.lock().unwrap());
            if let Some(e) = results
                .iter()
                .find_map(|r| r.as_ref().and_then(|r| r.as_ref().err()))
            {
                let v = rt::error_value(env, e);
                done.handler.call(env, v);
                return d.reject(env, v);
            }
            let landed: Vec<rt::Landed> = results
                .iter()
                .map(|r| match r {
                    Some(Ok(l)) => *l,
                    _ => (0, -1, 0),
                })
                .collect();
            d.settle(env, rt::metadata_array(env, &done.topic, &landed))
        }));
    }
}
