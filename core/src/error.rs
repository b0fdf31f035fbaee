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
