//! The Fluvio wire protocol: primitives, frames, SC and SPU messages, record batches, compression.
//! Every decoder returns an error on malformed input; none panics.

pub mod api;
pub mod batch;
pub mod codec;
pub mod compression;
pub mod error_code;
pub mod sc;
pub mod spu;

pub use compression::Compression;
pub use error_code::ErrorCode;
