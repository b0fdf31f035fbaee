//! `Admin`: topic administration over the network.

use std::future::Future;

use headwater::Admin;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::broker::topic_config;
use crate::convert::{str_of, tls_config_of, types_list};
use crate::dispatch::run_blocking;
use crate::errors::{guard, Local};

#[pyclass(module = "headwater._native", name = "Admin", subclass, frozen)]
pub struct PyAdmin {
    inner: Local<Admin>,
}

impl PyAdmin {
    /// Runs core's request `f(admin)` and waits for it (Ctrl-C aborts it).
    fn call<T, F>(&self, py: Python<'_>, f: impl FnOnce(Admin) -> F) -> PyResult<T>
    where
        F: Future<Output = headwater::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let admin = self.inner.get("admin client")?.clone();
        run_blocking(py, "admin client", true, f(admin))
    }
}

#[pymethods]
impl PyAdmin {
    /// Connects; `options` are core's TLS keys (`tls`, `tls_ca_file`, `tls_cert_file`,
    /// `tls_key_file`, `tls_server_name`), validated by core. No options: plaintext.
    #[new]
    #[pyo3(signature = (endpoint, options=None))]
    fn new(
        py: Python<'_>,
        endpoint: &Bound<'_, PyAny>,
        options: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            let endpoint = str_of(endpoint, "endpoint")?;
            let tls = tls_config_of(options)?;
            let a = run_blocking(py, "admin client", true, async move {
                Admin::connect_with(&endpoint, &tls).await
            })?;
            Ok(PyAdmin {
                inner: Local::new(a),
            })
        })
    }

    #[allow(clippy::too_many_arguments)]
    // `None` counts take core's defaults (1), which the text signature shows.
    #[pyo3(
        signature = (name, partitions=None, *, replication=None, compression=None, retention_secs=None, segment_size=None, max_partition_size=None),
        text_signature = "($self, name, partitions=1, *, replication=1, compression=None, retention_secs=None, segment_size=None, max_partition_size=None)"
    )]
    fn create_topic(
        &self,
        py: Python<'_>,
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
            self.call(py, |a| async move { a.create_topic(&name, cfg).await })
        })
    }

    fn delete_topic(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let name = str_of(name, "name")?;
            self.call(py, |a| async move { a.delete_topic(&name).await })
        })
    }

    /// Every topic (`TopicInfo`s).
    fn list_topics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let topics = self.call(py, |a| async move { a.list_topics().await })?;
            types_list(py, "TopicInfo", topics, |t| {
                (
                    t.name,
                    t.partitions,
                    t.replication,
                    t.compression,
                    t.retention_secs,
                    t.status,
                )
            })
        })
    }

    fn __repr__(&self) -> String {
        "<Admin>".to_string()
    }
}
