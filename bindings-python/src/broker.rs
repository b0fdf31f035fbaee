//! `TestBroker`: core's embedded broker, for tests and demos.

use std::mem::ManuallyDrop;

use headwater::error::MAX_COUNT;
use headwater::{BrokerConfig, TestBroker, TopicConfig};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{
    config_value, int_in, opt_int_in, path_value, seconds_of, str_of, topic_value,
};
use crate::dispatch::run_blocking;
use crate::errors::{forked, guard, to_pyerr};
use crate::producer::types_attr;

#[pyclass(module = "headwater._native", name = "TestBroker", subclass, frozen)]
pub struct PyTestBroker {
    inner: ManuallyDrop<TestBroker>,
    pid: u32,
}

impl Drop for PyTestBroker {
    fn drop(&mut self) {
        if self.pid == headwater::runtime::pid() {
            // SAFETY: dropped exactly once, here.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

impl PyTestBroker {
    fn broker(&self) -> PyResult<&TestBroker> {
        if self.pid != headwater::runtime::pid() {
            return Err(forked("broker"));
        }
        Ok(&self.inner)
    }
}

/// The topic options of `create_topic` (TestBroker and Admin take the same keyword arguments), parsed
/// by core: a bad one is `InvalidArgument` naming the key.
pub fn topic_config(options: [(&str, Option<&Bound<'_, PyAny>>); 6]) -> PyResult<TopicConfig> {
    let mut pairs = Vec::with_capacity(options.len());
    for (key, value) in options {
        if let Some(v) = value.filter(|v| !v.is_none()) {
            pairs.push((key, topic_value(key, v)?));
        }
    }
    TopicConfig::from_options(pairs.iter().map(|(k, v)| (*k, v.as_str()))).map_err(to_pyerr)
}

/// A partition index argument (core's range rule).
fn partition_of(p: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(int_in(p, "partition", 0, MAX_COUNT)? as u32)
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
    Ok(int_in(c, "count", 0, MAX_COUNT)? as u32)
}

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
            let mut options: Vec<(&str, String)> = Vec::new();
            for (key, value) in [("spus", spus), ("sync", sync)] {
                if let Some(v) = value.filter(|v| !v.is_none()) {
                    options.push((key, config_value(key, v)?));
                }
            }
            for (key, path) in [
                ("data_dir", data_dir),
                ("tls_cert", tls_cert),
                ("tls_key", tls_key),
                ("tls_client_ca", tls_client_ca),
            ] {
                if let Some(p) = path.filter(|p| !p.is_none()) {
                    options.push((key, path_value(key, p)?));
                }
            }
            let cfg = BrokerConfig::from_options(options.iter().map(|(k, v)| (*k, v.as_str())))
                .map_err(to_pyerr)?;
            let b = run_blocking(
                py,
                "broker",
                true,
                async move { TestBroker::start(cfg).await },
            )?;
            Ok(PyTestBroker {
                inner: ManuallyDrop::new(b),
                pid: headwater::runtime::pid(),
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
        guard(|| {
            let name = str_of(name, "name")?;
            let cfg = topic_config([
                ("partitions", partitions),
                ("replication", replication),
                ("compression", compression),
                ("retention_secs", retention_secs),
                ("segment_size", segment_size),
                ("max_partition_size", max_partition_size),
            ])?;
            self.broker()?
                .create_topic_with(&name, cfg)
                .map_err(to_pyerr)
        })
    }

    fn delete_topic(&self, name: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let name = str_of(name, "name")?;
            self.broker()?.delete_topic(&name).map_err(to_pyerr)
        })
    }

    /// Names of the user topics.
    fn topics(&self) -> PyResult<Vec<String>> {
        guard(|| Ok(self.broker()?.topics()))
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
        guard(|| {
            let b = self.broker()?;
            let topic = str_of(topic, "topic")?;
            let partition = partition_of(partition)?;
            let from = opt_int_in(from_offset, "from_offset", 0, i64::MAX)?.unwrap_or(0);
            let recs = py
                .allow_threads(|| b.records(&topic, partition, from))
                .map_err(to_pyerr)?;
            let cls = types_attr(py, "StoredRecord")?;
            let out = PyList::empty(py);
            for r in recs {
                let key = r.key.as_deref().map(|k| PyBytes::new(py, k));
                out.append(cls.call1((
                    r.offset,
                    key,
                    PyBytes::new(py, &r.value),
                    r.timestamp,
                    r.compression.name(),
                    r.batch_base_offset,
                ))?)?;
            }
            Ok(out)
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
            let b = self.broker()?;
            let topic = str_of(topic, "topic")?;
            let batches = b
                .batches(&topic, partition_of(partition)?)
                .map_err(to_pyerr)?;
            let cls = types_attr(py, "StoredBatch")?;
            let out = PyList::empty(py);
            for s in batches {
                out.append(cls.call1((
                    s.base_offset,
                    s.record_count,
                    s.compression.name(),
                    s.size_bytes,
                    s.first_timestamp,
                ))?)?;
            }
            Ok(out)
        })
    }

    /// (log start offset, log end offset) of a partition.
    fn offsets(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<(i64, i64)> {
        guard(|| {
            let topic = str_of(topic, "topic")?;
            self.broker()?
                .offsets(&topic, partition_of(partition)?)
                .map_err(to_pyerr)
        })
    }

    /// The SPU id leading a partition.
    fn leader(&self, topic: &Bound<'_, PyAny>, partition: &Bound<'_, PyAny>) -> PyResult<i32> {
        guard(|| {
            let topic = str_of(topic, "topic")?;
            self.broker()?
                .leader(&topic, partition_of(partition)?)
                .map_err(to_pyerr)
        })
    }

    /// The SPU ids holding a partition's replicas, the leader first.
    fn replicas(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<i32>> {
        guard(|| {
            let topic = str_of(topic, "topic")?;
            self.broker()?
                .replicas(&topic, partition_of(partition)?)
                .map_err(to_pyerr)
        })
    }

    /// The offset up to which a partition's records are committed (replicated to every in-sync
    /// replica).
    fn high_watermark(
        &self,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<i64> {
        guard(|| {
            let topic = str_of(topic, "topic")?;
            self.broker()?
                .high_watermark(&topic, partition_of(partition)?)
                .map_err(to_pyerr)
        })
    }

    /// Holds every produce request until `resume()`.
    fn pause(&self) -> PyResult<()> {
        guard(|| {
            self.broker()?.pause();
            Ok(())
        })
    }
    fn resume(&self) -> PyResult<()> {
        guard(|| {
            self.broker()?.resume();
            Ok(())
        })
    }
    fn spu_ids(&self) -> PyResult<Vec<i32>> {
        guard(|| Ok(self.broker()?.spu_ids()))
    }
    fn pause_spu(&self, id: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| self.broker()?.pause_spu(spu_of(id)?).map_err(to_pyerr))
    }
    fn resume_spu(&self, id: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| self.broker()?.resume_spu(spu_of(id)?).map_err(to_pyerr))
    }

    /// The next `count` requests of `api_key` fail with Fluvio error `code`.
    fn fail_next(
        &self,
        api_key: &Bound<'_, PyAny>,
        count: &Bound<'_, PyAny>,
        code: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guard(|| {
            let (api_key, count) = (api_key_of(api_key)?, count_of(count)?);
            let code = int_in(code, "code", i16::MIN.into(), i16::MAX.into())? as i16;
            self.broker()?.fail_next(api_key, count, code);
            Ok(())
        })
    }
    /// The next `count` requests of `api_key` have their connection closed instead of an answer.
    fn drop_next(&self, api_key: &Bound<'_, PyAny>, count: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let (api_key, count) = (api_key_of(api_key)?, count_of(count)?);
            self.broker()?.drop_next(api_key, count);
            Ok(())
        })
    }

    /// Every request of `api_key` waits `seconds` before it is served (`None` clears).
    #[pyo3(signature = (api_key, seconds=None))]
    fn delay(
        &self,
        api_key: &Bound<'_, PyAny>,
        seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guard(|| {
            let api_key = api_key_of(api_key)?;
            let d = seconds_of(seconds, "seconds")?;
            self.broker()?.delay(api_key, d);
            Ok(())
        })
    }
    /// Stops SPU `id` (its partitions fail over to in-sync followers, or wait offline).
    fn stop_spu(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let (b, id) = (self.broker()?, spu_of(id)?);
            py.allow_threads(|| headwater::runtime::block_on(b.stop_spu(id)))
                .map_err(to_pyerr)
        })
    }
    /// Starts a stopped SPU again on the same port.
    fn start_spu(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let (b, id) = (self.broker()?, spu_of(id)?);
            py.allow_threads(|| headwater::runtime::block_on(b.start_spu(id)))
                .map_err(to_pyerr)
        })
    }

    /// Broker counters (`BrokerStats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let s = self.broker()?.stats();
            let kw = PyDict::new(py);
            for (name, value) in s.fields() {
                kw.set_item(name, value)?;
            }
            types_attr(py, "BrokerStats")?.call((), Some(&kw))
        })
    }

    /// Stops every listener and connection. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| {
            let b = self.broker()?;
            py.allow_threads(|| b.stop());
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        format!("<TestBroker endpoint={:?}>", self.inner.endpoint())
    }
}
