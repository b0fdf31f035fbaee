//! `HEADWATER_LOG`'s rule, in a process of its own (the variable and the subscriber are
//! process-wide): a value that names no level means WARN, and one warning says so.

use std::sync::{Arc, Mutex};

use headwater::logging::{self, Level};

#[test]
fn an_unknown_headwater_log_falls_back_to_warn_with_one_warning() {
    std::env::set_var("HEADWATER_LOG", "loud");
    let lines: Arc<Mutex<Vec<(Level, String)>>> = Arc::default();
    let seen = lines.clone();
    logging::set_sink(
        Level::TRACE,
        Arc::new(move |level, _, msg| seen.lock().unwrap().push((level.into(), msg.to_string()))),
    );
    assert_eq!(logging::env_level(), Some(Level::WARN));
    assert_eq!(logging::env_level(), Some(Level::WARN));
    let warned: Vec<_> = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, m)| m.contains("HEADWATER_LOG"))
        .cloned()
        .collect();
    assert_eq!(
        warned,
        vec![(
            Level::WARN,
            "HEADWATER_LOG=\"loud\" is not a log level (expected one of off, error, warn, info, debug, trace); using warn".to_string()
        )],
        "exactly one warning"
    );

    std::env::set_var("HEADWATER_LOG", "Debug");
    assert_eq!(logging::env_level(), Some(Level::DEBUG));
    std::env::set_var("HEADWATER_LOG", "");
    assert_eq!(logging::env_level(), None);
    std::env::remove_var("HEADWATER_LOG");
    assert_eq!(logging::env_level(), None);
    logging::clear_sink();
}
