//! Frames, request/response headers and ApiVersions (docs/PROTOCOL.md §2, §3).

use super::codec::{derr, Decode, DecodeResult, Encode, Reader};
use super::error_code::ErrorCode;
use crate::wire_struct;

/// Frames larger than this are refused by default (both directions).
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

pub const API_VERSIONS_KEY: u16 = 18;
pub const API_VERSIONS_VERSION: i16 = 2;

/// SC api keys.
pub mod sc_keys {
    pub const CREATE: u16 = 1001;
    pub const DELETE: u16 = 1002;
    pub const LIST: u16 = 1003;
    pub const WATCH: u16 = 1004;
    pub const UPDATE: u16 = 1006;
}
/// SPU api keys.
pub mod spu_keys {
    pub const PRODUCE: u16 = 0;
    pub const FETCH_OFFSETS: u16 = 1002;
    pub const STREAM_FETCH: u16 = 1003;
    pub const UPDATE_OFFSETS: u16 = 1005;
}

/// The SC object version every current client uses.
pub const SC_VERSION: i16 = 19;
/// Highest SPU version we speak (Rust 0.50 = 25, Python 0.17.3 = 24).
pub const SPU_VERSION: i16 = 25;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub api_key: u16,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: String,
}

impl Encode for RequestHeader {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        self.api_key.encode(out, 0);
        self.api_version.encode(out, 0);
        self.correlation_id.encode(out, 0);
        self.client_id.encode(out, 0);
    }
}
impl Decode for RequestHeader {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        Ok(RequestHeader {
            api_key: r.u16()?,
            api_version: r.i16()?,
            correlation_id: r.i32()?,
            client_id: String::decode(r, 0)?,
        })
    }
}

/// Builds a full frame (size prefix included) for a request.
pub fn request_frame<T: Encode>(header: &RequestHeader, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0u8; 4]);
    header.encode(&mut out, 0);
    body.encode(&mut out, header.api_version);
    finish_frame(out)
}

/// Builds a full frame for a response at the request's version.
pub fn response_frame<T: Encode>(correlation_id: i32, version: i16, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0u8; 4]);
    correlation_id.encode(&mut out, 0);
    body.encode(&mut out, version);
    finish_frame(out)
}

/// Patches the 4-byte size prefix reserved at the start of `out`.
pub fn finish_frame(mut out: Vec<u8>) -> Vec<u8> {
    let n = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&n.to_be_bytes());
    out
}

/// Reads one frame body (size prefix stripped) from an async reader. `Ok(None)` on clean EOF.
pub async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut len[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-frame",
            ));
        }
        got += n;
    }
    let n = i32::from_be_bytes(len);
    if n < 0 || n as usize > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {n} bytes exceeds the limit of {max}"),
        ));
    }
    // Read into spare capacity, not a zeroed buffer: zeroing a megabyte request only to overwrite it
    // showed in the broker's profile.
    let n = n as usize;
    let mut buf = Vec::with_capacity(n);
    while buf.len() < n {
        let rest = (n - buf.len()) as u64;
        if (&mut *r).take(rest).read_buf(&mut buf).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed mid-frame",
            ));
        }
    }
    Ok(Some(buf))
}

wire_struct! {
    pub struct ApiVersionsRequest {
        pub client_version: String => 1,
        pub client_os: String => 1,
        pub client_arch: String => 1,
    }
}

wire_struct! {
    pub struct ApiVersionKey {
        pub api_key: i16,
        pub min_version: i16,
        pub max_version: i16,
    }
}

wire_struct! {
    pub struct ApiVersionsResponse {
        pub error_code: ErrorCode,
        pub api_keys: Vec<ApiVersionKey>,
        pub platform_version: String,
    }
}

impl ApiVersionsResponse {
    /// `min(ours, theirs)` for a key whose range overlaps ours; `None` if the peer does not offer it.
    pub fn pick(&self, key: u16, our_min: i16, our_max: i16) -> Option<i16> {
        self.api_keys
            .iter()
            .find(|k| {
                k.api_key as u16 == key && k.max_version >= our_min && k.min_version <= our_max
            })
            .map(|k| k.max_version.min(our_max))
    }
}

impl ApiVersionsRequest {
    pub fn ours() -> Self {
        ApiVersionsRequest {
            // Must be semver: the real SC drops connections whose client_version is not.
            client_version: crate::CLIENT_VERSION.to_string(),
            client_os: std::env::consts::OS.to_string(),
            client_arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// Checks that a semver-looking string parses as `major.minor.patch[-pre][+build]`.
pub fn parse_semver(s: &str) -> DecodeResult<(u64, u64, u64, bool)> {
    let core = s.split('+').next().unwrap_or("");
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) if !p.is_empty() => (c, true),
        Some(_) => return derr(format!("invalid semver {s:?}")),
        None => (core, false),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return derr(format!("invalid semver {s:?}"));
    }
    let n = |p: &str| {
        p.parse::<u64>()
            .map_err(|_| super::codec::DecodeError(format!("invalid semver {s:?}")))
    };
    Ok((n(parts[0])?, n(parts[1])?, n(parts[2])?, pre))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn appendix_a_api_versions() {
        let header = RequestHeader {
            api_key: 18,
            api_version: 2,
            correlation_id: 1,
            client_id: "fluvio".into(),
        };
        let body = ApiVersionsRequest {
            client_version: "0.50.2".into(),
            client_os: "linux".into(),
            client_arch: "x86_64".into(),
        };
        assert_eq!(
            request_frame(&header, &body),
            unhex("00 00 00 27 00 12 00 02 00 00 00 01 00 06 66 6c 75 76 69 6f 00 06 30 2e 35 30 2e 32 00 05 6c 69 6e 75 78 00 06 78 38 36 5f 36 34")
        );
        let resp = ApiVersionsResponse {
            error_code: ErrorCode::None,
            api_keys: vec![
                ApiVersionKey {
                    api_key: 1001,
                    min_version: 9,
                    max_version: 19,
                },
                ApiVersionKey {
                    api_key: 1002,
                    min_version: 1,
                    max_version: 19,
                },
                ApiVersionKey {
                    api_key: 1003,
                    min_version: 15,
                    max_version: 19,
                },
                ApiVersionKey {
                    api_key: 1004,
                    min_version: 15,
                    max_version: 19,
                },
            ],
            platform_version: "0.18.2".into(),
        };
        let frame = response_frame(1, 2, &resp);
        assert_eq!(frame, unhex("00 00 00 2a 00 00 00 01 00 00 00 00 00 04 03 e9 00 09 00 13 03 ea 00 01 00 13 03 eb 00 0f 00 13 03 ec 00 0f 00 13 00 06 30 2e 31 38 2e 32"));
        let back: ApiVersionsResponse = super::super::codec::from_bytes(&frame[8..], 2).unwrap();
        assert_eq!(back, resp);
        assert_eq!(back.pick(1004, 15, 19), Some(19));
        assert_eq!(back.pick(1004, 20, 21), None);
    }

    #[test]
    fn semver() {
        assert!(parse_semver("0.50.2").is_ok());
        assert!(parse_semver("0.18.2-dev-1").unwrap().3);
        assert!(parse_semver("").is_err());
        assert!(parse_semver("1.2").is_err());
    }
}
