//! `ProducerConfig`: exactly the keys, types and defaults of the one table (README 'Configuration', `tests/vectors/config.json`), and the one
//! parser every language uses (`set("key", "value")`). An unknown key or a bad value is a `Config`
//! error naming the key. The table is data too: `tests/vectors/config.json`.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::Compression;
use crate::tls::TlsConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    #[default]
    ReadUncommitted,
    ReadCommitted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    #[default]
    AtLeastOnce,
    AtMostOnce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionerKind {
    /// Fluvio's: SipHash-2-4 for keys, round-robin over online partitions without.
    #[default]
    Default,
    /// Every record round-robin, keys ignored.
    RoundRobin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub max_request_size: usize,
    pub batch_queue_size: usize,
    pub send_timeout: Duration,
    /// `None` follows the topic's policy (`any` ⇒ none).
    pub compression: Option<Compression>,
    pub isolation: Isolation,
    pub delivery: Delivery,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub delivery_timeout: Duration,
    /// Server-side wait sent in each produce request.
    pub timeout: Duration,
    pub metadata_timeout: Duration,
    pub partitioner: PartitionerKind,
    pub client_id: String,
    /// TLS to the SC and the SPUs (keys `tls`, `tls_ca_file`, `tls_cert_file`, `tls_key_file`,
    /// `tls_server_name`); plaintext by default. Rust callers may also set PEM text in memory.
    pub tls: TlsConfig,
}

/// `max_retries` by default: no count limit in practice (Kafka's default too); `delivery_timeout_ms`
/// bounds the retries instead.
pub const DEFAULT_MAX_RETRIES: u32 = i32::MAX as u32;

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_size: 16384,
            linger: Duration::from_millis(100),
            max_request_size: 1048576,
            batch_queue_size: 100,
            send_timeout: Duration::from_millis(30000),
            compression: None,
            isolation: Isolation::ReadUncommitted,
            delivery: Delivery::AtLeastOnce,
            // Retries are bounded by delivery_timeout_ms, not by a count (as Kafka's producer does
            // since KIP-91): a leader that comes back within the deadline costs no failed sends.
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff: Duration::from_millis(20),
            retry_backoff_max: Duration::from_millis(5000),
            delivery_timeout: Duration::from_millis(120000),
            timeout: Duration::from_millis(1500),
            metadata_timeout: Duration::from_millis(10000),
            partitioner: PartitionerKind::Default,
            client_id: "headwater".into(),
            tls: TlsConfig::default(),
        }
    }
}

/// Every key, in table order.
pub const CONFIG_KEYS: &[&str] = &[
    "batch_size",
    "linger_ms",
    "max_request_size",
    "batch_queue_size",
    "send_timeout_ms",
    "compression",
    "isolation",
    "delivery",
    "max_retries",
    "retry_backoff_ms",
    "retry_backoff_max_ms",
    "delivery_timeout_ms",
    "timeout_ms",
    "metadata_timeout_ms",
    "partitioner",
    "client_id",
    "tls",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_server_name",
];

/// snake_case → camelCase (`linger_ms` → `lingerMs`), as Node and Java spell keys.
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Strict unsigned integer: ASCII digits only (no sign, spaces, underscores or units), within
/// `min..=max`. The error is the reason, for the caller to attach to its key.
pub(crate) fn uint_value(v: &str, min: u64, max: u64) -> std::result::Result<u64, String> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a whole number, got {v:?}"));
    }
    let n: u64 = v.parse().map_err(|_| format!("{v:?} is too large"))?;
    if n < min {
        return Err(format!("must be at least {min}, got {n}"));
    }
    if n > max {
        return Err(format!("must be at most {max}, got {n}"));
    }
    Ok(n)
}

fn parse_uint(key: &str, v: &str, min: u64, max: u64) -> Result<u64> {
    uint_value(v, min, max).map_err(|why| Error::config(key, why))
}

fn choice<T: Copy>(key: &str, v: &str, options: &[(&str, T)]) -> Result<T> {
    options
        .iter()
        .find(|(name, _)| *name == v)
        .map(|(_, x)| *x)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            Error::config(
                key,
                format!("expected one of {}, got {v:?}", names.join(", ")),
            )
        })
}

impl ProducerConfig {
    /// Sets one key from its string form. Accepts snake_case or camelCase names.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let canonical = CONFIG_KEYS
            .iter()
            .find(|k| **k == key || camel_case(k) == key)
            .copied()
            .ok_or_else(|| {
                Error::config(
                    key,
                    format!("unknown key; valid keys are: {}", CONFIG_KEYS.join(", ")),
                )
            })?;
        // Errors name the key as the caller spelled it (camelCase from Node and Java).
        let k = key;
        let ms = |max: u64| -> Result<Duration> {
            Ok(Duration::from_millis(parse_uint(k, value, 0, max)?))
        };
        match canonical {
            "batch_size" => self.batch_size = parse_uint(k, value, 1, usize::MAX as u64)? as usize,
            "linger_ms" => self.linger = ms(u64::MAX)?,
            "max_request_size" => {
                self.max_request_size = parse_uint(k, value, 1, usize::MAX as u64)? as usize
            }
            "batch_queue_size" => {
                self.batch_queue_size = parse_uint(k, value, 1, usize::MAX as u64)? as usize
            }
            "send_timeout_ms" => self.send_timeout = ms(u64::MAX)?,
            "compression" => {
                self.compression = Some(Compression::parse(value).ok_or_else(|| {
                    Error::config(
                        k,
                        format!("expected one of none, gzip, snappy, lz4, zstd, got {value:?}"),
                    )
                })?)
            }
            "isolation" => {
                self.isolation = choice(
                    k,
                    value,
                    &[
                        ("read_uncommitted", Isolation::ReadUncommitted),
                        ("read_committed", Isolation::ReadCommitted),
                    ],
                )?
            }
            "delivery" => {
                self.delivery = choice(
                    k,
                    value,
                    &[
                        ("at_least_once", Delivery::AtLeastOnce),
                        ("at_most_once", Delivery::AtMostOnce),
                    ],
                )?
            }
            "max_retries" => self.max_retries = parse_uint(k, value, 0, u32::MAX as u64)? as u32,
            "retry_backoff_ms" => self.retry_backoff = ms(u64::MAX)?,
            "retry_backoff_max_ms" => self.retry_backoff_max = ms(u64::MAX)?,
            "delivery_timeout_ms" => self.delivery_timeout = ms(u64::MAX)?,
            "timeout_ms" => self.timeout = ms(i32::MAX as u64)?,
            "metadata_timeout_ms" => self.metadata_timeout = ms(u64::MAX)?,
            "partitioner" => {
                self.partitioner = choice(
                    k,
                    value,
                    &[
                        ("default", PartitionerKind::Default),
                        ("round_robin", PartitionerKind::RoundRobin),
                    ],
                )?
            }
            "client_id" => {
                if value.is_empty() || value.len() > i16::MAX as usize {
                    return Err(Error::config(k, "must be 1 to 32767 bytes"));
                }
                self.client_id = value.to_string()
            }
            "tls" | "tls_ca_file" | "tls_cert_file" | "tls_key_file" | "tls_server_name" => {
                self.tls.set(k, value)?
            }
            _ => unreachable!("every key in CONFIG_KEYS is handled"),
        }
        Ok(())
    }

    /// Reads a value back in its string form (`None` for unset compression).
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        let ms = |d: Duration| Some(d.as_millis().to_string());
        Ok(match key {
            "batch_size" => Some(self.batch_size.to_string()),
            "linger_ms" => ms(self.linger),
            "max_request_size" => Some(self.max_request_size.to_string()),
            "batch_queue_size" => Some(self.batch_queue_size.to_string()),
            "send_timeout_ms" => ms(self.send_timeout),
            "compression" => self.compression.map(|c| c.name().to_string()),
            "isolation" => Some(match self.isolation {
                Isolation::ReadUncommitted => "read_uncommitted".into(),
                Isolation::ReadCommitted => "read_committed".into(),
            }),
            "delivery" => Some(match self.delivery {
                Delivery::AtLeastOnce => "at_least_once".into(),
                Delivery::AtMostOnce => "at_most_once".into(),
            }),
            "max_retries" => Some(self.max_retries.to_string()),
            "retry_backoff_ms" => ms(self.retry_backoff),
            "retry_backoff_max_ms" => ms(self.retry_backoff_max),
            "delivery_timeout_ms" => ms(self.delivery_timeout),
            "timeout_ms" => ms(self.timeout),
            "metadata_timeout_ms" => ms(self.metadata_timeout),
            "partitioner" => Some(match self.partitioner {
                PartitionerKind::Default => "default".into(),
                PartitionerKind::RoundRobin => "round_robin".into(),
            }),
            "client_id" => Some(self.client_id.clone()),
            "tls" | "tls_ca_file" | "tls_cert_file" | "tls_key_file" | "tls_server_name" => {
                self.tls.get(key)?
            }
            other => return Err(Error::config(other, "unknown key")),
        })
    }

    /// Builds a config from string options (snake_case or camelCase keys), failing on the first bad
    /// one: the one spelling of option parsing, as `BrokerConfig::from_options` and
    /// `TopicConfig::from_options`.
    pub fn from_options<'a>(options: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut c = ProducerConfig::default();
        for (k, v) in options {
            c.set(k, v)?;
        }
        Ok(c)
    }

    /// Chainable form of `set` for Rust callers: `ProducerConfig::default().with("linger_ms", "0")?`.
    pub fn with(mut self, key: &str, value: &str) -> Result<Self> {
        self.set(key, value)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn from_options_takes_either_spelling_and_names_the_bad_key() {
        let c = ProducerConfig::from_options([("linger_ms", "5"), ("batchSize", "100")]).unwrap();
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 100);
        assert_eq!(
            ProducerConfig::from_options([("linger_ms", "5"), ("batchSize", "100")]).unwrap(),
            c,
            "the old name is the same parser"
        );
        let e = ProducerConfig::from_options([("linger_ms", "5"), ("lingerMs", "x")]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.starts_with("invalid config `lingerMs`: "), "{e}");
    }
}
