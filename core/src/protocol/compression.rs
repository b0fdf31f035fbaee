//! The five batch codecs exactly as Fluvio frames them (docs/PROTOCOL.md §6.2): gzip member, snappy *framing*
//! format, LZ4 *frame* format, zstd frame (level 1). Decompression is bounded so a bomb cannot exhaust memory.

use std::io::{Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

pub const ALL_CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Upper bound on one batch's decompressed records section.
pub const DEFAULT_DECOMPRESS_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressionError(pub String);
impl std::fmt::Display for CompressionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for CompressionError {}

impl Compression {
    /// The codec in a batch's attribute bits 0-2; 5-7 are unknown (Fluvio rejects them with 9000).
    pub fn from_attributes(attributes: i16) -> Result<Self, CompressionError> {
        Self::from_id((attributes & 0x07) as u8)
    }
    pub fn from_id(id: u8) -> Result<Self, CompressionError> {
        Ok(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            n => {
                return Err(CompressionError(format!(
                    "unknown compression codec id {n}"
                )))
            }
        })
    }
    pub fn id(self) -> u8 {
        self as u8
    }
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
    /// [`name`](Self::name) as a NUL-terminated static string, for C.
    pub fn name_cstr(self) -> &'static std::ffi::CStr {
        match self {
            Compression::None => c"none",
            Compression::Gzip => c"gzip",
            Compression::Snappy => c"snappy",
            Compression::Lz4 => c"lz4",
            Compression::Zstd => c"zstd",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        ALL_CODECS.into_iter().find(|c| c.name() == s)
    }

    /// Appends the compressed form of `input` to `out`.
    pub fn compress_into(self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressionError> {
        let err = |e: std::io::Error| {
            CompressionError(format!("{} compression failed: {e}", self.name()))
        };
        match self {
            Compression::None => out.extend_from_slice(input),
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                enc.write_all(input).map_err(err)?;
                enc.finish().map_err(err)?;
            }
            Compression::Snappy => {
                let mut enc = snap::write::FrameEncoder::new(out);
                enc.write_all(input).map_err(err)?;
                enc.flush().map_err(err)?;
            }
            Compression::Lz4 => {
                let mut enc = lz4_flex::frame::FrameEncoder::new(out);
                enc.write_all(input).map_err(err)?;
                enc.finish()
                    .map_err(|e| CompressionError(format!("lz4 compression failed: {e}")))?;
            }
            Compression::Zstd => {
                let c = zstd::bulk::compress(input, 1).map_err(err)?;
                out.extend_from_slice(&c);
            }
        }
        Ok(())
    }

    /// Decompresses `input`, failing if the output would exceed `limit` bytes.
    pub fn decompress(self, input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
        let err = |e: std::io::Error| {
            CompressionError(format!("{} decompression failed: {e}", self.name()))
        };
        let mut out = Vec::with_capacity(input.len().saturating_mul(3).min(limit));
        let cap = limit as u64 + 1;
        match self {
            Compression::None => out.extend_from_slice(input),
            Compression::Gzip => {
                flate2::read::GzDecoder::new(input)
                    .take(cap)
                    .read_to_end(&mut out)
                    .map_err(err)?;
            }
            Compression::Snappy => {
                snap::read::FrameDecoder::new(input)
                    .take(cap)
                    .read_to_end(&mut out)
                    .map_err(err)?;
            }
            Compression::Lz4 => {
                lz4_flex::frame::FrameDecoder::new(input)
                    .take(cap)
                    .read_to_end(&mut out)
                    .map_err(err)?;
            }
            Compression::Zstd => {
                zstd::stream::read::Decoder::new(input)
                    .map_err(err)?
                    .take(cap)
                    .read_to_end(&mut out)
                    .map_err(err)?;
            }
        }
        if out.len() > limit {
            return Err(CompressionError(format!(
                "{} payload decompresses to more than {limit} bytes",
                self.name()
            )));
        }
        Ok(out)
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_cstr_is_name() {
        for c in ALL_CODECS {
            assert_eq!(c.name_cstr().to_str().unwrap(), c.name());
        }
    }

    #[test]
    fn every_codec_round_trips_and_frames_as_fluvio() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in ALL_CODECS {
            let mut out = Vec::new();
            c.compress_into(&data, &mut out).unwrap();
            assert_eq!(c.decompress(&out, 1 << 20).unwrap(), data, "{c}");
            match c {
                Compression::Gzip => assert_eq!(&out[..2], &[0x1f, 0x8b]),
                Compression::Snappy => assert_eq!(&out[..10], b"\xff\x06\x00\x00sNaPpY"),
                Compression::Lz4 => assert_eq!(&out[..4], &[0x04, 0x22, 0x4d, 0x18]),
                Compression::Zstd => assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]),
                Compression::None => assert_eq!(out, data),
            }
        }
    }

    #[test]
    fn bombs_are_bounded() {
        let zeros = vec![0u8; 4 << 20];
        for c in ALL_CODECS {
            let mut out = Vec::new();
            c.compress_into(&zeros, &mut out).unwrap();
            assert!(c.decompress(&out, 1 << 20).is_err(), "{c}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for c in &ALL_CODECS[1..] {
            assert!(
                c.decompress(b"\x00\x01garbage-bytes", 1 << 20).is_err(),
                "{c}"
            );
        }
    }
}
