//! `TestBroker` (the embedded broker) and `Admin`: argument conversion around core.

use std::sync::Arc;

use headwater::error::MAX_COUNT;
use napi::bindgen_prelude::{Buffer, Either, FromNapiValue, Null, ToNapiValue, Unknown};
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

use crate::js::{self, napi_call, Res};
use crate::rt;

fn raw(v: &Option<Unknown<'_>>) -> Option<js::Value> {
    v.as_ref().map(|v| v.raw())
}

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

/// The broker's counters (`stats()`).
#[napi(object)]
pub struct BrokerStats {
    pub produce_requests: i64,
    pub batches_appended: i64,
    pub records_appended: i64,
    pub bytes_appended: i64,
    pub fsyncs: i64,
    pub segments_deleted: i64,
    pub truncated_bytes: i64,
    /// Open client connections.
    pub connections: i64,
    pub connections_total: i64,
    /// Request frames refused (too large, undecodable).
    pub rejected_frames: i64,
    pub fetch_responses: i64,
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

/// `TopicOptions` through core's one parser (`TopicConfig::from_options`): the same checks and
/// messages as every language.
fn topic_config(env: js::Env, opts: Option<js::Value>) -> Res<headwater::TopicConfig> {
    let o = js::string_options(env, opts, "options")?;
    Ok(headwater::TopicConfig::from_options(js::pairs(&o))?)
}

/// `(name, options?)` of `createTopic`.
fn create_args(
    env: js::Env,
    name: &Option<Unknown>,
    options: &Option<Unknown>,
) -> Res<(String, headwater::TopicConfig)> {
    let name = js::get_string(env, raw(name), "name")?;
    Ok((name, topic_config(env, raw(options))?))
}

/// A topic and a partition index.
fn topic_partition(
    env: js::Env,
    topic: &Option<Unknown>,
    partition: &Option<Unknown>,
) -> Res<(String, u32)> {
    let topic = js::get_string(env, raw(topic), "topic")?;
    let p = js::get_int(env, raw(partition), "partition", 0, MAX_COUNT)?;
    Ok((topic, p as u32))
}

/// An SPU id (unknown ids are core's `INVALID_ARGUMENT`).
fn spu_id(env: js::Env, id: &Option<Unknown>) -> Res<i32> {
    let id = js::get_int(env, raw(id), "id", i32::MIN.into(), i32::MAX.into())?;
    Ok(id as i32)
}

/// A Fluvio API key.
fn api_key(env: js::Env, v: &Option<Unknown>) -> Res<u16> {
    Ok(js::get_int(env, raw(v), "apiKey", 0, u16::MAX.into())? as u16)
}

/// A request count of the fault injection.
fn count(env: js::Env, v: &Option<Unknown>) -> Res<u32> {
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
    pub fn start(env: Env, options: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let o = js::string_options(env, raw(&options), "options")?;
            let cfg = headwater::BrokerConfig::from_options(js::pairs(&o))?;
            rt::run_blocking(
                env,
                move || headwater::TestBroker::start_blocking(cfg),
                |env, b| {
                    let b = TestBroker { inner: Arc::new(b) };
                    Ok(unsafe { TestBroker::to_napi_value(env, b) }?)
                },
            )
        })
    }

    /// The SC endpoint (`127.0.0.1:PORT`) clients connect to.
    #[napi(getter)]
    pub fn endpoint(&self, env: Env) -> Result<String> {
        rt::sync(env.raw(), || Ok(self.inner.endpoint()))
    }

    /// Ids of the SPUs.
    #[napi]
    pub fn spu_ids(&self, env: Env) -> Result<Vec<i32>> {
        rt::sync(env.raw(), || Ok(self.inner.spu_ids()))
    }

    /// Creates a topic (`partitions` default 1; `compression` is the topic's policy, default any).
    /// Bad options reject with `INVALID_ARGUMENT`; the broker's refusals with `BROKER` and the Fluvio
    /// code (2002: the topic exists), as through `Admin`.
    #[napi(
        ts_args_type = "name: string, options?: TopicOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(
        &self,
        env: Env,
        name: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let (name, cfg) = create_args(env, &name, &options)?;
            self.inner.create_topic_with(&name, cfg)?;
            Ok(rt::resolved(env, js::undefined(env)?)?)
        })
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            self.inner
                .delete_topic(&js::get_string(env, raw(&name), "name")?)?;
            Ok(rt::resolved(env, js::undefined(env)?)?)
        })
    }

    /// Names of the (non-system) topics.
    #[napi]
    pub fn topics(&self, env: Env) -> Result<Vec<String>> {
        rt::sync(env.raw(), || Ok(self.inner.topics()))
    }

    /// What the broker stores for a partition, from `fromOffset` (default 0) on.
    #[napi(ts_args_type = "topic: string, partition: number, fromOffset?: number")]
    pub fn records(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
        from_offset: Option<Unknown>,
    ) -> Result<Vec<StoredRecord>> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            let from = match js::some(env, raw(&from_offset))? {
                None => 0,
                v => js::get_int(env, v, "fromOffset", 0, i64::MAX)?,
            };
            let recs = self.inner.records(&topic, partition, from)?;
            Ok(recs
                .into_iter()
                .map(|r| StoredRecord {
                    offset: r.offset,
                    key: match r.key {
                        Some(k) => Either::A(k.into()),
                        None => Either::B(Null),
                    },
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
    pub fn batches(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<Vec<StoredBatch>> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            let b = self.inner.batches(&topic, partition)?;
            Ok(b.into_iter()
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
    pub fn offsets(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            let (start, end) = self.inner.offsets(&topic, partition)?;
            let mut o = std::ptr::null_mut();
            napi_call!(napi_create_object(env, &mut o))?;
            for (name, v) in [(c"start", start), (c"end", end)] {
                let v = js::number(env, v as f64)?;
                napi_call!(napi_set_named_property(env, o, name.as_ptr(), v))?;
            }
            Ok(o)
        })
    }

    /// Holds every produce request (all SPUs) until `resume()`: for back-pressure tests.
    #[napi]
    pub fn pause(&self, env: Env) -> Result<()> {
        rt::sync(env.raw(), || {
            self.inner.pause();
            Ok(())
        })
    }

    #[napi]
    pub fn resume(&self, env: Env) -> Result<()> {
        rt::sync(env.raw(), || {
            self.inner.resume();
            Ok(())
        })
    }

    /// Holds produce requests on SPU `id` until `resumeSpu(id)`.
    #[napi(ts_args_type = "id: number")]
    pub fn pause_spu(&self, env: Env, id: Option<Unknown>) -> Result<()> {
        let env = env.raw();
        rt::sync(env, || Ok(self.inner.pause_spu(spu_id(env, &id)?)?))
    }

    #[napi(ts_args_type = "id: number")]
    pub fn resume_spu(&self, env: Env, id: Option<Unknown>) -> Result<()> {
        let env = env.raw();
        rt::sync(env, || Ok(self.inner.resume_spu(spu_id(env, &id)?)?))
    }

    /// Stops SPU `id`: its listener and connections close; partitions it led fail over to an
    /// in-sync follower, or wait offline until `startSpu(id)`.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn stop_spu(&self, env: Env, id: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let (id, b) = (spu_id(env, &id)?, self.inner.clone());
            void_blocking(env, move || headwater::runtime::block_on(b.stop_spu(id)))
        })
    }

    /// Starts a stopped SPU again on the same port.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn start_spu(&self, env: Env, id: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let (id, b) = (spu_id(env, &id)?, self.inner.clone());
            void_blocking(env, move || headwater::runtime::block_on(b.start_spu(id)))
        })
    }

    /// The next `count` requests of Fluvio API `apiKey` (0 = Produce) are answered with Fluvio
    /// error `code`; `count` 0 clears.
    #[napi(ts_args_type = "apiKey: number, count: number, code: number")]
    pub fn fail_next(
        &self,
        env: Env,
        api_key: Option<Unknown>,
        count: Option<Unknown>,
        code: Option<Unknown>,
    ) -> Result<()> {
        let env = env.raw();
        rt::sync(env, || {
            let (k, n) = (self::api_key(env, &api_key)?, self::count(env, &count)?);
            let code = js::get_int(env, raw(&code), "code", i16::MIN.into(), i16::MAX.into())?;
            self.inner.fail_next(k, n, code as i16);
            Ok(())
        })
    }

    /// The next `count` requests of Fluvio API `apiKey` have their connection closed instead of
    /// an answer; `count` 0 clears.
    #[napi(ts_args_type = "apiKey: number, count: number")]
    pub fn drop_next(
        &self,
        env: Env,
        api_key: Option<Unknown>,
        count: Option<Unknown>,
    ) -> Result<()> {
        let env = env.raw();
        rt::sync(env, || {
            let (k, n) = (self::api_key(env, &api_key)?, self::count(env, &count)?);
            self.inner.drop_next(k, n);
            Ok(())
        })
    }

    /// Every request of Fluvio API `apiKey` waits `ms` milliseconds before it is served; `null`
    /// (or no `ms`) clears the delay.
    #[napi(ts_args_type = "apiKey: number, ms?: number | null")]
    pub fn delay(&self, env: Env, api_key: Option<Unknown>, ms: Option<Unknown>) -> Result<()> {
        let env = env.raw();
        rt::sync(env, || {
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
    pub fn leader(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<i32> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            Ok(self.inner.leader(&topic, partition)?)
        })
    }

    /// The SPUs holding a partition's replicas (leader first at creation).
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn replicas(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<Vec<i32>> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            Ok(self.inner.replicas(&topic, partition)?)
        })
    }

    /// The offset below which every in-sync replica has the partition's records.
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn high_watermark(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<i64> {
        let env = env.raw();
        rt::sync(env, || {
            let (topic, partition) = topic_partition(env, &topic, &partition)?;
            Ok(self.inner.high_watermark(&topic, partition)?)
        })
    }

    /// Broker counters.
    #[napi]
    pub fn stats(&self, env: Env) -> Result<BrokerStats> {
        rt::sync(env.raw(), || {
            let s = self.inner.stats();
            Ok(BrokerStats {
                produce_requests: s.produce_requests as i64,
                batches_appended: s.batches_appended as i64,
                records_appended: s.records_appended as i64,
                bytes_appended: s.bytes_appended as i64,
                fsyncs: s.fsyncs as i64,
                segments_deleted: s.segments_deleted as i64,
                truncated_bytes: s.truncated_bytes as i64,
                connections: s.connections as i64,
                connections_total: s.connections_total as i64,
                rejected_frames: s.rejected_frames as i64,
                fetch_responses: s.fetch_responses as i64,
            })
        })
    }

    /// Stops every listener and connection. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self, env: Env) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let b = self.inner.clone();
            void_blocking(env, move || {
                b.stop();
                Ok(())
            })
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
    pub fn connect(
        env: Env,
        endpoint: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let endpoint = js::get_string(env, raw(&endpoint), "endpoint")?;
            let mut tls = headwater::TlsConfig::default();
            for (k, v) in js::string_options(env, raw(&options), "options")? {
                tls.set(&k, &v)?;
            }
            rt::run_blocking(
                env,
                move || {
                    headwater::runtime::block_on(headwater::Admin::connect_with(&endpoint, &tls))
                },
                |env, a| Ok(unsafe { Admin::to_napi_value(env, Admin { inner: a }) }?),
            )
        })
    }

    /// Creates a topic: the options, checks and outcomes of `TestBroker.createTopic`.
    #[napi(
        ts_args_type = "name: string, options?: TopicOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(
        &self,
        env: Env,
        name: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let (name, cfg) = create_args(env, &name, &options)?;
            let a = self.inner.clone();
            void_blocking(env, move || {
                headwater::runtime::block_on(a.create_topic(&name, cfg))
            })
        })
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let name = js::get_string(env, raw(&name), "name")?;
            let a = self.inner.clone();
            void_blocking(env, move || {
                headwater::runtime::block_on(a.delete_topic(&name))
            })
        })
    }

    #[napi(ts_return_type = "Promise<TopicInfo[]>")]
    pub fn list_topics(&self, env: Env) -> Result<sys::napi_value> {
        let env = env.raw();
        rt::promising(env, || {
            let a = self.inner.clone();
            rt::run_blocking(
                env,
                move || headwater::runtime::block_on(a.list_topics()),
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
        })
    }
}

/// A `Promise<void>` of blocking core work.
fn void_blocking(
    env: js::Env,
    work: impl FnOnce() -> headwater::Result<()> + Send + 'static,
) -> Res<sys::napi_value> {
    rt::run_blocking(env, work, |env, ()| Ok(js::undefined(env)?))
}
