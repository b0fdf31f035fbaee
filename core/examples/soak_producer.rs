//! Soak-test producer (used by tests/soak): sends keyed records at a steady pace for a while, then
//! writes one line per record: `ok <value> <partition> <offset>`, `err <value> <KIND>` or
//! `pending <value>` (a result that never came: the test fails on any).
//!
//! usage: soak_producer ENDPOINT TOPIC SECONDS OUT_FILE LABEL

use std::io::Write;
use std::time::{Duration, Instant};

use headwater::{Producer, ProducerConfig};

#[tokio::main]
async fn main() -> headwater::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, topic, seconds, out_file, label] = &args[..] else {
        eprintln!("usage: soak_producer ENDPOINT TOPIC SECONDS OUT_FILE LABEL");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("SECONDS");
    let config = ProducerConfig::from_options([
        ("linger_ms", "5"),
        ("retry_backoff_ms", "50"),
        ("retry_backoff_max_ms", "1000"),
        ("max_retries", "1000"),
        ("delivery_timeout_ms", "30000"),
        ("metadata_timeout_ms", "30000"),
    ])?;
    let producer = Producer::connect(endpoint, topic, config).await?;
    let start = Instant::now();
    let mut sent = Vec::new();
    let mut seq = [0u64; 8];
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..20 {
            let k = sent.len() % 8;
            let key = format!("{label}-k{k}");
            let value = format!("{key}:{}", seq[k]);
            seq[k] += 1;
            match producer.send(Some(key.as_bytes()), value.as_bytes()).await {
                Ok(out) => sent.push((value, Some(out), None)),
                Err(e) => sent.push((value, None, Some(e.kind.code()))),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = producer.close_timeout(Some(Duration::from_secs(90))).await;
    let mut out = std::io::BufWriter::new(std::fs::File::create(out_file).expect("OUT_FILE"));
    for (value, output, early) in sent {
        let line = match (output.and_then(|o| o.try_get()), early) {
            (Some(Ok(m)), _) => format!("ok {value} {} {}", m.partition, m.offset),
            (Some(Err(e)), _) => format!("err {value} {}", e.kind.code()),
            (None, Some(code)) => format!("err {value} {code}"),
            (None, None) => format!("pending {value}"),
        };
        writeln!(out, "{line}").expect("write");
    }
    Ok(())
}
