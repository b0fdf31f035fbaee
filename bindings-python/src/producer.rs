//! `Producer`, `ProduceOutput`, `RecordMetadata` and the config/partitioner helpers.

use std::future::Future;
use std::time::Instant;

use headwater::error::MAX_COUNT;
use headwater::producer::RecordRef;
use headwater::{ProduceOutput, Producer, RecordMetadata};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::convert::{
    bytes_of, config_of, counters, int_in, invalid, key_of, opt_int_in, str_of, timeout_of, Bytes,
};
use crate::dispatch::{run_blocking, spawn_into_future, submit, SLICE};
use crate::errors::{forked, guard, make_err, to_pyerr, Local};

/// Where a record landed. `offset` is None when unknown (at-most-once delivery).
#[pyclass(
    module = "headwater._native",
    name = "RecordMetadata",
    frozen,
    eq,
    hash,
    get_all
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyRecordMetadata {
    topic: String,
    partition: u32,
    offset: Option<i64>,
    timestamp: i64,
}

#[pymethods]
impl PyRecordMetadata {
    #[new]
    #[pyo3(signature = (topic, partition, offset, timestamp))]
    fn new(topic: String, partition: u32, offset: Option<i64>, timestamp: i64) -> Self {
        PyRecordMetadata {
            topic,
            partition,
            offset,
            timestamp,
        }
    }
    fn __repr__(&self) -> String {
        let offset = self.offset.map_or("None".to_string(), |o| o.to_string());
        format!(
            "RecordMetadata(topic={:?}, partition={}, offset={offset}, timestamp={})",
            self.topic, self.partition, self.timestamp
        )
    }
}

impl From<RecordMetadata> for PyRecordMetadata {
    fn from(m: RecordMetadata) -> Self {
        PyRecordMetadata {
            topic: m.topic,
            partition: m.partition,
            offset: (m.offset >= 0).then_some(m.offset),
            timestamp: m.timestamp,
        }
    }
}

fn meta_result(py: Python<'_>, r: headwater::Result<RecordMetadata>) -> PyResult<PyObject> {
    let m = r.map_err(|e| make_err(py, &e))?;
    Ok(Py::new(py, PyRecordMetadata::from(m))?.into_any())
}

/// A pending send: `wait()`, `done()`, or `await` it.
#[pyclass(module = "headwater._native", name = "ProduceOutput", frozen)]
pub struct PyProduceOutput {
    inner: ProduceOutput,
    pid: u32,
}

impl PyProduceOutput {
    fn check(&self) -> PyResult<()> {
        if self.pid != headwater::runtime::pid() {
            return Err(forked("ProduceOutput"));
        }
        Ok(())
    }
}

#[pymethods]
impl PyProduceOutput {
    /// The partition the record was assigned to.
    #[getter]
    fn partition(&self) -> PyResult<u32> {
        guard(|| Ok(self.inner.partition()))
    }

    /// True once the record is acknowledged or failed.
    fn done(&self) -> PyResult<bool> {
        guard(|| {
            self.check()?;
            Ok(self.inner.done())
        })
    }

    /// Waits for the record's metadata (any number of times). Raises the delivery error, or
    /// `TimeoutError` after `timeout` seconds (the send itself goes on).
    #[pyo3(signature = (timeout=None))]
    fn wait(
        &self,
        py: Python<'_>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRecordMetadata> {
        guard(|| self.wait_impl(py, timeout))
    }

    /// Resolves the asyncio future `fut` of `event_loop` with the result (used by `__await__`).
    fn _on_done(&self, event_loop: PyObject, fut: PyObject) -> PyResult<()> {
        guard(|| {
            self.check()?;
            // Awaiting is waiting: the record's batch goes out now instead of lingering.
            self.inner.send_now();
            self.inner.on_done(move |r| {
                submit(move |py| {
                    let res = meta_result(py, r);
                    crate::dispatch::resolve_future(py, &event_loop, &fut, res);
                })
            });
            Ok(())
        })
    }

    fn __await__(slf: &Bound<'_, Self>) -> PyResult<PyObject> {
        guard(|| {
            let py = slf.py();
            let coro = py
                .import("headwater._aio")?
                .getattr("_await_output")?
                .call1((slf,))?;
            Ok(coro.call_method0("__await__")?.unbind())
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<ProduceOutput partition={} done={}>",
            self.inner.partition(),
            self.inner.done()
        )
    }
}

impl PyProduceOutput {
    fn wait_impl(
        &self,
        py: Python<'_>,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyRecordMetadata> {
        self.check()?;
        let timeout = timeout_of(timeout)?;
        if let Some(r) = self.inner.try_get() {
            return r.map(Into::into).map_err(to_pyerr);
        }
        // Waits on this thread, without the GIL, in slices (signals are checked between them, so
        // Ctrl-C raises KeyboardInterrupt). The batch's completion wakes this thread directly: no
        // task is spawned and no channel crossed per wait, which is most of a round trip's cost
        // in the binding when one record is in flight.
        let start = Instant::now();
        let out = &self.inner;
        loop {
            let slice = match timeout {
                Some(t) => t.saturating_sub(start.elapsed()).min(SLICE),
                None => SLICE,
            };
            match py.allow_threads(|| out.wait_blocking(Some(slice))) {
                Ok(m) => return Ok(m.into()),
                Err(e) if e.kind != headwater::ErrorKind::Timeout => return Err(to_pyerr(e)),
                // The slice ran out; the record may have completed just after (its result, which
                // may be its own delivery Timeout, is then the answer, not the slice's).
                Err(_) => {
                    if let Some(r) = out.try_get() {
                        return r.map(Into::into).map_err(to_pyerr);
                    }
                }
            }
            if let Some(t) = timeout {
                if start.elapsed() >= t {
                    return Err(to_pyerr(headwater::Error::timeout(format!(
                        "record not acknowledged within {t:?} (it may still be delivered)"
                    ))));
                }
            }
            py.check_signals()?;
        }
    }
}

fn wrap_output(py: Python<'_>, o: ProduceOutput) -> PyResult<Py<PyProduceOutput>> {
    Py::new(
        py,
        PyProduceOutput {
            inner: o,
            pid: headwater::runtime::pid(),
        },
    )
}

/// Producer for one topic. Python's `headwater.Producer` subclasses this.
#[pyclass(module = "headwater._native", name = "Producer", subclass, frozen)]
pub struct PyProducer {
    inner: Local<Producer>,
}

/// An explicit partition index (core's range; at or past the count core says UNKNOWN_PARTITION).
pub fn partition_of(p: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(int_in(p, "partition", 0, MAX_COUNT)? as u32)
}

/// A record timestamp: milliseconds since the epoch, any i64.
fn timestamp_of(t: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    opt_int_in(t, "timestamp", i64::MIN, i64::MAX)
}

/// One record of `send_all`, its bytes borrowed from (or copied out of) the Python objects.
struct PyRecord<'py> {
    key: Option<Bytes<'py>>,
    value: Bytes<'py>,
    partition: Option<u32>,
    timestamp: Option<i64>,
}

impl PyRecord<'_> {
    fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            key: self.key.as_ref().map(|k| k.as_slice()),
            value: self.value.as_slice(),
            partition: self.partition,
            timestamp: self.timestamp,
        }
    }
}

/// One item of `send_all`: `(key, value)` or `(key, value, {"partition": p, "timestamp": t})`.
fn record_of<'py>(item: &Bound<'py, PyAny>) -> PyResult<PyRecord<'py>> {
    let t = item
        .downcast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2 || t.len() == 3)
        .ok_or_else(|| {
            invalid("send_all() takes an iterable of (key, value) or (key, value, options) tuples")
        })?;
    let mut r = PyRecord {
        key: key_of(&t.get_item(0)?)?,
        value: bytes_of(&t.get_item(1)?, "value")?,
        partition: None,
        timestamp: None,
    };
    if t.len() == 3 {
        let options = t.get_item(2)?;
        let options = options.downcast::<PyDict>().map_err(|_| {
            invalid("the options of a send_all() record must be a dict of partition and timestamp")
        })?;
        for (k, v) in options.iter() {
            let name = k.downcast::<PyString>().ok().map(|k| k.to_string());
            match name.as_deref() {
                Some("partition") if v.is_none() => {}
                Some("partition") => r.partition = Some(partition_of(&v)?),
                Some("timestamp") => r.timestamp = timestamp_of(Some(&v))?,
                _ => return Err(invalid(format!("unknown send_all() record option {k}"))),
            }
        }
    }
    Ok(r)
}

impl PyProducer {
    fn producer(&self) -> PyResult<&Producer> {
        self.inner.get("producer")
    }

    fn send_impl(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        partition: Option<u32>,
        timestamp: Option<i64>,
    ) -> PyResult<Py<PyProduceOutput>> {
        let p = self.producer()?;
        let key = key_of(key)?;
        let value = bytes_of(value, "value")?;
        // Fast path with the GIL held: enqueueing never waits unless the partition's queue is full.
        let key_slice = key.as_ref().map(|k| k.as_slice());
        let r = match p.try_send(key_slice, value.as_slice(), partition, timestamp) {
            Ok(Some(o)) => Ok(o),
            Ok(None) => {
                // Queue full: wait (up to send_timeout_ms) without the GIL. The bytes are borrowed:
                // `bytes` objects are immutable and kept alive by `key`/`value`; the other types
                // were copied by `bytes_of`.
                let value = value.as_slice();
                let p: &Producer = p;
                py.allow_threads(move || p.send_blocking(key_slice, value, partition, timestamp))
            }
            Err(e) => Err(e),
        };
        wrap_output(py, r.map_err(to_pyerr)?)
    }

    fn send_all_impl(&self, py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<Py<PyList>> {
        let p = self.producer()?;
        // Convert every record first (wrong arguments raise before anything is sent). `bytes` are
        // borrowed, not copied: they are immutable and `items` keeps them alive while the GIL is
        // released below.
        let iter = records
            .try_iter()
            .map_err(|_| invalid("send_all() takes an iterable of records"))?;
        let mut items = Vec::with_capacity(records.len().unwrap_or(0));
        for item in iter {
            items.push(record_of(&item?)?);
        }
        let refs: Vec<RecordRef<'_>> = items.iter().map(PyRecord::as_ref).collect();
        let p: &Producer = p;
        // Core checks every size before anything is enqueued.
        let outs = py
            .allow_threads(move || p.send_all_blocking(&refs))
            .map_err(to_pyerr)?;
        drop(items);
        let pid = headwater::runtime::pid();
        let objs = outs
            .into_iter()
            .map(|o| Py::new(py, PyProduceOutput { inner: o, pid }))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, objs)?.unbind())
    }
}

impl PyProducer {
    /// Core's flush, or close, within `timeout` seconds (None: no limit).
    fn finish(
        &self,
        close: bool,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<impl Future<Output = headwater::Result<()>> + Send + 'static> {
        let p = self.producer()?.clone();
        let timeout = timeout_of(timeout)?;
        Ok(async move {
            match (close, timeout) {
                (true, t) => p.close_timeout(t).await,
                (false, Some(t)) => p.flush_timeout(t).await,
                (false, None) => p.flush().await,
            }
        })
    }
}

#[pymethods]
impl PyProducer {
    /// Connects (validating `options` with core's config parser) and waits for the topic.
    #[new]
    #[pyo3(signature = (endpoint, topic, options=None))]
    fn new(
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        topic: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            let endpoint = str_of(endpoint, "endpoint")?;
            let topic = str_of(topic, "topic")?;
            let cfg = config_of(options)?;
            let p = run_blocking(py, "producer", true, async move {
                Producer::connect(&endpoint, &topic, cfg).await
            })?;
            Ok(PyProducer {
                inner: Local::new(p),
            })
        })
    }

    #[getter]
    fn topic(&self) -> PyResult<&str> {
        guard(|| Ok(self.inner.topic()))
    }
    #[getter]
    fn partition_count(&self) -> PyResult<u32> {
        guard(|| Ok(self.inner.partition_count()))
    }
    /// The codec batches are compressed with (config and topic policy combined).
    #[getter]
    fn compression(&self) -> PyResult<&'static str> {
        guard(|| Ok(self.inner.compression().name()))
    }
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        guard(|| Ok(self.inner.is_closed()))
    }

    /// Enqueues a record; returns at once unless the partition's queue is full.
    #[pyo3(signature = (key, value, *, partition=None, timestamp=None))]
    fn send(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        partition: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyProduceOutput>> {
        guard(|| {
            let partition = partition
                .filter(|p| !p.is_none())
                .map(partition_of)
                .transpose()?;
            self.send_impl(py, key, value, partition, timestamp_of(timestamp)?)
        })
    }

    /// Enqueues a record for `partition`, bypassing the partitioner.
    #[pyo3(signature = (partition, key, value, *, timestamp=None))]
    fn send_to(
        &self,
        py: Python<'_>,
        partition: &Bound<'_, PyAny>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        timestamp: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyProduceOutput>> {
        guard(|| {
            let partition = Some(partition_of(partition)?);
            self.send_impl(py, key, value, partition, timestamp_of(timestamp)?)
        })
    }

    /// Sends `(key, value)` or `(key, value, options)` records; sizes are checked before any is
    /// enqueued.
    fn send_all(&self, py: Python<'_>, records: &Bound<'_, PyAny>) -> PyResult<Py<PyList>> {
        guard(|| self.send_all_impl(py, records))
    }

    /// Sends everything queued and waits for it; raises the first failure since the last flush.
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        // Waits in slices with signal checks (Ctrl-C); Python has no delivery callbacks, so core's
        // flush is the whole barrier.
        guard(|| run_blocking(py, "producer", true, self.finish(false, timeout)?))
    }

    /// Flushes, then stops the producer. Idempotent.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        // Not aborted on Ctrl-C: a close, once started, completes in the background.
        guard(|| run_blocking(py, "producer", false, self.finish(true, timeout)?))
    }

    #[pyo3(signature = (event_loop, fut, timeout=None))]
    fn _flush_into(
        &self,
        event_loop: PyObject,
        fut: PyObject,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guard(|| {
            let work = self.finish(false, timeout)?;
            spawn_into_future(event_loop, fut, work);
            Ok(())
        })
    }

    #[pyo3(signature = (event_loop, fut, timeout=None))]
    fn _close_into(
        &self,
        event_loop: PyObject,
        fut: PyObject,
        timeout: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guard(|| {
            let work = self.finish(true, timeout)?;
            spawn_into_future(event_loop, fut, work);
            Ok(())
        })
    }

    /// Counters (`ProducerStats`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guard(|| counters(py, "ProducerStats", self.inner.stats().fields()))
    }

    fn __repr__(&self) -> String {
        format!(
            "<Producer topic={:?} closed={}>",
            self.inner.topic(),
            self.inner.is_closed()
        )
    }
}

/// Validates options with core's parser; returns every key's resulting value (str, or None for
/// unset compression).
#[pyfunction]
#[pyo3(signature = (options=None))]
pub fn parse_config<'py>(
    py: Python<'py>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let cfg = config_of(options)?;
        let out = PyDict::new(py);
        for key in headwater::producer::config::CONFIG_KEYS {
            out.set_item(*key, cfg.get(key).map_err(to_pyerr)?)?;
        }
        Ok(out)
    })
}

/// The configuration keys core accepts (snake_case).
#[pyfunction]
pub fn config_keys() -> Vec<&'static str> {
    headwater::producer::config::CONFIG_KEYS.to_vec()
}

/// Fluvio's key hash: SipHash-2-4 (zero keys) over `u64_le(len) ++ key`.
#[pyfunction]
pub fn key_hash(key: &Bound<'_, PyAny>) -> PyResult<u64> {
    guard(|| {
        Ok(headwater::producer::partitioner::key_hash(
            bytes_of(key, "key")?.as_slice(),
        ))
    })
}

/// The partition the default partitioner gives `key` in a topic of `partition_count` partitions.
#[pyfunction]
pub fn key_partition(key: &Bound<'_, PyAny>, partition_count: &Bound<'_, PyAny>) -> PyResult<u32> {
    guard(|| {
        let count = int_in(partition_count, "partition_count", 1, MAX_COUNT)? as u32;
        Ok(headwater::producer::partitioner::key_partition(
            bytes_of(key, "key")?.as_slice(),
            count,
        ))
    })
}
