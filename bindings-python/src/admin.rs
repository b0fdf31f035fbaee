//! `Admin`: topic administration over the network.

use std::sync::Arc;

use headwater::Admin;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::broker::topic_config;
use crate::convert::{str_of, tls_config_of};
use crate::dispatch::run_blocking;
use crate::errors::{forked, guard};
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
                inner: Arc::new(a),
                pid: headwater::runtime::pid(),
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
            let a = self.admin()?;
            run_blocking(py, "admin client", true, async move {
                a.create_topic(&name, cfg).await
            })
        })
    }

    fn delete_topic(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        guard(|| {
            let name = str_of(name, "name")?;
            let a = self.admin()?;
            run_blocking(py, "admin client", true, async move {
                a.delete_topic(&name).await
            })
        })
    }

    /// Every topic (`TopicInfo`s).
    fn list_topics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
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
        })
    }

    fn __repr__(&self) -> String {
        "<Admin>".to_string()
    }
}
