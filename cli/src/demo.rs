//! `headwater demo`: the main job. An embedded broker, realistic keyed sensor events through every codec,
//! throughput and compression per codec, then a read-back that verifies per-key order and partition affinity.

use std::collections::HashMap;
use std::time::Instant;

use clap::Args;
use headwater::broker::{BrokerConfig, TestBroker};
use headwater::producer::{Producer, ProducerConfig};
use headwater::protocol::compression::ALL_CODECS;
use headwater::{Compression, Error};

use crate::progress::{Progress, Total};

#[derive(Args)]
pub struct DemoArgs {
    /// Events per codec.
    #[arg(long, default_value_t = 200_000)]
    records: u64,
    /// Distinct devices (keys).
    #[arg(long, default_value_t = 64)]
    devices: u32,
    /// Codecs to run (comma separated); default all five.
    #[arg(long, value_delimiter = ',')]
    codecs: Vec<String>,
    /// No progress bars (there are none anyway when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
}

fn event(device: u32, seq: u64, ts: u64) -> (String, String) {
    // Deterministic pseudo-sensor values: realistic text that compresses like real telemetry.
    let x = (seq.wrapping_mul(2654435761) ^ device as u64) % 1000;
    let key = format!("device-{device:04}");
    let value = format!(
        "{{\"device\":\"{key}\",\"seq\":{seq},\"ts\":{ts},\"temp_c\":{:.1},\"humidity\":{:.1},\"battery\":{},\"status\":\"{}\"}}",
        18.0 + x as f64 / 100.0,
        35.0 + (x % 300) as f64 / 10.0,
        100 - (seq % 100),
        if x.is_multiple_of(97) { "alert" } else { "ok" }
    );
    (key, value)
}

pub async fn run(a: DemoArgs) -> Result<(), Error> {
    let codecs: Vec<Compression> = if a.codecs.is_empty() {
        ALL_CODECS.to_vec()
    } else {
        a.codecs
            .iter()
            .map(|c| {
                Compression::parse(c).ok_or_else(|| Error::invalid(format!("unknown codec {c:?}")))
            })
            .collect::<Result<_, _>>()?
    };
    let broker = TestBroker::start(BrokerConfig::default()).await?;
    println!(
        "embedded broker at {} · {} events per codec · {} devices · 3 partitions",
        broker.endpoint(),
        a.records,
        a.devices
    );
    println!(
        "{:<8} {:>12} {:>10} {:>13} {:>10}  verified",
        "codec", "records/s", "MB/s", "compression", "seconds"
    );
    let start_ts = 1_700_000_000_000u64;
    for codec in codecs {
        let topic = format!("sensors-{}", codec.name());
        broker.create_topic(&topic, 3)?;
        let cfg = ProducerConfig::default()
            .with("compression", codec.name())?
            .with("linger_ms", "5")?
            .with("batch_size", "65536")?;
        let producer = Producer::connect(&broker.endpoint(), &topic, cfg).await?;
        let progress = Progress::start(codec.name(), Total::Records(a.records), a.quiet);
        let t0 = Instant::now();
        let mut bytes = 0u64;
        let mut seqs = vec![0u64; a.devices as usize];
        for i in 0..a.records {
            let device = ((i * 7919) % a.devices as u64) as u32;
            let seq = seqs[device as usize];
            seqs[device as usize] += 1;
            let (k, v) = event(device, seq, start_ts + i);
            bytes += (k.len() + v.len()) as u64;
            producer.send(Some(k.as_bytes()), v.as_bytes()).await?;
            if i.is_multiple_of(4096) {
                progress.set(i, 0);
            }
        }
        producer.flush().await?;
        let secs = t0.elapsed().as_secs_f64();
        // The table row printed next has the rate.
        progress.clear();
        let stats = producer.stats();
        producer.close().await?;
        // Read back and verify: every device's records in one partition, in send order, none missing.
        let mut where_: HashMap<Vec<u8>, (u32, i64)> = HashMap::new();
        let mut total = 0u64;
        let mut problems = Vec::new();
        for p in 0..3 {
            for r in broker.records(&topic, p, 0)? {
                total += 1;
                if r.compression != codec {
                    problems.push(format!(
                        "batch at offset {} stored as {} not {}",
                        r.batch_base_offset, r.compression, codec
                    ));
                }
                let key = r.key.clone().unwrap_or_default();
                let seq = parse_seq(&r.value);
                let entry = where_.entry(key.clone()).or_insert((p, -1));
                if entry.0 != p {
                    problems.push(format!(
                        "{} in partitions {} and {p}",
                        String::from_utf8_lossy(&key),
                        entry.0
                    ));
                }
                if seq != entry.1 + 1 {
                    problems.push(format!(
                        "{} seq {seq} after {}",
                        String::from_utf8_lossy(&key),
                        entry.1
                    ));
                }
                entry.1 = seq;
            }
        }
        if total != a.records {
            problems.push(format!("{total} records stored, {} sent", a.records));
        }
        let ratio = stats.bytes_uncompressed as f64 / stats.bytes_compressed.max(1) as f64;
        println!(
            "{:<8} {:>12.0} {:>10.1} {:>12.2}x {:>10.2}  {}",
            codec.name(),
            a.records as f64 / secs,
            bytes as f64 / secs / 1e6,
            ratio,
            secs,
            if problems.is_empty() {
                format!(
                    "ok ({total} records, {} keys, order and affinity hold)",
                    where_.len()
                )
            } else {
                format!("FAILED: {}", problems[..problems.len().min(3)].join("; "))
            }
        );
        if !problems.is_empty() {
            return Err(Error::internal(format!(
                "demo verification failed for {codec}: {} problems",
                problems.len()
            )));
        }
        broker.delete_topic(&topic)?;
    }
    broker.stop();
    Ok(())
}

fn parse_seq(v: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(v);
    s.split("\"seq\":")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}
