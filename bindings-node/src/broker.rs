//! `TestBroker` (the embedded broker) and `Admin`: argument conversion around core.

use std::sync::Arc;

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsValue, Result};
use napi_derive::napi;

use crate::js::{self, TypeErr};
use crate::rt;

fn raw(v: &Unknown<'_>) -> js::Value {
    v.raw()
}

/// A record as the broker stores it.
#[napi(object)]
pub struct StoredRecord {
    pub offset: i64,
    /// `null` = the record has no key.
    #[napi(ts_type = "Buffer | null")]
    pub key:
        napi::bindgen_prelude::Either<napi::bindgen_prelude::Buffer, napi::bindgen_prelude::Null>,
    pub value: napi::bindgen_prelude::Buffer,
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

/// `{ partitions, replication?, compression?, retentionSecs? }`.
fn topic_config(
    env: js::Env,
    opts: Option<js::Value>,
) -> Result<js::Check<headwater::Result<headwater::TopicConfig>>> {
    let o = match js::get_options(env, opts, "options")? {
        Ok(o) => o,
        Err(e) => return Ok(Err(e)),
    };
    let mut cfg = headwater::TopicConfig::new(1);
    match js::opt_int(env, o, "partitions", "partitions", 0.0, u32::MAX as f64)? {
        Ok(Some(p)) => cfg.partitions = p as u32,
        Ok(None) => {}
        Err(e) => return Ok(Err(e)),
    }
    match js::opt_int(env, o, "replication", "replication", 0.0, u32::MAX as f64)? {
        Ok(Some(r)) => cfg.replication = r as u32,
        Ok(None) => {}
        Err(e) => return Ok(Err(e)),
    }
    match js::opt_int(
        env,
        o,
        "retentionSecs",
        "retentionSecs",
        0.0,
        u32::MAX as f64,
    )? {
        Ok(r) => cfg.retention_secs = r.map(|r| r as u32),
        Err(e) => return Ok(Err(e)),
    }
    match js::opt_string(env, o, "compression", "compression")? {
        Ok(Some(c)) => match headwater::protocol::sc::CompressionAlgorithm::parse(&c) {
            Some(a) => cfg.compression = Some(a),
            None => {
                return Ok(Ok(Err(headwater::Error::invalid(format!(
                    "compression must be one of any, none, gzip, snappy, lz4, zstd; got {c:?}"
                )))))
            }
        },
        Ok(None) => {}
        Err(e) => return Ok(Err(e)),
    }
    Ok(Ok(Ok(cfg)))
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
        let opts = match js::string_options(env, options.as_ref().map(raw), "options")? {
            Ok(o) => o,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let cfg = match headwater::BrokerConfig::from_options(
            opts.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ) {
            Ok(c) => c,
            Err(e) => return rt::rejected_core(env, &e),
        };
        rt::run_blocking(
            env,
            move || headwater::TestBroker::start_blocking(cfg),
            |env, b| unsafe { TestBroker::to_napi_value(env, TestBroker { inner: Arc::new(b) }) },
        )
    }

    /// The SC endpoint (`127.0.0.1:PORT`) clients connect to.
    #[napi(getter)]
    pub fn endpoint(&self) -> String {
        self.inner.endpoint()
    }

    /// Ids of the SPUs.
    #[napi(getter)]
    pub fn spu_ids(&self) -> Vec<i32> {
        self.inner.spu_ids()
    }

    /// Creates a topic (`partitions` default 1; `compression` is the topic's policy, default any).
    #[napi(
        ts_args_type = "name: string, options?: { partitions?: number; replication?: number; compression?: 'any' | 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'; retentionSecs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(
        &self,
        env: Env,
        name: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let name = match js::get_string(env, name.as_ref().map(raw), "name")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let cfg = match topic_config(env, options.as_ref().map(raw))? {
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
            Ok(Err(e)) => return rt::rejected_core(env, &e),
            Ok(Ok(c)) => c,
        };
        match self.inner.create_topic_with(&name, cfg) {
            Ok(()) => rt::resolved(env, js::undefined(env)?),
            Err(e) => rt::rejected_core(env, &e),
        }
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let name = match js::get_string(env, name.as_ref().map(raw), "name")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        match self.inner.delete_topic(&name) {
            Ok(()) => rt::resolved(env, js::undefined(env)?),
            Err(e) => rt::rejected_core(env, &e),
        }
    }

    /// Names of the (non-system) topics.
    #[napi]
    pub fn topics(&self) -> Vec<String> {
        self.inner.topics()
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
        let e = env.raw();
        let (topic, partition) = self.topic_partition(e, topic, partition)?;
        let from = match from_offset.as_ref().map(raw) {
            v if js::is_nullish(e, v)? => 0,
            Some(v) => js::get_int(e, v, "fromOffset", 0.0, 9007199254740991.0)?
                .map_err(|TypeErr(m)| js::throw_type_error(e, &m))?,
            None => 0,
        };
        let recs = self
            .inner
            .records(&topic, partition, from)
            .map_err(|err| throw_core(e, &err))?;
        Ok(recs
            .into_iter()
            .map(|r| StoredRecord {
                offset: r.offset,
                key: match r.key {
                    Some(k) => napi::bindgen_prelude::Either::A(k.into()),
                    None => napi::bindgen_prelude::Either::B(napi::bindgen_prelude::Null),
                },
                value: r.value.into(),
                timestamp: r.timestamp,
                compression: r.compression.name().to_string(),
                batch_base_offset: r.batch_base_offset,
            })
            .collect())
    }

    /// The stored batches of a partition (header facts only).
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn batches(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<Vec<StoredBatch>> {
        let e = env.raw();
        let (topic, partition) = self.topic_partition(e, topic, partition)?;
        let b = self
            .inner
            .batches(&topic, partition)
            .map_err(|err| throw_core(e, &err))?;
        Ok(b.into_iter()
            .map(|b| StoredBatch {
                base_offset: b.base_offset,
                record_count: b.record_count,
                compression: b.compression.name().to_string(),
                size_bytes: b.size_bytes as i64,
                first_timestamp: b.first_timestamp,
            })
            .collect())
    }

    fn topic_partition(
        &self,
        e: js::Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<(String, u32)> {
        let topic = js::get_string(e, topic.as_ref().map(raw), "topic")?
            .map_err(|TypeErr(m)| js::throw_type_error(e, &m))?;
        let p = match partition.as_ref().map(raw) {
            Some(v) => js::get_int(e, v, "partition", 0.0, u32::MAX as f64)?,
            None => js::type_err("partition must be an integer, got undefined"),
        }
        .map_err(|TypeErr(m)| js::throw_type_error(e, &m))?;
        Ok((topic, p as u32))
    }

    /// Holds every produce request (all SPUs) until `resume()`: for back-pressure tests.
    #[napi]
    pub fn pause(&self) {
        self.inner.pause()
    }

    #[napi]
    pub fn resume(&self) {
        self.inner.resume()
    }

    /// Holds produce requests on SPU `id` until `resumeSpu(id)`.
    #[napi(ts_args_type = "id: number")]
    pub fn pause_spu(&self, env: Env, id: Option<Unknown>) -> Result<()> {
        let e = env.raw();
        let id = spu_id(e, id.as_ref())?.map_err(|TypeErr(m)| js::throw_type_error(e, &m))?;
        self.inner.pause_spu(id).map_err(|err| throw_core(e, &err))
    }

    #[napi(ts_args_type = "id: number")]
    pub fn resume_spu(&self, env: Env, id: Option<Unknown>) -> Result<()> {
        let e = env.raw();
        let id = spu_id(e, id.as_ref())?.map_err(|TypeErr(m)| js::throw_type_error(e, &m))?;
        self.inner.resume_spu(id).map_err(|err| throw_core(e, &err))
    }

    /// Stops SPU `id`: its listener and connections close; partitions it led fail over to an
    /// in-sync follower, or wait offline until `startSpu(id)`.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn stop_spu(&self, env: Env, id: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let id = match spu_id(env, id.as_ref())? {
            Ok(i) => i,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let b = self.inner.clone();
        rt::run_blocking(
            env,
            move || headwater::runtime::block_on(b.stop_spu(id)),
            |env, ()| js::undefined(env),
        )
    }

    /// Starts a stopped SPU again on the same port.
    #[napi(ts_args_type = "id: number", ts_return_type = "Promise<void>")]
    pub fn start_spu(&self, env: Env, id: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let id = match spu_id(env, id.as_ref())? {
            Ok(i) => i,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let b = self.inner.clone();
        rt::run_blocking(
            env,
            move || headwater::runtime::block_on(b.start_spu(id)),
            |env, ()| js::undefined(env),
        )
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
        let e = env.raw();
        let api_key = int_arg(e, api_key.as_ref(), "apiKey", 0.0, u16::MAX as f64)?;
        let count = int_arg(e, count.as_ref(), "count", 0.0, u32::MAX as f64)?;
        let code = int_arg(e, code.as_ref(), "code", i16::MIN as f64, i16::MAX as f64)?;
        self.inner
            .fail_next(api_key as u16, count as u32, code as i16);
        Ok(())
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
        let e = env.raw();
        let api_key = int_arg(e, api_key.as_ref(), "apiKey", 0.0, u16::MAX as f64)?;
        let count = int_arg(e, count.as_ref(), "count", 0.0, u32::MAX as f64)?;
        self.inner.drop_next(api_key as u16, count as u32);
        Ok(())
    }

    /// Every request of Fluvio API `apiKey` waits `ms` milliseconds before it is served; `null`
    /// (or no `ms`) clears the delay.
    #[napi(ts_args_type = "apiKey: number, ms?: number | null")]
    pub fn delay(&self, env: Env, api_key: Option<Unknown>, ms: Option<Unknown>) -> Result<()> {
        let e = env.raw();
        let api_key = int_arg(e, api_key.as_ref(), "apiKey", 0.0, u16::MAX as f64)?;
        let d = match ms.as_ref().map(raw) {
            v if js::is_nullish(e, v)? => None,
            Some(v) => {
                if js::type_of(e, v)? != sys::ValueType::napi_number {
                    let m = format!("ms must be a number or null, got {}", js::type_name(e, v));
                    return Err(js::throw_type_error(e, &m));
                }
                let n = js::get_f64(e, v)?;
                // Duration::from_secs_f64 panics on what it cannot represent.
                if !(n.is_finite() && (0.0..=1e15).contains(&n)) {
                    let m = format!("ms must be a number of milliseconds from 0 to 1e15, got {n}");
                    return Err(js::throw_type_error(e, &m));
                }
                Some(std::time::Duration::from_secs_f64(n / 1000.0))
            }
            None => None,
        };
        self.inner.delay(api_key as u16, d);
        Ok(())
    }

    /// The SPU that currently leads a partition.
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn leader(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<i32> {
        let e = env.raw();
        let (topic, partition) = self.topic_partition(e, topic, partition)?;
        self.inner
            .leader(&topic, partition)
            .map_err(|err| throw_core(e, &err))
    }

    /// The SPUs holding a partition's replicas (leader first at creation).
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn replicas(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<Vec<i32>> {
        let e = env.raw();
        let (topic, partition) = self.topic_partition(e, topic, partition)?;
        self.inner
            .replicas(&topic, partition)
            .map_err(|err| throw_core(e, &err))
    }

    /// The offset below which every in-sync replica has the partition's records.
    #[napi(ts_args_type = "topic: string, partition: number")]
    pub fn high_watermark(
        &self,
        env: Env,
        topic: Option<Unknown>,
        partition: Option<Unknown>,
    ) -> Result<i64> {
        let e = env.raw();
        let (topic, partition) = self.topic_partition(e, topic, partition)?;
        self.inner
            .high_watermark(&topic, partition)
            .map_err(|err| throw_core(e, &err))
    }

    /// Broker counters.
    #[napi]
    pub fn stats(&self) -> BrokerStats {
        let s = self.inner.stats();
        BrokerStats {
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
        }
    }

    /// Stops every listener and connection. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self, env: Env) -> Result<sys::napi_value> {
        let env = env.raw();
        let b = self.inner.clone();
        rt::run_blocking(
            env,
            move || {
                b.stop();
                Ok(())
            },
            |env, ()| js::undefined(env),
        )
    }
}

fn throw_core(env: js::Env, e: &headwater::Error) -> napi::Error {
    let v = rt::error_value(env, e);
    unsafe { sys::napi_throw(env, v) };
    js::pending()
}

/// An integer argument of a synchronous method; a bad one throws a `TypeError`.
fn int_arg(e: js::Env, v: Option<&Unknown>, what: &str, min: f64, max: f64) -> Result<i64> {
    match v.map(raw) {
        Some(v) => js::get_int(e, v, what, min, max)?,
        None => js::type_err(format!("{what} must be an integer, got undefined")),
    }
    .map_err(|TypeErr(m)| js::throw_type_error(e, &m))
}

/// An SPU id (unknown ids are core's `INVALID_ARGUMENT`).
fn spu_id(e: js::Env, v: Option<&Unknown>) -> Result<js::Check<i32>> {
    Ok(match v.map(raw) {
        Some(v) => js::get_int(e, v, "id", i32::MIN as f64, i32::MAX as f64)?.map(|i| i as i32),
        None => js::type_err("id must be an integer, got undefined"),
    })
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
        let endpoint = match js::get_string(env, endpoint.as_ref().map(raw), "endpoint")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let opts = match js::string_options(env, options.as_ref().map(raw), "options")? {
            Ok(o) => o,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let mut tls = headwater::TlsConfig::default();
        for (k, v) in &opts {
            if let Err(e) = tls.set(k, v) {
                return rt::rejected_core(env, &e);
            }
        }
        rt::run_blocking(
            env,
            move || headwater::runtime::block_on(headwater::Admin::connect_with(&endpoint, &tls)),
            |env, a| unsafe { Admin::to_napi_value(env, Admin { inner: a }) },
        )
    }

    #[napi(
        ts_args_type = "name: string, options?: { partitions?: number; replication?: number; compression?: 'any' | 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'; retentionSecs?: number } | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn create_topic(
        &self,
        env: Env,
        name: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<sys::napi_value> {
        let env = env.raw();
        let name = match js::get_string(env, name.as_ref().map(raw), "name")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let cfg = match topic_config(env, options.as_ref().map(raw))? {
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
            Ok(Err(e)) => return rt::rejected_core(env, &e),
            Ok(Ok(c)) => c,
        };
        let a = self.inner.clone();
        rt::run_blocking(
            env,
            move || headwater::runtime::block_on(a.create_topic(&name, cfg)),
            |env, ()| js::undefined(env),
        )
    }

    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<void>")]
    pub fn delete_topic(&self, env: Env, name: Option<Unknown>) -> Result<sys::napi_value> {
        let env = env.raw();
        let name = match js::get_string(env, name.as_ref().map(raw), "name")? {
            Ok(s) => s,
            Err(TypeErr(m)) => return rt::rejected_type(env, &m),
        };
        let a = self.inner.clone();
        rt::run_blocking(
            env,
            move || headwater::runtime::block_on(a.delete_topic(&name)),
            |env, ()| js::undefined(env),
        )
    }

    #[napi(ts_return_type = "Promise<TopicInfo[]>")]
    pub fn list_topics(&self, env: Env) -> Result<sys::napi_value> {
        let env = env.raw();
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
                unsafe { Vec::<TopicInfo>::to_napi_value(env, v) }
            },
        )
    }
}
