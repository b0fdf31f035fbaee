//! `io.headwater.Producer`'s native half.

use std::time::Duration;

use headwater::{Producer, Record};
use jni::objects::{
    GlobalRef, JByteArray, JClass, JIntArray, JLongArray, JObject, JObjectArray, JString,
};
use jni::sys::{jint, jlong, jlongArray};
use jni::JNIEnv;

use crate::{complete_future, config, run, string, Fail, R};

/// What the Java `Producer` points at.
struct JProducer {
    inner: Producer,
    /// The topic as a Java string, shared by every `RecordMetadata` this producer completes.
    topic: GlobalRef,
}

/// No timestamp (`Long.MIN_VALUE` on the Java side).
const NO_TIMESTAMP: jlong = jlong::MIN;

fn producer<'a>(handle: jlong) -> R<&'a JProducer> {
    if handle == 0 {
        return Err(Fail::Core(headwater::Error::closed(
            "the producer handle is gone",
        )));
    }
    // SAFETY: `handle` came from `producerConnect` and Java frees it only once nothing can call it.
    Ok(unsafe { &*(handle as *const JProducer) })
}

fn timeout(ms: jlong) -> Option<Duration> {
    (ms >= 0).then(|| Duration::from_millis(ms as u64))
}

fn bytes(env: &mut JNIEnv<'_>, arr: &JByteArray<'_>) -> R<Option<Vec<u8>>> {
    if arr.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(arr)?))
}

/// `static native long producerConnect(String endpoint, String topic, String[] keys, String[] values)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerConnect<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    endpoint: JString<'l>,
    topic: JString<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let ep = string(env, &endpoint, "endpoint")?;
        let t = string(env, &topic, "topic")?;
        let cfg = config(env, &keys, &values)?;
        let inner = Producer::connect_blocking(&ep, &t, cfg)?;
        let topic = env.new_global_ref(&topic)?;
        Ok(Box::into_raw(Box::new(JProducer { inner, topic })) as jlong)
    })
}

/// `static native void producerSend(long h, byte[] key, byte[] value, int partition, long timestamp,
/// CompletableFuture<RecordMetadata> future)`: `partition < 0` = partitioner decides,
/// `timestamp == Long.MIN_VALUE` = now.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerSend<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    key: JByteArray<'l>,
    value: JByteArray<'l>,
    partition: jint,
    timestamp: jlong,
    future: JObject<'l>,
) {
    run(&mut env, (), |env| {
        let p = producer(handle)?;
        if future.is_null() {
            return Err(Fail::Null("future"));
        }
        let key = bytes(env, &key)?;
        let value = bytes(env, &value)?.ok_or(Fail::Null("value"))?;
        let partition = (partition >= 0).then_some(partition as u32);
        let ts = (timestamp != NO_TIMESTAMP).then_some(timestamp);
        let out = p
            .inner
            .send_blocking(key.as_deref(), &value, partition, ts)?;
        let future = env.new_global_ref(future)?;
        let topic = p.topic.clone();
        out.on_done(move |res| complete_future(future, topic, res));
        Ok(())
    })
}

/// `static native void producerSendAll(long h, byte[][] keys, byte[][] values, int[] partitions,
/// long[] timestamps, CompletableFuture<?>[] futures)`: one call for many records; nothing is sent
/// if one is too large (core checks sizes first).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerSendAll<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
    partitions: JIntArray<'l>,
    timestamps: JLongArray<'l>,
    futures: JObjectArray<'l>,
) {
    run(&mut env, (), |env| {
        let p = producer(handle)?;
        let n = env.get_array_length(&values)?;
        let mut parts = vec![0 as jint; n as usize];
        env.get_int_array_region(&partitions, 0, &mut parts)?;
        let mut times = vec![0 as jlong; n as usize];
        env.get_long_array_region(&timestamps, 0, &mut times)?;
        let mut records = Vec::with_capacity(n as usize);
        for i in 0..n {
            let k = JByteArray::from(env.get_object_array_element(&keys, i)?);
            let v = JByteArray::from(env.get_object_array_element(&values, i)?);
            let record = Record {
                key: bytes(env, &k)?,
                value: bytes(env, &v)?.ok_or(Fail::Null("value"))?,
                partition: (parts[i as usize] >= 0).then_some(parts[i as usize] as u32),
                timestamp: (times[i as usize] != NO_TIMESTAMP).then_some(times[i as usize]),
            };
            env.delete_local_ref(k)?;
            env.delete_local_ref(v)?;
            records.push(record);
        }
        let outs = p.inner.send_all_blocking(&records)?;
        for (i, out) in outs.into_iter().enumerate() {
            let f = env.get_object_array_element(&futures, i as i32)?;
            let future = env.new_global_ref(&f)?;
            env.delete_local_ref(f)?;
            let topic = p.topic.clone();
            out.on_done(move |res| complete_future(future, topic, res));
        }
        Ok(())
    })
}

/// `static native void producerFlush(long h, long timeoutMs)` (`timeoutMs < 0` = no timeout).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerFlush<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    run(&mut env, (), |_env| {
        producer(handle)?
            .inner
            .flush_blocking(timeout(timeout_ms))?;
        Ok(())
    })
}

/// `static native void producerClose(long h, long timeoutMs)`: flush, then stop (idempotent).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerClose<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    run(&mut env, (), |_env| {
        producer(handle)?
            .inner
            .close_blocking(timeout(timeout_ms))?;
        Ok(())
    })
}

/// `static native long[] producerStats(long h)`: the counters in `tests/vectors/config.json` order.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerStats<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> jlongArray {
    run(&mut env, std::ptr::null_mut(), |env| {
        let s = producer(handle)?.inner.stats();
        let v = [
            s.records_sent,
            s.records_acked,
            s.records_failed,
            s.bytes_uncompressed,
            s.bytes_compressed,
            s.batches_sent,
            s.requests_sent,
            s.retries,
            s.errors,
            s.queued_records,
            s.queued_batches,
        ]
        .map(|x| x as jlong);
        let arr = env.new_long_array(v.len() as i32)?;
        env.set_long_array_region(&arr, 0, &v)?;
        Ok(arr.into_raw())
    })
}

/// `static native void producerFree(long h)`: called once, by the Java owner's cleaner.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_producerFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) {
    run(&mut env, (), |_env| {
        if handle != 0 {
            // SAFETY: see `producer`; this is the one place that takes the box back.
            drop(unsafe { Box::from_raw(handle as *mut JProducer) });
        }
        Ok(())
    })
}
