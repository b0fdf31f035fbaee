//! Records on their way in: the owned [`Record`], the borrowed [`RecordRef`] a binding builds over
//! its own buffers (no copy), the packed form Node and Java hand many records over in
//! ([`decode_packed`]), and the one size check every send applies ([`check_record_size`]).

use super::accumulator::BATCH_OVERHEAD;
use super::config::ProducerConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::batch::{record_size, RECORD_MAX_FRAMING};

/// A record to send, with optional explicit partition and timestamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub partition: Option<u32>,
    /// Milliseconds since the epoch; default now.
    pub timestamp: Option<i64>,
}

impl Record {
    pub fn new(key: Option<impl Into<Vec<u8>>>, value: impl Into<Vec<u8>>) -> Self {
        Record {
            key: key.map(Into::into),
            value: value.into(),
            partition: None,
            timestamp: None,
        }
    }
    pub fn partition(mut self, p: u32) -> Self {
        self.partition = Some(p);
        self
    }
    pub fn timestamp(mut self, t: i64) -> Self {
        self.timestamp = Some(t);
        self
    }
}

/// A record whose key and value are borrowed: what a binding builds over the bytes its language
/// handed it, so sending many records copies each only once, into its batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RecordRef<'a> {
    /// `None` = no key (`Some(&[])` is an empty key).
    pub key: Option<&'a [u8]>,
    pub value: &'a [u8],
    pub partition: Option<u32>,
    /// Milliseconds since the epoch; default now.
    pub timestamp: Option<i64>,
}

impl<'a> RecordRef<'a> {
    pub fn new(key: Option<&'a [u8]>, value: &'a [u8]) -> Self {
        RecordRef {
            key,
            value,
            partition: None,
            timestamp: None,
        }
    }
    pub fn partition(mut self, p: u32) -> Self {
        self.partition = Some(p);
        self
    }
    pub fn timestamp(mut self, t: i64) -> Self {
        self.timestamp = Some(t);
        self
    }
    /// An owned copy.
    pub fn to_record(&self) -> Record {
        Record {
            key: self.key.map(<[u8]>::to_vec),
            value: self.value.to_vec(),
            partition: self.partition,
            timestamp: self.timestamp,
        }
    }
}

impl<'a> From<&'a Record> for RecordRef<'a> {
    fn from(r: &'a Record) -> Self {
        RecordRef {
            key: r.key.as_deref(),
            value: &r.value,
            partition: r.partition,
            timestamp: r.timestamp,
        }
    }
}

/// What the `send_all` calls take: owned [`Record`]s or borrowed [`RecordRef`]s.
pub trait AsRecord {
    fn as_record(&self) -> RecordRef<'_>;
}

impl AsRecord for Record {
    fn as_record(&self) -> RecordRef<'_> {
        RecordRef::from(self)
    }
}

impl AsRecord for RecordRef<'_> {
    fn as_record(&self) -> RecordRef<'_> {
        *self
    }
}

/// The size of a record alone in a batch, if that exceeds `max_request_size` (`None`: it fits).
/// The cheap upper bound is tried first: the exact size is computed only near the limit.
#[inline]
fn oversize(max_request_size: usize, key_len: Option<usize>, value_len: usize) -> Option<usize> {
    if BATCH_OVERHEAD + key_len.unwrap_or(0) + value_len + RECORD_MAX_FRAMING <= max_request_size {
        return None;
    }
    let alone = BATCH_OVERHEAD + record_size(key_len, value_len, 0, 0);
    (alone > max_request_size).then_some(alone)
}

fn too_large(
    what: &str,
    size: usize,
    key_len: Option<usize>,
    value_len: usize,
    max: usize,
) -> Error {
    Error::new(
        ErrorKind::RecordTooLarge,
        format!(
            "{what} of {size} bytes (key {} + value {value_len}) exceeds max_request_size ({max} bytes)",
            key_len.unwrap_or(0)
        ),
    )
}

/// The check every send makes: a record must fit a produce request on its own (batch header and
/// framing included), else `RecordTooLarge`.
#[inline]
pub fn check_record_size(config: &ProducerConfig, key: Option<&[u8]>, value: &[u8]) -> Result<()> {
    let key_len = key.map(<[u8]>::len);
    match oversize(config.max_request_size, key_len, value.len()) {
        None => Ok(()),
        Some(size) => Err(too_large(
            "record",
            size,
            key_len,
            value.len(),
            config.max_request_size,
        )),
    }
}

/// The `send_all` rule: [`check_record_size`] for every record before any is sent; the error names
/// the first record that does not fit and says nothing was sent.
pub fn check_record_sizes<R: AsRecord>(config: &ProducerConfig, records: &[R]) -> Result<()> {
    let max = config.max_request_size;
    for (i, r) in records.iter().enumerate() {
        let r = r.as_record();
        let key_len = r.key.map(<[u8]>::len);
        if let Some(size) = oversize(max, key_len, r.value.len()) {
            let e = too_large(&format!("record #{i}"), size, key_len, r.value.len(), max);
            return Err(Error::new(
                e.kind,
                format!("{}; nothing was sent", e.message),
            ));
        }
    }
    Ok(())
}

/// Decodes the packed form in which Node and Java pass many records in a few buffers: record `i`'s
/// key is the next `key_lengths[i]` bytes of `keys` (-1 = no key; `key_lengths` `None` = no record
/// has a key, and `keys` must then be empty), its value the next `value_lengths[i]` bytes of
/// `values`. Value lengths come as `u32` (Node's `Uint32Array`) or `i32` (Java's `int[]`, where a
/// negative one is inconsistent). Every byte must belong to a record. The records borrow the
/// buffers; set `partition`/`timestamp` on them afterwards if the caller passed those.
pub fn decode_packed<'a, L>(
    keys: &'a [u8],
    key_lengths: Option<&[i32]>,
    values: &'a [u8],
    value_lengths: &[L],
) -> Result<Vec<RecordRef<'a>>>
where
    L: Copy + std::fmt::Display,
    usize: TryFrom<L>,
{
    let bad = |why: String| Error::invalid(format!("inconsistent packed records: {why}"));
    if let Some(k) = key_lengths {
        if k.len() != value_lengths.len() {
            return Err(bad(format!(
                "{} key lengths for {} values",
                k.len(),
                value_lengths.len()
            )));
        }
    }
    let (mut k, mut v) = (0usize, 0usize);
    let mut out = Vec::with_capacity(value_lengths.len());
    for (i, &len) in value_lengths.iter().enumerate() {
        let key = match key_lengths.map(|l| l[i]) {
            None | Some(-1) => None,
            Some(l) if l >= 0 => {
                let s = keys.get(k..k + l as usize).ok_or_else(|| {
                    bad(format!(
                        "record {i}'s key ({l} bytes at {k}) runs past the {} key bytes",
                        keys.len()
                    ))
                })?;
                k += l as usize;
                Some(s)
            }
            Some(l) => return Err(bad(format!("record {i} has key length {l}"))),
        };
        let n =
            usize::try_from(len).map_err(|_| bad(format!("record {i} has value length {len}")))?;
        let value = values.get(v..v + n).ok_or_else(|| {
            bad(format!(
                "record {i}'s value ({n} bytes at {v}) runs past the {} value bytes",
                values.len()
            ))
        })?;
        v += n;
        out.push(RecordRef::new(key, value));
    }
    if k != keys.len() || v != values.len() {
        return Err(bad(format!(
            "{} key bytes and {} value bytes left over",
            keys.len() - k,
            values.len() - v
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(key: Option<&'static str>, value: &'static str) -> RecordRef<'static> {
        RecordRef::new(key.map(str::as_bytes), value.as_bytes())
    }

    fn config(max_request_size: usize) -> ProducerConfig {
        ProducerConfig {
            max_request_size,
            ..Default::default()
        }
    }

    #[test]
    fn packed_records_decode_keys_values_and_missing_keys() {
        let recs = decode_packed(
            b"k1k22",
            Some(&[2, -1, 3, 0]),
            b"v1v2v3v4",
            &[2u32, 2, 2, 2],
        )
        .unwrap();
        assert_eq!(
            recs,
            vec![
                r(Some("k1"), "v1"),
                r(None, "v2"),
                r(Some("k22"), "v3"),
                r(Some(""), "v4"),
            ]
        );
        // Java's int[] value lengths; no key lengths at all = no keys.
        let recs = decode_packed(b"", None, b"abc", &[1i32, 0, 2]).unwrap();
        assert_eq!(recs, vec![r(None, "a"), r(None, ""), r(None, "bc"),]);
        assert!(decode_packed::<u32>(b"", None, b"", &[])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn inconsistent_packed_records_are_invalid_arguments() {
        // (keys, key lengths, values, value lengths, what the error says)
        type Case<'a> = (&'a [u8], Option<&'a [i32]>, &'a [u8], &'a [i32], &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                b"k",
                Some(&[1, 1]),
                b"vv",
                &[1, 1],
                "runs past the 1 key bytes",
            ),
            (b"", Some(&[-2]), b"v", &[1], "key length -2"),
            (
                b"",
                Some(&[-1, -1]),
                b"v",
                &[1],
                "2 key lengths for 1 values",
            ),
            (b"", None, b"v", &[2], "runs past the 1 value bytes"),
            (b"", None, b"v", &[-1], "value length -1"),
            (
                b"",
                None,
                b"vv",
                &[1],
                "0 key bytes and 1 value bytes left over",
            ),
            (
                b"k",
                None,
                b"v",
                &[1],
                "1 key bytes and 0 value bytes left over",
            ),
        ];
        for (keys, key_lengths, values, value_lengths, why) in cases {
            let e = decode_packed(keys, key_lengths, values, value_lengths).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
            assert!(e.message.contains(why), "{e} should say {why:?}");
        }
    }

    #[test]
    fn record_refs_and_records_convert_both_ways() {
        let owned = Record::new(Some(b"k".to_vec()), b"v".to_vec())
            .partition(2)
            .timestamp(7);
        let b = RecordRef::from(&owned);
        assert_eq!(b, r(Some("k"), "v").partition(2).timestamp(7));
        assert_eq!(b.to_record(), owned);
        assert_eq!(owned.as_record(), b.as_record());
    }

    #[test]
    fn size_check_is_exact_at_the_limit() {
        // A record alone in a batch: header + its framing; the limit is inclusive.
        let value = vec![0u8; 100];
        let exact = BATCH_OVERHEAD + record_size(Some(3), value.len(), 0, 0);
        check_record_size(&config(exact), Some(b"key"), &value).unwrap();
        let e = check_record_size(&config(exact - 1), Some(b"key"), &value).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RecordTooLarge);
        assert_eq!(
            e.message,
            format!(
                "record of {exact} bytes (key 3 + value 100) exceeds max_request_size ({} bytes)",
                exact - 1
            )
        );
        // Far below the limit the cheap bound decides; far above, too.
        check_record_size(&config(1 << 20), None, &value).unwrap();
        check_record_size(&config(10), None, b"").unwrap_err();
    }

    #[test]
    fn batch_size_check_names_the_first_record_that_does_not_fit() {
        let small = r(None, "ok");
        let big = vec![0u8; 2000];
        let recs = [
            small,
            RecordRef::new(None, &big),
            RecordRef::new(None, &big),
        ];
        let e = check_record_sizes(&config(1000), &recs).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RecordTooLarge);
        assert!(
            e.message.starts_with("record #1 of ") && e.message.ends_with("; nothing was sent"),
            "{e}"
        );
        check_record_sizes(&config(1 << 20), &recs).unwrap();
        let owned = [Record::new(None::<Vec<u8>>, big.clone())];
        check_record_sizes(&config(1000), &owned).unwrap_err();
    }
}
