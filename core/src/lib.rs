//! Headwater: a fast producer client for Fluvio-protocol streaming clusters, with an embedded broker.
//!
//! - [`protocol`]: the Fluvio wire protocol, byte for byte.
//! - [`producer`]: partitioning, batching, compression, delivery.
//! - [`client`]: connections, cluster metadata, [`Admin`](client::Admin), [`Consumer`](client::Consumer).
//! - [`broker`]: the embedded broker ([`TestBroker`](broker::TestBroker)).
//! - [`runtime`]: the one process-wide tokio runtime every background task runs on.
//! - [`tls`]: TLS (rustls) for the clients and the embedded broker.

/// A struct of `u64` counters with `fields()`: every counter with its name, in declaration order,
/// so a binding that hands counters over as a list or a dict writes no field list of its own.
macro_rules! counters {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $f:ident,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $f: u64,)* }

        impl $name {
            /// Every counter with its name, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($f), self.$f)),*]
            }
        }
    };
}

pub mod protocol;

/// Sent as `client_version` in ApiVersions; must be semver.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");
pub mod broker;
pub mod client;
pub mod error;
pub mod logging;
pub mod runtime;
pub mod tls;

pub use broker::{BrokerConfig, TestBroker};
pub use client::{Admin, Consumer, ConsumerRecord, Offset, TopicConfig};
pub use error::{Error, ErrorKind, Result};
pub use protocol::Compression;
pub use tls::{ServerTlsConfig, TlsConfig};
pub mod producer;
pub use producer::{ProduceOutput, Producer, ProducerConfig, Record, RecordMetadata};
