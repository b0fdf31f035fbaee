//! `TestBroker`: core's embedded broker, for tests and demos.

use std::mem::ManuallyDrop;

use headwater::{BrokerConfig, Compression, TestBroker, TopicConfig};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::convert::{config_value, path_value, u32_of};
use crate::dispatch::run_blocking;
use crate::errors::{forked, to_pyerr};
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

pub fn topic_config(
    partitions: i64,
    replication: i64,
    compression: Option<&str>,
    retention_secs: Option<i64>,
) -> PyResult<TopicConfig> {
    let mut cfg = TopicConfig::new(u32_of(partitions, "partitions")?);
    cfg.replication = u32_of(replication, "replication")?;
    match compression {
        None | Some("any") => {}
        Some(c) => {
            let codec = Compression::parse(c).ok_or_else(|| {
                to_pyerr(headwater::Error::invalid(format!(
                    "topic compression must be any, none, gzip, snappy, lz4 or zstd, got {c:?}"
                )))
            })?;
            cfg = cfg.compression(codec);
        }
    }
    cfg.retention_secs = retention_secs
        .map(|s| u32_of(s, "retention_secs"))
        .transpose()?;
    Ok(cfg)
}

#[pymethods]
impl PyTestBroker {
    /// Starts an embedded broker on loopback ports (in memory, or durable in `data_dir`). The
    /// options are core's broker options (`BrokerConfig::from_options`), which validates them.
    #[new]
    #[pyo3(signature = (spus=1, data_dir=None, *, sync=None, tls_cert=None, tls_key=None, tls_client_ca=None))]
    fn new(
        py: Python<'_>,
        spus: i64,
        data_dir: Option<&Bound<'_, PyAny>>,
        sync: Option<&Bound<'_, PyAny>>,
        tls_cert: Option<&Bound<'_, PyAny>>,
        tls_key: Option<&Bound<'_, PyAny>>,
        tls_client_ca: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let mut options: Vec<(&str, String)> = vec![("spus", spus.to_string())];
        if let Some(s) = sync.filter(|s| !s.is_none()) {
            options.push(("sync", config_value("sync", s)?));
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
    }

    /// The SC address, `127.0.0.1:PORT`.
    #[getter]
    fn endpoint(&self) -> String {
        self.inner.endpoint()
    }

    #[pyo3(signature = (name, partitions=1, *, replication=1, compression=None, retention_secs=None))]
    fn create_topic(
        &self,
        name: &str,
        partitions: i64,
        replication: i64,
        compression: Option<&str>,
        retention_secs: Option<i64>,
    ) -> PyResult<()> {
        let cfg = topic_config(partitions, replication, compression, retention_secs)?;
        self.broker()?
            .create_topic_with(name, cfg)
            .map_err(to_pyerr)
    }

    fn delete_topic(&self, name: &str) -> PyResult<()> {
        self.broker()?.delete_topic(name).map_err(to_pyerr)
    }

    /// Names of the user topics.
    fn topics(&self) -> PyResult<Vec<String>> {
        Ok(self.broker()?.topics())
    }

    /// What the broker stores for a partition from `from_offset` on (`StoredRecord`s).
    #[pyo3(signature = (topic, partition, from_offset=0))]
    fn records<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        partition: i64,
        from_offset: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let b = self.broker()?;
        let partition = u32_of(partition, "partition")?;
        let recs = py
            .allow_threads(|| b.records(topic, partition, from_offset))
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
    }

    /// The stored batches of a partition (`StoredBatch`es).
    fn batches<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        partition: i64,
    ) -> PyResult<Bound<'py, PyList>> {
        let b = self.broker()?;
        let partition = u32_of(partition, "partition")?;
        let batches = b.batches(topic, partition).map_err(to_pyerr)?;
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
    }

    /// (log start offset, log end offset) of a partition.
    fn offsets(&self, topic: &str, partition: i64) -> PyResult<(i64, i64)> {
        let partition = u32_of(partition, "partition")?;
        self.broker()?.offsets(topic, partition).map_err(to_pyerr)
    }

    /// Holds every produce request until `resume()`.
    fn pause(&self) -> PyResult<()> {
        self.broker()?.pause();
        Ok(())
    }
    fn resume(&self) -> PyResult<()> {
        self.broker()?.resume();
        Ok(())
    }
    fn spu_ids(&self) -> PyResult<Vec<i32>> {
        Ok(self.broker()?.spu_ids())
    }
    fn pause_spu(&self, id: i32) -> PyResult<()> {
        self.broker()?.pause_spu(id).map_err(to_pyerr)
    }
    fn resume_spu(&self, id: i32) -> PyResult<()> {
        self.broker()?.resume_spu(id).map_err(to_pyerr)
    }

    /// The next `count` requests of `api_key` fail with Fluvio error `code`.
    fn fail_next(&self, api_key: u16, count: u32, code: i16) -> PyResult<()> {
        self.broker()?.fail_next(api_key, count, code);
        Ok(())
    }
    /// The next `count` requests of `api_key` have their connection closed instead of an answer.
    fn drop_next(&self, api_key: u16, count: u32) -> PyResult<()> {
        self.broker()?.drop_next(api_key, count);
        Ok(())
    }

    /// Every request of `api_key` waits `seconds` before it is served (`None` clears).
    #[pyo3(signature = (api_key, seconds=None))]
    fn delay(&self, api_key: u16, seconds: Option<f64>) -> PyResult<()> {
        let d = match seconds {
            Some(s) if s.is_finite() && s >= 0.0 => Some(std::time::Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "delay must be a non-negative number of seconds, got {s}"
                )))
            }
            None => None,
        };
        self.broker()?.delay(api_key, d);
        Ok(())
    }
    /// Stops SPU `id` (its partitions fail over to in-sync followers, or wait offline).
    fn stop_spu(&self, py: Python<'_>, id: i32) -> PyResult<()> {
        let b = self.broker()?;
        py.allow_threads(|| headwater::runtime::block_on(b.stop_spu(id)))
            .map_err(to_pyerr)
    }
    /// Starts a stopped SPU again on the same port.
    fn start_spu(&self, py: Python<'_>, id: i32) -> PyResult<()> {
        let b = self.broker()?;
        py.allow_threads(|| headwater::runtime::block_on(b.start_spu(id)))
            .map_err(to_pyerr)
    }

    /// Broker counters as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.broker()?.stats();
        let d = PyDict::new(py);
        d.set_item("produce_requests", s.produce_requests)?;
        d.set_item("batches_appended", s.batches_appended)?;
        d.set_item("records_appended", s.records_appended)?;
        d.set_item("bytes_appended", s.bytes_appended)?;
        d.set_item("fsyncs", s.fsyncs)?;
        d.set_item("segments_deleted", s.segments_deleted)?;
        d.set_item("truncated_bytes", s.truncated_bytes)?;
        d.set_item("connections", s.connections)?;
        d.set_item("connections_total", s.connections_total)?;
        d.set_item("rejected_frames", s.rejected_frames)?;
        d.set_item("fetch_responses", s.fetch_responses)?;
        Ok(d)
    }

    /// Stops every listener and connection. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let b = self.broker()?;
        py.allow_threads(|| b.stop());
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!("<TestBroker endpoint={:?}>", self.inner.endpoint())
    }
}
