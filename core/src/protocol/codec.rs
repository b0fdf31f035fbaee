//! Primitive encoding (fluvio-protocol rules, docs/PROTOCOL.md §1): big-endian integers, u16-length strings,
//! u32-count vectors, 1-byte option flags, zigzag varints. Decoders never panic: every read is checked.

use std::collections::BTreeMap;

/// A decoding failure: truncated input, a bad tag, invalid UTF-8, an impossible length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "decode error: {}", self.0)
    }
}
impl std::error::Error for DecodeError {}

pub type DecodeResult<T> = Result<T, DecodeError>;

pub fn derr<T>(msg: impl Into<String>) -> DecodeResult<T> {
    Err(DecodeError(msg.into()))
}

/// A cursor over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if n > self.remaining() {
            return derr(format!("need {} bytes, {} left", n, self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn i16(&mut self) -> DecodeResult<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    pub fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn i32(&mut self) -> DecodeResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i64(&mut self) -> DecodeResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    pub fn varint(&mut self) -> DecodeResult<i64> {
        let mut n: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            n |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        derr("varint longer than 10 bytes")
    }
    /// A varint that must be a length in `0..=remaining` bytes.
    pub fn varint_len(&mut self) -> DecodeResult<usize> {
        let n = self.varint()?;
        if n < 0 || n as u64 > self.remaining() as u64 {
            return derr(format!(
                "length {} out of range ({} bytes left)",
                n,
                self.remaining()
            ));
        }
        Ok(n as usize)
    }
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// Appends standard 64-bit zigzag varint bytes.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Bytes a zigzag varint of `v` takes.
#[inline]
pub fn varint_size(v: i64) -> usize {
    let n = ((v << 1) ^ (v >> 63)) as u64;
    let bits = 64 - (n | 1).leading_zeros() as usize;
    // ceil(bits / 7) without a division: exact for 1..=64 bits (checked against the division in
    // the tests); this runs several times per record.
    (bits * 9 + 64) / 64
}

pub trait Encode {
    fn encode(&self, out: &mut Vec<u8>, version: i16);
}

pub trait Decode: Sized {
    fn decode(r: &mut Reader<'_>, version: i16) -> DecodeResult<Self>;
}

macro_rules! int_codec {
    ($($t:ty => $read:ident),*) => {$(
        impl Encode for $t {
            #[inline]
            fn encode(&self, out: &mut Vec<u8>, _v: i16) { out.extend_from_slice(&self.to_be_bytes()); }
        }
        impl Decode for $t {
            #[inline]
            fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> { r.$read() }
        }
    )*};
}
int_codec!(i16 => i16, u16 => u16, i32 => i32, u32 => u32, i64 => i64);

impl Encode for u8 {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.push(*self)
    }
}
impl Decode for u8 {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        r.u8()
    }
}
impl Encode for i8 {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.push(*self as u8)
    }
}
impl Decode for i8 {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        Ok(r.u8()? as i8)
    }
}
impl Encode for u64 {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.extend_from_slice(&self.to_be_bytes())
    }
}
impl Decode for u64 {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        Ok(r.i64()? as u64)
    }
}

impl Encode for bool {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.push(*self as u8)
    }
}
impl Decode for bool {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => derr(format!("invalid bool byte {b}")),
        }
    }
}

impl Encode for String {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        self.as_str().encode(out, v)
    }
}
impl Encode for str {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        // Fluvio decodes the length as i16: longer strings would desynchronise the peer, so cap them.
        let bytes = self.as_bytes();
        let n = bytes.len().min(i16::MAX as usize);
        out.extend_from_slice(&(n as u16).to_be_bytes());
        out.extend_from_slice(&bytes[..n]);
    }
}
impl Decode for String {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        let n = r.i16()?;
        if n <= 0 {
            return Ok(String::new());
        }
        let b = r.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError("invalid UTF-8 in string".into()))
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        out.extend_from_slice(&(self.len() as u32).to_be_bytes());
        for x in self {
            x.encode(out, v);
        }
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let n = r.i32()?;
        if n < 1 {
            return Ok(Vec::new());
        }
        // Every element takes at least one byte: a count beyond what remains is garbage, not a reason to allocate.
        if n as usize > r.remaining() {
            return derr(format!(
                "vector count {} exceeds {} remaining bytes",
                n,
                r.remaining()
            ));
        }
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n {
            out.push(T::decode(r, v)?);
        }
        Ok(out)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        match self {
            None => out.push(0),
            Some(x) => {
                out.push(1);
                x.encode(out, v)
            }
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        if bool::decode(r, v)? {
            Ok(Some(T::decode(r, v)?))
        } else {
            Ok(None)
        }
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    fn encode(&self, out: &mut Vec<u8>, v: i16) {
        out.extend_from_slice(&(self.len() as u16).to_be_bytes());
        for (k, val) in self {
            k.encode(out, v);
            val.encode(out, v);
        }
    }
}
impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    fn decode(r: &mut Reader<'_>, v: i16) -> DecodeResult<Self> {
        let n = r.u16()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = K::decode(r, v)?;
            let val = V::decode(r, v)?;
            m.insert(k, val);
        }
        Ok(m)
    }
}

/// Raw bytes with a u32 length prefix (Fluvio `Vec<u8>` / `ByteBuf`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteVec(pub Vec<u8>);
impl Encode for ByteVec {
    fn encode(&self, out: &mut Vec<u8>, _v: i16) {
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.0);
    }
}
impl Decode for ByteVec {
    fn decode(r: &mut Reader<'_>, _v: i16) -> DecodeResult<Self> {
        let n = r.i32()?;
        if n < 1 {
            return Ok(ByteVec(Vec::new()));
        }
        Ok(ByteVec(r.take(n as usize)?.to_vec()))
    }
}

/// Encodes a value into a fresh buffer.
pub fn to_bytes<T: Encode + ?Sized>(x: &T, version: i16) -> Vec<u8> {
    let mut v = Vec::new();
    x.encode(&mut v, version);
    v
}

/// Decodes a value that must consume the whole slice.
pub fn from_bytes<T: Decode>(b: &[u8], version: i16) -> DecodeResult<T> {
    let mut r = Reader::new(b);
    let x = T::decode(&mut r, version)?;
    if !r.done() {
        return derr(format!("{} trailing bytes", r.remaining()));
    }
    Ok(x)
}

/// Declares a struct whose fields are encoded in order, each optionally gated by `min_version`.
#[macro_export]
macro_rules! wire_struct {
    ($(#[$m:meta])* pub struct $name:ident { $( $(#[$fm:meta])* pub $field:ident : $ty:ty $(=> $min:literal)? ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name { $( $(#[$fm])* pub $field: $ty ),* }
        impl $crate::protocol::codec::Encode for $name {
            #[allow(unused_variables)]
            fn encode(&self, out: &mut Vec<u8>, v: i16) {
                $( if true $(&& v >= $min)? { $crate::protocol::codec::Encode::encode(&self.$field, out, v); } )*
            }
        }
        impl $crate::protocol::codec::Decode for $name {
            #[allow(unused_variables, unused_mut)]
            fn decode(r: &mut $crate::protocol::codec::Reader<'_>, v: i16) -> $crate::protocol::codec::DecodeResult<Self> {
                let mut s = Self::default();
                $( if true $(&& v >= $min)? { s.$field = $crate::protocol::codec::Decode::decode(r, v)?; } )*
                Ok(s)
            }
        }
    };
}

/// Declares a field-less enum encoded as a u8 discriminant.
#[macro_export]
macro_rules! wire_u8_enum {
    ($(#[$m:meta])* pub enum $name:ident { $( $var:ident = $val:literal ),* $(,)? } default $def:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $var = $val ),* }
        impl Default for $name { fn default() -> Self { $name::$def } }
        impl $crate::protocol::codec::Encode for $name {
            fn encode(&self, out: &mut Vec<u8>, _v: i16) { out.push(*self as u8) }
        }
        impl $crate::protocol::codec::Decode for $name {
            fn decode(r: &mut $crate::protocol::codec::Reader<'_>, _v: i16) -> $crate::protocol::codec::DecodeResult<Self> {
                match r.u8()? {
                    $( $val => Ok($name::$var), )*
                    t => $crate::protocol::codec::derr(format!("unknown {} tag {}", stringify!($name), t)),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_size_matches_the_encoding_at_every_bit_width() {
        for bits in 0..64 {
            for n in [1u64 << bits, (1u64 << bits) - 1, (1u64 << bits) + 1] {
                // Undo the zigzag so `varint_size` sees exactly `n`.
                let v = ((n >> 1) as i64) ^ -((n & 1) as i64);
                let mut out = Vec::new();
                put_varint(&mut out, v);
                assert_eq!(varint_size(v), out.len(), "n = {n:#x}");
            }
        }
        for v in [i64::MIN, i64::MAX, 0, -1] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(varint_size(v), out.len(), "v = {v}");
        }
    }

    #[test]
    fn varint_vectors_from_spec() {
        for (v, hex) in [
            (0i64, "00"),
            (-1, "01"),
            (1, "02"),
            (63, "7e"),
            (8191, "fe7f"),
            (-134217729, "8180808001"),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(hex::encode(&out), hex, "encode {v}");
            assert_eq!(varint_size(v), out.len());
            assert_eq!(Reader::new(&out).varint().unwrap(), v);
        }
    }

    #[test]
    fn strings_vecs_options() {
        let x: (String, Vec<i32>, Option<u16>) = ("ab".into(), vec![1, 2], Some(7));
        let mut out = Vec::new();
        x.0.encode(&mut out, 0);
        x.1.encode(&mut out, 0);
        x.2.encode(&mut out, 0);
        assert_eq!(
            hex::encode(&out),
            "000261620000000200000001000000020100".to_string() + "07"
        );
        let mut r = Reader::new(&out);
        assert_eq!(String::decode(&mut r, 0).unwrap(), "ab");
        assert_eq!(Vec::<i32>::decode(&mut r, 0).unwrap(), vec![1, 2]);
        assert_eq!(Option::<u16>::decode(&mut r, 0).unwrap(), Some(7));
        assert!(r.done());
    }

    #[test]
    fn bad_bool_and_huge_counts_are_errors() {
        assert!(bool::decode(&mut Reader::new(&[2]), 0).is_err());
        assert!(Vec::<i64>::decode(&mut Reader::new(&[0x7f, 0xff, 0xff, 0xff]), 0).is_err());
        assert!(String::decode(&mut Reader::new(&[0, 5, b'a']), 0).is_err());
    }
}
