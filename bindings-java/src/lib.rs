//! JNI glue for the Java binding (package `io.headwater`, class `io.headwater.Native`).
//!
//! The binding only converts arguments, calls core and maps errors:
//! - every native method is declared with [`natives!`] and runs inside [`run`]: a `catch_unwind`
//!   boundary that turns a core [`headwater::Error`] into a `HeadwaterException`, a missing argument
//!   into one with code `INVALID_ARGUMENT`, and a panic into one with code `INTERNAL`;
//! - delivery results complete `CompletableFuture`s from core's runtime threads, a group of them at a
//!   time (`producer`'s `Group`: one `Native.completeAll` call per group, see [`complete_all`], or
//!   per batch once a future of the group is waited on; the groups one batch finishes share one
//!   span), on a thread attached to the JVM only for that span ([`with_attached`]) and inside a
//!   local frame, so no local reference outlives it and no runtime thread keeps the JVM from exiting;
//! - core's log events go to `Native.log` with the level as core numbers it (1 = ERROR .. 5 = TRACE)
//!   and their target; Java hands them to SLF4J or `System.Logger` (`LogBridge`).
//!
//! Native objects (`Producer`, `TestBroker`, `Admin`) are boxed and handed to Java as a `long`
//! ([`into_handle`], [`from_handle`], [`free`]). Java frees each one exactly once, from a
//! `java.lang.ref.Cleaner` action, when its owner is unreachable (so no call can still be using it);
//! `close()` only closes/stops through core.

/// Declares native methods of `io.headwater.Native`. Each `fn name(env, args..) -> T { body }`
/// becomes the exported `extern "system" fn name<'l>(JNIEnv<'l>, JClass<'l>, args..) -> T` whose
/// body (an `R<T>`) runs inside [`run`]: on failure a Java exception is pending and `T::default()`
/// (0, null) is returned. `'l` is the local references' lifetime.
macro_rules! natives {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($env:pat $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)? $body:block
    )*) => {$(
        $(#[$attr])*
        #[no_mangle]
        pub extern "system" fn $name<'l>(
            mut env: jni::JNIEnv<'l>,
            _cls: jni::objects::JClass<'l>,
            $($arg: $ty),*
        ) $(-> $ret)? {
            $crate::run(&mut env, |$env: &mut jni::JNIEnv<'l>| $body)
        }
    )*};
}

mod admin;
mod broker;
mod producer;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use headwater::logging::{self, Level};
use headwater::Error;
use jni::objects::{
    GlobalRef, JClass, JIntArray, JLongArray, JMethodID, JObject, JObjectArray, JStaticMethodID,
    JString, JValue,
};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jint, jlong};
use jni::{JNIEnv, JavaVM};

/// Classes and method ids used from runtime threads. Looked up once, in `Native.init`, on a Java
/// thread (so with the binding's class loader, which a freshly attached thread would not have).
struct Cache {
    vm: JavaVM,
    exception_cls: GlobalRef,
    exception_ctor: JMethodID,
    throwable_cls: GlobalRef,
    native_cls: GlobalRef,
    native_log: JStaticMethodID,
    native_complete_all: JStaticMethodID,
}

static CACHE: OnceLock<Cache> = OnceLock::new();

fn cache() -> Result<&'static Cache, Fail> {
    CACHE
        .get()
        .ok_or_else(|| Fail::Core(Error::internal("the native library was not initialised")))
}

/// Why a native call failed.
pub(crate) enum Fail {
    /// A core error: thrown as `HeadwaterException`.
    Core(Error),
    /// A required argument was null: `INVALID_ARGUMENT` naming it.
    Null(&'static str),
    /// A JNI call failed (usually with a Java exception already pending, which is kept; else
    /// `INTERNAL`).
    Jni(jni::errors::Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}

impl From<jni::errors::Error> for Fail {
    fn from(e: jni::errors::Error) -> Self {
        Fail::Jni(e)
    }
}

pub(crate) type R<T> = Result<T, Fail>;

/// The boundary every native method goes through ([`natives!`]): runs `f`, converts its failure or
/// panic into a pending Java exception and returns `T::default()` in that case.
pub(crate) fn run<'l, T: Default>(
    env: &mut JNIEnv<'l>,
    f: impl FnOnce(&mut JNIEnv<'l>) -> R<T>,
) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| f(env)));
    let fail = match outcome {
        Ok(Ok(v)) => return v,
        Ok(Err(fail)) => fail,
        Err(p) => Fail::Core(Error::from_panic(&*p, "Java")),
    };
    throw(env, fail);
    T::default()
}

fn throw(env: &mut JNIEnv<'_>, fail: Fail) {
    if env.exception_check().unwrap_or(false) {
        return; // keep the Java exception that is already pending
    }
    let e = match fail {
        Fail::Null(what) => null_argument(what),
        Fail::Jni(e) => Error::internal(format!("JNI failure: {e}")),
        Fail::Core(e) => e,
    };
    let _ = match new_exception(env, &e) {
        Ok(ex) => env.throw(jni::objects::JThrowable::from(ex)),
        Err(_) => env.throw_new("java/lang/RuntimeException", e.to_string()),
    };
}

/// The error for a null where a value is required.
fn null_argument(what: &str) -> Error {
    Error::invalid(format!("`{what}` must not be null"))
}

/// A `HeadwaterException(String code, int number, String message, boolean retriable,
/// boolean hasBrokerCode, int brokerCode)` for a core error: every fact comes from core.
pub(crate) fn new_exception<'l>(env: &mut JNIEnv<'l>, e: &Error) -> R<JObject<'l>> {
    let c = cache()?;
    let code = env.new_string(e.kind.code())?;
    let msg = env.new_string(e.to_string())?;
    let broker = e.broker_code();
    let cls: &JClass = c.exception_cls.as_obj().into();
    // SAFETY: the constructor id was looked up on this class with exactly this signature.
    let ex = unsafe {
        env.new_object_unchecked(
            cls,
            c.exception_ctor,
            &[
                JValue::Object(&code).as_jni(),
                JValue::Int(e.kind.number()).as_jni(),
                JValue::Object(&msg).as_jni(),
                JValue::Bool(e.is_retriable() as u8).as_jni(),
                JValue::Bool(broker.is_some() as u8).as_jni(),
                JValue::Int(broker.unwrap_or(0) as jint).as_jni(),
            ],
        )?
    };
    env.delete_local_ref(msg)?;
    env.delete_local_ref(code)?;
    Ok(ex)
}

/// Runs `f` on the current (library) thread attached to the JVM for this span only, inside a local
/// frame. A pending Java exception at the end is printed and cleared. Panics are contained.
pub(crate) fn with_attached(f: impl FnOnce(&mut JNIEnv<'_>, &'static Cache) -> R<()>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Ok(c) = cache() else { return };
        // Detaches on drop if this call attached the thread (not if it was already attached).
        let Ok(mut guard) = c.vm.attach_current_thread() else {
            return;
        };
        let env: &mut JNIEnv<'_> = &mut guard;
        let _ = env.with_local_frame(16, |env| -> R<()> { f(env, c) });
        report_pending(env);
    }));
}

/// Completes a group of futures with their outcomes with one call to
/// `Native.completeAll(topic, futures, slots, clear, partitions, offsets, timestamps, errors)`, which
/// builds each `RecordMetadata` and completes each future in Java, on a thread [`with_attached`]
/// attached (several groups can share one attached span). `futures` is a global reference to an
/// array of futures (borrowed: its owner releases it, see [`release_array`]); outcome `i` is for
/// `futures[slots[i]]`, or for `futures[i]` without `slots`; with `clear`, each completed slot is
/// set to null (a shared slot array, not a `sendAll` call's own). A Java exception it leaves is
/// reported and cleared, so the next group's call can go ahead.
pub(crate) fn complete_all(
    env: &mut JNIEnv<'_>,
    c: &Cache,
    topic: &GlobalRef,
    futures: producer::ArrayRef,
    slots: Option<&[jint]>,
    clear: bool,
    outcomes: &[Option<producer::Outcome>],
) {
    // Its own local frame: the span's other groups do not pile up local references.
    let _ = env.with_local_frame(16, |env| -> R<()> {
        // SAFETY: a live global reference to an `Object[]`; borrowed, never deleted as a local.
        let arr = unsafe { JObject::from_raw(futures.0) };
        let _ = call_complete_all(env, c, topic, &arr, slots, clear, outcomes);
        report_pending(env);
        Ok(())
    });
}

/// Deletes a global reference to an array of futures (on an attached thread).
pub(crate) fn release_array(env: &mut JNIEnv<'_>, futures: producer::ArrayRef) {
    let raw = env.get_raw();
    // SAFETY: a live global reference this binding created and nothing else deletes.
    unsafe { ((**raw).DeleteGlobalRef.expect("JNI DeleteGlobalRef"))(raw, futures.0) };
}

/// Prints and clears a Java exception a call from a library thread left pending, so the thread's
/// next call can go ahead.
fn report_pending(env: &mut JNIEnv<'_>) {
    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    }
}

/// `Native.completeAll(topic, futures, slots, clear, partitions, offsets, timestamps, errors)`;
/// `errors` is null when every outcome is a success.
fn call_complete_all(
    env: &mut JNIEnv<'_>,
    c: &Cache,
    topic: &GlobalRef,
    futures: &JObject<'_>,
    slots: Option<&[jint]>,
    clear: bool,
    outcomes: &[Option<producer::Outcome>],
) -> R<()> {
    let n = outcomes.len();
    let mut partitions = Vec::with_capacity(n);
    let mut offsets = Vec::with_capacity(n);
    let mut timestamps = Vec::with_capacity(n);
    let mut failed = false;
    for o in outcomes {
        let (p, off, t) = match o {
            Some(Ok(landed)) => *landed,
            _ => {
                failed = true;
                (0, 0, 0)
            }
        };
        partitions.push(p as jint);
        offsets.push(off);
        timestamps.push(t);
    }
    let parts = new_int_array(env, &partitions)?;
    let offs = new_long_array(env, &offsets)?;
    let times = new_long_array(env, &timestamps)?;
    let slots = match slots {
        Some(s) => new_int_array(env, s)?,
        None => JIntArray::default(),
    };
    let n = n as i32;
    let errors = if failed {
        let throwable_cls: &JClass = c.throwable_cls.as_obj().into();
        let errors = env.new_object_array(n, throwable_cls, JObject::null())?;
        for (i, o) in outcomes.iter().enumerate() {
            let ex = match o {
                Some(Ok(_)) => continue,
                Some(Err(err)) => new_exception(env, err)?,
                None => new_exception(
                    env,
                    &Error::internal("a record's delivery result went missing"),
                )?,
            };
            env.set_object_array_element(&errors, i as i32, &ex)?;
            env.delete_local_ref(ex)?;
        }
        errors
    } else {
        JObjectArray::default()
    };
    let cls: &JClass = c.native_cls.as_obj().into();
    // SAFETY: `completeAll(Ljava/lang/String;[Ljava/lang/Object;[IZ[I[J[J[Ljava/lang/Throwable;)V`
    // was looked up in `init`.
    unsafe {
        env.call_static_method_unchecked(
            cls,
            c.native_complete_all,
            ReturnType::Primitive(Primitive::Void),
            &[
                JValue::Object(topic.as_obj()).as_jni(),
                JValue::Object(futures).as_jni(),
                JValue::Object(&slots).as_jni(),
                JValue::Bool(clear as jni::sys::jboolean).as_jni(),
                JValue::Object(&parts).as_jni(),
                JValue::Object(&offs).as_jni(),
                JValue::Object(&times).as_jni(),
                JValue::Object(&errors).as_jni(),
            ],
        )?;
    }
    Ok(())
}

fn log_to_java(level: tracing::Level, target: &str, message: &str) {
    let lvl: jint = Level::from(level).number();
    with_attached(|env, c| {
        let t = env.new_string(target)?;
        let m = env.new_string(message)?;
        let cls: &JClass = c.native_cls.as_obj().into();
        // SAFETY: `log(ILjava/lang/String;Ljava/lang/String;)V` was looked up in `init`.
        unsafe {
            env.call_static_method_unchecked(
                cls,
                c.native_log,
                ReturnType::Primitive(Primitive::Void),
                &[
                    JValue::Int(lvl).as_jni(),
                    JValue::Object(&t).as_jni(),
                    JValue::Object(&m).as_jni(),
                ],
            )?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Conversions shared by the modules.

pub(crate) fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &'static str) -> R<String> {
    opt_string(env, s)?.ok_or(Fail::Null(what))
}

pub(crate) fn opt_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> R<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(env.get_string(s)?.into()))
}

/// Reads a `String[]` (no null elements).
pub(crate) fn string_array(
    env: &mut JNIEnv<'_>,
    arr: &JObjectArray<'_>,
    what: &'static str,
) -> R<Vec<String>> {
    if arr.is_null() {
        return Err(Fail::Null(what));
    }
    let n = env.get_array_length(arr)?;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let el = JString::from(env.get_object_array_element(arr, i)?);
        let s = string(env, &el, what)?;
        env.delete_local_ref(el)?;
        out.push(s);
    }
    Ok(out)
}

/// Parallel `String[]` key/value arrays as pairs (for the option maps of `TestBroker.start` and
/// `Admin.connect`; Java builds both arrays from one map, so their lengths always match).
pub(crate) fn string_pairs(
    env: &mut JNIEnv<'_>,
    keys: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
    what: &'static str,
) -> R<Vec<(String, String)>> {
    let keys = string_array(env, keys, what)?;
    let values = string_array(env, values, what)?;
    if keys.len() != values.len() {
        return Err(Fail::Core(Error::internal(format!(
            "{what}: {} keys but {} values",
            keys.len(),
            values.len()
        ))));
    }
    Ok(keys.into_iter().zip(values).collect())
}

/// Parallel key/value arrays as the `(&str, &str)` pairs core's `from_options` parsers take.
pub(crate) fn options(pairs: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// A `TopicConfig` from parallel key/value arrays, parsed and checked by core.
pub(crate) fn topic_config(
    env: &mut JNIEnv<'_>,
    keys: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
) -> R<headwater::TopicConfig> {
    let pairs = string_pairs(env, keys, values, "topic option")?;
    Ok(headwater::TopicConfig::from_options(options(&pairs))?)
}

/// A `ProducerConfig` from parallel key/value arrays, parsed by core's one parser.
pub(crate) fn config(
    env: &mut JNIEnv<'_>,
    keys: &JObjectArray<'_>,
    values: &JObjectArray<'_>,
) -> R<headwater::ProducerConfig> {
    let pairs = string_pairs(env, keys, values, "config")?;
    Ok(headwater::ProducerConfig::from_options(options(&pairs))?)
}

pub(crate) fn new_string_array<'l, 's>(
    env: &mut JNIEnv<'l>,
    items: impl ExactSizeIterator<Item = Option<&'s str>>,
) -> R<JObjectArray<'l>> {
    let arr = env.new_object_array(items.len() as i32, "java/lang/String", JObject::null())?;
    for (i, s) in items.enumerate() {
        if let Some(s) = s {
            let js = env.new_string(s)?;
            env.set_object_array_element(&arr, i as i32, &js)?;
            env.delete_local_ref(js)?;
        }
    }
    Ok(arr)
}

/// An array of `class` objects, one per item, each built by `new` in its own local frame.
pub(crate) fn new_object_array<'l, T>(
    env: &mut JNIEnv<'l>,
    class: &str,
    items: &[T],
    new: impl for<'f> Fn(&mut JNIEnv<'f>, &JClass<'_>, &T) -> R<JObject<'f>>,
) -> R<JObjectArray<'l>> {
    let cls = env.find_class(class)?;
    let arr = env.new_object_array(items.len() as i32, &cls, JObject::null())?;
    for (i, item) in items.iter().enumerate() {
        env.with_local_frame(8, |env| -> R<()> {
            let obj = new(env, &cls, item)?;
            Ok(env.set_object_array_element(&arr, i as i32, obj)?)
        })?;
    }
    Ok(arr)
}

pub(crate) fn new_int_array<'l>(env: &mut JNIEnv<'l>, v: &[jint]) -> R<JIntArray<'l>> {
    let arr = env.new_int_array(v.len() as i32)?;
    env.set_int_array_region(&arr, 0, v)?;
    Ok(arr)
}

pub(crate) fn new_long_array<'l>(env: &mut JNIEnv<'l>, v: &[jlong]) -> R<JLongArray<'l>> {
    let arr = env.new_long_array(v.len() as i32)?;
    env.set_long_array_region(&arr, 0, v)?;
    Ok(arr)
}

/// Hands a native object to Java as a `long` handle (freed by [`free`]).
pub(crate) fn into_handle<T>(v: T) -> jlong {
    Box::into_raw(Box::new(v)) as jlong
}

/// The object behind a handle; a 0 handle is `CLOSED` ("the `what` handle is gone").
pub(crate) fn from_handle<'a, T>(handle: jlong, what: &str) -> R<&'a T> {
    if handle == 0 {
        return Err(Error::closed(format!("the {what} handle is gone")).into());
    }
    // SAFETY: `handle` came from `into_handle` with this `T`, and Java frees it only once nothing
    // can call it.
    Ok(unsafe { &*(handle as *const T) })
}

/// Takes the object behind a handle back (0: nothing), for the one `*Free` call of the Java
/// owner's cleaner.
pub(crate) fn free<T>(handle: jlong) -> Option<Box<T>> {
    // SAFETY: see `from_handle`; the one place that takes the box back.
    (handle != 0).then(|| unsafe { Box::from_raw(handle as *mut T) })
}

// ---------------------------------------------------------------------------------------------
// io.headwater.Native: library-wide functions.

natives! {
    /// `static native void init(String logLevel)`: caches classes and installs the log bridge.
    /// `logLevel` is the `headwater.log` system property (null when unset): a level name for
    /// core's parser, with `HEADWATER_LOG`'s fallback (anything else is WARN, with one warning).
    /// Unset, the level is core's current one (`HEADWATER_LOG`'s, else WARN).
    fn Java_io_headwater_Native_init(env, log_level: JString<'l>) {
        if CACHE.get().is_none() {
            let exception = env.find_class("io/headwater/HeadwaterException")?;
            let exception_ctor = env.get_method_id(
                &exception,
                "<init>",
                "(Ljava/lang/String;ILjava/lang/String;ZZI)V",
            )?;
            let throwable = env.find_class("java/lang/Throwable")?;
            let native = env.find_class("io/headwater/Native")?;
            let native_log = env.get_static_method_id(
                &native,
                "log",
                "(ILjava/lang/String;Ljava/lang/String;)V",
            )?;
            let native_complete_all = env.get_static_method_id(
                &native,
                "completeAll",
                "(Ljava/lang/String;[Ljava/lang/Object;[IZ[I[J[J[Ljava/lang/Throwable;)V",
            )?;
            let c = Cache {
                vm: env.get_java_vm()?,
                exception_cls: env.new_global_ref(exception)?,
                exception_ctor,
                throwable_cls: env.new_global_ref(throwable)?,
                native_cls: env.new_global_ref(native)?,
                native_log,
                native_complete_all,
            };
            let _ = CACHE.set(c);
        }
        logging::install();
        let property = opt_string(env, &log_level)?.filter(|s| !s.is_empty());
        match property {
            None => logging::set_sink(logging::current_level(), Arc::new(log_to_java)),
            Some(v) => {
                // The sink first (at WARN), so a warning about a bad value reaches Java's logging.
                logging::set_sink(Level::WARN, Arc::new(log_to_java));
                logging::set_level(logging::level_or_warn("headwater.log", &v));
            }
        }
        Ok(())
    }

    /// `static native String[] configKeys()`: every config key (snake_case), in table order.
    fn Java_io_headwater_Native_configKeys(env) -> JObjectArray<'l> {
        let keys = headwater::producer::config::CONFIG_KEYS;
        new_string_array(env, keys.iter().map(|k| Some(*k)))
    }

    /// `static native String[] configResolve(String[] keys, String[] values)`: parses the pairs
    /// with core's parser and returns the effective value of every key (order of `configKeys`;
    /// null = unset).
    fn Java_io_headwater_Native_configResolve(
        env,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) -> JObjectArray<'l> {
        let cfg = config(env, &keys, &values)?;
        let keys = headwater::producer::config::CONFIG_KEYS;
        let out = keys.iter().map(|k| cfg.get(k)).collect::<Result<Vec<_>, _>>()?;
        new_string_array(env, out.iter().map(Option::as_deref))
    }

    /// `static native HeadwaterException invalidArgument(String message)`: core's
    /// `INVALID_ARGUMENT` error with `message`, for the argument checks the Java side makes before a
    /// native call (a null `Duration`, a null element of a list): the message is core's, as for
    /// every other error.
    fn Java_io_headwater_Native_invalidArgument(env, message: JString<'l>) -> JObject<'l> {
        let m = string(env, &message, "message")?;
        new_exception(env, &Error::invalid(m))
    }

    /// `static native void debugError(String code)`: throws core's error of `code` (errors.json),
    /// so the tests check the exception every core kind becomes. Test-only.
    fn Java_io_headwater_Native_debugError(env, code: JString<'l>) {
        let code = string(env, &code, "code")?;
        let kind = headwater::ErrorKind::from_code(&code)
            .ok_or_else(|| Error::invalid(format!("no error code {code:?}")))?;
        Err(Error::new(kind, "raised by debugError").into())
    }

    /// `static native void debugPanic()`: panics, to test that a panic becomes a
    /// `HeadwaterException` with code `INTERNAL`. Test-only.
    fn Java_io_headwater_Native_debugPanic(_env) {
        panic!("deliberate panic for a test")
    }
}
