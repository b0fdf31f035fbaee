//! Produce driver for the Rust API: the format every language's driver speaks
//! (`tests/real-fluvio/drivers/README.md`), used by the real-engine suite.
//!
//! `produce_driver ENDPOINT TOPIC CODEC [key=value ...]`; stdin `PARTITION KEY VALUE` per line
//! (`-` = none; key `=HEX`, value HEX); stdout `PARTITION OFFSET` per record, in input order.

use std::io::{BufRead, Write};

use headwater::{Producer, ProducerConfig, Record};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn parse(line: &str) -> Record {
    let mut f = line.split_whitespace();
    let (part, key, value) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
    let key = (key != "-").then(|| unhex(&key[1..]));
    let mut r = Record::new(key, unhex(value));
    if part != "-" {
        r = r.partition(part.parse().expect("partition"));
    }
    r
}

#[tokio::main]
async fn main() -> headwater::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, topic, codec, extra @ ..] = args.as_slice() else {
        eprintln!("usage: produce_driver ENDPOINT TOPIC CODEC [key=value ...]");
        std::process::exit(2);
    };
    let mut config = ProducerConfig::default().with("compression", codec)?;
    for kv in extra {
        let (k, v) = kv.split_once('=').expect("key=value");
        config = config.with(k, v)?;
    }
    let records: Vec<Record> = std::io::stdin()
        .lock()
        .lines()
        .map(|l| l.expect("stdin"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse(&l))
        .collect();
    let producer = Producer::connect(endpoint, topic, config).await?;
    let mut outputs = Vec::with_capacity(records.len());
    for r in records {
        outputs.push(producer.send_record(r).await?);
    }
    producer.flush().await?;
    let mut out = std::io::stdout().lock();
    for o in outputs {
        let m = o.wait().await?;
        writeln!(out, "{} {}", m.partition, m.offset).expect("stdout");
    }
    producer.close().await
}
