//! RecordSet, Batch and Record (docs/PROTOCOL.md §6). A batch is `base_offset:i64, batch_len:i32` followed by a
//! 45-byte header and the records section; the record count is the u32 prefix of the records section and,
//! for compressed batches, lives *inside* the compressed payload.

use super::codec::{derr, varint_size, DecodeError, DecodeResult, Reader};
use super::compression::{Compression, CompressionError};

pub const BATCH_PREAMBLE_SIZE: usize = 12;
pub const BATCH_HEADER_SIZE: usize = 45;
pub const BATCH_FILE_HEADER_SIZE: usize = 57;
/// Offset of the attributes field: CRC-32C covers from here to the end of the batch.
pub const CRC_START: usize = 21;
const SCHEMA_ID_FLAG: i16 = 0x10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_len: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub first_timestamp: i64,
    pub max_time_stamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub first_sequence: i32,
    pub schema_id: Option<u32>,
}

impl Default for BatchHeader {
    fn default() -> Self {
        BatchHeader {
            base_offset: 0,
            batch_len: 0,
            partition_leader_epoch: -1,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: -1,
            first_timestamp: -1,
            max_time_stamp: -1,
            producer_id: -1,
            producer_epoch: -1,
            first_sequence: -1,
            schema_id: None,
        }
    }
}

impl BatchHeader {
    /// Parses the header at the start of `buf`, checking that the whole batch is present.
    pub fn parse(buf: &[u8]) -> DecodeResult<BatchHeader> {
        let mut r = Reader::new(buf);
        let mut h = BatchHeader {
            base_offset: r.i64()?,
            batch_len: r.i32()?,
            partition_leader_epoch: r.i32()?,
            magic: r.u8()? as i8,
            crc: r.u32()?,
            attributes: r.i16()?,
            last_offset_delta: r.i32()?,
            first_timestamp: r.i64()?,
            max_time_stamp: r.i64()?,
            producer_id: r.i64()?,
            producer_epoch: r.i16()?,
            first_sequence: r.i32()?,
            schema_id: None,
        };
        let min_len = BATCH_HEADER_SIZE as i32
            + if h.attributes & SCHEMA_ID_FLAG != 0 {
                4
            } else {
                0
            };
        if h.batch_len < min_len {
            return derr(format!(
                "batch_len {} below the header size {}",
                h.batch_len, min_len
            ));
        }
        if h.attributes & SCHEMA_ID_FLAG != 0 {
            h.schema_id = Some(r.u32()?);
        }
        if buf.len() < h.total_len() {
            return derr(format!(
                "batch needs {} bytes, {} present",
                h.total_len(),
                buf.len()
            ));
        }
        Ok(h)
    }
    /// Bytes of the whole batch, preamble included.
    pub fn total_len(&self) -> usize {
        BATCH_PREAMBLE_SIZE + self.batch_len as usize
    }
    pub fn header_len(&self) -> usize {
        BATCH_FILE_HEADER_SIZE + if self.schema_id.is_some() { 4 } else { 0 }
    }
    pub fn record_count(&self) -> i64 {
        self.last_offset_delta as i64 + 1
    }
    pub fn compression(&self) -> Result<Compression, CompressionError> {
        Compression::from_attributes(self.attributes)
    }
    pub fn next_offset(&self) -> i64 {
        self.base_offset + self.record_count()
    }
}

/// CRC-32C over the batch bytes from the attributes field to the end.
pub fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[CRC_START..])
}

/// Rewrites a stored batch's base offset and recomputes its CRC (the broker assigns offsets).
pub fn set_base_offset_and_crc(batch: &mut [u8], base_offset: i64) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    let crc = batch_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// One record as decoded from a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub timestamp_delta: i64,
    pub offset_delta: i64,
}

/// The most bytes a record's framing (everything but key and value bytes) can take: six varints of at
/// most 10 bytes each for the length, deltas, key length and value length, plus attributes, the key
/// flag and the header count. `record_size(k, v, ..) <= k + v + RECORD_MAX_FRAMING`, always.
pub const RECORD_MAX_FRAMING: usize = 5 * 10 + 3;

/// Encoded size of a record (`Record::write_size` in Fluvio).
#[inline]
pub fn record_size(
    key_len: Option<usize>,
    value_len: usize,
    timestamp_delta: i64,
    offset_delta: i64,
) -> usize {
    let inner = record_inner_size(key_len, value_len, timestamp_delta, offset_delta);
    varint_size(inner as i64) + inner
}

#[inline]
fn record_inner_size(
    key_len: Option<usize>,
    value_len: usize,
    timestamp_delta: i64,
    offset_delta: i64,
) -> usize {
    let key = match key_len {
        None => 1,
        Some(k) => 1 + varint_size(k as i64) + k,
    };
    1 + varint_size(timestamp_delta)
        + varint_size(offset_delta)
        + key
        + varint_size(value_len as i64)
        + value_len
        + 1
}

/// Appends one encoded record.
#[inline]
pub fn put_record(
    out: &mut Vec<u8>,
    key: Option<&[u8]>,
    value: &[u8],
    timestamp_delta: i64,
    offset_delta: i64,
) {
    let inner = record_inner_size(
        key.map(|k| k.len()),
        value.len(),
        timestamp_delta,
        offset_delta,
    );
    // The fixed fields go through a stack buffer and one copy: pushing them byte by byte (a capacity
    // check each) was a visible share of the per-record cost.
    let mut head = [0u8; 48];
    let mut n = write_varint(&mut head, 0, inner as i64);
    head[n] = 0; // attributes
    n = write_varint(&mut head, n + 1, timestamp_delta);
    n = write_varint(&mut head, n, offset_delta);
    out.reserve(inner + 5);
    match key {
        None => {
            head[n] = 0;
            n = write_varint(&mut head, n + 1, value.len() as i64);
            out.extend_from_slice(&head[..n]);
        }
        Some(k) => {
            head[n] = 1;
            n = write_varint(&mut head, n + 1, k.len() as i64);
            out.extend_from_slice(&head[..n]);
            out.extend_from_slice(k);
            let mut vlen = [0u8; 10];
            let m = write_varint(&mut vlen, 0, value.len() as i64);
            out.extend_from_slice(&vlen[..m]);
        }
    }
    out.extend_from_slice(value);
    out.push(0); // headers: always none
}

/// Writes the zigzag varint of `v` at `buf[pos..]`, returning the position after it.
#[inline]
fn write_varint(buf: &mut [u8], mut pos: usize, v: i64) -> usize {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        buf[pos] = (n as u8) | 0x80;
        n >>= 7;
        pos += 1;
    }
    buf[pos] = n as u8;
    pos + 1
}

fn read_record(r: &mut Reader<'_>) -> DecodeResult<Record> {
    let len = r.varint_len()?;
    let body = r.take(len)?;
    let mut b = Reader::new(body);
    let _attributes = b.u8()?;
    let timestamp_delta = b.varint()?;
    let offset_delta = b.varint()?;
    let key = match b.u8()? {
        0 => None,
        1 => {
            let n = b.varint_len()?;
            Some(b.take(n)?.to_vec())
        }
        t => return derr(format!("invalid key option byte {t}")),
    };
    let n = b.varint_len()?;
    let value = b.take(n)?.to_vec();
    let headers = b.varint()?;
    if headers != 0 {
        return derr(format!(
            "record headers are not supported (count {headers})"
        ));
    }
    Ok(Record {
        key,
        value,
        timestamp_delta,
        offset_delta,
    })
}

/// Decodes a records section (`u32 count ++ records`) after decompression.
pub fn decode_records(section: &[u8]) -> DecodeResult<Vec<Record>> {
    let mut r = Reader::new(section);
    let n = r.i32()?;
    if n < 0 || n as usize > r.remaining() {
        return derr(format!("record count {n} out of range"));
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        out.push(read_record(&mut r)?);
    }
    Ok(out)
}

/// What `write_batch` needs besides the records section.
#[derive(Debug, Clone, Copy)]
pub struct BatchInfo {
    pub base_offset: i64,
    pub record_count: usize,
    pub first_timestamp: i64,
    pub max_time_stamp: i64,
    pub compression: Compression,
}

/// Appends a whole batch to `out`. `section` is the uncompressed records section: `u32 count ++ records`.
pub fn write_batch(
    out: &mut Vec<u8>,
    info: &BatchInfo,
    section: &[u8],
) -> Result<(), CompressionError> {
    let start = out.len();
    out.extend_from_slice(&header_bytes(info));
    if let Err(e) = info.compression.compress_into(section, out) {
        out.truncate(start);
        return Err(e);
    }
    seal_header(&mut out[start..]);
    Ok(())
}

/// Completes an uncompressed batch built in place: `batch` is 57 bytes of room for the header
/// followed by the records section (`u32 count ++ records`). Saves copying the section.
pub fn finish_uncompressed_in_place(batch: &mut [u8], info: &BatchInfo) {
    debug_assert_eq!(info.compression, Compression::None);
    batch[..BATCH_FILE_HEADER_SIZE].copy_from_slice(&header_bytes(info));
    seal_header(batch);
}

/// The 57 header bytes with batch_len and crc left zero (see `seal_header`).
fn header_bytes(info: &BatchInfo) -> [u8; BATCH_FILE_HEADER_SIZE] {
    let mut h = [0u8; BATCH_FILE_HEADER_SIZE];
    h[0..8].copy_from_slice(&info.base_offset.to_be_bytes());
    h[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    h[16] = 2;
    h[21..23].copy_from_slice(&(info.compression.id() as i16).to_be_bytes());
    h[23..27].copy_from_slice(&(info.record_count as i32 - 1).to_be_bytes());
    h[27..35].copy_from_slice(&info.first_timestamp.to_be_bytes());
    h[35..43].copy_from_slice(&info.max_time_stamp.to_be_bytes());
    h[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    h[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    h[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    h
}

/// Writes batch_len and the CRC of a complete batch.
fn seal_header(batch: &mut [u8]) {
    let batch_len = (batch.len() - BATCH_PREAMBLE_SIZE) as i32;
    batch[8..12].copy_from_slice(&batch_len.to_be_bytes());
    let crc = batch_crc(batch);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// A batch decoded with its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedBatch {
    pub header: BatchHeader,
    pub compression: Compression,
    pub records: Vec<Record>,
}

/// Decodes one whole batch (header, decompression, records).
pub fn decode_batch(batch: &[u8], decompress_limit: usize) -> DecodeResult<DecodedBatch> {
    let header = BatchHeader::parse(batch)?;
    let compression = header.compression().map_err(|e| DecodeError(e.0))?;
    let raw = &batch[header.header_len()..header.total_len()];
    let records = match compression {
        Compression::None => decode_records(raw)?,
        c => decode_records(
            &c.decompress(raw, decompress_limit)
                .map_err(|e| DecodeError(e.0))?,
        )?,
    };
    if header.last_offset_delta >= 0 && records.len() as i64 != header.record_count() {
        return derr(format!(
            "batch says {} records (last_offset_delta {}), holds {}",
            header.record_count(),
            header.last_offset_delta,
            records.len()
        ));
    }
    Ok(DecodedBatch {
        header,
        compression,
        records,
    })
}

/// Splits a RecordSet's concatenated batches. Stops at the first incomplete or malformed batch
/// (as Fluvio's decoder does: a trailing partial batch is dropped) and reports how many bytes were whole.
pub fn split_batches(mut buf: &[u8]) -> (Vec<(BatchHeader, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut used = 0;
    while buf.len() >= BATCH_FILE_HEADER_SIZE {
        match BatchHeader::parse(buf) {
            Ok(h) => {
                let n = h.total_len();
                out.push((h, &buf[..n]));
                buf = &buf[n..];
                used += n;
            }
            Err(_) => break,
        }
    }
    (out, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_6_4_crc() {
        // One record, value "test", no key, last_offset_delta left at -1 as in Fluvio's own test.
        let mut section = 1u32.to_be_bytes().to_vec();
        put_record(&mut section, None, b"test", 0, 0);
        let info = BatchInfo {
            base_offset: 0,
            record_count: 0, // last_offset_delta -1
            first_timestamp: 1555478494747,
            max_time_stamp: 1555478494747,
            compression: Compression::None,
        };
        let mut out = Vec::new();
        write_batch(&mut out, &info, &section).unwrap();
        let h = BatchHeader::parse(&out).unwrap();
        assert_eq!(h.crc, 1430948200);
        assert_eq!(h.batch_len, 60);
        assert_eq!(
            hex::encode(&out),
            "0000000000000000\
             0000003c\
             ffffffff02554a89680000ffffffff\
             0000016a29be3e1b0000016a29be3e1bffffffffffffffffffffffffffff\
             000000011400000000087465737400"
        );
    }

    #[test]
    fn in_place_uncompressed_equals_write_batch() {
        let mut section = 2u32.to_be_bytes().to_vec();
        put_record(&mut section, Some(b"k"), b"v1", 0, 0);
        put_record(&mut section, None, b"v2", 3, 1);
        let info = BatchInfo {
            base_offset: 1,
            record_count: 2,
            first_timestamp: 5,
            max_time_stamp: 8,
            compression: Compression::None,
        };
        let mut copied = Vec::new();
        write_batch(&mut copied, &info, &section).unwrap();
        let mut in_place = vec![0u8; BATCH_FILE_HEADER_SIZE];
        in_place.extend_from_slice(&section);
        finish_uncompressed_in_place(&mut in_place, &info);
        assert_eq!(in_place, copied);
    }

    #[test]
    fn records_round_trip_every_codec() {
        for c in super::super::compression::ALL_CODECS {
            let mut section = 3u32.to_be_bytes().to_vec();
            put_record(&mut section, None, b"a", 0, 0);
            put_record(&mut section, Some(b""), &[7u8; 200], 5, 1);
            put_record(&mut section, Some(b"key"), b"v", 9, 2);
            let info = BatchInfo {
                base_offset: 2,
                record_count: 3,
                first_timestamp: 10,
                max_time_stamp: 19,
                compression: c,
            };
            let mut out = Vec::new();
            write_batch(&mut out, &info, &section).unwrap();
            let d = decode_batch(&out, 1 << 20).unwrap();
            assert_eq!(d.compression, c);
            assert_eq!(d.header.last_offset_delta, 2);
            assert_eq!(d.records.len(), 3);
            assert_eq!(d.records[0].key, None);
            assert_eq!(d.records[1].key.as_deref(), Some(&b""[..]));
            assert_eq!(d.records[1].value.len(), 200);
            assert_eq!(d.records[2].key.as_deref(), Some(&b"key"[..]));
            assert_eq!(batch_crc(&out), d.header.crc);
        }
    }

    #[test]
    fn record_size_matches_encoding() {
        for (k, v, t, o) in [
            (None, 0, 0, 0),
            (Some(0), 1, 70, 1),
            (Some(300), 100_000, 1 << 20, 9000),
        ] {
            let key = k.map(|n| vec![1u8; n]);
            let val = vec![2u8; v];
            let mut out = Vec::new();
            put_record(&mut out, key.as_deref(), &val, t, o);
            assert_eq!(out.len(), record_size(k, v, t, o));
        }
    }
}
