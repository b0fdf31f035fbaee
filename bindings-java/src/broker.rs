//! `io.headwater.TestBroker`'s native half: the embedded broker of core.

use std::time::Duration;

use headwater::error::{check_range, MAX_COUNT};
use headwater::runtime::block_on;
use headwater::{BrokerConfig, TestBroker};
use jni::objects::{JIntArray, JLongArray, JObject, JObjectArray, JString, JValue};
use jni::sys::{jint, jlong};

use crate::{
    free, from_handle, into_handle, new_int_array, new_long_array, new_object_array,
    new_string_array, opt_string, options, string, string_pairs, topic_config,
};

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

fn broker<'a>(handle: jlong) -> crate::R<&'a TestBroker> {
    from_handle(handle, "broker")
}

natives! {
    /// `static native long brokerStart(int spus, String dataDir)` (`dataDir` null = in memory): the
    /// same options as `brokerStartWith`, through the same parser (so `spus` is checked the same
    /// way).
    fn Java_io_headwater_Native_brokerStart(env, spus: jint, data_dir: JString<'l>) -> jlong {
        let mut pairs = vec![("spus".to_string(), spus.to_string())];
        if let Some(dir) = opt_string(env, &data_dir)? {
            pairs.push(("data_dir".to_string(), dir));
        }
        let cfg = BrokerConfig::from_options(options(&pairs))?;
        Ok(into_handle(TestBroker::start_blocking(cfg)?))
    }

    /// `static native long brokerStartWith(String[] keys, String[] values)`: a broker from string
    /// options (`spus`, `dataDir`, `sync`, `tlsCert`, `tlsKey`, `tlsClientCa`), parsed by core.
    fn Java_io_headwater_Native_brokerStartWith(
        env,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) -> jlong {
        let pairs = string_pairs(env, &keys, &values, "broker option")?;
        let cfg = BrokerConfig::from_options(options(&pairs))?;
        Ok(into_handle(TestBroker::start_blocking(cfg)?))
    }

    fn Java_io_headwater_Native_brokerEndpoint(env, handle: jlong) -> JString<'l> {
        Ok(env.new_string(broker(handle)?.endpoint())?)
    }

    /// `static native void brokerCreateTopic(long h, String name, String[] keys, String[] values)`:
    /// a topic from string options (`partitions`, `replication`, `compression`, `retentionSecs`,
    /// `segmentSize`, `maxPartitionSize`), parsed and checked by core.
    fn Java_io_headwater_Native_brokerCreateTopic(
        env,
        handle: jlong,
        name: JString<'l>,
        keys: JObjectArray<'l>,
        values: JObjectArray<'l>,
    ) {
        let b = broker(handle)?;
        let name = string(env, &name, "topic")?;
        Ok(b.create_topic_with(&name, topic_config(env, &keys, &values)?)?)
    }

    fn Java_io_headwater_Native_brokerDeleteTopic(env, handle: jlong, name: JString<'l>) {
        let b = broker(handle)?;
        Ok(b.delete_topic(&string(env, &name, "topic")?)?)
    }

    /// `static native String[] brokerTopics(long h)`: the topics, system topics left out.
    fn Java_io_headwater_Native_brokerTopics(env, handle: jlong) -> JObjectArray<'l> {
        let topics = broker(handle)?.topics();
        new_string_array(env, topics.iter().map(|t| Some(t.as_str())))
    }

    /// `static native StoredRecord[] brokerRecords(long h, String topic, int partition, long
    /// fromOffset)`
    fn Java_io_headwater_Native_brokerRecords(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
        from_offset: jlong,
    ) -> JObjectArray<'l> {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let records = b.records(&topic, partition_index(partition)?, from_offset)?;
        new_object_array(env, "io/headwater/StoredRecord", &records, |env, cls, r| {
            let key = match &r.key {
                Some(k) => JObject::from(env.byte_array_from_slice(k)?),
                None => JObject::null(),
            };
            let value = JObject::from(env.byte_array_from_slice(&r.value)?);
            Ok(env.new_object(
                cls,
                "(J[B[BJIJ)V",
                &[
                    JValue::Long(r.offset),
                    JValue::Object(&key),
                    JValue::Object(&value),
                    JValue::Long(r.timestamp),
                    JValue::Int(r.compression.id() as jint),
                    JValue::Long(r.batch_base_offset),
                ],
            )?)
        })
    }

    /// `static native StoredBatch[] brokerBatches(long h, String topic, int partition)`
    fn Java_io_headwater_Native_brokerBatches(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
    ) -> JObjectArray<'l> {
        let b = broker(handle)?;
        let topic = string(env, &topic, "topic")?;
        let batches = b.batches(&topic, partition_index(partition)?)?;
        new_object_array(env, "io/headwater/StoredBatch", &batches, |env, cls, info| {
            Ok(env.new_object(
                cls,
                "(JJIJJ)V",
                &[
                    JValue::Long(info.base_offset),
                    JValue::Long(info.record_count),
                    JValue::Int(info.compression.id() as jint),
                    JValue::Long(info.size_bytes as jlong),
                    JValue::Long(info.first_timestamp),
                ],
            )?)
        })
    }

    /// `static native void brokerPause(long h, boolean paused)`: holds (or releases) produce
    /// requests on every SPU.
    fn Java_io_headwater_Native_brokerPause(_env, handle: jlong, paused: u8) {
        let b = broker(handle)?;
        if paused != 0 {
            b.pause()
        } else {
            b.resume()
        }
        Ok(())
    }

    /// `static native void brokerFailNext(long h, int apiKey, int count, int code)`: fault
    /// injection.
    fn Java_io_headwater_Native_brokerFailNext(
        _env,
        handle: jlong,
        api_key: jint,
        count: jint,
        code: jint,
    ) {
        let code = check_range("code", code.into(), i16::MIN.into(), i16::MAX.into())? as i16;
        broker(handle)?.fail_next(self::api_key(api_key)?, self::count(count)?, code);
        Ok(())
    }

    /// `static native void brokerDropNext(long h, int apiKey, int count)`: the next `count`
    /// requests of `apiKey` close their connection unanswered.
    fn Java_io_headwater_Native_brokerDropNext(_env, handle: jlong, api_key: jint, count: jint) {
        broker(handle)?.drop_next(self::api_key(api_key)?, self::count(count)?);
        Ok(())
    }

    /// `static native void brokerDelay(long h, int apiKey, long nanos)`: delays every request of
    /// `apiKey`; 0 clears, a negative delay is `INVALID_ARGUMENT`.
    fn Java_io_headwater_Native_brokerDelay(_env, handle: jlong, api_key: jint, nanos: jlong) {
        let nanos = check_range("delay_nanos", nanos, 0, jlong::MAX)?;
        let d = (nanos > 0).then(|| Duration::from_nanos(nanos as u64));
        broker(handle)?.delay(self::api_key(api_key)?, d);
        Ok(())
    }

    /// `static native void brokerPauseSpu(long h, int spuId, boolean paused)`: holds (or releases)
    /// produce requests on one SPU.
    fn Java_io_headwater_Native_brokerPauseSpu(_env, handle: jlong, spu_id: jint, paused: u8) {
        let b = broker(handle)?;
        let r = if paused != 0 { b.pause_spu(spu_id) } else { b.resume_spu(spu_id) };
        Ok(r?)
    }

    /// `static native void brokerStopSpu(long h, int spuId, boolean stop)`: stops an SPU (listener
    /// and connections), or starts a stopped one again on the same port.
    fn Java_io_headwater_Native_brokerStopSpu(_env, handle: jlong, spu_id: jint, stop: u8) {
        let b = broker(handle)?;
        let r = if stop != 0 {
            block_on(b.stop_spu(spu_id))
        } else {
            block_on(b.start_spu(spu_id))
        };
        Ok(r?)
    }

    /// `static native int[] brokerSpuIds(long h)`
    fn Java_io_headwater_Native_brokerSpuIds(env, handle: jlong) -> JIntArray<'l> {
        new_int_array(env, &broker(handle)?.spu_ids())
    }

    /// `static native long[] brokerStats(long h)`: core's `BrokerStats` in declaration order
    /// (`produce_requests`, `batches_appended`, `records_appended`, `bytes_appended`, `fsyncs`,
    /// `segments_deleted`, `truncated_bytes`, `connections`, `connections_total`,
    /// `rejected_frames`, `fetch_responses`), as `BrokerStats.fromArray` reads them.
    fn Java_io_headwater_Native_brokerStats(env, handle: jlong) -> JLongArray<'l> {
        let v = broker(handle)?.stats().fields().iter().map(|&(_, x)| x as jlong).collect::<Vec<_>>();
        new_long_array(env, &v)
    }

    /// `static native int brokerLeader(long h, String topic, int partition)`: the SPU leading a
    /// partition.
    fn Java_io_headwater_Native_brokerLeader(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
    ) -> jint {
        let b = broker(handle)?;
        Ok(b.leader(&string(env, &topic, "topic")?, partition_index(partition)?)?)
    }

    /// `static native int[] brokerReplicas(long h, String topic, int partition)`: the SPUs holding
    /// a partition's replicas (leader first at creation).
    fn Java_io_headwater_Native_brokerReplicas(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
    ) -> JIntArray<'l> {
        let b = broker(handle)?;
        let ids = b.replicas(&string(env, &topic, "topic")?, partition_index(partition)?)?;
        new_int_array(env, &ids)
    }

    /// `static native long brokerHighWatermark(long h, String topic, int partition)`.
    fn Java_io_headwater_Native_brokerHighWatermark(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
    ) -> jlong {
        let b = broker(handle)?;
        Ok(b.high_watermark(&string(env, &topic, "topic")?, partition_index(partition)?)?)
    }

    /// `static native long[] brokerOffsets(long h, String topic, int partition)`: the partition's
    /// log start and log end offsets.
    fn Java_io_headwater_Native_brokerOffsets(
        env,
        handle: jlong,
        topic: JString<'l>,
        partition: jint,
    ) -> JLongArray<'l> {
        let b = broker(handle)?;
        let (start, end) = b.offsets(&string(env, &topic, "topic")?, partition_index(partition)?)?;
        new_long_array(env, &[start, end])
    }

    /// `static native void brokerStop(long h)`: stops listeners and connections (idempotent).
    fn Java_io_headwater_Native_brokerStop(_env, handle: jlong) {
        broker(handle)?.stop();
        Ok(())
    }

    fn Java_io_headwater_Native_brokerFree(_env, handle: jlong) {
        drop(free::<TestBroker>(handle));
        Ok(())
    }
}
