//! `Admin`: topic administration over the network.

use std::sync::Arc;

use headwater::Admin;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::broker::topic_config;
use crate::convert::tls_config_of;
use crate::dispatch::run_blocking;
use crate::errors::forked;
use crate::producer::types_attr;

#[pyclass(module = "headwater._native", name = "Admin", subclass, frozen)]
pub struct PyAdmin {
    inner: Arc<Admin>,
    pid: u32,
}

impl PyAdmin {
    fn admin(&self) -> PyResult<Arc<Admin>> {
        if self.pid != headwater::runtime::pid() {
            return Err(forked("admin client"));
        }
        Ok(self.inner.clone())
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
        endpoint: String,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let tls = tls_config_of(options)?;
        let a = run_blocking(py, "admin client", true, async move {
            Admin::connect_with(&endpoint, &tls).await
        })?;
        Ok(PyAdmin {
            inner: Arc::new(a),
            pid: headwater::runtime::pid(),
        })
    }

    #[pyo3(signature = (name, partitions=1, *, replication=1, compression=None, retention_secs=None))]
    fn create_topic(
        &self,
        py: Python<'_>,
        name: String,
        partitions: i64,
        replication: i64,
        compression: Option<&str>,
        retention_secs: Option<i64>,
    ) -> PyResult<()> {
        let cfg = topic_config(partitions, replication, compression, retention_secs)?;
        let a = self.admin()?;
        run_blocking(py, "admin client", true, async move {
            a.create_topic(&name, cfg).await
        })
    }

    fn delete_topic(&self, py: Python<'_>, name: String) -> PyResult<()> {
        let a = self.admin()?;
        run_blocking(py, "admin client", true, async move {
            a.delete_topic(&name).await
        })
    }

    /// Every topic (`TopicInfo`s).
    fn list_topics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let a = self.admin()?;
        let topics = run_blocking(
            py,
            "admin client",
            true,
            async move { a.list_topics().await },
        )?;
        let cls = types_attr(py, "TopicInfo")?;
        let out = PyList::empty(py);
        for t in topics {
            out.append(cls.call1((
                t.name,
                t.partitions,
                t.replication,
                t.compression,
                t.retention_secs,
                t.status,
            ))?)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        "<Admin>".to_string()
    }
}
