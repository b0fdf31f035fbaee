//! `TestBroker`: core's embedded broker, for tests and demos.

use headwater::{BrokerConfig, TestBroker, TopicConfig};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::convert::{
    config_value, counters, given, int_in, opt_int_in, pairs, path_value, seconds_of, str_of,
    topic_value, types_list, Arg,
};
use crate::dispatch::{block_on, run_blocking};
use crate::errors::{guard, to_pyerr, Local};
use crate::producer::partition_of;

#[pyclass(module = "headwater._native", name = "TestBroker", subclass, frozen)]
pub struct PyTestBroker {
    inner: Local<TestBroker>,
}

/// The topic options of `create_topic` (TestBroker and Admin take the same keyword arguments), parsed
/// by core: a bad one is `InvalidArgument` naming the key.
pub fn topic_config(args: [Arg<'_, '_>; 6]) -> PyResult<TopicConfig> {
    let options = given(&args, topic_value)?;
    TopicConfig::from_options(pairs(&options)).map_err(to_pyerr)
}

/// An SPU id argument.
fn spu_of(id: &Bound<'_, PyAny>) -> PyResult<i32> {
    Ok(int_in(id, "id", i32::MIN.into(), i32::MAX.into())? as i32)
}

/// A Fluvio API key argument.
fn api_key_of(k: &Bound<'_, PyAny>) -> PyResult<u16> {
    Ok(int_in(k, "api_key", 0, u16::MAX.into())? as u16)
}

/// How many requests a fault applies to.
fn count_of(c: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(int_in(c, "count", 0, headwater::error::MAX_COUNT)? as u32)
}

impl PyTestBroker {
    /// An entry point's body, given the broker.
    fn with<T>(&self, f: impl FnOnce(&TestBroker) -> PyResult<T>) -> PyResult<T> {
        guard(|| f(self.inner.get("broker")?))
    }

    /// [`with`](Self::with) for a core call on one partition.
    fn on_partition<T>(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
        f: impl FnOnce(&TestBroker, &str, u32) -> headwater::Result<T>,
    ) -> PyResult<T> {
        self.with(|b| {
            let topic = str_of(topic, "topic")?;
            f(b, &topic, partition_of(partition)?).map_err(to_pyerr)
        })
    }
}

// `Ok(b.pause())`: a core call that returns nothing, as the body's one expression.
#[allow(clippy::unit_arg)]
#[pymethods]
impl PyTestBroker {
    /// Starts an embedded broker on loopback ports (in memory, or durable in `data_dir`). The
    /// options are core's broker options (`BrokerConfig::from_options`), which validates them.
    #[new]
    #[pyo3(signature = (spus=None, data_dir=None, *, sync=None, tls_cert=None, tls_key=None, tls_client_ca=None))]
    fn new(
        py: Python<'_>,
        spus: Option<&Bound<'_, PyAny>>,
        data_dir: Option<&Bound<'_, PyAny>>,
        sync: Option<&Bound<'_, PyAny>>,
        tls_cert: Option<&Bound<'_, PyAny>>,
        tls_key: Option<&Bound<'_, PyAny>>,
        tls_client_ca: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            let mut options = given(&[("spus", spus), ("sync", sync)], config_value)?;
            let paths = [
                ("data_dir", data_dir),
                ("tls_cert", tls_cert),
                ("tls_key", tls_key),
                ("tls_client_ca", tls_client_ca),
            ];
            options.extend(given(&paths, path_value)?);
            let cfg = BrokerConfig::from_options(pairs(&options)).map_err(to_pyerr)?;
            let b = run_blocking(py, "broker", true, TestBroker::start(cfg))?;
            Ok(PyTestBroker {
                inner: Local::new(b),
            })
        })
    }

    /// The SC address, `127.0.0.1:PORT`.
    #[getter]
    fn endpoint(&self) -> PyResult<String> {
        guard(|| Ok(self.inner.endpoint()))
    }

    #[allow(clippy::too_many_arguments)]
    // `None` counts take core's defaults (1), which the text signature shows.
    #[pyo3(
        signature = (name, partitions=None, *, replication=None, compression=None, retention_secs=None, segment_size=None, max_partition_size=None),
        text_signature = "($self, name, partitions=1, *, replication=1, compression=None, retention_secs=None, segment_size=None, max_partition_size=None)"
    )]
    fn create_topic(
        &self,
        name: &Bound<'_, PyAny>,
        partitions: Option<&Bound<'_, PyAny>>,
        replication: Option<&Bound<'_, PyAny>>,
        compression: Option<&Bound<'_, PyAny>>,
        retention_secs: Option<&Bound<'_, PyAny>>,
        segment_size: Option<&Bound<'_, PyAny>>,
        max_partition_size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.with(|b| {
            let name = str_of(name, "name")?;
            let cfg = topic_config([
                ("partitions", partitions),
                ("replication", replication),
                ("compression", compression),
                ("retention_secs", retention_secs),
                ("segment_size", segment_size),
                ("max_partition_size", max_partition_size),
            ])?;
            b.create_topic_with(&name, cfg).map_err(to_pyerr)
        })
    }

    fn delete_topic(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| b.delete_topic(&str_of(name, "name")?).map_err(to_pyerr))
    }

    /// Names of the user topics.
    fn topics(&self) -> PyResult<Vec<String>> {
        self.with(|b| Ok(b.topics()))
    }

    /// What the broker stores for a partition from `from_offset` on (`StoredRecord`s).
    #[pyo3(
        signature = (topic, partition, from_offset=None),
        text_signature = "($self, topic, partition, from_offset=0)"
    )]
    fn records<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
        from_offset: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.with(|b| {
            let (topic, partition) = (str_of(topic, "topic")?, partition_of(partition)?);
            let from = opt_int_in(from_offset, "from_offset", 0, i64::MAX)?.unwrap_or(0);
            let recs = py
                .allow_threads(|| b.records(&topic, partition, from))
                .map_err(to_pyerr)?;
            types_list(py, "StoredRecord", recs, |r| {
                (
                    r.offset,
                    r.key.as_deref().map(|k| PyBytes::new(py, k)),
                    PyBytes::new(py, &r.value),
                    r.timestamp,
                    r.compression.name(),
                    r.batch_base_offset,
                )
            })
        })
    }

    /// The stored batches of a partition (`StoredBatch`es).
    fn batches<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyAny>,
        partition: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let batches = self.on_partition(topic, partition, |b, t, p| b.batches(t, p))?;
            types_list(py, "StoredBatch", batches, |s| {
                (
                    s.base_offset,
                    s.record_count,
                    s.compression.name(),
                    s.size_bytes,
                    s.first_timestamp,
                )
            })
        })
    }

    /// (log start offset, log end offset) of a partition.
    fn offsets(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<(i64, i64)> {
        self.on_partition(topic, partition, |b, t, p| b.offsets(t, p))
    }

    /// The SPU id leading a partition.
    fn leader(&self, topic: &Bound<'_, PyAny>, partition: &Bound<'_, PyAny>) -> PyResult<i32> {
        self.on_partition(topic, partition, |b, t, p| b.leader(t, p))
    }

    /// The SPU ids holding a partition's replicas, the leader first.
    fn replicas(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<i32>> {
        self.on_partition(topic, partition, |b, t, p| b.replicas(t, p))
    }

    /// The offset up to which a partition's records are committed (replicated to every in-sync
    /// replica).
    fn high_watermark(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<i64> {
        self.on_partition(topic, partition, |b, t, p| b.high_watermark(t, p))
    }

    /// Holds every produce request until `resume()`.
    fn pause(&self) -> PyResult<()> {
        self.with(|b| Ok(b.pause()))
    }
    fn resume(&self) -> PyResult<()> {
        self.with(|b| Ok(b.resume()))
    }
    fn spu_ids(&self) -> PyResult<Vec<i32>> {
        self.with(|b| Ok(b.spu_ids()))
    }
    fn pause_spu(&self, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| b.pause_spu(spu_of(id)?).map_err(to_pyerr))
    }
    fn resume_spu(&self, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| b.resume_spu(spu_of(id)?).map_err(to_pyerr))
    }

    /// The next `count` requests of `api_key` fail with Fluvio error `code`.
    fn fail_next(
        &self,
        api_key: &Bound<'_, PyAny>,
        count: &Bound<'_, PyAny>,
        code: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.with(|b| {
            let (api_key, count) = (api_key_of(api_key)?, count_of(count)?);
            let code = int_in(code, "code", i16::MIN.into(), i16::MAX.into())? as i16;
            Ok(b.fail_next(api_key, count, code))
        })
    }
    /// The next `count` requests of `api_key` have their connection closed instead of an answer.
    fn drop_next(&self, api_key: &Bound<'_, PyAny>, count: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| Ok(b.drop_next(api_key_of(api_key)?, count_of(count)?)))
    }

    /// Every request of `api_key` waits `seconds` before it is served (`None` clears).
    #[pyo3(signature = (api_key, seconds=None))]
    fn delay(
        &self,
        api_key: &Bound<'_, PyAny>,
        seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.with(|b| Ok(b.delay(api_key_of(api_key)?, seconds_of(seconds, "seconds")?)))
    }
    /// Stops SPU `id` (its partitions fail over to in-sync followers, or wait offline).
    fn stop_spu(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| block_on(py, b.stop_spu(spu_of(id)?)))
    }
    /// Starts a stopped SPU again on the same port.
    fn start_spu(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        self.with(|b| block_on(py, b.start_spu(spu_of(id)?)))
    }

    /// Broker counters (`BrokerStats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.with(|b| counters(py, "BrokerStats", b.stats().fields()))
    }

    /// Stops every listener and connection. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        self.with(|b| Ok(py.allow_threads(|| b.stop())))
    }

    fn __repr__(&self) -> String {
        format!("<TestBroker endpoint={:?}>", self.inner.endpoint())
    }
}
