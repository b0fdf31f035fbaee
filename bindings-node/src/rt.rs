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

/// Registers the `HeadwaterError` class for this environment.
pub fn set_error_class(env: Env, class: Value) -> Result<()> {
    let mut r = ptr::null_mut();
    js::check(
        unsafe { sys::napi_create_reference(env, class, 1, &mut r) },
        "reference",
    )?;
    with_ctx(env, |c| {
        let old = c.error_class.replace(r);
        if !old.is_null() {
            unsafe { sys::napi_delete_reference(env, old) };
        }
    })
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
