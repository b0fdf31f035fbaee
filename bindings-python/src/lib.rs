//! `headwater._native`: the pyo3 layer of the Python binding. It converts arguments, calls the
//! `headwater` core crate, releases the GIL around every wait, and maps core errors onto the
//! exception classes of `headwater._errors`. Behaviour lives in core.

use pyo3::prelude::*;

mod admin;
mod broker;
mod convert;
mod dispatch;
mod errors;
mod producer;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Core reads HEADWATER_LOG (else WARN); its events go to `logging` from that level on.
    headwater::logging::install();
    dispatch::install_log_sink(headwater::logging::current_level());
    m.add("__version__", headwater::CLIENT_VERSION)?;
    m.add_class::<producer::PyProducer>()?;
    m.add_class::<producer::PyProduceOutput>()?;
    m.add_class::<producer::PyRecordMetadata>()?;
    m.add_class::<broker::PyTestBroker>()?;
    m.add_class::<admin::PyAdmin>()?;
    m.add_function(wrap_pyfunction!(producer::parse_config, m)?)?;
    m.add_function(wrap_pyfunction!(producer::config_keys, m)?)?;
    m.add_function(wrap_pyfunction!(producer::key_hash, m)?)?;
    m.add_function(wrap_pyfunction!(producer::key_partition, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(errors::fluvio_error_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(errors::invalid_argument, m)?)?;
    m.add_function(wrap_pyfunction!(errors::debug_panic, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch::set_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch::env_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch::shutdown_logging, m)?)?;
    m.add_function(wrap_pyfunction!(dispatch::after_fork_in_child, m)?)?;
    Ok(())
}
