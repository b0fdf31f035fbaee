//! One error type for everything Headwater does. Bindings map [`ErrorKind`] mechanically
//! (see `tests/vectors/errors.json`).

use crate::protocol::error_code::{code_name, is_retriable_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An invalid configuration key or value; the message names the key.
    Config,
    /// A wait ran past its deadline.
    Timeout,
    /// The partition's batch queue stayed full for `send_timeout_ms`.
    QueueFull,
    /// A record larger than `max_request_size`.
    RecordTooLarge,
    UnknownTopic,
    UnknownPartition,
    /// A codec failed, or the topic's compression policy forbids the codec.
    Compression,
    /// The connection failed or dropped (retriable).
    Transport,
    /// A peer sent bytes that do not decode.
    Protocol,
    /// The broker answered with a Fluvio error code.
    Broker(i16),
    /// The producer (or broker) was closed.
    Closed,
    /// The object was created before `fork()` and cannot be used in the child.
    Forked,
    /// A bad argument to a call (e.g. a negative timeout, a NULL pointer).
    InvalidArgument,
    /// A bug: a panic caught at an FFI boundary, an internal invariant broken.
    Internal,
}

impl ErrorKind {
    /// Every kind, in number order. `Broker` stands for all broker errors with the Fluvio code
    /// [`BROKER_UNKNOWN`](Self::BROKER_UNKNOWN): a kind's identity is its [`code`](Self::code) and
    /// [`number`](Self::number), which ignore the Fluvio code.
    pub const ALL: [ErrorKind; 14] = [
        ErrorKind::Config,
        ErrorKind::Timeout,
        ErrorKind::QueueFull,
        ErrorKind::RecordTooLarge,
        ErrorKind::UnknownTopic,
        ErrorKind::UnknownPartition,
        ErrorKind::Compression,
        ErrorKind::Transport,
        ErrorKind::Protocol,
        ErrorKind::Broker(Self::BROKER_UNKNOWN),
        ErrorKind::Closed,
        ErrorKind::Forked,
        ErrorKind::InvalidArgument,
        ErrorKind::Internal,
    ];

    /// The Fluvio code of the representative `Broker` kind ([`ALL`](Self::ALL), [`from_code`](Self::from_code),
    /// [`from_number`](Self::from_number)): -1, Fluvio's `UnknownServerError` (0 means success).
    /// Set the real code with [`with_broker_code`](Self::with_broker_code).
    pub const BROKER_UNKNOWN: i16 = crate::protocol::error_code::codes::UNKNOWN_SERVER_ERROR;

    /// The kind whose [`code`](Self::code) is `code` (`"CONFIG"`, `"QUEUE_FULL"`, ...; exact, upper
    /// case); `None` for anything else.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The kind whose [`number`](Self::number) is `number` (1 to 14); `None` for anything else.
    pub fn from_number(number: i64) -> Option<ErrorKind> {
        Self::ALL
            .into_iter()
            .find(|k| i64::from(k.number()) == number)
    }

    /// `Broker(code)` for a `Broker` kind; any other kind unchanged.
    pub fn with_broker_code(self, code: i16) -> ErrorKind {
        match self {
            ErrorKind::Broker(_) => ErrorKind::Broker(code),
            k => k,
        }
    }

    /// [`code`](Self::code) as a NUL-terminated static string, for C.
    pub fn code_cstr(&self) -> &'static std::ffi::CStr {
        match self {
            ErrorKind::Config => c"CONFIG",
            ErrorKind::Timeout => c"TIMEOUT",
            ErrorKind::QueueFull => c"QUEUE_FULL",
            ErrorKind::RecordTooLarge => c"RECORD_TOO_LARGE",
            ErrorKind::UnknownTopic => c"UNKNOWN_TOPIC",
            ErrorKind::UnknownPartition => c"UNKNOWN_PARTITION",
            ErrorKind::Compression => c"COMPRESSION",
            ErrorKind::Transport => c"TRANSPORT",
            ErrorKind::Protocol => c"PROTOCOL",
            ErrorKind::Broker(_) => c"BROKER",
            ErrorKind::Closed => c"CLOSED",
            ErrorKind::Forked => c"FORKED",
            ErrorKind::InvalidArgument => c"INVALID_ARGUMENT",
            ErrorKind::Internal => c"INTERNAL",
        }
    }

    /// The stable code string every binding exposes.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Config => "CONFIG",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::QueueFull => "QUEUE_FULL",
            ErrorKind::RecordTooLarge => "RECORD_TOO_LARGE",
            ErrorKind::UnknownTopic => "UNKNOWN_TOPIC",
            ErrorKind::UnknownPartition => "UNKNOWN_PARTITION",
            ErrorKind::Compression => "COMPRESSION",
            ErrorKind::Transport => "TRANSPORT",
            ErrorKind::Protocol => "PROTOCOL",
            ErrorKind::Broker(_) => "BROKER",
            ErrorKind::Closed => "CLOSED",
            ErrorKind::Forked => "FORKED",
            ErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            ErrorKind::Internal => "INTERNAL",
        }
    }
    /// The stable number (C enum value).
    pub fn number(&self) -> i32 {
        match self {
            ErrorKind::Config => 1,
            ErrorKind::Timeout => 2,
            ErrorKind::QueueFull => 3,
            ErrorKind::RecordTooLarge => 4,
            ErrorKind::UnknownTopic => 5,
            ErrorKind::UnknownPartition => 6,
            ErrorKind::Compression => 7,
            ErrorKind::Transport => 8,
            ErrorKind::Protocol => 9,
            ErrorKind::Broker(_) => 10,
            ErrorKind::Closed => 11,
            ErrorKind::Forked => 12,
            ErrorKind::InvalidArgument => 13,
            ErrorKind::Internal => 14,
        }
    }
    pub fn is_retriable(&self) -> bool {
        match self {
            ErrorKind::Transport | ErrorKind::Timeout => true,
            ErrorKind::Broker(c) => is_retriable_code(*c),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn is_retriable(&self) -> bool {
        self.kind.is_retriable()
    }
    /// The Fluvio error code, for `Broker` errors.
    pub fn broker_code(&self) -> Option<i16> {
        match self.kind {
            ErrorKind::Broker(c) => Some(c),
            _ => None,
        }
    }
    pub fn config(key: &str, msg: impl std::fmt::Display) -> Self {
        Error::new(ErrorKind::Config, format!("invalid config `{key}`: {msg}"))
    }
    pub fn transport(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transport, msg)
    }
    pub fn timeout(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Timeout, msg)
    }
    pub fn closed(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Closed, msg)
    }
    pub fn protocol(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, msg)
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, msg)
    }
    /// What a panic caught at a binding's boundary becomes in every language: `Internal`, with the
    /// panic's message (a `&str` or `String` payload) and the binding (`"C"`, `"Node"`, ...).
    pub fn from_panic(payload: &(dyn std::any::Any + Send), binding: &str) -> Self {
        let what = (payload.downcast_ref::<&str>().copied())
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        Error::internal(format!(
            "a bug in headwater (panic in the {binding} binding: {what}); please report it"
        ))
    }
    /// Maps a Fluvio error code from a broker response to the user-facing kind.
    pub fn from_code(code: &crate::protocol::ErrorCode, context: &str) -> Self {
        let c = code.code();
        let kind = match c {
            9000 => ErrorKind::Compression,
            2001 => ErrorKind::UnknownTopic,
            10 => ErrorKind::RecordTooLarge,
            _ => ErrorKind::Broker(c),
        };
        let hint = if is_retriable_code(c) {
            "; retriable"
        } else {
            ""
        };
        Error::new(
            kind,
            format!("{context}: broker returned {}{hint}", code.describe()),
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            ErrorKind::Broker(c) => write!(
                f,
                "[{} {} {}] {}",
                self.kind.code(),
                c,
                code_name(c),
                self.message
            ),
            _ => write!(f, "[{}] {}", self.kind.code(), self.message),
        }
    }
}

impl std::error::Error for Error {}

impl From<crate::protocol::codec::DecodeError> for Error {
    fn from(e: crate::protocol::codec::DecodeError) -> Self {
        Error::protocol(e.0)
    }
}

impl From<crate::protocol::compression::CompressionError> for Error {
    fn from(e: crate::protocol::compression::CompressionError) -> Self {
        Error::new(ErrorKind::Compression, e.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::transport(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The one range rule for counts, ports and indexes passed as arguments: every binding checks a value
/// here, before narrowing it to its native type, so `-1` is reported as given, with the same message
/// in every language.
pub fn check_range(name: &str, value: i64, lo: i64, hi: i64) -> Result<i64> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(format!(
            "`{name}` must be in {lo}..={hi}, got {value}"
        )))
    }
}

/// The largest count (partitions, replication, SPUs) or partition index any binding accepts: what a
/// Java `int` and a JavaScript small integer hold exactly.
pub const MAX_COUNT: i64 = i32::MAX as i64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_internal_with_its_message_and_binding() {
        let p1: Box<dyn std::any::Any + Send> = Box::new("boom");
        let p2: Box<dyn std::any::Any + Send> = Box::new(format!("n={}", 7));
        let p3: Box<dyn std::any::Any + Send> = Box::new(42u8);
        for (p, what) in [(p1, "boom"), (p2, "n=7"), (p3, "unknown cause")] {
            let e = Error::from_panic(&*p, "C");
            assert_eq!(e.kind, ErrorKind::Internal);
            assert!(
                e.message
                    .contains(&format!("panic in the C binding: {what})")),
                "{e}"
            );
        }
    }

    #[test]
    fn every_kind_round_trips_through_its_code_and_number() {
        assert_eq!(ErrorKind::ALL.len(), 14);
        for (i, k) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(k.number() as usize, i + 1, "ALL is in number order");
            assert_eq!(ErrorKind::from_code(k.code()), Some(k));
            assert_eq!(ErrorKind::from_number(k.number().into()), Some(k));
            assert_eq!(k.code_cstr().to_str().unwrap(), k.code());
        }
        let codes: std::collections::HashSet<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), 14, "codes are distinct");
        assert_eq!(ErrorKind::from_code("BROKER"), Some(ErrorKind::Broker(-1)));
        for bad in ["", "config", "OK", "BROKER ", "NOPE"] {
            assert_eq!(ErrorKind::from_code(bad), None, "{bad:?}");
        }
        for bad in [0, 15, -1, i64::MAX] {
            assert_eq!(ErrorKind::from_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_broker_code_is_set_on_broker_kinds_only() {
        let k = ErrorKind::from_code("BROKER").unwrap().with_broker_code(56);
        assert_eq!(k, ErrorKind::Broker(56));
        assert_eq!(Error::new(k, "x").broker_code(), Some(56));
        assert_eq!(ErrorKind::Config.with_broker_code(56), ErrorKind::Config);
    }
}
