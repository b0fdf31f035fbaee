//! Promises settled from core's threads.
//!
//! Each JS environment (the main thread, each worker) has one raw threadsafe function, created on
//! first use. Core threads never touch JS: they push a job onto that environment's queue and wake the
//! threadsafe function once; its callback drains the queue on the JS thread and settles promises.
//!
//! The threadsafe function is *referenced only while promises are pending* (a count kept on the JS
//! thread), so an outstanding `send`/`flush` keeps Node alive exactly like a pending socket write would,
//! and once everything is settled — in particular after `close()` — nothing of ours holds the event
//! loop: the process exits by itself.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ptr;
use std::sync::{Arc, Mutex};

use napi::sys;
use napi::Result;

use crate::js::{self, Env, Value};

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
    /// `HeadwaterError` (registered by index.js).
    error_class: Cell<sys::napi_ref>,
    /// `(topic, Float64Array [partition, offset, timestamp, ...]) => RecordMetadata[]` (index.js).
    metadata_factory: Cell<sys::napi_ref>,
    /// The symbol under which a `Producer` carries its id for the fast `send` (index.js).
    native_key: Cell<sys::napi_ref>,
    /// Where the fast sends write each promise's ticket (index.js; see `waiting::report`).
    ticket_register: Cell<sys::napi_ref>,
}

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
        job(env);
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
            js::check(
                unsafe {
                    sys::napi_create_threadsafe_function(
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
                        &mut tsfn,
                    )
                },
                "create threadsafe function",
            )?;
            js::check(
                unsafe { sys::napi_unref_threadsafe_function(env, tsfn) },
                "unref",
            )?;
            poster.q.lock().unwrap().tsfn = tsfn as usize;
            *c.borrow_mut() = Some(Ctx {
                poster,
                tsfn,
                pending: Cell::new(0),
                error_class: Cell::new(ptr::null_mut()),
                metadata_factory: Cell::new(ptr::null_mut()),
                native_key: Cell::new(ptr::null_mut()),
                ticket_register: Cell::new(ptr::null_mut()),
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
    js::check(
        unsafe { sys::napi_create_promise(env, &mut d, &mut p) },
        "create promise",
    )?;
    with_ctx(env, |c| {
        let n = c.pending.get();
        if n == 0 {
            unsafe { sys::napi_ref_threadsafe_function(env, c.tsfn) };
        }
        c.pending.set(n + 1);
    })?;
    Ok((Deferred(d), p))
}

fn done(env: Env) {
    let _ = with_ctx(env, |c| {
        let n = c.pending.get().saturating_sub(1);
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
    /// Settles with `r`; an `Err` that is a napi-level failure becomes a plain `Error`.
    pub fn settle(self, env: Env, r: Result<Value>) {
        match r {
            Ok(v) => self.resolve(env, v),
            Err(e) => {
                let v = napi_error_value(env, e);
                self.reject(env, v)
            }
        }
    }
}

fn napi_error_value(env: Env, e: napi::Error) -> Value {
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    let mut v = ptr::null_mut();
    if pending {
        unsafe { sys::napi_get_and_clear_last_exception(env, &mut v) };
        return v;
    }
    let msg = js::string(env, &e.reason).unwrap_or(ptr::null_mut());
    unsafe { sys::napi_create_error(env, ptr::null_mut(), msg, &mut v) };
    v
}

/// Keeps a strong reference to `v` in the slot `slot` picks, releasing the one it held.
fn replace_ref(env: Env, v: Value, slot: impl FnOnce(&Ctx) -> &Cell<sys::napi_ref>) -> Result<()> {
    let mut r = ptr::null_mut();
    js::check(
        unsafe { sys::napi_create_reference(env, v, 1, &mut r) },
        "reference",
    )?;
    with_ctx(env, |c| {
        let old = slot(c).replace(r);
        if !old.is_null() {
            unsafe { sys::napi_delete_reference(env, old) };
        }
    })
}

/// Registers the `HeadwaterError` class for this environment.
pub fn set_error_class(env: Env, class: Value) -> Result<()> {
    replace_ref(env, class, |c| &c.error_class)
}

/// Registers the function that builds `RecordMetadata` objects in bulk (index.js): plain objects
/// made by JIT-compiled JavaScript cost far less than one made property by property through
/// Node-API.
pub fn set_metadata_factory(env: Env, f: Value) -> Result<()> {
    replace_ref(env, f, |c| &c.metadata_factory)
}

/// Registers the symbol under which producers carry their id (index.js).
pub fn set_native_key(env: Env, key: Value) -> Result<()> {
    replace_ref(env, key, |c| &c.native_key)
}

/// Keeps index.js's ticket register (a `Float64Array`) alive for this environment, releasing the
/// one registered before.
pub fn keep_ticket_register(env: Env, register: Value) -> Result<()> {
    replace_ref(env, register, |c| &c.ticket_register)
}

/// Defines `obj[nativeKey] = id` (read-only, not enumerable), if index.js registered the key.
pub fn set_native_id(env: Env, obj: Value, id: f64) -> Result<()> {
    let key = with_ctx(env, |c| c.native_key.get())?;
    if key.is_null() {
        return Ok(());
    }
    let mut name = ptr::null_mut();
    js::check(
        unsafe { sys::napi_get_reference_value(env, key, &mut name) },
        "native key",
    )?;
    if name.is_null() {
        return Ok(());
    }
    let desc = sys::napi_property_descriptor {
        utf8name: ptr::null(),
        name,
        method: None,
        getter: None,
        setter: None,
        value: js::number(env, id)?,
        attributes: sys::PropertyAttributes::default,
        data: ptr::null_mut(),
    };
    js::check(
        unsafe { sys::napi_define_properties(env, obj, 1, &desc) },
        "define property",
    )
}

/// Throws `e` unless a JS exception is already pending (then that one stands).
pub fn throw(env: Env, e: napi::Error) {
    let mut pending = false;
    unsafe { sys::napi_is_exception_pending(env, &mut pending) };
    if pending {
        return;
    }
    let v = napi_error_value(env, e);
    unsafe { sys::napi_throw(env, v) };
}

/// Where a record landed: partition, offset, timestamp (the topic is the producer's).
pub type Landed = (u32, i64, i64);

/// An array of `RecordMetadata` objects (`{ topic, partition, offset, timestamp }`), one per item.
pub fn metadata_array(env: Env, topic: &str, items: &[Landed]) -> Result<Value> {
    let factory = with_ctx(env, |c| c.metadata_factory.get())?;
    let mut f = ptr::null_mut();
    if !factory.is_null() {
        js::check(
            unsafe { sys::napi_get_reference_value(env, factory, &mut f) },
            "metadata factory",
        )?;
    }
    if f.is_null() {
        // The addon loaded without index.js: build each object here.
        let arr = js::array(env, items.len())?;
        for (i, &(partition, offset, timestamp)) in items.iter().enumerate() {
            let o = js::object(env)?;
            js::set(env, o, c"topic", js::string(env, topic)?)?;
            js::set(env, o, c"partition", js::number(env, partition as f64)?)?;
            js::set(env, o, c"offset", js::number(env, offset as f64)?)?;
            js::set(env, o, c"timestamp", js::number(env, timestamp as f64)?)?;
            js::set_element(env, arr, i as u32, o)?;
        }
        return Ok(arr);
    }
    let mut data = ptr::null_mut();
    let mut ab = ptr::null_mut();
    let len = items.len() * 3;
    js::check(
        unsafe { sys::napi_create_arraybuffer(env, len * 8, &mut data, &mut ab) },
        "create arraybuffer",
    )?;
    if len > 0 {
        // SAFETY: the buffer was just allocated with room for `len` doubles (8-aligned).
        let out = unsafe { std::slice::from_raw_parts_mut(data as *mut f64, len) };
        for (chunk, &(partition, offset, timestamp)) in out.chunks_exact_mut(3).zip(items) {
            chunk[0] = partition as f64;
            chunk[1] = offset as f64;
            chunk[2] = timestamp as f64;
        }
    }
    let mut ta = ptr::null_mut();
    js::check(
        unsafe {
            sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::float64_array,
                len,
                ab,
                0,
                &mut ta,
            )
        },
        "create Float64Array",
    )?;
    let args = [js::string(env, topic)?, ta];
    let mut recv = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut recv) };
    let mut arr = ptr::null_mut();
    js::check(
        unsafe { sys::napi_call_function(env, recv, f, args.len(), args.as_ptr(), &mut arr) },
        "metadata factory call",
    )?;
    Ok(arr)
}

/// A core error as a JS `HeadwaterError` (`.code`, `.retriable`, `.number`, `.brokerCode`).
pub fn error_value(env: Env, e: &headwater::Error) -> Value {
    match make_error(env, e) {
        Ok(v) => v,
        Err(err) => napi_error_value(env, err),
    }
}

fn make_error(env: Env, e: &headwater::Error) -> Result<Value> {
    let msg = js::string(env, &e.message)?;
    let code = js::string(env, e.kind.code())?;
    let retriable = js::boolean(env, e.is_retriable())?;
    let number = js::number(env, e.kind.number() as f64)?;
    let broker = match e.broker_code() {
        Some(c) => js::number(env, c as f64)?,
        None => js::undefined(env)?,
    };
    let class = with_ctx(env, |c| c.error_class.get())?;
    let mut v = ptr::null_mut();
    if !class.is_null() {
        let mut ctor = ptr::null_mut();
        js::check(
            unsafe { sys::napi_get_reference_value(env, class, &mut ctor) },
            "error class",
        )?;
        if !ctor.is_null() {
            let args = [msg, code, retriable, number, broker];
            js::check(
                unsafe { sys::napi_new_instance(env, ctor, args.len(), args.as_ptr(), &mut v) },
                "new HeadwaterError",
            )?;
            return Ok(v);
        }
    }
    js::check(
        unsafe { sys::napi_create_error(env, code, msg, &mut v) },
        "create error",
    )?;
    js::set(env, v, c"retriable", retriable)?;
    js::set(env, v, c"number", number)?;
    js::set(env, v, c"brokerCode", broker)?;
    Ok(v)
}

/// Calls `f(arg)`; an exception it throws is reported as uncaught (as Node does for callbacks).
pub fn call_user(env: Env, f: Value, arg: Value) {
    let mut recv = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut recv) };
    let mut out = ptr::null_mut();
    let st = unsafe { sys::napi_call_function(env, recv, f, 1, &arg, &mut out) };
    if st != sys::Status::napi_ok {
        let mut pending = false;
        unsafe { sys::napi_is_exception_pending(env, &mut pending) };
        if pending {
            let mut ex = ptr::null_mut();
            unsafe { sys::napi_get_and_clear_last_exception(env, &mut ex) };
            unsafe { sys::napi_fatal_exception(env, ex) };
        }
    }
}

/// Runs blocking core work on core's blocking pool and settles a promise with `convert(result)` on
/// the JS thread. Returns the promise.
pub fn run_blocking<T, W, C>(env: Env, work: W, convert: C) -> Result<Value>
where
    T: Send + 'static,
    W: FnOnce() -> headwater::Result<T> + Send + 'static,
    C: FnOnce(Env, T) -> Result<Value> + Send + 'static,
{
    let (d, p) = promise(env)?;
    let poster = poster(env)?;
    headwater::runtime::get().spawn_blocking(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|_| {
            Err(headwater::Error::internal(
                "panic in the Node binding's background work",
            ))
        });
        poster.post(Box::new(move |env| match r {
            Ok(v) => d.settle(env, convert(env, v)),
            Err(e) => {
                let v = error_value(env, &e);
                d.reject(env, v)
            }
        }));
    });
    Ok(p)
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
    let mut r = ptr::null_mut();
    let st = unsafe { sys::napi_create_reference(env, p, 1, &mut r) };
    if st != sys::Status::napi_ok {
        // keeps the pending count right; the caller gets the error instead of this promise
        d.resolve(env, js::undefined(env)?);
        return Err(napi::Error::new(
            napi::Status::from(st),
            "Node-API call failed: reference",
        ));
    }
    Ok((
        SendPromise {
            d,
            promise: r as usize,
        },
        p,
    ))
}

impl SendPromise {
    fn release(&self, env: Env) -> Value {
        let r = self.promise as sys::napi_ref;
        let mut p = ptr::null_mut();
        unsafe { sys::napi_get_reference_value(env, r, &mut p) };
        unsafe { sys::napi_delete_reference(env, r) };
        p
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
    /// Settles with `r`; an `Err` that is a napi-level failure becomes a plain `Error`.
    pub fn settle(self, env: Env, r: Result<Value>) {
        match r {
            Ok(v) => self.resolve(env, v),
            Err(e) => {
                let v = napi_error_value(env, e);
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
    let mut then = ptr::null_mut();
    let mut noop = ptr::null_mut();
    let mut undef = ptr::null_mut();
    unsafe {
        if sys::napi_get_named_property(env, promise, c"then".as_ptr(), &mut then)
            != sys::Status::napi_ok
            || sys::napi_create_function(
                env,
                c"noop".as_ptr(),
                4,
                Some(noop_cb),
                ptr::null_mut(),
                &mut noop,
            ) != sys::Status::napi_ok
        {
            return;
        }
        sys::napi_get_undefined(env, &mut undef);
        let args = [undef, noop];
        let mut out = ptr::null_mut();
        sys::napi_call_function(env, promise, then, 2, args.as_ptr(), &mut out);
    }
}

/// An already rejected promise that is marked handled (failures `send` knows at once).
pub fn rejected_handled(env: Env, e: Value) -> Result<Value> {
    let (d, p) = promise(env)?;
    mark_handled(env, p);
    d.reject(env, e);
    Ok(p)
}

/// An already-settled promise (argument and config errors reject rather than throw).
pub fn rejected(env: Env, e: Value) -> Result<Value> {
    let (d, p) = promise(env)?;
    d.reject(env, e);
    Ok(p)
}

pub fn resolved(env: Env, v: Value) -> Result<Value> {
    let (d, p) = promise(env)?;
    d.resolve(env, v);
    Ok(p)
}

/// Rejects with a `TypeError`.
pub fn rejected_type(env: Env, msg: &str) -> Result<Value> {
    let e = js::type_error_value(env, msg)?;
    rejected(env, e)
}

/// Rejects with a `HeadwaterError`.
pub fn rejected_core(env: Env, e: &headwater::Error) -> Result<Value> {
    let v = error_value(env, e);
    rejected(env, v)
}
