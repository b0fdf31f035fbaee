//! `Producer`: argument conversion around `headwater::Producer`. Behaviour is core's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use headwater::error::MAX_COUNT;
use headwater::producer::{AsRecord, ProduceOutput, RecordRef};
use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, Unknown};
use napi::{sys, Env, Result};
use napi_derive::napi;

use crate::js::{self, napi_call, raw, Arg, Fail, Res};
use crate::rt::{self, Poster, SendPromise, Slot};
use crate::waiting;

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

js::counters! {
    #[doc = " Producer counters (the same names in every language, camelCased)."]
    ProducerStats from headwater::producer::ProducerStats {
        records_sent,
        records_acked,
        records_failed,
        bytes_uncompressed,
        bytes_compressed,
        batches_sent,
        requests_sent,
        retries,
        errors,
        queued_records,
        queued_batches,
    }
}

/// The error handler, a reference ([`js::new_ref`]; 0: none) touched only on the JS thread.
#[derive(Default)]
struct Handler(Mutex<usize>);

impl Handler {
    fn call(&self, env: js::Env, err: js::Value) {
        if let Ok(Some(f)) = js::ref_value(env, *self.0.lock().unwrap()) {
            rt::call_user(env, f, &[err]);
        }
    }
    fn set(&self, env: js::Env, f: Option<js::Value>) -> Result<()> {
        let r = f.map_or(Ok(0), |f| js::new_ref(env, f))?;
        js::drop_ref(env, std::mem::replace(&mut *self.0.lock().unwrap(), r));
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

/// Producers of this JS environment by id, for the fast functions ([`fast_functions`]): index.js
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

/// The state behind a `Producer`, shared with the fast functions ([`fast_functions`]).
pub struct Shared {
    inner: headwater::Producer,
    handler: Arc<Handler>,
    /// Where `send` results wait for the JS thread.
    done: Arc<Completions>,
    /// Files every `send`/`sendAll` record with its batch; the batch's outcome reaches `done` once.
    tracker: headwater::producer::DeliveryTracker<Token>,
    /// `lingerMs` is 0: a batch never waits for its timer, so awaiting has nothing to send sooner:
    /// a `sendAll` gets no ticket (its promise stays plain), index.js queues no batch.
    eager: bool,
    /// The last `send`'s sequence number (see [`Token`]).
    seq: std::sync::atomic::AtomicU64,
}

/// What a `send` files with the [`DeliveryTracker`](headwater::producer::DeliveryTracker): its
/// sequence number in this producer. The first `send` of a batch names the batch (its *ticket*) for
/// index.js, which files the batch's JS side under it; every record of a batch is reported in one
/// delivery, in the order they were sent. (A `sendAll` is tracked as a whole: [`finish_all`].)
type Token = u64;

impl std::ops::Deref for Producer {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.s
    }
}

/// The results of this producer's `send`s, settled on the JS thread in bulk, per batch.
///
/// Core's threads push each batch's outcome here (through the producer's `DeliveryTracker`, which
/// calls [`deliver`](Self::deliver) once per batch); the first push after a drain posts one job to
/// the JS thread, which settles everything queued by then with one JS call (index.js's `settle`).
/// Nothing is kept per record: a batch's `send`s are described by runs of records whose offsets are
/// consecutive and whose timestamps are equal (one or two runs for most batches), so memory stays
/// bounded by the number of batches even while a long synchronous loop keeps the JS thread busy.
struct Completions {
    q: Mutex<Queued>,
    poster: Arc<Poster>,
    handler: Arc<Handler>,
    topic: String,
    /// A reference ([`js::new_ref`]) to the producer's JS side (index.js's `state` hook), 0 once
    /// finalized.
    state: Mutex<usize>,
}

/// One batch's outcome for its `send`s (small: many may wait for a drain).
struct SendBatch {
    /// The batch's ticket (the sequence number of its first `send`).
    ticket: u64,
    /// How many `send`s it holds.
    count: u32,
    /// How many of the queue's runs are its own (the next ones), or [`FAILED`]: its error is the
    /// queue's next.
    runs: u32,
}

const FAILED: u32 = u32::MAX;

/// Records `k..` of a batch's `send`s (up to the next run): the first one's offset (the others
/// follow, unless it is negative: unknown) and their timestamp.
struct Run {
    k: u32,
    offset: i64,
    timestamp: i64,
}

#[derive(Default)]
struct Queued {
    batches: Vec<SendBatch>,
    runs: Vec<Run>,
    errors: Vec<headwater::Error>,
    /// A drain job is posted and has not started yet.
    posted: bool,
}

impl Completions {
    /// From core's thread, once per batch: queues the outcome of its `send`s, waking the JS thread if
    /// no drain is pending.
    fn deliver(self: &Arc<Self>, b: headwater::producer::BatchDelivery<'_, Token>) {
        let mut sends: Option<SendBatch> = None;
        let mut runs: Vec<Run> = Vec::new();
        // (index, timestamp) of the previous `send`
        let mut last: Option<(u32, i64)> = None;
        for r in &b.records {
            let s = sends.get_or_insert(SendBatch {
                ticket: r.token,
                count: 0,
                runs: 0,
            });
            if b.result.is_ok() && last.is_none_or(|(i, ts)| i + 1 != r.index || ts != r.timestamp)
            {
                runs.push(Run {
                    k: s.count,
                    offset: b.offset(r).unwrap_or(-1),
                    timestamp: r.timestamp,
                });
            }
            last = Some((r.index, r.timestamp));
            s.count += 1;
        }
        let Some(mut s) = sends else { return };
        let mut q = self.q.lock().unwrap();
        match b.result {
            Ok(_) => {
                s.runs = runs.len() as u32;
                q.runs.append(&mut runs);
            }
            Err(e) => {
                s.runs = FAILED;
                q.errors.push(e.clone());
            }
        }
        q.batches.push(s);
        if q.posted {
            return;
        }
        q.posted = true;
        drop(q);
        let me = self.clone();
        self.poster.post(Box::new(move |env| me.drain(env)));
    }

    /// On the JS thread: settles everything queued. index.js's `settle(state, data, errors)` gets,
    /// per batch, `[ticket, runs, k, offset, timestamp per run...]` in `data` (a
    /// `Float64Array`; `runs` is -1 for a failed batch, whose error is the next of `errors`).
    fn drain(&self, env: js::Env) {
        let q = {
            let mut q = self.q.lock().unwrap();
            q.posted = false;
            std::mem::take(&mut *q)
        };
        let settled: usize = q.batches.iter().map(|b| b.count as usize).sum();
        let r = self.settle(env, &q);
        rt::release(env, settled);
        if let Err(e) = r {
            // Out of memory or a broken hook: the waiters stay pending, the error is reported.
            let v = rt::fail_value(env, e.into());
            self.handler.call(env, v);
        }
    }

    fn settle(&self, env: js::Env, q: &Queued) -> Result<()> {
        let mut errors = Vec::with_capacity(q.errors.len());
        for (b, e) in q.batches.iter().filter(|b| b.runs == FAILED).zip(&q.errors) {
            let v = rt::error_value(env, e);
            // Each failed send reaches the handler, as if each had its own promise.
            for _ in 0..b.count {
                self.handler.call(env, v);
            }
            errors.push(v);
        }
        let Some(st) = self.state(env)? else {
            return Ok(());
        };
        let Some(settle) = rt::slot(env, Slot::Settle)? else {
            return Ok(());
        };
        let errs = js::array(env, errors.len())?;
        for (i, e) in errors.into_iter().enumerate() {
            js::set_element(env, errs, i as u32, e)?;
        }
        let len = q.batches.len() * 2 + q.runs.len() * 3;
        let (data, out) = js::new_float64_array(env, len)?;
        let mut at = 0;
        let mut put = |v: f64| {
            out[at] = v;
            at += 1;
        };
        let mut runs = q.runs.iter();
        for b in &q.batches {
            put(b.ticket as f64);
            if b.runs == FAILED {
                put(-1.0);
                continue;
            }
            put(b.runs as f64);
            for r in runs.by_ref().take(b.runs as usize) {
                put(r.k as f64);
                put(r.offset as f64);
                put(r.timestamp as f64);
            }
        }
        rt::call(env, settle, &[st, data, errs])?;
        Ok(())
    }

    /// The producer's JS side (`None`: none, or finalized).
    fn state(&self, env: js::Env) -> Result<Option<js::Value>> {
        js::ref_value(env, *self.state.lock().unwrap())
    }
}

impl napi::bindgen_prelude::ObjectFinalize for Producer {
    /// Garbage-collected: release the JS side and the error handler. Core's `Drop` warns about
    /// unsent records.
    fn finalize(self, env: Env) -> Result<()> {
        unregister(self.id);
        // Its batches are then settled without telling JavaScript.
        js::drop_ref(
            env.raw(),
            std::mem::take(&mut *self.done.state.lock().unwrap()),
        );
        self.handler.set(env.raw(), None)
    }
}

struct SendArgs<'a> {
    key: Option<js::Bytes<'a>>,
    value: js::Bytes<'a>,
    partition: Option<u32>,
    timestamp: Option<i64>,
}

impl SendArgs<'_> {
    fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            key: self.key.as_deref(),
            value: &self.value,
            partition: self.partition,
            timestamp: self.timestamp,
        }
    }
}

/// Reads one record's arguments: `to` is `sendTo`'s partition argument (it wins over
/// `options.partition`). `index` is the record's position in a `sendAll` array: argument names in
/// messages are then `records[i].key` etc. Names are only formatted for an error (nothing is
/// allocated per record on the way to core).
fn read_record<'a>(
    env: js::Env,
    to: Option<Option<js::Value>>,
    [key, value, opts]: [Option<js::Value>; 3],
    index: Option<u32>,
) -> Res<SendArgs<'a>> {
    let r = read_record_as(env, to, key, value, opts);
    match (r, index) {
        // every argument message starts with the argument's name in backticks
        (Err(Fail::Core(e)), Some(i)) if e.message.starts_with('`') => Err(Fail::Core(
            headwater::Error::invalid(format!("`records[{i}].{}", &e.message[1..])),
        )),
        (r, _) => r,
    }
}

fn read_record_as<'a>(
    env: js::Env,
    to: Option<Option<js::Value>>,
    key: Option<js::Value>,
    value: Option<js::Value>,
    opts: Option<js::Value>,
) -> Res<SendArgs<'a>> {
    let key = js::get_key(env, key)?;
    let value = js::get_bytes(env, value, "value")?;
    let o = js::get_options(env, opts, "options")?;
    let partition = match to {
        Some(p) => Some(js::get_int(env, p, "partition", 0, MAX_COUNT)?),
        None => js::opt_int(env, o, c"partition", 0, MAX_COUNT)?,
    };
    let timestamp = js::opt_int(env, o, c"timestamp", -js::MAX_SAFE, js::MAX_SAFE)?;
    Ok(SendArgs {
        key,
        value,
        partition: partition.map(|p| p as u32),
        timestamp,
    })
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
    pub fn connect(env: Env, endpoint: Arg, topic: Arg, config: Arg) -> Result<sys::napi_value> {
        let args = |env| {
            let endpoint = js::get_string(env, raw(&endpoint), "endpoint")?;
            let topic = js::get_string(env, raw(&topic), "topic")?;
            let o = js::string_options(env, raw(&config), "config")?;
            let cfg = headwater::ProducerConfig::from_options(js::pairs(&o))?;
            Ok(move || headwater::Producer::connect_blocking(&endpoint, &topic, cfg))
        };
        rt::blocking(env, args, |env, p| {
            let handler = Arc::<Handler>::default();
            let done = Arc::new(Completions {
                q: Mutex::default(),
                poster: rt::poster(env)?,
                handler: handler.clone(),
                topic: p.topic().to_string(),
                state: Mutex::new(0),
            });
            let sink = done.clone();
            let eager = p.config().linger.is_zero();
            let s = Arc::new(Shared {
                inner: p,
                handler,
                done,
                tracker: headwater::producer::DeliveryTracker::new(move |b| sink.deliver(b)),
                eager,
                seq: Default::default(),
            });
            let id = register(s.clone());
            let topic = js::string(env, s.inner.topic())?;
            let eager = unsafe { bool::to_napi_value(env, eager) }?;
            let done = s.done.clone();
            let obj = unsafe { Producer::to_napi_value(env, Producer { s, id }) }?;
            if let Some(f) = rt::slot(env, Slot::State)? {
                let state = rt::call(env, f, &[js::number(env, id)?, topic, eager])?;
                *done.state.lock().unwrap() = js::new_ref(env, state)?;
                rt::set_native(env, obj, state)?;
            }
            Ok(obj)
        })
    }

    /// The topic this producer sends to.
    #[napi(getter)]
    pub fn topic(&self, env: Env) -> Result<String> {
        rt::sync_in(env, |_| Ok(self.inner.topic().to_string()))
    }

    /// Partitions of the topic, as last seen in the metadata.
    #[napi(getter)]
    pub fn partition_count(&self, env: Env) -> Result<u32> {
        rt::sync_in(env, |_| Ok(self.inner.partition_count()))
    }

    /// The batch codec in use (config and topic policy combined).
    #[napi(getter)]
    pub fn compression(&self, env: Env) -> Result<String> {
        rt::sync_in(env, |_| Ok(self.inner.compression().name().to_string()))
    }

    /// True once `close()` has started.
    #[napi(getter)]
    pub fn is_closed(&self, env: Env) -> Result<bool> {
        rt::sync_in(env, |_| Ok(self.inner.is_closed()))
    }

    /// Sends one record to the partition the partitioner picks (`options.partition` picks it
    /// instead). Returns at once (unless the partition's queue is full, then it waits up to
    /// `sendTimeoutMs`) a `ProduceOutput`, a thenable that resolves when the broker acknowledges
    /// the record. A `null` or `undefined` key means no key; `''` or an empty Buffer is a real,
    /// empty key.
    ///
    /// The record waits up to `lingerMs` in its batch for more records, unless someone waits on it:
    /// awaiting the output (or `then`, `Promise.all`, ...) sends its batch at once.
    ///
    /// A refused send (a wrong argument, `CLOSED`, `RECORD_TOO_LARGE`, `UNKNOWN_PARTITION`,
    /// `QUEUE_FULL`) returns a rejected promise and enqueues nothing; a failed delivery rejects the
    /// output and is reported once more by the next `flush()`/`close()`. Either way a send nobody
    /// awaits never crashes the process: its failure goes to the error handler (`setErrorHandler`).
    #[napi(
        ts_args_type = "key: Buffer | Uint8Array | string | null | undefined, value: Buffer | Uint8Array | string, options?: SendOptions | null",
        ts_return_type = "ProduceOutput"
    )]
    pub fn send(
        &self,
        env: Env,
        key: Option<Unknown>,
        value: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let args = [raw(&key), raw(&value), raw(&options)];
        rt::sync(env, || {
            Ok(self.s.output(env, self.s.send(env, None, args)?)?)
        })
    }

    /// Sends one record to partition `partition` (0-based; past the topic's partitions it rejects
    /// with `UNKNOWN_PARTITION`), like `send` otherwise.
    #[napi(
        ts_args_type = "partition: number, key: Buffer | Uint8Array | string | null | undefined, value: Buffer | Uint8Array | string, options?: { timestamp?: number } | null",
        ts_return_type = "ProduceOutput"
    )]
    pub fn send_to(
        &self,
        env: Env,
        partition: Option<Unknown>,
        key: Option<Unknown>,
        value: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let args = [raw(&key), raw(&value), raw(&options)];
        rt::sync(env, || {
            let refused = self.s.send(env, Some(raw(&partition)), args)?;
            Ok(self.s.output(env, refused)?)
        })
    }

    /// Sends many records (`[key, value]` or `[key, value, options]` each); sizes are checked before
    /// any is enqueued. Resolves to their metadata in order, or rejects with the first failure.
    /// Awaiting the promise sends the batches holding the records at once.
    #[napi(
        ts_args_type = "records: Array<[Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string] | [Buffer | Uint8Array | string | null | undefined, Buffer | Uint8Array | string, SendOptions | null | undefined]>",
        ts_return_type = "Promise<RecordMetadata[]>"
    )]
    pub fn send_all(&self, env: Env, records: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::sync(env, || Ok(self.s.send_all_list(env, raw(&records))?.0))
    }

    /// Seals every open batch and waits until everything sent so far is acknowledged or failed.
    /// Rejects with the first delivery failure since the last flush, including failures of sends
    /// nobody awaited (not with refused sends: those rejected at the send). `timeoutMs` bounds the
    /// wait (`TIMEOUT` after it; nothing is dropped; 0 does not wait).
    #[napi(
        ts_args_type = "options?: { timeoutMs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn flush(&self, env: Env, options: Arg) -> Result<sys::napi_value> {
        self.finish(env, &options, |s, t| {
            s.inner.flush_blocking_tracked(&s.tracker, t)
        })
    }

    /// Flushes, then stops the background sender; later sends reject with `CLOSED`. Idempotent.
    /// Reports the first unreported delivery failure like `flush()`.
    #[napi(
        ts_args_type = "options?: { timeoutMs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn close(&self, env: Env, options: Arg) -> Result<sys::napi_value> {
        self.finish(env, &options, |s, t| {
            s.inner.close_blocking_tracked(&s.tracker, t)
        })
    }

    /// Counters since connect.
    #[napi]
    pub fn stats(&self, env: Env) -> Result<ProducerStats> {
        rt::sync_in(env, |_| Ok(self.inner.stats().into()))
    }

    /// Called (from the event loop) with every failed send, awaited or not, refused ones included;
    /// `null` removes it.
    #[napi(ts_args_type = "handler: ((error: HeadwaterError) => void) | null | undefined")]
    pub fn set_error_handler(&self, env: Env, handler: Arg) -> Result<()> {
        rt::sync_in(env, |env| {
            let f = js::get_function(env, raw(&handler), "handler")?;
            Ok(self.handler.set(env, f)?)
        })
    }
}

impl Producer {
    /// `flush`/`close`: `op` runs on core's blocking pool with the timeout.
    fn finish(
        &self,
        env: Env,
        options: &Arg,
        op: impl FnOnce(&Shared, Option<Duration>) -> headwater::Result<()> + Send + 'static,
    ) -> Result<sys::napi_value> {
        let s = self.s.clone();
        let args = |env| {
            // `{ timeoutMs }`: absent waits as long as it takes, 0 does not wait.
            let o = js::get_options(env, raw(options), "options")?;
            let ms = js::opt_int(env, o, c"timeoutMs", 0, js::MAX_SAFE)?;
            let t = ms.map(|ms| Duration::from_millis(ms as u64));
            Ok(move || op(&s, t))
        };
        rt::blocking(env, args, rt::void)
    }
}

impl Shared {
    /// A send refused before core saw it: its rejected promise, the failure queued for the error
    /// handler.
    fn refused(&self, env: js::Env, f: Fail) -> Result<sys::napi_value> {
        let err = rt::fail_value(env, f);
        self.report_later(env, err);
        rt::rejected_handled(env, err)
    }

    /// Queues the failure `err` for the error handler: it runs later, from the event loop, never
    /// inside `send`.
    fn report_later(&self, env: js::Env, err: js::Value) {
        let Ok(r) = js::new_ref(env, err) else { return };
        let handler = self.handler.clone();
        self.done.poster.post(Box::new(move |env| {
            let v = js::ref_value(env, r);
            js::drop_ref(env, r);
            if let Ok(Some(v)) = v {
                handler.call(env, v);
            }
        }));
    }

    /// `send` and `sendTo` (`to`: the partition argument) of `[key, value, options]`: shared by the
    /// methods and the fast path. A send core accepted returns `None` and leaves its sequence
    /// number, partition and batch id in the register for index.js ([`waiting::report_send`]); a
    /// refused one returns its rejected promise.
    fn send(
        &self,
        env: js::Env,
        to: Option<Option<js::Value>>,
        args: [Option<js::Value>; 3],
    ) -> Result<Option<sys::napi_value>> {
        let args = match read_record(env, to, args, None) {
            Ok(a) => a,
            Err(f) => return Ok(Some(self.refused(env, f)?)),
        };
        // Only this JS thread sends through this producer: the order of the numbers is the order of
        // the sends.
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        match self.inner.send_blocking_tracked(
            args.key.as_deref(),
            &args.value,
            args.partition,
            args.timestamp,
            &self.tracker,
            seq,
        ) {
            Ok(out) => {
                // Released by the drain that settles its batch.
                let _ = rt::hold(env);
                waiting::report_send(seq, out.partition(), out.batch_id());
                Ok(None)
            }
            // Refused: core dropped the token without filing it.
            Err(e) => Ok(Some(self.refused(env, e.into())?)),
        }
    }

    /// What the `send` methods return: the refused send's promise, or index.js's output for the send
    /// just reported (without index.js: `undefined`).
    fn output(&self, env: js::Env, refused: Option<js::Value>) -> Result<js::Value> {
        if let Some(p) = refused {
            return Ok(p);
        }
        match (rt::slot(env, Slot::Output)?, self.done.state(env)?) {
            (Some(f), Some(st)) => rt::call(env, f, &[st]),
            _ => js::undefined(env),
        }
    }

    /// `sendAll` of an array of `[key, value]` or `[key, value, options]` (any accepted types): checks
    /// and converts every record, then [`send_all_records`](Self::send_all_records).
    fn send_all_list(
        &self,
        env: js::Env,
        records: Option<js::Value>,
    ) -> Result<(sys::napi_value, u64)> {
        match read_list(env, records) {
            Ok(recs) => {
                let refs: Vec<RecordRef> = recs.iter().map(SendArgs::as_ref).collect();
                self.send_all_records(env, &refs)
            }
            Err(f) => Ok((self.refused(env, f)?, 0)),
        }
    }

    /// The end of `sendAll`: enqueues the records (sizes checked first by core) and returns the
    /// promise of their metadata and its ticket in [`waiting`] (0: none).
    fn send_all_records<R: AsRecord>(
        &self,
        env: js::Env,
        recs: &[R],
    ) -> Result<(sys::napi_value, u64)> {
        let outs: Arc<[ProduceOutput]> = match self.inner.send_all_blocking(recs) {
            Ok(outs) => outs.into(),
            Err(e) => return Ok((self.refused(env, e.into())?, 0)),
        };
        // Settled by `finish_all`'s job, on this thread.
        let (d, p) = rt::send_promise(env)?;
        let ticket = if outs.is_empty() || self.eager {
            0
        } else {
            waiting::file(outs.clone())
        };
        let (done, read) = (self.done.clone(), outs.clone());
        self.tracker
            .track_all(&outs, move || finish_all(d, done, ticket, read));
        Ok((p, ticket))
    }

    /// `sendAll` of records index.js packed (see core's `decode_packed`): record `i`'s value is the
    /// next `valueLengths[i]` bytes of `values`; its key the next `keyLengths[i]` bytes of `keys` (-1:
    /// no key), or no key when `keyLengths` is null. The records borrow the buffers.
    fn send_all_packed(
        &self,
        env: js::Env,
        [values, value_lengths, keys, key_lengths]: [js::Value; 4],
    ) -> Result<(sys::napi_value, u64)> {
        let values = unsafe { <&[u8]>::from_napi_value(env, values) }?;
        let value_lengths = unsafe { <&[u32]>::from_napi_value(env, value_lengths) }?;
        let (keys, key_lengths) = if js::is_nullish(env, Some(key_lengths))? {
            (&[][..], None)
        } else {
            let keys = unsafe { <&[u8]>::from_napi_value(env, keys) }?;
            (
                keys,
                Some(unsafe { <&[i32]>::from_napi_value(env, key_lengths) }?),
            )
        };
        match headwater::producer::decode_packed(keys, key_lengths, values, value_lengths) {
            Ok(recs) => self.send_all_records(env, &recs),
            Err(e) => Ok((self.refused(env, e.into())?, 0)),
        }
    }
}

/// The records of a `sendAll` array, checked and converted.
fn read_list<'a>(env: js::Env, records: Option<js::Value>) -> Res<Vec<SendArgs<'a>>> {
    let list = match records {
        Some(v) if js::is_array(env, v)? => v,
        other => {
            let got = js::type_name(env, other);
            return js::invalid(format!(
                "`records` must be an array of [key, value] arrays, got {got}"
            ));
        }
    };
    let n = js::array_len(env, list)?;
    let mut recs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let item = js::element(env, list, i)?;
        if !js::is_array(env, item)? {
            let got = js::type_name(env, Some(item));
            return js::invalid(format!(
                "`records[{i}]` must be a [key, value] array, got {got}"
            ));
        }
        let len = js::array_len(env, item)?;
        let get = |j: u32| -> napi::Result<Option<js::Value>> {
            (j < len).then(|| js::element(env, item, j)).transpose()
        };
        recs.push(read_record(
            env,
            None,
            [get(0)?, get(1)?, get(2)?],
            Some(i),
        )?);
    }
    Ok(recs)
}

/// The producer an id from index.js stands for.
fn shared_of(env: js::Env, id: js::Value) -> Res<Arc<Shared>> {
    let found = match id.is_null() || js::type_of(env, id)? != sys::ValueType::napi_number {
        true => None,
        false => lookup(unsafe { f64::from_napi_value(env, id) }?),
    };
    found.map_or_else(|| js::invalid("must be called on a connected Producer"), Ok)
}

/// A fast function (`N` arguments at most; missing ones are `undefined`): `f` gets the producer of
/// its first argument, the argument count and the arguments, and returns the call's value (null:
/// `undefined`). A failure is thrown (a panic: `INTERNAL`).
fn fast<const N: usize>(
    env: js::Env,
    info: sys::napi_callback_info,
    f: impl FnOnce(&Shared, usize, [js::Value; N]) -> Result<js::Value>,
) -> js::Value {
    let r = rt::sync(env, || {
        let mut argc = N;
        let mut argv = [std::ptr::null_mut(); N];
        let st = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        js::check(st, "callback info")?;
        Ok(f(&*shared_of(env, argv[0])?, argc, argv)?)
    });
    r.unwrap_or(std::ptr::null_mut())
}

/// `send(id, key, value, options)`: the same as `Producer.prototype.send`, called by index.js's
/// `send` with the producer's id (from its JS side, under a symbol-keyed property), except that an
/// accepted send returns `undefined` and leaves its numbers in the register: index.js builds the
/// output (a refused send returns its rejected promise). A plain
/// Node-API callback: it skips the per-call work of a napi-rs class method (unwrapping and
/// type-checking `this`, borrow tracking, argument conversion), which costs about as much as core's
/// whole enqueue.
unsafe extern "C" fn send_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    fast::<4>(env, info, |s, argc, a| {
        let arg = |i: usize| (i < argc).then_some(a[i]);
        Ok(s.send(env, None, [arg(1), arg(2), arg(3)])?
            .unwrap_or(std::ptr::null_mut()))
    })
}

/// `sendTo(id, partition, key, value, options)`: `Producer.prototype.sendTo` the way `send_fast` is
/// `send`.
unsafe extern "C" fn send_to_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    fast::<5>(env, info, |s, argc, a| {
        let arg = |i: usize| (i < argc).then_some(a[i]);
        Ok(s.send(env, Some(arg(1)), [arg(2), arg(3), arg(4)])?
            .unwrap_or(std::ptr::null_mut()))
    })
}

/// `sendAll(id, values, valueLengths, keys, keyLengths)`: index.js's `sendAll` for an array of
/// `[key, value]` pairs of `Uint8Array`s (keys may be null), packed into two buffers: no per-record
/// Node-API call. Anything else goes through [`send_all_list_fast`].
unsafe extern "C" fn send_all_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    fast::<5>(env, info, |s, _, a| {
        reported(s.send_all_packed(env, [a[1], a[2], a[3], a[4]]))
    })
}

/// `sendAllList(id, records)`: `sendAll` of any other input, checked and converted record by record
/// (the same as the `sendAll` method, plus the ticket).
unsafe extern "C" fn send_all_list_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    fast::<2>(env, info, |s, argc, a| {
        reported(s.send_all_list(env, (argc > 1).then_some(a[1])))
    })
}

/// A `sendAll`'s promise, its ticket left in the register ([`waiting::report`]).
fn reported(r: Result<(js::Value, u64)>) -> Result<js::Value> {
    let (p, ticket) = r?;
    waiting::report(ticket);
    Ok(p)
}

/// `sendNow(n, m)`: someone started waiting on the promises of the `n` `sendAll` tickets and on
/// outputs of the `m` batches index.js queued in its register (one call per microtask, not one per
/// promise): those batches are sent now if still open (see [`waiting`]). Never throws (index.js
/// calls it from a microtask).
unsafe extern "C" fn send_now_fast(env: js::Env, info: sys::napi_callback_info) -> js::Value {
    let _ = std::panic::catch_unwind(|| {
        let mut argc = 2;
        let mut argv = [std::ptr::null_mut(); 2];
        let st = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if st != sys::Status::napi_ok || argc != 2 {
            return;
        }
        let count = |v: js::Value| {
            let mut n = 0f64;
            let ok = unsafe { sys::napi_get_value_double(env, v, &mut n) } == sys::Status::napi_ok;
            if ok && n >= 1.0 {
                n as usize
            } else {
                0
            }
        };
        waiting::send_now_queued(count(argv[0]));
        for (id, partition, batch) in waiting::queued_batches(count(argv[1])) {
            let numbers = (0.0..4294967296.0).contains(&partition)
                && (1.0..9007199254740992.0).contains(&batch);
            if let (Some(s), true) = (lookup(id), numbers) {
                s.inner.send_now(partition as u32, batch as u64);
            }
        }
    });
    std::ptr::null_mut()
}

/// The fast functions index.js uses: `send`, `sendTo`, `sendAll` (packed), `sendAllList` and
/// `sendNow`. The sends return numbers through index.js's register ([`waiting::report_send`],
/// [`waiting::report`]).
pub fn fast_functions(env: js::Env) -> Result<[js::Value; 5]> {
    let make = |name: &std::ffi::CStr, cb: sys::napi_callback| -> Result<js::Value> {
        let mut f = std::ptr::null_mut();
        napi_call!(napi_create_function(
            env,
            name.as_ptr(),
            name.count_bytes() as isize,
            cb,
            std::ptr::null_mut(),
            &mut f
        ))?;
        Ok(f)
    };
    Ok([
        make(c"send", Some(send_fast))?,
        make(c"sendTo", Some(send_to_fast))?,
        make(c"sendAll", Some(send_all_fast))?,
        make(c"sendAllList", Some(send_all_list_fast))?,
        make(c"sendNow", Some(send_now_fast))?,
    ])
}

/// The end of a `sendAll` (every record's batch is done): settles its promise on the JS thread with
/// every record's metadata, or rejects it with the first failure.
fn finish_all(d: SendPromise, done: Arc<Completions>, ticket: u64, outs: Arc<[ProduceOutput]>) {
    let poster = done.poster.clone();
    poster.post(Box::new(move |env| {
        drop(waiting::take(ticket));
        let mut landed = Vec::with_capacity(outs.len());
        for o in outs.iter() {
            match o.try_offset() {
                Some(Ok(offset)) => landed.push((o.partition(), offset, o.timestamp())),
                Some(Err(e)) => {
                    let v = rt::error_value(env, &e);
                    done.handler.call(env, v);
                    return d.reject(env, v);
                }
                // Not reached: `done` runs after every batch completed.
                None => landed.push((o.partition(), -1, o.timestamp())),
            }
        }
        d.settle(
            env,
            rt::metadata_array(env, &done.topic, &landed).map_err(Fail::from),
        )
    }));
}
