//! The CLI reads `HEADWATER_LOG` through core, by the one rule of every language: a level name sets
//! the level; anything else means warn, with one warning saying so.

use std::process::Command;

fn stderr_of(log: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_headwater"))
        .arg("--help")
        .env("HEADWATER_LOG", log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn an_unknown_headwater_log_warns_once_and_a_level_name_does_not() {
    let e = stderr_of("loud");
    assert_eq!(
        e.matches("HEADWATER_LOG=\"loud\" is not a log level")
            .count(),
        1,
        "{e}"
    );
    assert!(e.contains("using warn"), "{e}");
    for name in ["off", "error", "WARN", "debug"] {
        assert!(!stderr_of(name).contains("not a log level"), "{name}");
    }
}
