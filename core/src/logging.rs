//! Routes core's `tracing` events to a language's own logging. Bindings call [`install`] once and may
//! set a sink with [`set_sink`]; without a sink, warnings and errors go to stderr, so they are visible
//! by default. `HEADWATER_LOG` (error, warn, info, debug, trace, off) sets the stderr level.

use std::fmt::Write as _;
use std::sync::{Arc, Once, RwLock};

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Receives (level, target, message) for every event at or above the sink's level.
pub type LogSink = Arc<dyn Fn(Level, &str, &str) + Send + Sync>;

static SINK: RwLock<Option<(Level, LogSink)>> = RwLock::new(None);

fn env_level() -> Option<Level> {
    match std::env::var("HEADWATER_LOG")
        .ok()?
        .to_ascii_lowercase()
        .as_str()
    {
        "off" | "none" => None,
        "error" => Some(Level::ERROR),
        "info" => Some(Level::INFO),
        "debug" => Some(Level::DEBUG),
        "trace" => Some(Level::TRACE),
        _ => Some(Level::WARN),
    }
}

pub use tracing::Level;

/// Sends events at `level` and above to `sink` instead of stderr.
pub fn set_sink(level: Level, sink: LogSink) {
    *SINK.write().unwrap() = Some((level, sink));
    // Callsites seen before may have cached "disabled"; make them ask again.
    tracing::callsite::rebuild_interest_cache();
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

struct Bridge {
    stderr_level: Option<Level>,
}

impl<S: Subscriber> Layer<S> for Bridge {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        let level = *metadata.level();
        match &*SINK.read().unwrap() {
            Some((max, _)) => level <= *max,
            None => self.stderr_level.is_some_and(|max| level <= max),
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        let sink = SINK.read().unwrap().clone();
        match sink {
            Some((max, sink)) => {
                if level <= max {
                    sink(level, event.metadata().target(), &format_event(event));
                }
            }
            None => {
                if self.stderr_level.is_some_and(|max| level <= max) {
                    eprintln!("headwater {level}: {}", format_event(event));
                }
            }
        }
    }
}

/// Installs the bridge as the process's tracing subscriber (once; a no-op if the host application
/// already installed its own subscriber, which then receives core's events directly).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let stderr_level = if std::env::var("HEADWATER_LOG").is_ok() {
            env_level()
        } else {
            Some(Level::WARN)
        };
        let subscriber = tracing_subscriber::registry().with(Bridge { stderr_level });
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}
