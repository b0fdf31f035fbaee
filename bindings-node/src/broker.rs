//! `TestBroker` (the embedded broker) and `Admin`: argument conversion around core.

use std::sync::Arc;

use headwater::error::MAX_COUNT;
use headwater::runtime::block_on;
use napi::bindgen_prelude::{Buffer, Either, FromNapiValue, Null, Object, ToNapiValue};
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

use crate::js::{self, raw, Arg, Res, Value};
use crate::rt;

/// A record as the broker stores it.
#[napi(object)]
pub struct StoredRecord {
    pub offset: i64,
    /// `null` = the record has no key.
    #[napi(ts_type = "Buffer | null")]
    pub key: Either<Buffer, Null>,
    pub value: Buffer,
    pub timestamp: i64,
    /// The codec of the batch that carried it: none, gzip, snappy, lz4 or zstd.
    pub compression: String,
    pub batch_base_offset: i64,
}

/// A stored batch's header facts.
#[napi(object)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub record_count: i64,
    pub compression: String,
    pub size_bytes: i64,
    pub first_timestamp: i64,
}

js::counters! {
    #[doc = " The broker's counters (`stats()`)."]
    BrokerStats from headwater::broker::BrokerStats {
        produce_requests,
        batches_appended,
        records_appended,
        bytes_appended,
        fsyncs,
        segments_deleted,
        truncated_bytes,
        #[doc = " Open client connections."]
        connections,
        connections_total,
        #[doc = " Request frames refused (too large, undecodable)."]
        rejected_frames,
        fetch_responses,
    }
}

/// A topic as listed by `Admin.listTopics()`.
#[napi(object)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: u32,
    pub replication: u32,
    pub compression: String,
    pub retention_secs: Option<u32>,
    pub status: String,
}

/// `(name, options?)` of `createTopic`: `TopicOptions` through core's one parser
/// (`TopicConfig::from_options`), the same checks and messages as every language.
fn create_args(env: js::Env, name: &Arg, options: &Arg) -> Res<(String, headwater::TopicConfig)> {
    let name = js::get_string(env, raw(name), "name")?;
    let o = js::string_options(env, raw(options), "options")?;
    Ok((name, headwater::TopicConfig::from_options(js::pairs(&o))?))
}

/// An SPU id (unknown ids are core's `INVALID_ARGUMENT`).
fn spu_id(env: js::Env, id: &Arg) -> Res<i32> {
    Ok(js::get_int(env, raw(id), "id", i32::MIN.into(), i32::MAX.into())? as i32)
}

/// A Fluvio API key.
fn api_key(env: js::Env, v: &Arg) -> Res<u16> {
    Ok(js::get_int(env, raw(v), "apiKey", 0, u16::MAX.into())? as u16)
}

/// A request count of the fault injection.
fn count(env: js::Env, v: &Arg) -> Res<u32> {
    Ok(js::get_int(env, raw(v), "count", 0, u32::MAX.into())? as u32)
}

/// An embedded Fluvio-protocol broker (an SC and SPUs on loopback ports), for tests and demos.
#[napi]
pub struct TestBroker {
    inner: Arc<headwater::TestBroker>,
}

#[napi]
impl TestBroker {
    /// Starts a broker. Options are core's broker options (`spus`, `dataDir`, `sync`, `tlsCert`,
    /// `tlsKey`, `tlsClientCa`); a bad one rejects with a `CONFIG` error naming it.
    #[napi(
        ts_args_type = "options?: BrokerOptions | null",
        ts_return_type = "Promise<TestBroker>"
    )]
    pub fn start(env: Env, options: Arg) -> Result<Value> {
        let args = |env| {
            let o = js::string_options(env, raw(&options), "options")?;
            let cfg = headwater::BrokerConfig::from_options(js::pairs(&o))?;
            Ok(move || headwater::TestBroker::start_blocking(cfg))
        };
        rt::blocking(env, args, |env, b| {
            let b = TestBroker { inner: Arc::new(b) };
            Ok(unsafe { TestBroker::to_napi_value(env, b) }?)
        })
    }

    /// The SC endpoint (`127.0.0.1:PORT`) clients connect to.
    #[napi(getter)]
    pub fn endpoint(&self, env: Env) -> Result<String> {
        rt::sync_in(env, |_| Ok(self.inner.endpoint()))
    }

    /// Ids of the SPUs.
    #[napi]
    pub fn spu_ids(&self, env: Env) -> Result<Vec<i32>> {
        rt::sync_in(env, |_| Ok(self.inner.spu_ids()))
    }

    /// Creates a topic (`partitions` default 1; `compression` is the topic's policy, default any).
    /// Bad options reject with `INVALID_ARGUMENT`; the broker's refusals with `BROKER` and the Fluvio
    /// code (2002: the topic exists), as through `Admin`.
    #[napi(
        ts_args_type = "name: string, options?: TopicOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(&self, env: Env, name: Arg, options: Arg) -> Result<Value> {
        rt::settled(env, |env| {
            let (name, cfg) = create_args(env, &name, &options)?;
            Ok(self.inner.create_topic_with(&name, cfg)?)
        })
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Arg) -> Result<Value> {
        rt::settled(env, |env| {
            Ok(self
                .inner
                .delete_topic(&js::get_string(env, raw(&name), "name")?)?)
        })
    }

    /// Names of the (non-system) topics.
    #[napi]
    pub fn topics(&self, env: Env) -> Result<Vec<String>> {
        rt::sync_in(env, |_| Ok(self.inner.topics()))
    }

    /// What the broker stores for a partition, from `fromOffset` (default 0) on.
    #[napi(ts_args_type = "topic: string, partition: number, fromOffset?: number")]
    pub fn records(
        &self,
        env: Env,
        topic: Arg,
        partition: Arg,
        from_offset: Arg,
    ) -> Result<Vec<StoredRecord>> {
        self.at(env, &topic, &partition, |env, b, topic, partition| {
            let from = match js::some(env, raw(&from_offset))? {
                None => 0,
                v => js::get_int(env, v, "fromOffset", 0, i64::MAX)?,
            };
            let recs = b.records(topic, partition, from)?;
            Ok(recs
                .into_iter()
                .map(|r| StoredRecord {
                    offset: r.offset,
                    key: r.key.map_or(Either::B(Null), |k| Either::A(k.into())),
                    value: r.value.into(),
                    timestamp: r.timestamp,
                    compression: r.compression.name().to_string(),
                    batch_base_offset: r.batch_base_offset,
                })
                .collect())
        })
    }

    /// The stored batches of a partition (header facts only).
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn batches(&self, env: Env, topic: Arg, partition: Arg) -> Result<Vec<StoredBatch>> {
        self.at(env, &topic, &partition, |_, b, t, p| {
            Ok(b.batches(t, p)?
                .into_iter()
                .map(|b| StoredBatch {
                    base_offset: b.base_offset,
                    record_count: b.record_count,
                    compression: b.compression.name().to_string(),
                    size_bytes: b.size_bytes as i64,
                    first_timestamp: b.first_timestamp,
                })
                .collect())
        })
    }

    /// The partition's log start and end offsets: `{ start, end }`.
    #[napi(
        ts_args_type = "topic: string, partition: number",
        ts_return_type = "{ start: number; end: number }"
    )]
    pub fn offsets(&self, env: Env, topic: Arg, partition: Arg) -> Result<Value> {
        self.at(env, &topic, &partition, |env, b, t, p| {
            let (start, end) = b.offsets(t, p)?;
            let mut o = Object::new(&Env::from_raw(env))?;
            o.set("start", start as f64)?;
            o.set("end", end as f64)?;
            Ok(o.raw())
        })
    }

    /// Holds every produce request (all SPUs) until `resume()`: for back-pressure tests.
    #[napi]
    pub fn pause(&self, env: Env) -> Result<()> {
        rt::sync_in(env, |_| {
            self.inner.pause();
            Ok(())
        })
    }

    #[napi]
    pub fn resume(&self, env: Env) -> Result<()> {
        rt::sync_in(env, |_| {
            self.inner.resume();
            Ok(())
        })
    }

    /// Holds produce requests on SPU `id` until `resumeSpu(id)`.
    #[napi(ts_args_type = "id: number")]
    pub fn pause_spu(&self, env: Env, id: Arg) -> Result<()> {
        rt::sync_in(env, |env| Ok(self.inner.pause_spu(spu_id(env, &id)?)?))
    }

    #[napi(ts_args_type = "id: number")]
    pub fn resume_spu(&self, env: Env, id: Arg) -> Result<()> {
        rt::sync_in(env, |env| Ok(self.inner.resume_spu(spu_id(env, &id)?)?))
    }

    /// Stops SPU `id`: its listener and connections close; partitions it led fail over to an
    /// in-sync follower, or wait offline until `startSpu(id)`.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn stop_spu(&self, env: Env, id: Arg) -> Result<Value> {
        let b = self.inner.clone();
        let args = |env| spu_id(env, &id).map(|id| move || block_on(b.stop_spu(id)));
        rt::blocking(env, args, rt::void)
    }

    /// Starts a stopped SPU again on the same port.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn start_spu(&self, env: Env, id: Arg) -> Result<Value> {
        let b = self.inner.clone();
        let args = |env| spu_id(env, &id).map(|id| move || block_on(b.start_spu(id)));
        rt::blocking(env, args, rt::void)
    }

    /// The next `count` requests of Fluvio API `apiKey` (0 = Produce) are answered with Fluvio
    /// error `code`; `count` 0 clears.
    #[napi(ts_args_type = "apiKey: number, count: number, code: number")]
    pub fn fail_next(&self, env: Env, api_key: Arg, count: Arg, code: Arg) -> Result<()> {
        rt::sync_in(env, |env| {
            let (k, n) = (self::api_key(env, &api_key)?, self::count(env, &count)?);
            let code = js::get_int(env, raw(&code), "code", i16::MIN.into(), i16::MAX.into())?;
            self.inner.fail_next(k, n, code as i16);
            Ok(())
        })
    }

    /// The next `count` requests of Fluvio API `apiKey` have their connection closed instead of
    /// an answer; `count` 0 clears.
    #[napi(ts_args_type = "apiKey: number, count: number")]
    pub fn drop_next(&self, env: Env, api_key: Arg, count: Arg) -> Result<()> {
        rt::sync_in(env, |env| {
            let (k, n) = (self::api_key(env, &api_key)?, self::count(env, &count)?);
            self.inner.drop_next(k, n);
            Ok(())
        })
    }

    /// Every request of Fluvio API `apiKey` waits `ms` milliseconds before it is served; `null`
    /// (or no `ms`) clears the delay.
    #[napi(ts_args_type = "apiKey: number, ms?: number | null")]
    pub fn delay(&self, env: Env, api_key: Arg, ms: Arg) -> Result<()> {
        rt::sync_in(env, |env| {
            let k = self::api_key(env, &api_key)?;
            let d = match js::some(env, raw(&ms))? {
                None => None,
                Some(v) if js::type_of(env, v)? == sys::ValueType::napi_number => {
                    let n = unsafe { f64::from_napi_value(env, v) }?;
                    // Duration::from_secs_f64 panics on what it cannot represent.
                    if !(n.is_finite() && (0.0..=1e15).contains(&n)) {
                        return js::invalid(format!("`ms` must be in 0..=1e15, got {n}"));
                    }
                    Some(std::time::Duration::from_secs_f64(n / 1000.0))
                }
                v => {
                    let got = js::type_name(env, v);
                    return js::invalid(format!("`ms` must be a number or null, got {got}"));
                }
            };
            self.inner.delay(k, d);
            Ok(())
        })
    }

    /// The SPU that currently leads a partition.
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn leader(&self, env: Env, topic: Arg, partition: Arg) -> Result<i32> {
        self.at(env, &topic, &partition, |_, b, t, p| Ok(b.leader(t, p)?))
    }

    /// The SPUs holding a partition's replicas (leader first at creation).
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn replicas(&self, env: Env, topic: Arg, partition: Arg) -> Result<Vec<i32>> {
        self.at(env, &topic, &partition, |_, b, t, p| Ok(b.replicas(t, p)?))
    }

    /// The offset below which every in-sync replica has the partition's records.
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn high_watermark(&self, env: Env, topic: Arg, partition: Arg) -> Result<i64> {
        self.at(env, &topic, &partition, |_, b, t, p| {
            Ok(b.high_watermark(t, p)?)
        })
    }

    /// Broker counters.
    #[napi]
    pub fn stats(&self, env: Env) -> Result<BrokerStats> {
        rt::sync_in(env, |_| Ok(self.inner.stats().into()))
    }

    /// Stops every listener and connection. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self, env: Env) -> Result<Value> {
        let b = self.inner.clone();
        let stop = move || {
            b.stop();
            Ok(())
        };
        rt::blocking(env, |_| Ok(stop), rt::void)
    }
}

impl TestBroker {
    /// A method of a partition: `f(env, broker, topic, partition)` once both are read; a failure is
    /// thrown.
    fn at<T>(
        &self,
        env: Env,
        topic: &Arg,
        partition: &Arg,
        f: impl FnOnce(js::Env, &headwater::TestBroker, &str, u32) -> Res<T>,
    ) -> Result<T> {
        rt::sync_in(env, |env| {
            let topic = js::get_string(env, raw(topic), "topic")?;
            let p = js::get_int(env, raw(partition), "partition", 0, MAX_COUNT)?;
            f(env, &self.inner, &topic, p as u32)
        })
    }
}

/// Topic administration over the network.
#[napi]
pub struct Admin {
    inner: headwater::Admin,
}

#[napi]
impl Admin {
    /// Connects to the SC at `endpoint`; `options` are the TLS keys of the producer config
    /// (`tls`, `tlsCaFile`, `tlsCertFile`, `tlsKeyFile`, `tlsServerName`).
    #[napi(
        ts_args_type = "endpoint: string, options?: AdminOptions | null",
        ts_return_type = "Promise<Admin>"
    )]
    pub fn connect(env: Env, endpoint: Arg, options: Arg) -> Result<Value> {
        let args = |env| {
            let endpoint = js::get_string(env, raw(&endpoint), "endpoint")?;
            let o = js::string_options(env, raw(&options), "options")?;
            let tls = headwater::TlsConfig::from_options(js::pairs(&o))?;
            Ok(move || block_on(headwater::Admin::connect_with(&endpoint, &tls)))
        };
        rt::blocking(env, args, |env, a| {
            Ok(unsafe { Admin::to_napi_value(env, Admin { inner: a }) }?)
        })
    }

    /// Creates a topic: the options, checks and outcomes of `TestBroker.createTopic`.
    #[napi(
        ts_args_type = "name: string, options?: TopicOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(&self, env: Env, name: Arg, options: Arg) -> Result<Value> {
        let a = self.inner.clone();
        let args = |env| {
            let (name, cfg) = create_args(env, &name, &options)?;
            Ok(move || block_on(a.create_topic(&name, cfg)))
        };
        rt::blocking(env, args, rt::void)
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Arg) -> Result<Value> {
        let a = self.inner.clone();
        let args = |env| {
            let name = js::get_string(env, raw(&name), "name")?;
            Ok(move || block_on(a.delete_topic(&name)))
        };
        rt::blocking(env, args, rt::void)
    }

    #[napi(ts_return_type = "Promise<TopicInfo[]>")]
    pub fn list_topics(&self, env: Env) -> Result<Value> {
        let a = self.inner.clone();
        rt::blocking(
            env,
            |_| Ok(move || block_on(a.list_topics())),
            |env, topics| {
                let v: Vec<TopicInfo> = topics
                    .into_iter()
                    .map(|t| TopicInfo {
                        name: t.name,
                        partitions: t.partitions,
                        replication: t.replication,
                        compression: t.compression,
                        retention_secs: t.retention_secs,
                        status: t.status,
                    })
                    .collect();
                Ok(unsafe { Vec::<TopicInfo>::to_napi_value(env, v) }?)
            },
        )
    }
}
