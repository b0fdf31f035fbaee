//! `io.headwater.TestBroker`'s native half: the embedded broker of core.

use std::time::Duration;

use headwater::error::{check_range, MAX_COUNT};
use headwater::runtime::block_on;
use headwater::{BrokerConfig, TestBroker, TopicConfig};
use jni::objects::{JClass, JIntArray, JLongArray, JObject, JObjectArray, JString, JValue};
use jni::sys::{jint, jlong, jstring};
use jni::JNIEnv;

use crate::{new_string_array, opt_string, options, run, string, string_pairs, Fail, R};

/// A partition index from Java, checked by core's range rule before it is narrowed.
pub(crate) fn partition_index(p: jint) -> headwater::Result<u32> {
    Ok(check_range("partition", p.into(), 0, MAX_COUNT)? as u32)
}

/// A Fluvio API key from Java (`u16`), checked before it is narrowed.
fn api_key(k: jint) -> headwater::Result<u16> {
    Ok(check_range("api_key", k.into(), 0, u16::MAX.into())? as u16)
}

/// A request count from Java (0 clears), checked before it is narrowed.
fn count(n: jint) -> headwater::Result<u32> {
    Ok(check_range("count", n.into(), 0, MAX_COUNT)? as u32)
}

fn broker<'a>(handle: jlong) -> R<&'a TestBroker> {
    if handle == 0 {
        return Err(Fail::Core(headwater::Error::closed(
            "the broker handle is gone",
        )));
    }
    // SAFETY: `handle` came from `brokerStart`; Java frees it only once nothing can call it.
    Ok(unsafe { &*(handle as *const TestBroker) })
}

/// `static native long brokerStart(int spus, String dataDir)` (`dataDir` null = in memory): the
/// same options as `brokerStartWith`, through the same parser (so `spus` is checked the same way).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerStart<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    spus: jint,
    data_dir: JString<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let mut pairs = vec![("spus".to_string(), spus.to_string())];
        if let Some(dir) = opt_string(env, &data_dir)? {
            pairs.push(("data_dir".to_string(), dir));
        }
        let b = TestBroker::start_blocking(BrokerConfig::from_options(options(&pairs))?)?;
        Ok(Box::into_raw(Box::new(b)) as jlong)
    })
}

/// `static native long brokerStartWith(String[] keys, String[] values)`: a broker from string options
/// (`spus`, `dataDir`, `sync`, `tlsCert`, `tlsKey`, `tlsClientCa`), parsed by core.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerStartWith<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let pairs = string_pairs(env, &keys, &values, "broker option")?;
        let cfg = BrokerConfig::from_options(options(&pairs))?;
        let b = TestBroker::start_blocking(cfg)?;
        Ok(Box::into_raw(Box::new(b)) as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerEndpoint<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> jstring {
    run(&mut env, std::ptr::null_mut(), |env| {
        let ep = broker(handle)?.endpoint();
        Ok(env.new_string(ep)?.into_raw())
    })
}

/// `static native void brokerCreateTopic(long h, String name, String[] keys, String[] values)`: a
/// topic from string options (`partitions`, `replication`, `compression`, `retentionSecs`,
/// `segmentSize`, `maxPartitionSize`), parsed and checked by core.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerCreateTopic<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    name: JString<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
) {
    run(&mut env, (), |env| {
        let b = broker(handle)?;
        let name = string(env, &name, "topic")?;
        let pairs = string_pairs(env, &keys, &values, "topic option")?;
        b.create_topic_with(&name, TopicConfig::from_options(options(&pairs))?)?;
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerDeleteTopic<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    name: JString<'l>,
) {
    run(&mut env, (), |env| {
        let b = broker(handle)?;
        let name = string(env, &name, "topic")?;
        b.delete_topic(&name)?;
        Ok(())
    })
}

/// `static native String[] brokerTopics(long h)`: the topics, system topics left out.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerTopics<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> JObjectArray<'l> {
    run(&mut env, JObjectArray::default(), |env| {
        let topics: Vec<Option<String>> = broker(handle)?.topics().into_iter().map(Some).collect();
        new_string_array(env, &topics)
    })
}

/// `static native StoredRecord[] brokerRecords(long h, String topic, int partition, long fromOffset)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerRecords<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
    from_offset: jlong,
) -> JObjectArray<'l> {
    run(&mut env, JObjectArray::default(), |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let records = b.records(&topic, partition_index(partition)?, from_offset)?;
        let cls = env.find_class("io/headwater/StoredRecord")?;
        let arr = env.new_object_array(records.len() as i32, &cls, JObject::null())?;
        for (i, r) in records.iter().enumerate() {
            env.with_local_frame(8, |env| -> R<()> {
                let key = match &r.key {
                    Some(k) => JObject::from(env.byte_array_from_slice(k)?),
                    None => JObject::null(),
                };
                let value = JObject::from(env.byte_array_from_slice(&r.value)?);
                let obj = env.new_object(
                    &cls,
                    "(J[B[BJIJ)V",
                    &[
                        JValue::Long(r.offset),
                        JValue::Object(&key),
                        JValue::Object(&value),
                        JValue::Long(r.timestamp),
                        JValue::Int(r.compression.id() as jint),
                        JValue::Long(r.batch_base_offset),
                    ],
                )?;
                env.set_object_array_element(&arr, i as i32, obj)?;
                Ok(())
            })?;
        }
        Ok(arr)
    })
}

/// `static native StoredBatch[] brokerBatches(long h, String topic, int partition)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerBatches<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
) -> JObjectArray<'l> {
    run(&mut env, JObjectArray::default(), |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let batches = b.batches(&topic, partition_index(partition)?)?;
        let cls = env.find_class("io/headwater/StoredBatch")?;
        let arr = env.new_object_array(batches.len() as i32, &cls, JObject::null())?;
        for (i, info) in batches.iter().enumerate() {
            let obj = env.new_object(
                &cls,
                "(JJIJJ)V",
                &[
                    JValue::Long(info.base_offset),
                    JValue::Long(info.record_count),
                    JValue::Int(info.compression.id() as jint),
                    JValue::Long(info.size_bytes as jlong),
                    JValue::Long(info.first_timestamp),
                ],
            )?;
            env.set_object_array_element(&arr, i as i32, &obj)?;
            env.delete_local_ref(obj)?;
        }
        Ok(arr)
    })
}

/// `static native void brokerPause(long h, boolean paused)`: holds (or releases) produce requests on
/// every SPU.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerPause<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    paused: u8,
) {
    run(&mut env, (), |_env| {
        let b = broker(handle)?;
        if paused != 0 {
            b.pause()
        } else {
            b.resume()
        }
        Ok(())
    })
}

/// `static native void brokerFailNext(long h, int apiKey, int count, int code)`: fault injection.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerFailNext<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    api_key: jint,
    count: jint,
    code: jint,
) {
    run(&mut env, (), |_env| {
        let code = check_range("code", code.into(), i16::MIN.into(), i16::MAX.into())? as i16;
        broker(handle)?.fail_next(self::api_key(api_key)?, self::count(count)?, code);
        Ok(())
    })
}

/// `static native void brokerDropNext(long h, int apiKey, int count)`: the next `count` requests of
/// `apiKey` close their connection unanswered.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerDropNext<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    api_key: jint,
    count: jint,
) {
    run(&mut env, (), |_env| {
        broker(handle)?.drop_next(self::api_key(api_key)?, self::count(count)?);
        Ok(())
    })
}

/// `static native void brokerDelay(long h, int apiKey, long nanos)`: delays every request of
/// `apiKey`; 0 clears, a negative delay is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerDelay<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    api_key: jint,
    nanos: jlong,
) {
    run(&mut env, (), |_env| {
        let nanos = check_range("delay_nanos", nanos, 0, jlong::MAX)?;
        let d = (nanos > 0).then(|| Duration::from_nanos(nanos as u64));
        broker(handle)?.delay(self::api_key(api_key)?, d);
        Ok(())
    })
}

/// `static native void brokerPauseSpu(long h, int spuId, boolean paused)`: holds (or releases)
/// produce requests on one SPU.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerPauseSpu<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    spu_id: jint,
    paused: u8,
) {
    run(&mut env, (), |_env| {
        let b = broker(handle)?;
        if paused != 0 {
            b.pause_spu(spu_id)?
        } else {
            b.resume_spu(spu_id)?
        }
        Ok(())
    })
}

/// `static native void brokerStopSpu(long h, int spuId, boolean stop)`: stops an SPU (listener and
/// connections), or starts a stopped one again on the same port.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerStopSpu<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    spu_id: jint,
    stop: u8,
) {
    run(&mut env, (), |_env| {
        let b = broker(handle)?;
        if stop != 0 {
            block_on(b.stop_spu(spu_id))?
        } else {
            block_on(b.start_spu(spu_id))?
        }
        Ok(())
    })
}

/// `static native int[] brokerSpuIds(long h)`
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerSpuIds<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> JIntArray<'l> {
    run(&mut env, JIntArray::default(), |env| {
        let ids = broker(handle)?.spu_ids();
        let arr = env.new_int_array(ids.len() as i32)?;
        env.set_int_array_region(&arr, 0, &ids)?;
        Ok(arr)
    })
}

/// `static native long[] brokerStats(long h)`: core's `BrokerStats` in declaration order
/// (`produce_requests`, `batches_appended`, `records_appended`, `bytes_appended`, `fsyncs`,
/// `segments_deleted`, `truncated_bytes`, `connections`, `connections_total`, `rejected_frames`,
/// `fetch_responses`), as `BrokerStats.fromArray` reads them.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerStats<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) -> JLongArray<'l> {
    run(&mut env, JLongArray::default(), |env| {
        let s = broker(handle)?.stats();
        let v = [
            s.produce_requests,
            s.batches_appended,
            s.records_appended,
            s.bytes_appended,
            s.fsyncs,
            s.segments_deleted,
            s.truncated_bytes,
            s.connections,
            s.connections_total,
            s.rejected_frames,
            s.fetch_responses,
        ]
        .map(|x| x as jlong);
        let arr = env.new_long_array(v.len() as i32)?;
        env.set_long_array_region(&arr, 0, &v)?;
        Ok(arr)
    })
}

/// `static native int brokerLeader(long h, String topic, int partition)`: the SPU leading a
/// partition.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerLeader<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
) -> jint {
    run(&mut env, 0, |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        Ok(b.leader(&topic, partition_index(partition)?)?)
    })
}

/// `static native int[] brokerReplicas(long h, String topic, int partition)`: the SPUs holding a
/// partition's replicas (leader first at creation).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerReplicas<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
) -> JIntArray<'l> {
    run(&mut env, JIntArray::default(), |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let ids = b.replicas(&topic, partition_index(partition)?)?;
        let arr = env.new_int_array(ids.len() as i32)?;
        env.set_int_array_region(&arr, 0, &ids)?;
        Ok(arr)
    })
}

/// `static native long brokerHighWatermark(long h, String topic, int partition)`.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerHighWatermark<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
) -> jlong {
    run(&mut env, 0, |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        Ok(b.high_watermark(&topic, partition_index(partition)?)?)
    })
}

/// `static native long[] brokerOffsets(long h, String topic, int partition)`: the partition's log
/// start and log end offsets.
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerOffsets<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
    topic: JString<'l>,
    partition: jint,
) -> JLongArray<'l> {
    run(&mut env, JLongArray::default(), |env| {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let (start, end) = b.offsets(&topic, partition_index(partition)?)?;
        let arr = env.new_long_array(2)?;
        env.set_long_array_region(&arr, 0, &[start, end])?;
        Ok(arr)
    })
}

/// `static native void brokerStop(long h)`: stops listeners and connections (idempotent).
#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerStop<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) {
    run(&mut env, (), |_env| {
        broker(handle)?.stop();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_headwater_Native_brokerFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    handle: jlong,
) {
    run(&mut env, (), |_env| {
        if handle != 0 {
            // SAFETY: see `broker`; the one place that takes the box back.
            drop(unsafe { Box::from_raw(handle as *mut TestBroker) });
        }
        Ok(())
    })
}
