//! The checks the real SC makes on a topic Create, in its order, with its codes and messages:
//! name, existence, storage limits, deduplication, then the replica layout. A dry run makes every
//! check and creates nothing. (The library face, `TestBroker::create_topic_with`, skips the name and
//! storage-limit rules so tests can use tiny segments; everything sent over the wire gets them.)

use super::state::BrokerState;
use crate::protocol::error_code::codes;
use crate::protocol::sc::{ReplicaSpec, Status, TopicSpec};
use crate::protocol::ErrorCode;

const MAX_NAME_LEN: usize = 63;
const RETENTION_SECS_MIN: u32 = 10;
const SEGMENT_BYTES_MIN: u32 = 1024;
const PARTITION_BYTES_MIN: u64 = 2 * SEGMENT_BYTES_MIN as u64;
/// The segment size an SPU uses when a topic sets none.
const DEFAULT_SEGMENT_BYTES: u32 = 1 << 30;
/// Deduplication needs its filter smart module in the cluster; this broker holds none.
const DEDUP_NOT_LOADED: i16 = 10000;

/// Why a name is not a valid resource name: at most 63 bytes of `[a-z0-9-]`, not starting or
/// ending with `-` (the empty name passes, as on the real SC).
fn name_error(name: &str) -> Option<&'static str> {
    if name.len() > MAX_NAME_LEN {
        return Some("Name exceeds max characters allowed 63");
    }
    let chars_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (!chars_ok || name.starts_with('-') || name.ends_with('-'))
        .then_some("Contain only lowercase alphanumeric characters or '-'")
}

/// Storage limits below the SPU's minimums.
fn config_error(spec: &TopicSpec) -> Option<String> {
    if let Some(c) = spec.cleanup_policy {
        if c.time_in_seconds < RETENTION_SECS_MIN {
            return Some(format!(
                "retention_secs {} is less than minimum {RETENTION_SECS_MIN}",
                c.time_in_seconds
            ));
        }
    }
    let storage = spec.storage.as_ref()?;
    if let Some(seg) = storage.segment_size {
        if seg < SEGMENT_BYTES_MIN {
            return Some(format!(
                "segment_size {seg} is less than minimum {SEGMENT_BYTES_MIN}"
            ));
        }
    }
    let max = storage.max_partition_size?;
    if max < PARTITION_BYTES_MIN {
        return Some(format!(
            "max_partition_size {max} is less than minimum {PARTITION_BYTES_MIN}"
        ));
    }
    let seg = storage.segment_size.unwrap_or(DEFAULT_SEGMENT_BYTES);
    (max < seg as u64).then(|| format!("max_partition_size {max} is less than segment size {seg}"))
}

/// The replica layout: partition and replication counts, or an assigned map over known SPUs.
fn replicas_error(st: &BrokerState, replicas: &ReplicaSpec) -> Option<String> {
    match replicas {
        ReplicaSpec::Computed(p) if p.partitions == 0 => {
            Some("partition must be greater than 0".into())
        }
        ReplicaSpec::Computed(p) if p.replication_factor == 0 => {
            Some("replication factor must be greater than 0".into())
        }
        ReplicaSpec::Computed(_) => None,
        ReplicaSpec::Assigned(maps) => {
            if maps.is_empty() {
                return Some("no assigned partitions found".into());
            }
            let width = maps[0].replicas.len();
            for (id, m) in maps.iter().enumerate() {
                if id == 0 && m.id != 0 {
                    return Some("assigned partitions must start with id 0".into());
                }
                if id == 0 && width == 0 {
                    return Some("assigned replicas must have at least one spu id".into());
                }
                if id > 0 && m.id as usize != id {
                    return Some(
                        "assigned partition ids must be in sequence and without gaps".into(),
                    );
                }
                if id > 0 && m.replicas.len() != width {
                    return Some(format!(
                        "all assigned replicas must have the same number of spu ids: {width}"
                    ));
                }
                let mut sorted = m.replicas.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != m.replicas.len() {
                    return Some(format!(
                        "duplicate spu ids found in assigned partition with id: {id}"
                    ));
                }
                if let Some(neg) = m.replicas.iter().find(|s| **s < 0) {
                    return Some(format!(
                        "invalid spu id: {neg} in assigned partition with id: {id}"
                    ));
                }
            }
            let mut seen = Vec::new();
            for spu in maps.iter().flat_map(|m| &m.replicas) {
                if !seen.contains(spu) {
                    seen.push(*spu);
                }
            }
            seen.into_iter()
                .find(|spu| !st.spus.iter().any(|s| s.id == *spu))
                .map(|spu| format!("invalid spu id: {spu}"))
        }
        _ => None,
    }
}

/// Every check of a topic Create: the Status to answer when one fails.
pub fn check_create(st: &BrokerState, name: &str, spec: &TopicSpec) -> Option<Status> {
    let fail = |who: &str, code: ErrorCode, msg: String| Some(Status::new(who, code, Some(msg)));
    if let Some(e) = name_error(name) {
        return fail(
            name,
            ErrorCode::Plain(codes::TOPIC_INVALID_NAME),
            format!("Invalid topic name: '{name}'. {e}"),
        );
    }
    if st.topics.read().unwrap().contains_key(name) {
        return fail(
            name,
            ErrorCode::Plain(codes::TOPIC_ALREADY_EXISTS),
            format!("Topic '{name}' already exists"),
        );
    }
    if let Some(e) = config_error(spec) {
        return fail(
            name,
            ErrorCode::Plain(codes::TOPIC_INVALID_CONFIGURATION),
            e,
        );
    }
    if let Some(d) = &spec.deduplication {
        let sm = &d.transform.uses;
        return fail(
            sm,
            ErrorCode::Plain(DEDUP_NOT_LOADED),
            format!(
                "Deduplication SmartModule is not loaded into the cluster\nHint: try `fluvio hub sm download {sm}` and repeat this operation"
            ),
        );
    }
    if let Some(e) = replicas_error(st, &spec.replicas) {
        return fail(name, ErrorCode::Plain(codes::TOPIC_ERROR), e);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_real_sc() {
        assert_eq!(name_error(""), None);
        assert_eq!(name_error("a-1"), None);
        assert_eq!(name_error(&"a".repeat(63)), None);
        assert!(name_error(&"a".repeat(64)).unwrap().contains("exceeds"));
        for bad in ["Bad_Name", "-lead", "trail-", "has space", "ümlaut"] {
            assert!(name_error(bad).unwrap().contains("lowercase"), "{bad}");
        }
    }
}
