//! `fluvio-interop`: drives the OFFICIAL Fluvio Rust client (crate `fluvio` 0.50) against a
//! Fluvio-protocol endpoint — in our tests, Headwater's embedded broker.
//!
//! Every subcommand connects with `FluvioConfig::new(endpoint)` (plain TCP, no profile file), or,
//! with the global `--tls-domain/--tls-ca/--tls-cert/--tls-key` options, with
//! `FluvioConfig::new(endpoint).with_tls(TlsPolicy::Verified(..))` (the official client's verified
//! mutual TLS, files or `--tls-inline` PEM text), and prints machine-readable JSON lines on stdout.
//! Failures exit non-zero with a message on stderr. See `tests/interop/README.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use clap::{Args, Parser, Subcommand};
use fluvio::config::{TlsCerts, TlsConfig, TlsPaths, TlsPolicy};
use fluvio::consumer::{ConsumerConfigExtBuilder, Record as ConsumerRecord, RetryMode};
use fluvio::metadata::topic::TopicSpec;
use fluvio::{
    Compression, Fluvio, FluvioAdmin, FluvioConfig, Offset, ProduceOutput, RecordKey,
    TopicProducerConfigBuilder, TopicProducerPool,
};
use fluvio_future::future::timeout;
use fluvio_future::task::run_block_on;
use futures_util::StreamExt;
use serde_json::{json, Value};

const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

#[derive(Parser, Debug)]
#[command(
    name = "fluvio-interop",
    about = "Official Fluvio Rust client (0.50) interop driver"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    tls: TlsArgs,
}

/// How every subcommand connects: plain TCP unless --tls-domain is given.
#[derive(Args, Debug, Clone)]
struct TlsArgs {
    /// Verified TLS (TlsPolicy::Verified): the SC's certificate is checked against DOMAIN and each
    /// SPU's against `<spu-name>.DOMAIN` (the official client's SNI). Needs the three files below.
    #[arg(long, global = true, value_name = "DOMAIN", requires_all = ["tls_ca", "tls_cert", "tls_key"])]
    tls_domain: Option<String>,
    /// PEM CA certificate to verify the cluster with.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_domain")]
    tls_ca: Option<PathBuf>,
    /// PEM client certificate (the official client always presents one with verified TLS).
    #[arg(long, global = true, value_name = "FILE", requires = "tls_domain")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_domain")]
    tls_key: Option<PathBuf>,
    /// Hand the client the PEM text (TlsConfig::Inline) instead of the paths (TlsConfig::Files).
    #[arg(long, global = true, requires = "tls_domain")]
    tls_inline: bool,
}

impl TlsArgs {
    fn policy(&self) -> Result<TlsPolicy> {
        let Some(domain) = self.tls_domain.clone() else {
            return Ok(TlsPolicy::Disabled);
        };
        let path = |p: &Option<PathBuf>, what: &str| {
            p.clone()
                .ok_or_else(|| anyhow!("--tls-domain needs --tls-{what}"))
        };
        let paths = TlsPaths {
            domain,
            key: path(&self.tls_key, "key")?,
            cert: path(&self.tls_cert, "cert")?,
            ca_cert: path(&self.tls_ca, "ca")?,
        };
        Ok(if self.tls_inline {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))
            };
            TlsPolicy::Verified(TlsConfig::Inline(TlsCerts {
                key: read(&paths.key)?,
                cert: read(&paths.cert)?,
                ca_cert: read(&paths.ca_cert)?,
                domain: paths.domain,
            }))
        } else {
            TlsPolicy::Verified(TlsConfig::Files(paths))
        })
    }
}

/// Set once in `main` from the global TLS options; read by `connect`.
static TLS_POLICY: OnceLock<TlsPolicy> = OnceLock::new();

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Admin + produce (all codecs, keyed and null-key) + consume + verify + delete.
    Scenario {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        topic: String,
        /// Partitions of the scenario topic.
        #[arg(long, default_value_t = 3)]
        partitions: u32,
        /// Keyed records per codec (keys k0..k4).
        #[arg(long, default_value_t = 20)]
        keyed: usize,
        /// Null-key records per codec.
        #[arg(long, default_value_t = 5)]
        keyless: usize,
        /// Deadline for each consume/metadata wait, seconds.
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
    /// Send COUNT records `value-<i>`; print one JSON line of metadata per record.
    Produce {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        count: usize,
        /// none|gzip|snappy|lz4|zstd (unset = follow the topic's policy)
        #[arg(long)]
        compression: Option<String>,
        /// Key of record i is `<prefix><i>`.
        #[arg(long, conflicts_with = "null_key")]
        key_prefix: Option<String>,
        /// Send records with no key (the default when no --key-prefix is given).
        #[arg(long)]
        null_key: bool,
        /// Create the topic with this many partitions first (skipped if it exists).
        #[arg(long)]
        create_partitions: Option<u32>,
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
    /// Read COUNT records of one partition from the beginning; one JSON line each.
    Consume {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        partition: u32,
        /// Records to read (waits for them). Without it: read up to the partition's end
        /// offset at request time (`disable_continuous`).
        #[arg(long)]
        count: Option<usize>,
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
    /// Time sending RECORDS keyless records of SIZE bytes, then flush; one JSON summary line.
    Bench {
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        records: usize,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        compression: Option<String>,
        #[arg(long)]
        linger_ms: Option<u64>,
        #[arg(long)]
        batch_size: Option<usize>,
        /// Create the topic with this many partitions first (skipped if it exists).
        #[arg(long)]
        create_partitions: Option<u32>,
        /// Stop sending after this many seconds even if fewer than RECORDS were sent.
        #[arg(long, default_value_t = 3600.0)]
        seconds: f64,
        /// Single-record round trips (one in flight) instead of throughput; reports p50/p99/p999.
        #[arg(long)]
        latency: bool,
    },
    /// Connect and list topics within TIMEOUT_SECS; one JSON line. For the TLS checks: a bad
    /// certificate must end in an error, never a hang.
    Probe {
        #[arg(long)]
        endpoint: String,
        /// Deadline for connect + list, seconds (an expired deadline is an error).
        #[arg(long, default_value_t = 60)]
        timeout_secs: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = match &cli.cmd {
        Cmd::Scenario { .. } => "scenario",
        Cmd::Produce { .. } => "produce",
        Cmd::Consume { .. } => "consume",
        Cmd::Bench { .. } => "bench",
        Cmd::Probe { .. } => "probe",
    };
    let policy = match cli.tls.policy() {
        Ok(p) => p,
        Err(err) => {
            eprintln!("fluvio-interop {name} FAILED: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    TLS_POLICY.set(policy).expect("TLS policy set once");
    match run_block_on(run(cli.cmd)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fluvio-interop {name} FAILED: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cmd: Cmd) -> Result<()> {
    match cmd {
        Cmd::Scenario {
            endpoint,
            topic,
            partitions,
            keyed,
            keyless,
            timeout_secs,
        } => {
            scenario(
                &endpoint,
                &topic,
                partitions,
                keyed,
                keyless,
                Duration::from_secs(timeout_secs),
            )
            .await
        }
        Cmd::Produce {
            endpoint,
            topic,
            count,
            compression,
            key_prefix,
            null_key: _,
            create_partitions,
            timeout_secs,
        } => {
            produce_cmd(
                &endpoint,
                &topic,
                count,
                compression.as_deref(),
                key_prefix.as_deref(),
                create_partitions,
                Duration::from_secs(timeout_secs),
            )
            .await
        }
        Cmd::Consume {
            endpoint,
            topic,
            partition,
            count,
            timeout_secs,
        } => {
            consume_cmd(
                &endpoint,
                &topic,
                partition,
                count,
                Duration::from_secs(timeout_secs),
            )
            .await
        }
        Cmd::Bench {
            endpoint,
            topic,
            records,
            size,
            compression,
            linger_ms,
            batch_size,
            create_partitions,
            seconds,
            latency,
        } => {
            bench_cmd(
                &endpoint,
                &topic,
                records,
                size,
                compression.as_deref(),
                linger_ms,
                batch_size,
                create_partitions,
                Duration::from_secs_f64(seconds),
                latency,
            )
            .await
        }
        Cmd::Probe {
            endpoint,
            timeout_secs,
        } => probe_cmd(&endpoint, Duration::from_secs(timeout_secs)).await,
    }
}

// ---------------------------------------------------------------------------------------------
// helpers

async fn connect(endpoint: &str) -> Result<Fluvio> {
    // FluvioConfig::new = plain TCP (TlsPolicy::Disabled), no profile file involved; with the
    // global --tls-* options, the official client's verified TLS.
    let policy = TLS_POLICY.get().cloned().unwrap_or(TlsPolicy::Disabled);
    let tls = !matches!(policy, TlsPolicy::Disabled);
    let config = FluvioConfig::new(endpoint).with_tls(policy);
    Fluvio::connect_with_config(&config).await.with_context(|| {
        format!(
            "connect to {endpoint} ({})",
            if tls { "verified TLS" } else { "plain TCP" }
        )
    })
}

fn parse_compression(codec: &str) -> Result<Compression> {
    codec
        .parse::<Compression>()
        .map_err(|e| anyhow!("bad compression {codec:?}: {e}"))
}

async fn producer(
    fluvio: &Fluvio,
    topic: &str,
    compression: Option<&str>,
    linger_ms: Option<u64>,
    batch_size: Option<usize>,
) -> Result<TopicProducerPool> {
    let mut builder = TopicProducerConfigBuilder::default();
    if let Some(codec) = compression {
        builder.compression(parse_compression(codec)?);
    }
    if let Some(ms) = linger_ms {
        builder.linger(Duration::from_millis(ms));
    }
    if let Some(bytes) = batch_size {
        builder.batch_size(bytes);
    }
    let config = builder.build().context("producer config")?;
    fluvio
        .topic_producer_with_config(topic, config)
        .await
        .with_context(|| format!("create producer for topic {topic}"))
}

async fn list_topic_names(admin: &FluvioAdmin) -> Result<Vec<String>> {
    let topics = admin
        .list::<TopicSpec, String>(vec![])
        .await
        .context("admin list topics")?;
    Ok(topics.into_iter().map(|m| m.name).collect())
}

async fn create_topic(admin: &FluvioAdmin, topic: &str, partitions: u32) -> Result<()> {
    let spec = TopicSpec::new_computed(partitions, 1, Some(true));
    admin
        .create(topic.to_string(), false, spec)
        .await
        .with_context(|| format!("admin create topic {topic} ({partitions} partitions)"))
}

async fn ensure_topic(fluvio: &Fluvio, topic: &str, partitions: u32) -> Result<()> {
    let admin = fluvio.admin().await;
    if !list_topic_names(&admin).await?.iter().any(|t| t == topic) {
        create_topic(&admin, topic, partitions).await?;
    }
    Ok(())
}

fn key_json(key: Option<&[u8]>) -> Value {
    match key {
        None => Value::Null,
        Some(k) => Value::String(String::from_utf8_lossy(k).into_owned()),
    }
}

/// One JSON line, fields in the given order (serde_json's `preserve_order`).
fn print_line(v: &Value) {
    println!("{v}");
}

/// Reads partition `partition` of `topic` from the beginning.
/// `count = Some(n)`: stop after n records (continuous stream); `None`: read up to the end
/// offset at the time of the request (`disable_continuous`).
async fn read_partition(
    fluvio: &Fluvio,
    topic: &str,
    partition: u32,
    count: Option<usize>,
    deadline: Duration,
) -> Result<Vec<ConsumerRecord>> {
    let mut builder = ConsumerConfigExtBuilder::default();
    builder
        .topic(topic.to_string())
        .partition(partition)
        .offset_start(Offset::beginning())
        .disable_continuous(count.is_none())
        // surface broker errors instead of silently reconnecting
        .retry_mode(RetryMode::Disabled);
    let config = builder.build().context("consumer config")?;
    let mut stream = fluvio
        .consumer_with_config(config)
        .await
        .with_context(|| format!("create consumer for {topic}-{partition}"))?;
    let mut out = Vec::new();
    let started = Instant::now();
    loop {
        if let Some(n) = count {
            if out.len() >= n {
                break;
            }
        }
        let left = deadline.checked_sub(started.elapsed()).ok_or_else(|| {
            anyhow!(
                "timed out after {deadline:?} reading {topic}-{partition}: got {} records",
                out.len()
            )
        })?;
        let next = timeout(left, stream.next()).await.map_err(|_| {
            anyhow!(
                "timed out after {deadline:?} reading {topic}-{partition}: got {} records",
                out.len()
            )
        })?;
        match next {
            None => break,
            Some(Ok(record)) => out.push(record),
            Some(Err(code)) => bail!(
                "consumer of {topic}-{partition} got error {code:?} after {} records",
                out.len()
            ),
        }
    }
    if let Some(n) = count {
        ensure!(
            out.len() == n,
            "{topic}-{partition}: stream ended after {} of {n} records",
            out.len()
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// produce / consume / bench

async fn produce_cmd(
    endpoint: &str,
    topic: &str,
    count: usize,
    compression: Option<&str>,
    key_prefix: Option<&str>,
    create_partitions: Option<u32>,
    deadline: Duration,
) -> Result<()> {
    let fluvio = connect(endpoint).await?;
    if let Some(p) = create_partitions {
        ensure_topic(&fluvio, topic, p).await?;
    }
    let producer = producer(&fluvio, topic, compression, None, None).await?;
    let mut sent: Vec<(Option<String>, String, ProduceOutput)> = Vec::with_capacity(count);
    for i in 0..count {
        let value = format!("value-{i}");
        let key = key_prefix.map(|p| format!("{p}{i}"));
        let out = match &key {
            Some(k) => producer.send(k.as_str(), value.as_str()).await,
            None => producer.send(RecordKey::NULL, value.as_str()).await,
        }
        .with_context(|| format!("send record {i}"))?;
        sent.push((key, value, out));
    }
    timeout(deadline, producer.flush())
        .await
        .map_err(|_| anyhow!("flush timed out after {deadline:?}"))?
        .context("flush")?;
    for (i, (key, value, out)) in sent.into_iter().enumerate() {
        let md = out
            .wait()
            .await
            .with_context(|| format!("wait metadata of record {i}"))?;
        print_line(&json!({
            "partition": md.partition_id(),
            "offset": md.offset(),
            "key": key,
            "value": value,
        }));
    }
    Ok(())
}

async fn consume_cmd(
    endpoint: &str,
    topic: &str,
    partition: u32,
    count: Option<usize>,
    deadline: Duration,
) -> Result<()> {
    let fluvio = connect(endpoint).await?;
    let records = read_partition(&fluvio, topic, partition, count, deadline).await?;
    for r in records {
        print_line(&json!({
            "offset": r.offset(),
            "key": key_json(r.key()),
            "value": String::from_utf8_lossy(r.value()),
            "timestamp": r.timestamp(),
        }));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn bench_cmd(
    endpoint: &str,
    topic: &str,
    records: usize,
    size: usize,
    compression: Option<&str>,
    linger_ms: Option<u64>,
    batch_size: Option<usize>,
    create_partitions: Option<u32>,
    budget: Duration,
    latency: bool,
) -> Result<()> {
    let fluvio = connect(endpoint).await?;
    if let Some(p) = create_partitions {
        ensure_topic(&fluvio, topic, p).await?;
    }
    let producer = producer(&fluvio, topic, compression, linger_ms, batch_size).await?;
    // Mildly varied payload so compressed runs are not a degenerate all-zero case.
    let payload: Vec<u8> = (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect();
    let start = Instant::now();
    let mut sent = 0usize;
    let mut lat_us: Vec<f64> = Vec::new();
    if latency {
        while sent < records && start.elapsed() < budget {
            let t = Instant::now();
            let out = producer
                .send(RecordKey::NULL, payload.clone())
                .await
                .context("send")?;
            producer.flush().await.context("flush")?;
            out.wait().await.context("wait metadata")?;
            lat_us.push(t.elapsed().as_secs_f64() * 1e6);
            sent += 1;
        }
    } else {
        let mut outputs = Vec::with_capacity(records.min(1 << 22));
        while sent < records {
            if sent.is_multiple_of(8192) && start.elapsed() >= budget {
                break;
            }
            outputs.push(
                producer
                    .send(RecordKey::NULL, payload.clone())
                    .await
                    .with_context(|| format!("send record {sent}"))?,
            );
            sent += 1;
        }
        producer.flush().await.context("flush")?;
        for (i, out) in outputs.into_iter().enumerate() {
            out.wait()
                .await
                .with_context(|| format!("wait metadata of record {i}"))?;
        }
    }
    let records = sent;
    let seconds = start.elapsed().as_secs_f64();
    let rps = records as f64 / seconds;
    let mbps = (records * size) as f64 / seconds / 1_000_000.0;
    if latency {
        lat_us.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            lat_us
                .get(((lat_us.len() as f64 * p) as usize).min(lat_us.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        print_line(&json!({
            "client": "fluvio-rust-0.50",
            "records": records,
            "seconds": seconds,
            "records_per_sec": rps,
            "mb_per_sec": mbps,
            "p50_us": pct(0.5),
            "p99_us": pct(0.99),
            "p999_us": pct(0.999),
        }));
        return Ok(());
    }
    print_line(&json!({
        "client": "fluvio-rust-0.50",
        "records": records,
        "seconds": seconds,
        "records_per_sec": rps,
        "mb_per_sec": mbps,
    }));
    Ok(())
}

async fn probe_cmd(endpoint: &str, deadline: Duration) -> Result<()> {
    let started = Instant::now();
    let names = timeout(deadline, async {
        let fluvio = connect(endpoint).await?;
        let admin = fluvio.admin().await;
        list_topic_names(&admin).await
    })
    .await
    .map_err(|_| anyhow!("timed out after {deadline:?} (connect + list topics)"))??;
    print_line(&json!({
        "connected": true,
        "tls": !matches!(TLS_POLICY.get(), None | Some(TlsPolicy::Disabled)),
        "topics": names.len(),
        "seconds": started.elapsed().as_secs_f64(),
    }));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// scenario

#[derive(Debug, Clone)]
struct Sent {
    key: Option<String>,
    value: String,
    codec: &'static str,
    partition: u32,
    offset: i64,
}

async fn scenario(
    endpoint: &str,
    topic: &str,
    partitions: u32,
    keyed: usize,
    keyless: usize,
    deadline: Duration,
) -> Result<()> {
    let fluvio = connect(endpoint).await?;
    let admin = fluvio.admin().await;

    // 1. admin: create + list
    create_topic(&admin, topic, partitions).await?;
    let names = list_topic_names(&admin).await?;
    ensure!(
        names.iter().any(|n| n == topic),
        "topic {topic} not listed after create: {names:?}"
    );

    // 2. produce with every codec: keyed + null-key records
    let mut sent: Vec<Sent> = Vec::new();
    for codec in CODECS {
        let producer = producer(&fluvio, topic, Some(codec), None, None).await?;
        let mut pending: Vec<(Option<String>, String, ProduceOutput)> = Vec::new();
        for i in 0..keyed {
            let key = format!("k{}", i % 5);
            let value = format!("{codec}-{i}");
            let out = producer
                .send(key.as_str(), value.as_str())
                .await
                .with_context(|| format!("{codec}: send keyed record {i}"))?;
            pending.push((Some(key), value, out));
        }
        for j in 0..keyless {
            let value = format!("{codec}-nokey-{j}");
            let out = producer
                .send(RecordKey::NULL, value.as_str())
                .await
                .with_context(|| format!("{codec}: send null-key record {j}"))?;
            pending.push((None, value, out));
        }
        timeout(deadline, producer.flush())
            .await
            .map_err(|_| anyhow!("{codec}: flush timed out after {deadline:?}"))?
            .with_context(|| format!("{codec}: flush"))?;
        for (key, value, out) in pending {
            let md = timeout(deadline, out.wait())
                .await
                .map_err(|_| anyhow!("{codec}: metadata of {value} timed out"))?
                .with_context(|| format!("{codec}: metadata of {value}"))?;
            ensure!(
                md.partition_id() < partitions,
                "{value}: partition {} out of range",
                md.partition_id()
            );
            sent.push(Sent {
                key,
                value,
                codec,
                partition: md.partition_id(),
                offset: md.offset(),
            });
        }
    }

    // 3. acknowledged offsets: per partition 0..n-1, each exactly once
    let mut per_partition: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for s in &sent {
        per_partition.entry(s.partition).or_default().push(s.offset);
    }
    for (p, offsets) in per_partition.iter_mut() {
        offsets.sort_unstable();
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        ensure!(
            *offsets == expected,
            "partition {p}: acknowledged offsets are not 0..n-1: {offsets:?}"
        );
    }
    // same key => same partition (producer side)
    let mut key_partition: HashMap<String, u32> = HashMap::new();
    for s in &sent {
        if let Some(k) = &s.key {
            let p = *key_partition.entry(k.clone()).or_insert(s.partition);
            ensure!(
                p == s.partition,
                "key {k} acknowledged in partitions {p} and {}",
                s.partition
            );
        }
    }

    // 4. consume every partition from the beginning and compare
    let by_value: HashMap<&str, &Sent> = sent.iter().map(|s| (s.value.as_str(), s)).collect();
    ensure!(
        by_value.len() == sent.len(),
        "duplicate values sent (bug in scenario)"
    );
    let mut seen: HashSet<String> = HashSet::new();
    let mut consumed_counts: BTreeMap<u32, usize> = BTreeMap::new();
    for p in 0..partitions {
        let records = read_partition(&fluvio, topic, p, None, deadline).await?;
        let expected_n = per_partition.get(&p).map(|v| v.len()).unwrap_or(0);
        ensure!(
            records.len() == expected_n,
            "partition {p}: consumed {} records, {} were acknowledged",
            records.len(),
            expected_n
        );
        for (i, r) in records.iter().enumerate() {
            let value = String::from_utf8(r.value().to_vec()).context("value not UTF-8")?;
            ensure!(
                r.offset() == i as i64,
                "partition {p}: record #{i} has offset {} (not contiguous)",
                r.offset()
            );
            let s = by_value.get(value.as_str()).ok_or_else(|| {
                anyhow!(
                    "partition {p} offset {}: unexpected value {value:?}",
                    r.offset()
                )
            })?;
            ensure!(seen.insert(value.clone()), "value {value:?} consumed twice");
            let key = r.key().map(|k| String::from_utf8_lossy(k).into_owned());
            ensure!(
                key == s.key,
                "{value}: key {key:?} read back, {:?} sent",
                s.key
            );
            ensure!(
                s.partition == p && s.offset == r.offset(),
                "{value}: read at {p}/{} but acknowledged at {}/{}",
                r.offset(),
                s.partition,
                s.offset
            );
            ensure!(
                r.timestamp() > 0,
                "{value}: timestamp {} not set",
                r.timestamp()
            );
        }
        consumed_counts.insert(p, records.len());
    }
    ensure!(
        seen.len() == sent.len(),
        "consumed {} distinct values, sent {}",
        seen.len(),
        sent.len()
    );

    // 5. delete and check it is gone (the SC may take a moment)
    admin
        .delete::<TopicSpec>(topic.to_string())
        .await
        .with_context(|| format!("admin delete topic {topic}"))?;
    let started = Instant::now();
    loop {
        let names = list_topic_names(&admin).await?;
        if !names.iter().any(|n| n == topic) {
            break;
        }
        ensure!(
            started.elapsed() < deadline,
            "topic {topic} still listed {deadline:?} after delete"
        );
        fluvio_future::timer::sleep(Duration::from_millis(100)).await;
    }

    let null_keys = sent.iter().filter(|s| s.key.is_none()).count();
    let partitions_json: serde_json::Map<String, Value> = consumed_counts
        .iter()
        .map(|(p, n)| (p.to_string(), json!(n)))
        .collect();
    let codecs_json: serde_json::Map<String, Value> = CODECS
        .iter()
        .map(|c| {
            (
                c.to_string(),
                json!(sent.iter().filter(|s| s.codec == *c).count()),
            )
        })
        .collect();
    print_line(&json!({
        "ok": true,
        "client": "fluvio-rust-0.50",
        "topic": topic,
        "partitions": partitions,
        "codecs": codecs_json,
        "records": sent.len(),
        "null_key_records": null_keys,
        "per_partition": partitions_json,
        "keys": key_partition.len(),
        "deleted": true,
    }));
    Ok(())
}
