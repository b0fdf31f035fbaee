//! Client plumbing: multiplexed connections, the shared per-endpoint cluster (SC connection, metadata
//! watch, SPU connections), topic administration and a partition consumer.

pub mod admin;
pub mod cluster;
pub mod connection;
pub mod consumer;

pub use admin::{Admin, PartitionInfo, SpuInfo, TopicConfig, TopicInfo, TOPIC_KEYS};
pub use cluster::Cluster;
pub use consumer::{Consumer, ConsumerConfig, ConsumerRecord, Offset, PartitionStream};
