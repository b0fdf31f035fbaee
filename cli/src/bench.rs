//! `headwater bench`: the Rust core's producer under a fixed workload, one JSON line of results.

use std::time::{Duration, Instant};

use clap::Args;
use headwater::client::{Admin, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::Error;

use crate::progress::{Progress, Total};

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long, env = "HEADWATER_ENDPOINT", default_value = "127.0.0.1:9003")]
    endpoint: String,
    #[arg(long, default_value = "bench")]
    topic: String,
    /// Create the topic with this many partitions if it does not exist.
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Stop after this many seconds even if not all records were sent.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    size: usize,
    #[arg(long, default_value = "none")]
    compression: String,
    #[arg(long, default_value_t = 0)]
    linger_ms: u64,
    /// The product default, so every client in `make bench` runs the same configuration.
    #[arg(long, default_value_t = 16384)]
    batch_size: u64,
    /// Give every record a key (64 distinct keys).
    #[arg(long)]
    keyed: bool,
    /// Measure single-record round trips (linger 0, one in flight) instead of throughput.
    #[arg(long)]
    latency: bool,
}

pub async fn run(a: BenchArgs) -> Result<(), Error> {
    let admin = Admin::connect(&a.endpoint).await?;
    if !admin.list_topics().await?.iter().any(|t| t.name == a.topic) {
        admin
            .create_topic(&a.topic, TopicConfig::new(a.partitions))
            .await?;
    }
    let cfg = ProducerConfig::default()
        .with("compression", &a.compression)?
        .with(
            "linger_ms",
            &if a.latency { 0 } else { a.linger_ms }.to_string(),
        )?
        .with("batch_size", &a.batch_size.to_string())?;
    let producer = Producer::connect(&a.endpoint, &a.topic, cfg).await?;
    let value: Vec<u8> = (0..a.size).map(|i| b'a' + (i % 26) as u8).collect();
    let keys: Vec<Vec<u8>> = (0..64).map(|i| format!("key-{i}").into_bytes()).collect();
    let budget = Duration::from_secs_f64(a.seconds);
    // Drawn only on a terminal; bench/run.sh pipes the output, so measured runs draw nothing.
    let progress = Progress::start("bench", Total::Records(a.records), false);
    let t0 = Instant::now();
    let cpu0 = cpu_seconds();
    let mut sent = 0u64;
    let mut lat = Vec::new();
    if a.latency {
        while sent < a.records && t0.elapsed() < budget {
            let t = Instant::now();
            producer.send(None, &value).await?.wait().await?;
            lat.push(t.elapsed().as_nanos() as u64);
            sent += 1;
            progress.set(sent, 0);
        }
    } else {
        while sent < a.records {
            if sent.is_multiple_of(8192) {
                progress.set(sent, 0);
                if t0.elapsed() >= budget {
                    break;
                }
            }
            let key = if a.keyed {
                Some(keys[(sent % 64) as usize].as_slice())
            } else {
                None
            };
            producer.send(key, &value).await?;
            sent += 1;
        }
        producer.flush().await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    progress.set(sent, 0);
    progress.finish();
    let stats = producer.stats();
    producer.close().await?;
    let mut line = format!(
        "{{\"client\":\"headwater-rust\",\"records\":{sent},\"seconds\":{secs:.4},\"records_per_sec\":{:.0},\"mb_per_sec\":{:.2},\"cpu_seconds\":{cpu:.3},\"compression\":\"{}\",\"size\":{},\"keyed\":{},\"linger_ms\":{},\"acked\":{},\"failed\":{},\"max_rss_kb\":{}",
        sent as f64 / secs,
        sent as f64 * a.size as f64 / secs / 1e6,
        a.compression,
        a.size,
        a.keyed,
        a.linger_ms,
        stats.records_acked,
        stats.records_failed,
        max_rss_kb()
    );
    if a.latency {
        lat.sort_unstable();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0) as f64
                / 1000.0
        };
        line.push_str(&format!(
            ",\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1}",
            pct(0.5),
            pct(0.99),
            pct(0.999)
        ));
    }
    line.push('}');
    println!("{line}");
    Ok(())
}

fn rusage() -> Option<(f64, i64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = 100.0;
    let cpu = (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks;
    Some((cpu, 0))
}

fn cpu_seconds() -> f64 {
    rusage().map(|r| r.0).unwrap_or(0.0)
}

fn max_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
