//! Promises settled from core's threads, and how failures reach JavaScript.
//!
//! Each JS environment (the main thread, each worker) has one raw threadsafe function, created on
//! first use. Core threads never touch JS: they push a job onto that environment's queue and wake the
//! threadsafe function once; its callback drains the queue on the JS thread and settles promises.
//!
//! The threadsafe function is *referenced only while promises or sends are pending* (a count kept on
//! the JS thread), so an outstanding `send`/`flush` keeps Node alive exactly like a pending socket
//! write would, and once everything is settled — in particular after `close()` — nothing of ours
//! holds the event loop: the process exits by itself.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue};
use napi::{sys, Property, PropertyAttributes, Result};

use crate::js::{self, napi_call, Env, Fail, Res, Value};

/// Work for the JS thread. Gets the env (never null).
pub type Job = Box<dyn FnOnce(Env) + Send>;

struct Queue {
    jobs: Vec<Job>,
    scheduled: bool,
    /// The environment is gone (the threadsafe function was finalized): drop jobs.
    closed: bool,
    tsfn: usize,
}

/// The cross-thread half: a job queue and the threadsafe function that drains it.
pub struct Poster {
    q: Mutex<Queue>,
}

impl Poster {
    /// Queues `job` for the JS thread. From any thread.
    pub fn post(&self, job: Job) {
        let mut q = self.q.lock().unwrap();
        if q.closed {
            return;
        }
        q.jobs.push(job);
        if !q.scheduled {
            q.scheduled = true;
            unsafe {
                sys::napi_call_threadsafe_function(
                    q.tsfn as sys::napi_threadsafe_function,
                    ptr::null_mut(),
                    sys::ThreadsafeFunctionCallMode::nonblocking,
                )
            };
        }
    }
}

/// The JS-thread half.
struct Ctx {
    poster: Arc<Poster>,
    tsfn: sys::napi_threadsafe_function,
    pending: Cell<usize>,
    /// What index.js registered, by [`Slot`] (references: [`js::new_ref`]).
    slots: [Cell<usize>; SLOTS],
}

/// What index.js registers (`__setup`), one reference each per environment.
#[derive(Clone, Copy)]
pub enum Slot {
    /// `HeadwaterError`: core errors reach JavaScript as its instances ([`error_value`]).
    ErrorClass,
    /// `(topic, Float64Array [partition, offset, timestamp, ...]) => RecordMetadata[]`: plain
    /// objects made by JIT-compiled JavaScript cost far less than one made property by property
    /// through Node-API.
    MetadataFactory,
    /// The symbol under which a `Producer` carries its JS side, where the fast `send` reads its id.
    NativeKey,
    /// The `Float64Array` shared with the fast functions (see `waiting`), kept alive here.
    Register,
    /// The `send` hooks: `state(id, topic, eager)` makes a producer's JS side, `settle(state, data,
    /// errors)` settles its finished batches, `output(state)` builds what an accepted send returns.
    State,
    Settle,
    Output,
}

const SLOTS: usize = Slot::Output as usize + 1;

thread_local! {
    static CTX: RefCell<Option<Ctx>> = const { RefCell::new(None) };
}

unsafe extern "C" fn call_js(env: Env, _cb: Value, context: *mut c_void, _data: *mut c_void) {
    if env.is_null() || context.is_null() {
        return;
    }
    let poster = unsafe { &*(context as *const Poster) };
    let jobs = {
        let mut q = poster.q.lock().unwrap();
        q.scheduled = false;
        std::mem::take(&mut q.jobs)
    };
    let mut scope: sys::napi_handle_scope = ptr::null_mut();
    for (i, job) in jobs.into_iter().enumerate() {
        if i % 256 == 0 {
            if !scope.is_null() {
                unsafe { sys::napi_close_handle_scope(env, scope) };
            }
            unsafe { sys::napi_open_handle_scope(env, &mut scope) };
        }
        // A panic must not unwind into Node; its promise stays pending, the others settle.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(env)));
    }
    if !scope.is_null() {
        unsafe { sys::napi_close_handle_scope(env, scope) };
    }
}

unsafe extern "C" fn finalize(_env: Env, data: *mut c_void, _hint: *mut c_void) {
    if data.is_null() {
        return;
    }
    let poster = unsafe { Arc::from_raw(data as *const Poster) };
    let jobs = {
        let mut q = poster.q.lock().unwrap();
        q.closed = true;
        std::mem::take(&mut q.jobs)
    };
    drop(jobs);
    let _ = CTX.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            *c = None;
        }
    });
}

fn with_ctx<T>(env: Env, f: impl FnOnce(&Ctx) -> T) -> Result<T> {
    CTX.with(|c| {
        if c.borrow().is_none() {
            let poster = Arc::new(Poster {
                q: Mutex::new(Queue {
                    jobs: Vec::new(),
                    scheduled: false,
                    closed: false,
                    tsfn: 0,
                }),
            });
            let raw = Arc::into_raw(poster.clone()) as *mut c_void;
            let name = js::string(env, "headwater")?;
            let mut tsfn = ptr::null_mut();
            napi_call!(napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                raw,
                Some(finalize),
                raw,
                Some(call_js),
                &mut tsfn
            ))?;
            napi_call!(napi_unref_threadsafe_function(env, tsfn))?;
            poster.q.lock().unwrap().tsfn = tsfn as usize;
            *c.borrow_mut() = Some(Ctx {
                poster,
                tsfn,
                pending: Cell::new(0),
                slots: Default::default(),
            });
        }
        Ok(f(c.borrow().as_ref().unwrap()))
    })
}

/// This environment's poster, for completions from core threads.
pub fn poster(env: Env) -> Result<Arc<Poster>> {
    with_ctx(env, |c| c.poster.clone())
}

/// A promise pending on core. Keeps the event loop alive until settled.
pub struct Deferred(sys::napi_deferred);
// The deferred is only ever used on the JS thread that created it (jobs run there).
unsafe impl Send for Deferred {}

/// Creates a promise and counts it as pending.
pub fn promise(env: Env) -> Result<(Deferred, Value)> {
    let mut d = ptr::null_mut();
    let mut p = ptr::null_mut();
    napi_call!(napi_create_promise(env, &mut d, &mut p))?;
    hold(env)?;
    Ok((Deferred(d), p))
}

fn done(env: Env) {
    release(env, 1)
}

/// Counts one more send pending on core (keeping the event loop alive, like a promise of [`promise`]).
pub fn hold(env: Env) -> Result<()> {
    with_ctx(env, |c| {
        let n = c.pending.get();
        if n == 0 {
            unsafe { sys::napi_ref_threadsafe_function(env, c.tsfn) };
        }
        c.pending.set(n + 1);
    })
}

/// `n` pending things (promises, sends counted by [`hold`]) are settled.
pub fn release(env: Env, n: usize) {
    if n == 0 {
        return;
    }
    let _ = with_ctx(env, |c| {
        let n = c.pending.get().saturating_sub(n);
        c.pending.set(n);
        if n == 0 {
            unsafe { sys::napi_unref_threadsafe_function(env, c.tsfn) };
        }
    });
}

impl Deferred {
    pub fn resolve(self, env: Env, v: Value) {
        unsafe { sys::napi_resolve_deferred(env, self.0, v) };
        done(env);
    }
    pub fn reject(self, env: Env, e: Value) {
        unsafe { sys::napi_reject_deferred(env, self.0, e) };
        done(env);
    }
    /// Settles with `r`.
    pub fn settle(self, env: Env, r: Res<Value>) {
        match r {
            Ok(v) => self.resolve(env, v),
            Err(e) => {
                let v = fail_value(env, e);
                self.reject(env, v)
            }
        }
    }
}

/// Keeps `values`, one per [`Slot`] in its order, releasing what the slots held.
pub fn keep(env: Env, values: &[Value]) -> Result<()> {
    if values.len() != SLOTS {
        return Err(napi::Error::from_reason("one value per rt::Slot"));
    }
    for (i, &v) in values.iter().enumerate() {
        let r = js::new_ref(env, v)?;
        with_ctx(env, |c| js::drop_ref(env, c.slots[i].replace(r)))?;
    }
    Ok(())
}

/// The value in slot `s` (`None`: index.js did not register it).
pub fn slot(env: Env, s: Slot) -> Result<Option<Value>> {
    js::ref_value(env, with_ctx(env, |c| c.slots[s as usize].get())?)
}

/// Defines `obj[nativeKey] = value` (read-only, not enumerable), if index.js registered the key.
pub fn set_native(env: Env, obj: Value, value: Value) -> Result<()> {
    let Some(name) = slot(env, Slot::NativeKey)? else {
        return Ok(());
    };
    let e = napi::Env::from_raw(env);
    let p = Property::new()
        .with_name(&e, name)?
        .with_napi_value(&e, value)?
        .with_property_attributes(PropertyAttributes::Default);
    Object::from_raw(env, obj).define_properties(&[p])
}

/// Calls `f(args)` with `undefined` as `this`.
pub fn call(env: Env, f: Value, args: &[Value]) -> Result<Value> {
    let recv = js::undefined(env)?;
    let mut out = ptr::null_mut();
    napi_call!(napi_call_function(
        env,
        recv,
        f,
        args.len(),
        args.as_ptr(),
        &mut out
    ))?;
    Ok(out)
}

/// Calls `f(args)`; an exception it throws is reported as uncaught (as Node does for callbacks).
pub fn call_user(env: Env, f: Value, args: &[Value]) {
    if call(env, f, args).is_err() {
        let mut ex = ptr::null_mut();
        if unsafe { sys::napi_get_and_clear_last_exception(env, &mut ex) } == sys::Status::napi_ok
            && !ex.is_null()
        {
            unsafe { sys::napi_fatal_exception(env, ex) };
        }
    }
}

/// Where a record landed: partition, offset, timestamp (the topic is the producer's).
pub type Landed = (u32, i64, i64);

/// An array of `RecordMetadata` objects (`{ topic, partition, offset, timestamp }`), one per item,
/// built by index.js's factory from the topic and a `Float64Array` of the triples.
pub fn metadata_array(env: Env, topic: &str, items: &[Landed]) -> Result<Value> {
    let f = slot(env, Slot::MetadataFactory)?.ok_or_else(|| {
        napi::Error::from_reason("index.js did not register its metadata factory")
    })?;
    let (ta, out) = js::new_float64_array(env, items.len() * 3)?;
    for (chunk, &(partition, offset, timestamp)) in out.chunks_exact_mut(3).zip(items) {
        chunk[0] = partition as f64;
        chunk[1] = offset as f64;
        chunk[2] = timestamp as f64;
    }
    call(env, f, &[js::string(env, topic)?, ta])
}

/// A core error as a JS `HeadwaterError` (`.message` is core's Display, `[CODE] text`; `.code`,
/// `.retriable`, `.number`, `.brokerCode`).
pub fn error_value(env: Env, e: &headwater::Error) -> Value {
    let make = || -> Result<Value> {
        let msg = js::string(env, &e.to_string())?;
        let code = js::string(env, e.kind.code())?;
        let retriable = unsafe { bool::to_napi_value(env, e.is_retriable()) }?;
        let number = js::number(env, e.kind.number() as f64)?;
        let broker = match e.broker_code() {
            Some(c) => js::number(env, c as f64)?,
            None => js::undefined(env)?,
        };
        let mut v = ptr::null_mut();
        let Some(class) = slot(env, Slot::ErrorClass)? else {
            // Loaded without index.js: a plain Error with the code.
            napi_call!(napi_create_error(env, code, msg, &mut v))?;
            return Ok(v);
        };
        let args = [msg, code, retriable, number, broker];
        napi_call!(napi_new_instance(
            env,
            class,
            args.len(),
            args.as_ptr(),
            &mut v
        ))?;
        Ok(v)
    };
    make().unwrap_or_else(|err| {
        // Out of memory or a broken class: a plain Error still says what failed.
        let mut v = ptr::null_mut();
        let msg = js::string(env, &format!("{e} ({})", err.reason)).unwrap_or(ptr::null_mut());
        unsafe { sys::napi_create_error(env, ptr::null_mut(), msg, &mut v) };
        v
    })
}

/// The JS value of a failure: a `HeadwaterError`, or the exception a Node-API failure left pending
/// (then it is cleared: the caller throws or rejects with it).
pub fn fail_value(env: Env, f: Fail) -> Value {
    let mut ex = ptr::null_mut();
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending
        && unsafe { sys::napi_get_and_clear_last_exception(env, &mut ex) } == sys::Status::napi_ok
    {
        return ex;
    }
    match f {
        Fail::Core(e) => error_value(env, &e),
        Fail::Napi(e) => error_value(
            env,
            &headwater::Error::internal(format!("Node-API failure: {}", e.reason)),
        ),
    }
}

/// Throws `f` unless a JS exception is already pending (then that one stands); returns what napi-rs
/// should propagate.
pub fn throw(env: Env, f: Fail) -> napi::Error {
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if !pending {
        let v = fail_value(env, f);
        unsafe { sys::napi_throw(env, v) };
    }
    js::pending()
}

/// What a caught panic becomes: `INTERNAL`.
pub fn panic_error(p: Box<dyn std::any::Any + Send>) -> headwater::Error {
    headwater::Error::from_panic(&*p, "Node")
}

fn caught<T>(f: impl FnOnce() -> Res<T>) -> Res<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(Fail::Core(panic_error(p))))
}

/// Runs a synchronous entry point: a failure (a panic: `INTERNAL`) is thrown.
pub fn sync<T>(env: Env, f: impl FnOnce() -> Res<T>) -> Result<T> {
    caught(f).map_err(|e| throw(env, e))
}

/// [`sync`] for a napi-rs method: `f` gets the raw env.
pub fn sync_in<T>(env: napi::Env, f: impl FnOnce(Env) -> Res<T>) -> Result<T> {
    let env = env.raw();
    sync(env, || f(env))
}

/// A `Promise<void>` of synchronous core work `f`: resolved, or rejected with its failure.
pub fn settled(env: napi::Env, f: impl FnOnce(Env) -> Res<()>) -> Result<Value> {
    let env = env.raw();
    promising(env, || {
        f(env)?;
        let (d, p) = promise(env)?;
        d.resolve(env, js::undefined(env)?);
        Ok(p)
    })
}

/// A promise of blocking core work for a napi-rs method: `args` reads the arguments on the JS thread
/// and returns the work (its failure or panic rejects the promise), which runs on core's blocking
/// pool; the promise is settled with `convert(result)` on the JS thread.
pub fn blocking<T, W, C>(
    env: napi::Env,
    args: impl FnOnce(Env) -> Res<W>,
    convert: C,
) -> Result<Value>
where
    T: Send + 'static,
    W: FnOnce() -> headwater::Result<T> + Send + 'static,
    C: FnOnce(Env, T) -> Res<Value> + Send + 'static,
{
    let env = env.raw();
    promising(env, || {
        let work = args(env)?;
        let (d, p) = promise(env)?;
        let poster = poster(env)?;
        headwater::runtime::get().spawn_blocking(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|p| Err(panic_error(p)));
            poster.post(Box::new(move |env| {
                let r = r.map_err(Fail::Core).and_then(|v| convert(env, v));
                d.settle(env, r)
            }));
        });
        Ok(p)
    })
}

/// The value of a `Promise<void>` (a `convert` of [`blocking`]).
pub fn void(env: Env, _: ()) -> Res<Value> {
    Ok(js::undefined(env)?)
}

/// Runs an entry point that returns a promise: a failure (a panic: `INTERNAL`) rejects it instead of
/// throwing.
fn promising(env: Env, f: impl FnOnce() -> Res<Value>) -> Result<Value> {
    caught(f).or_else(|e| {
        // First: it clears a pending exception, which would fail creating the promise.
        let v = fail_value(env, e);
        let (d, p) = promise(env)?;
        d.reject(env, v);
        Ok(p)
    })
}

/// A `send`/`sendAll` promise pending on core: its deferred, plus a reference to the promise itself so
/// that a failure can mark it handled right before rejecting it. A send nobody awaits must never
/// become an unhandled rejection, and attaching a no-op handler to every promise up front (a derived
/// promise and a microtask per record) costs far more than this reference.
pub struct SendPromise {
    d: Deferred,
    promise: usize,
}
// As `Deferred`: used only on the JS thread that created it.
unsafe impl Send for SendPromise {}

/// Creates a send's promise (counted as pending, like [`promise`]).
pub fn send_promise(env: Env) -> Result<(SendPromise, Value)> {
    let (d, p) = promise(env)?;
    let promise = match js::new_ref(env, p) {
        Ok(r) => r,
        Err(e) => {
            // keeps the pending count right; the caller gets the error instead of this promise
            d.resolve(env, js::undefined(env)?);
            return Err(e);
        }
    };
    Ok((SendPromise { d, promise }, p))
}

impl SendPromise {
    fn release(&self, env: Env) -> Value {
        let p = js::ref_value(env, self.promise).ok().flatten();
        js::drop_ref(env, self.promise);
        p.unwrap_or(ptr::null_mut())
    }
    pub fn resolve(self, env: Env, v: Value) {
        self.release(env);
        self.d.resolve(env, v)
    }
    pub fn reject(self, env: Env, e: Value) {
        let p = self.release(env);
        if !p.is_null() {
            mark_handled(env, p);
        }
        self.d.reject(env, e)
    }
    /// Settles with `r`.
    pub fn settle(self, env: Env, r: Res<Value>) {
        match r {
            Ok(v) => self.resolve(env, v),
            Err(e) => {
                let v = fail_value(env, e);
                self.reject(env, v)
            }
        }
    }
}

unsafe extern "C" fn noop_cb(_env: Env, _info: sys::napi_callback_info) -> Value {
    ptr::null_mut()
}

/// `promise.then(undefined, () => {})`: a rejection of `promise` is then never reported as unhandled,
/// while whoever awaits it still sees it. Only on failure paths.
pub fn mark_handled(env: Env, promise: Value) {
    let mut noop = ptr::null_mut();
    let (Ok(then), Ok(undef)) = (js::get(env, promise, c"then"), js::undefined(env)) else {
        return;
    };
    let st = unsafe {
        sys::napi_create_function(
            env,
            c"noop".as_ptr(),
            4,
            Some(noop_cb),
            ptr::null_mut(),
            &mut noop,
        )
    };
    if st == sys::Status::napi_ok {
        let mut out = ptr::null_mut();
        let args = [undef, noop];
        unsafe { sys::napi_call_function(env, promise, then, 2, args.as_ptr(), &mut out) };
    }
}

/// An already rejected promise that is marked handled (a refused send).
pub fn rejected_handled(env: Env, e: Value) -> Result<Value> {
    let (d, p) = promise(env)?;
    mark_handled(env, p);
    d.reject(env, e);
    Ok(p)
}
