//! Routes core's `tracing` events to a language's own logging. Bindings call [`install`] once and may
//! set a sink with [`set_sink`]; without a sink, warnings and errors go to stderr, so they are visible
//! by default.
//!
//! Levels have one order and one numbering in every language ([`Level`]): OFF=0, ERROR=1, WARN=2,
//! INFO=3, DEBUG=4, TRACE=5 (the C header's `hw_log_level`), named `off`, `error`, `warn`, `info`,
//! `debug`, `trace` in any case ([`parse_level`]).
//!
//! `HEADWATER_LOG` has one rule, and core is its only reader ([`env_level`]): unset or empty means
//! the default (WARN to stderr); one of the six names sets that level; anything else falls back to
//! WARN and logs one warning saying so.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering as AtomicOrdering};
use std::sync::{Arc, Once, RwLock};

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::error::{Error, Result};

/// A log level: how much is let through, from OFF (nothing) to TRACE (everything). Ordered by
/// verbosity, so `event_level <= max` means "let through".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(u8);

const NAMES: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

impl Level {
    pub const OFF: Level = Level(0);
    pub const ERROR: Level = Level(1);
    pub const WARN: Level = Level(2);
    pub const INFO: Level = Level(3);
    pub const DEBUG: Level = Level(4);
    pub const TRACE: Level = Level(5);
    /// Every level, in number order.
    pub const ALL: [Level; 6] = [
        Level::OFF,
        Level::ERROR,
        Level::WARN,
        Level::INFO,
        Level::DEBUG,
        Level::TRACE,
    ];

    /// The level numbered `n` (0 = OFF to 5 = TRACE); anything else is `InvalidArgument`.
    pub fn from_number(n: i64) -> Result<Level> {
        let n = crate::error::check_range("log_level", n, 0, NAMES.len() as i64 - 1)?;
        Ok(Level(n as u8))
    }
    /// 0 (OFF) to 5 (TRACE).
    pub fn number(self) -> i32 {
        self.0 as i32
    }
    /// `off`, `error`, `warn`, `info`, `debug` or `trace`.
    pub fn name(self) -> &'static str {
        NAMES[self.0 as usize]
    }
    /// The `tracing` level (`None` for OFF).
    pub fn tracing(self) -> Option<tracing::Level> {
        Some(match self {
            Level::ERROR => tracing::Level::ERROR,
            Level::WARN => tracing::Level::WARN,
            Level::INFO => tracing::Level::INFO,
            Level::DEBUG => tracing::Level::DEBUG,
            Level::TRACE => tracing::Level::TRACE,
            _ => return None,
        })
    }
}

impl From<tracing::Level> for Level {
    fn from(l: tracing::Level) -> Level {
        match l {
            tracing::Level::ERROR => Level::ERROR,
            tracing::Level::WARN => Level::WARN,
            tracing::Level::INFO => Level::INFO,
            tracing::Level::DEBUG => Level::DEBUG,
            tracing::Level::TRACE => Level::TRACE,
        }
    }
}

impl std::fmt::Debug for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A level name, in any case: `off`, `error`, `warn`, `info`, `debug` or `trace`. Anything else is a
/// `Config` error naming `log_level` and the accepted names.
pub fn parse_level(s: &str) -> Result<Level> {
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .map(|i| Level(i as u8))
        .ok_or_else(|| {
            Error::config(
                "log_level",
                format!("expected one of {}, got {s:?}", NAMES.join(", ")),
            )
        })
}

/// What `HEADWATER_LOG` holds.
#[derive(Debug, PartialEq, Eq)]
enum EnvLevel {
    Unset,
    Level(Level),
    Unknown(String),
}

fn env_level_of(value: Option<&str>) -> EnvLevel {
    match value {
        None | Some("") => EnvLevel::Unset,
        Some(v) => match parse_level(v) {
            Ok(l) => EnvLevel::Level(l),
            Err(_) => EnvLevel::Unknown(v.to_string()),
        },
    }
}

fn read_env() -> EnvLevel {
    // A value that is not UTF-8 is not a level name either.
    match std::env::var_os("HEADWATER_LOG") {
        None => EnvLevel::Unset,
        Some(v) => env_level_of(Some(&v.to_string_lossy())),
    }
}

/// Logs, once per process, that `HEADWATER_LOG` holds no level name.
fn warn_unknown(value: &str) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        level_or_warn("HEADWATER_LOG", value);
    });
}

/// The level a hand-written setting names (`HEADWATER_LOG`, or a binding's own, e.g. Java's
/// `headwater.log` property), by THE rule: a level name gives that level; anything else gives WARN
/// and a warning naming `source`.
pub fn level_or_warn(source: &str, value: &str) -> Level {
    parse_level(value).unwrap_or_else(|_| {
        tracing::warn!(
            "{source}={value:?} is not a log level (expected one of {}); using warn",
            NAMES.join(", ")
        );
        Level::WARN
    })
}

/// The level `HEADWATER_LOG` asks for, by THE rule (see the module docs): `None` when it is unset or
/// empty (the caller's default applies: WARN for stderr), the named level, or WARN for anything else
/// (and one warning, once per process, saying so). Bindings read the variable only through this.
/// Installs the bridge first (see [`install`]), so the warning is seen.
pub fn env_level() -> Option<Level> {
    install();
    match read_env() {
        EnvLevel::Unset => None,
        EnvLevel::Level(l) => Some(l),
        EnvLevel::Unknown(v) => {
            warn_unknown(&v);
            Some(Level::WARN)
        }
    }
}

/// Receives (level, target, message) for every event at or above the sink's level.
pub type LogSink = Arc<dyn Fn(tracing::Level, &str, &str) + Send + Sync>;

static SINK: RwLock<Option<(Level, LogSink)>> = RwLock::new(None);

/// Sends events at `level` and more severe to `sink` instead of stderr (`Level::OFF`: to nowhere).
pub fn set_sink(level: impl Into<Level>, sink: LogSink) {
    *SINK.write().unwrap() = Some((level.into(), sink));
    // Callsites seen before may have cached "disabled"; make them ask again.
    tracing::callsite::rebuild_interest_cache();
}

/// Changes the level of the current sink, or of stderr when no sink is set: the one
/// `set_log_level` of every binding.
pub fn set_level(level: Level) {
    install();
    match &mut *SINK.write().unwrap() {
        Some((max, _)) => *max = level,
        None => STDERR_LEVEL.store(level.0, AtomicOrdering::Relaxed),
    }
    tracing::callsite::rebuild_interest_cache();
}

/// The level events are forwarded at now (the sink's, else stderr's).
pub fn current_level() -> Level {
    match &*SINK.read().unwrap() {
        Some((max, _)) => *max,
        None => Level(STDERR_LEVEL.load(AtomicOrdering::Relaxed)),
    }
}

/// Back to the stderr default.
pub fn clear_sink() {
    *SINK.write().unwrap() = None;
    tracing::callsite::rebuild_interest_cache();
}

struct Collect {
    message: String,
    fields: String,
}

impl tracing::field::Visit for Collect {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

/// Formats an event as `message key=value ...`.
pub fn format_event(event: &Event<'_>) -> String {
    let mut c = Collect {
        message: String::new(),
        fields: String::new(),
    };
    event.record(&mut c);
    c.message + &c.fields
}

/// The stderr level: `HEADWATER_LOG`'s once [`install`] ran, WARN before; [`set_level`] changes it.
static STDERR_LEVEL: AtomicU8 = AtomicU8::new(Level::WARN.0);

struct Bridge;

impl<S: Subscriber> Layer<S> for Bridge {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let level = Level::from(*metadata.level());
        match &*SINK.read().unwrap() {
            Some((max, _)) => level <= *max,
            None => level <= Level(STDERR_LEVEL.load(AtomicOrdering::Relaxed)),
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let sink = SINK.read().unwrap().clone();
        match sink {
            Some((max, sink)) => {
                if Level::from(level) <= max {
                    sink(level, event.metadata().target(), &format_event(event));
                }
            }
            None => {
                if Level::from(level) <= Level(STDERR_LEVEL.load(AtomicOrdering::Relaxed)) {
                    eprintln!("headwater {level}: {}", format_event(event));
                }
            }
        }
    }
}

/// Installs the bridge as the process's tracing subscriber (once; a no-op if the host application
/// already installed its own subscriber, which then receives core's events directly). The stderr
/// level is `HEADWATER_LOG`'s ([`env_level`]), WARN by default.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let env = read_env();
        let stderr_level = match &env {
            EnvLevel::Level(l) => *l,
            EnvLevel::Unset | EnvLevel::Unknown(_) => Level::WARN,
        };
        STDERR_LEVEL.store(stderr_level.0, AtomicOrdering::Relaxed);
        let subscriber = tracing_subscriber::registry().with(Bridge);
        let _ = tracing::subscriber::set_global_default(subscriber);
        // Once the bridge is in place, so the warning reaches stderr.
        if let EnvLevel::Unknown(v) = env {
            warn_unknown(&v);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn levels_have_one_numbering_and_one_set_of_names() {
        for (i, l) in Level::ALL.into_iter().enumerate() {
            assert_eq!(l.number(), i as i32);
            assert_eq!(Level::from_number(i as i64).unwrap(), l);
            assert_eq!(parse_level(l.name()).unwrap(), l);
            assert_eq!(parse_level(&l.name().to_uppercase()).unwrap(), l);
            if let Some(t) = l.tracing() {
                assert_eq!(Level::from(t), l);
            }
        }
        assert_eq!(
            [
                Level::OFF,
                Level::ERROR,
                Level::WARN,
                Level::INFO,
                Level::DEBUG,
                Level::TRACE
            ]
            .map(Level::number),
            [0, 1, 2, 3, 4, 5]
        );
        assert!(Level::OFF < Level::ERROR && Level::DEBUG < Level::TRACE);
        assert_eq!(Level::OFF.tracing(), None);
        assert_eq!(parse_level("Warn").unwrap(), Level::WARN);
    }

    #[test]
    fn unknown_names_and_numbers_are_refused() {
        for bad in ["", "warning", "none", "verbose", " info", "5"] {
            let e = parse_level(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config);
            assert_eq!(
                e.message,
                format!(
                    "invalid config `log_level`: expected one of off, error, warn, info, debug, trace, got {bad:?}"
                )
            );
        }
        for bad in [-1, 6, i64::MAX, i64::MIN] {
            let e = Level::from_number(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{bad}");
            assert!(e.message.ends_with(&format!("got {bad}")), "{e}");
        }
    }

    #[test]
    fn headwater_log_values_follow_the_one_rule() {
        assert_eq!(env_level_of(None), EnvLevel::Unset);
        assert_eq!(env_level_of(Some("")), EnvLevel::Unset);
        assert_eq!(env_level_of(Some("DEBUG")), EnvLevel::Level(Level::DEBUG));
        assert_eq!(env_level_of(Some("off")), EnvLevel::Level(Level::OFF));
        assert_eq!(env_level_of(Some("loud")), EnvLevel::Unknown("loud".into()));
    }
}
