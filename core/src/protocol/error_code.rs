//! Fluvio `ErrorCode` (docs/PROTOCOL.md §5.7): an i16 tag followed by the variant's payload.
//! An unknown tag fails decoding, exactly as the official clients do.

use super::codec::{derr, Decode, DecodeResult, Encode, Reader};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ErrorCode {
    #[default]
    None,
    /// Any known tag without a payload (e.g. 6 NotLeaderForPartition, 9000 CompressionError).
    Plain(i16),
    Other(String),
    RequestTimedOut {
        timeout_ms: u64,
        kind: u8,
    },
    OffsetEvicted {
        offset: i64,
        next_available: i64,
    },
    PartitionFull {
        topic: String,
        partition: u32,
    },
    /// Tags whose payload is a single string (3003, 6005, 6006, 6007, 8001, 8003, 10001).
    WithText(i16, String),
    SmartModuleNotFound {
        name: String,
    },
    SmartModuleInvalid {
        error: String,
        name: Option<String>,
    },
    SmartModuleInvalidExports {
        error: String,
        kind: String,
    },
    SmartModuleMemoryLimitExceeded {
        requested: u64,
        max: u64,
    },
    SystemSpec {
        tag: i16,
        kind: String,
        name: String,
    },
    /// 6004: `SmartModuleTransformRuntimeError{hint, offset, kind, record_key, record_value}`.
    SmartModuleRuntimeError {
        hint: String,
        offset: i64,
        kind: u8,
        record_key: Option<Vec<u8>>,
        record_value: Vec<u8>,
    },
}

pub mod codes {
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const OTHER: i16 = 2;
    pub const NOT_LEADER_FOR_PARTITION: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const PERMISSION_DENIED: i16 = 13;
    pub const STORAGE_ERROR: i16 = 56;
    pub const INVALID_CREATE_REQUEST: i16 = 60;
    pub const INVALID_DELETE_REQUEST: i16 = 61;
    pub const OFFSET_EVICTED: i16 = 71;
    pub const PARTITION_FULL: i16 = 72;
    pub const PARTITION_SHORT_CIRCUITED: i16 = 73;
    pub const SPU_OFFLINE: i16 = 1002;
    pub const TOPIC_ERROR: i16 = 2000;
    pub const TOPIC_NOT_FOUND: i16 = 2001;
    pub const TOPIC_ALREADY_EXISTS: i16 = 2002;
    pub const TOPIC_PENDING_INITIALIZATION: i16 = 2003;
    pub const TOPIC_INVALID_CONFIGURATION: i16 = 2004;
    pub const TOPIC_NOT_PROVISIONED: i16 = 2005;
    pub const TOPIC_INVALID_NAME: i16 = 2006;
    pub const TOPIC_DELETED: i16 = 2007;
    pub const PARTITION_PENDING_INITIALIZATION: i16 = 3000;
    pub const PARTITION_NOT_LEADER: i16 = 3001;
    pub const FETCH_SESSION_NOT_FOUND: i16 = 3002;
    pub const COMPRESSION_ERROR: i16 = 9000;
    pub const SYSTEM_SPEC_DELETION_ATTEMPT: i16 = 12001;
}

/// Known payload-less tags.
const PLAIN: &[i16] = &[
    -1, 1, 6, 10, 13, 56, 60, 61, 73, 1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002, 2003, 2004,
    2005, 2006, 2007, 2008, 3000, 3001, 3002, 3004, 3005, 5000, 5001, 5002, 6000, 7000, 7001, 7002,
    8000, 8002, 9000, 10000, 11001, 11002, 11003, 11004, 11005, 11006,
];
const WITH_TEXT: &[i16] = &[3003, 6005, 6006, 6007, 8001, 8003, 10001];

impl ErrorCode {
    pub fn code(&self) -> i16 {
        match self {
            ErrorCode::None => 0,
            ErrorCode::Plain(c) | ErrorCode::WithText(c, _) => *c,
            ErrorCode::Other(_) => 2,
            ErrorCode::RequestTimedOut { .. } => 7,
            ErrorCode::OffsetEvicted { .. } => 71,
            ErrorCode::PartitionFull { .. } => 72,
            ErrorCode::SmartModuleNotFound { .. } => 6001,
            ErrorCode::SmartModuleInvalid { .. } => 6002,
            ErrorCode::SmartModuleInvalidExports { .. } => 6003,
            ErrorCode::SmartModuleMemoryLimitExceeded { .. } => 6008,
            ErrorCode::SystemSpec { tag, .. } => *tag,
            ErrorCode::SmartModuleRuntimeError { .. } => 6004,
        }
    }
    pub fn is_ok(&self) -> bool {
        matches!(self, ErrorCode::None)
    }
    /// Builds the code for a tag, with a default payload where the variant carries one.
    pub fn from_code(code: i16) -> ErrorCode {
        match code {
            0 => ErrorCode::None,
            2 => ErrorCode::Other(String::new()),
            7 => ErrorCode::RequestTimedOut {
                timeout_ms: 0,
                kind: 0,
            },
            71 => ErrorCode::OffsetEvicted {
                offset: 0,
                next_available: 0,
            },
            72 => ErrorCode::PartitionFull {
                topic: String::new(),
                partition: 0,
            },
            6001 => ErrorCode::SmartModuleNotFound {
                name: String::new(),
            },
            6002 => ErrorCode::SmartModuleInvalid {
                error: String::new(),
                name: None,
            },
            6003 => ErrorCode::SmartModuleInvalidExports {
                error: String::new(),
                kind: String::new(),
            },
            6004 => ErrorCode::SmartModuleRuntimeError {
                hint: String::new(),
                offset: 0,
                kind: 0,
                record_key: None,
                record_value: Vec::new(),
            },
            6008 => ErrorCode::SmartModuleMemoryLimitExceeded {
                requested: 0,
                max: 0,
            },
            12001 | 12002 => ErrorCode::SystemSpec {
                tag: code,
                kind: String::new(),
                name: String::new(),
            },
            c if WITH_TEXT.contains(&c) => ErrorCode::WithText(c, String::new()),
            c => ErrorCode::Plain(c),
        }
    }
    pub fn name(&self) -> &'static str {
        code_name(self.code())
    }
    /// Whether a producer should retry a batch that failed with this code.
    pub fn is_retriable(&self) -> bool {
        is_retriable_code(self.code())
    }
    pub fn describe(&self) -> String {
        match self {
            ErrorCode::Other(s) | ErrorCode::WithText(_, s) if !s.is_empty() => {
                format!("{} ({}): {}", self.name(), self.code(), s)
            }
            ErrorCode::PartitionFull { topic, partition } => {
                format!("{} ({}): {topic}-{partition}", self.name(), self.code())
            }
            ErrorCode::SystemSpec { kind, name, .. } => {
                format!("{} ({}): {kind} `{name}`", self.name(), self.code())
            }
            _ => format!("{} ({})", self.name(), self.code()),
        }
    }
}

/// The Fluvio codes a producer retries: leadership moves and timeouts. Defined once, here.
pub fn is_retriable_code(code: i16) -> bool {
    matches!(code, 6 | 7 | 1002 | 2003 | 3000 | 3001)
}

pub fn code_name(code: i16) -> &'static str {
    match code {
        -1 => "UnknownServerError",
        0 => "None",
        1 => "OffsetOutOfRange",
        2 => "Other",
        6 => "NotLeaderForPartition",
        7 => "RequestTimedOut",
        10 => "MessageTooLarge",
        13 => "PermissionDenied",
        56 => "StorageError",
        60 => "InvalidCreateRequest",
        61 => "InvalidDeleteRequest",
        71 => "OffsetEvicted",
        72 => "PartitionFull",
        73 => "PartitionShortCircuited",
        1000 => "SpuError",
        1001 => "SpuRegisterationFailed",
        1002 => "SpuOffline",
        1003 => "SpuNotFound",
        1004 => "SpuAlreadyExists",
        2000 => "TopicError",
        2001 => "TopicNotFound",
        2002 => "TopicAlreadyExists",
        2003 => "TopicPendingInitialization",
        2004 => "TopicInvalidConfiguration",
        2005 => "TopicNotProvisioned",
        2006 => "TopicInvalidName",
        2007 => "TopicDeleted",
        2008 => "TopicInvalidReplicaType",
        3000 => "PartitionPendingInitialization",
        3001 => "PartitionNotLeader",
        3002 => "FetchSessionNotFoud",
        3003 => "OffsetFlushRequestError",
        3004 => "OffsetManagementDisabled",
        3005 => "MaxRetryReached",
        9000 => "CompressionError",
        12001 => "SystemSpecDeletionAttempt",
        12002 => "SystemSpecUpdatingAttempt",
        5000 => "ManagedConnectorError",
        5001 => "ManagedConnectorNotFound",
        5002 => "ManagedConnectorAlreadyExists",
        6000 => "SmartModuleError",
        6001 => "SmartModuleNotFound",
        6002 => "SmartModuleInvalid",
        6003 => "SmartModuleInvalidExports",
        6004 => "SmartModuleRuntimeError",
        6005 => "SmartModuleChainInitError",
        6006 => "SmartModuleInitError",
        6007 => "SmartModuleLookBackError",
        6008 => "SmartModuleMemoryLimitExceeded",
        7000 => "TableFormatError",
        7001 => "TableFormatNotFound",
        7002 => "TableFormatAlreadyExists",
        8000 => "DerivedStreamObjectError",
        8001 => "DerivedStreamNotFound",
        8002 => "DerivedStreamJoinFetchError",
        8003 => "DerivedStreamInvalid",
        10000 => "DeduplicationSmartModuleNotLoaded",
        10001 => "DeduplicationSmartModuleNameInvalid",
        11001 => "MirrorNotFound",
        11002 => "MirrorAlreadyExists",
        11003 => "MirrorProduceFromHome",
        11004 => "MirrorDeleteFromRemote",
        11005 => "MirrorInvalidType",
        11006 => "MirrorProduceFromRemoteNotAllowed",
        _ => "Unknown",
    }
}

impl Encode for ErrorCode {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.code().encode(out, v);
        match self {
            ErrorCode::None | ErrorCode::Plain(_) => {}
            ErrorCode::Other(s) | ErrorCode::WithText(_, s) => s.encode(out, v),
            ErrorCode::RequestTimedOut { timeout_ms, kind } => {
                timeout_ms.encode(out, v);
                kind.encode(out, v)
            }
            ErrorCode::OffsetEvicted {
                offset,
                next_available,
            } => {
                offset.encode(out, v);
                next_available.encode(out, v)
            }
            ErrorCode::PartitionFull { topic, partition } => {
                topic.encode(out, v);
                partition.encode(out, v)
            }
            ErrorCode::SmartModuleNotFound { name } => name.encode(out, v),
            ErrorCode::SmartModuleInvalid { error, name } => {
                error.encode(out, v);
                name.encode(out, v)
            }
            ErrorCode::SmartModuleInvalidExports { error, kind } => {
                error.encode(out, v);
                kind.encode(out, v)
            }
            ErrorCode::SmartModuleMemoryLimitExceeded { requested, max } => {
                requested.encode(out, v);
                max.encode(out, v)
            }
            ErrorCode::SystemSpec { kind, name, .. } => {
                kind.encode(out, v);
                name.encode(out, v)
            }
            ErrorCode::SmartModuleRuntimeError {
                hint,
                offset,
                kind,
                record_key,
                record_value,
            } => {
                hint.encode(out, v);
                offset.encode(out, v);
                kind.encode(out, v);
                record_key.clone().map(super::codec::ByteVec).encode(out, v);
                super::codec::ByteVec(record_value.clone()).encode(out, v);
            }
        }
    }
}

impl Decode for ErrorCode {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let tag = r.i16()?;
        Ok(match tag {
            0 => ErrorCode::None,
            2 => ErrorCode::Other(String::decode(r, v)?),
            7 => ErrorCode::RequestTimedOut {
                timeout_ms: u64::decode(r, v)?,
                kind: r.u8()?,
            },
            71 => ErrorCode::OffsetEvicted {
                offset: r.i64()?,
                next_available: r.i64()?,
            },
            72 => ErrorCode::PartitionFull {
                topic: String::decode(r, v)?,
                partition: r.u32()?,
            },
            6001 => ErrorCode::SmartModuleNotFound {
                name: String::decode(r, v)?,
            },
            6002 => ErrorCode::SmartModuleInvalid {
                error: String::decode(r, v)?,
                name: Option::decode(r, v)?,
            },
            6003 => ErrorCode::SmartModuleInvalidExports {
                error: String::decode(r, v)?,
                kind: String::decode(r, v)?,
            },
            6008 => ErrorCode::SmartModuleMemoryLimitExceeded {
                requested: u64::decode(r, v)?,
                max: u64::decode(r, v)?,
            },
            6004 => ErrorCode::SmartModuleRuntimeError {
                hint: String::decode(r, v)?,
                offset: r.i64()?,
                kind: r.u8()?,
                record_key: Option::<super::codec::ByteVec>::decode(r, v)?.map(|b| b.0),
                record_value: super::codec::ByteVec::decode(r, v)?.0,
            },
            12001 | 12002 => ErrorCode::SystemSpec {
                tag,
                kind: String::decode(r, v)?,
                name: String::decode(r, v)?,
            },
            t if WITH_TEXT.contains(&t) => ErrorCode::WithText(t, String::decode(r, v)?),
            t if PLAIN.contains(&t) => ErrorCode::Plain(t),
            t => return derr(format!("unknown ErrorCode tag {t}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips_with_its_payload() {
        let all: Vec<i16> = [
            0i16, 2, 7, 71, 72, 3003, 6001, 6002, 6003, 6004, 6005, 6006, 6007, 6008, 8001, 8003,
            10001, 12001, 12002,
        ]
        .into_iter()
        .chain(PLAIN.iter().copied())
        .collect();
        for c in all {
            let e = ErrorCode::from_code(c);
            assert_eq!(e.code(), c);
            let bytes = crate::protocol::codec::to_bytes(&e, 25);
            let back: ErrorCode = crate::protocol::codec::from_bytes(&bytes, 25)
                .unwrap_or_else(|err| panic!("{c}: {err}"));
            assert_eq!(back, e);
        }
    }
}
