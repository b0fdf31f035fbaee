//! `headwater`: run the embedded broker, manage topics, produce and consume, run the demo and the bench.

mod bench;
mod demo;
mod examples;
mod profile;
mod progress;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Admin, Consumer, ConsumerConfig, Offset, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::protocol::sc::CompressionAlgorithm;
use headwater::tls::TlsConfig;
use headwater::Error;

#[derive(Parser)]
#[command(
    name = "headwater",
    version,
    about = "Fast Fluvio-protocol producer, embedded broker and tools",
    after_help = examples::HEADWATER
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Where the cluster is and how to reach it. Without --endpoint (or $HEADWATER_ENDPOINT) the current
/// profile of Fluvio's profile file ($FLV_PROFILE_PATH, else ~/.fluvio/config) gives the endpoint and
/// TLS settings; without one either, 127.0.0.1:9003 in plaintext. The --tls-* flags override.
#[derive(Args, Clone)]
struct Endpoint {
    /// SC endpoint (host:port) of the cluster [default: $HEADWATER_ENDPOINT, the Fluvio profile, or 127.0.0.1:9003]
    #[arg(long, env = "HEADWATER_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// Use TLS (the system's root certificates unless --tls-ca-file is given).
    #[arg(long, global = true)]
    tls: bool,
    /// PEM CA bundle to verify the cluster with (turns TLS on).
    #[arg(long, global = true, value_name = "FILE")]
    tls_ca_file: Option<String>,
    /// PEM client certificate for mutual TLS (with --tls-key-file).
    #[arg(long, global = true, value_name = "FILE")]
    tls_cert_file: Option<String>,
    /// PEM client private key for mutual TLS (with --tls-cert-file).
    #[arg(long, global = true, value_name = "FILE")]
    tls_key_file: Option<String>,
    /// Name to verify the SC's certificate against (default: the endpoint's host); SPUs are verified as <spu-name>.<name>.
    #[arg(long, global = true, value_name = "NAME")]
    tls_server_name: Option<String>,
}

impl Endpoint {
    /// The endpoint and TLS settings to use, from the flags, the environment or the Fluvio profile.
    fn resolve(&self) -> Result<(String, TlsConfig), Error> {
        let (endpoint, mut tls) = match &self.endpoint {
            Some(e) => (e.clone(), TlsConfig::default()),
            None => match profile::load_current()? {
                Some(p) => {
                    tracing::info!(profile = %p.name, endpoint = %p.endpoint, tls = p.tls.is_enabled(), "using the Fluvio profile");
                    (p.endpoint, p.tls)
                }
                None => ("127.0.0.1:9003".to_string(), TlsConfig::default()),
            },
        };
        if self.tls {
            tls.set("tls", "true")?;
        }
        if self.tls_ca_file.is_some() {
            tls.insecure_skip_verify = false;
        }
        for (key, value) in [
            ("tls_ca_file", &self.tls_ca_file),
            ("tls_cert_file", &self.tls_cert_file),
            ("tls_key_file", &self.tls_key_file),
            ("tls_server_name", &self.tls_server_name),
        ] {
            if let Some(v) = value {
                tls.set(key, v)?;
            }
        }
        Ok((endpoint, tls))
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the embedded broker until Ctrl-C; prints `HEADWATER_ENDPOINT=host:port` first.
    #[command(after_help = examples::BROKER)]
    Broker {
        /// Keep logs in this directory (recovered on restart); default in memory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// SC address to listen on (port 0 picks a free one).
        #[arg(long, env = "HEADWATER_ENDPOINT", default_value = "127.0.0.1:9003")]
        sc_addr: String,
        /// Number of SPUs.
        #[arg(long, default_value_t = 1)]
        spus: u32,
        /// SPU ports, comma-separated (default: free ones), so a restarted broker keeps its addresses.
        #[arg(long, value_delimiter = ',')]
        spu_ports: Vec<u16>,
        /// fsync policy with a data dir: `request` (every produce request), `never`, or an interval like `100ms`.
        #[arg(long, default_value = "request")]
        sync: String,
        /// Serve TLS on the SC and every SPU with this PEM certificate chain (needs --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Require client certificates signed by this PEM CA (mutual TLS; needs --tls-cert).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_client_ca: Option<PathBuf>,
    },
    /// Topic administration.
    #[command(after_help = examples::TOPIC)]
    Topic {
        #[command(subcommand)]
        cmd: TopicCmd,
    },
    /// Partitions: leader, replicas, status, high watermark (the Fluvio CLI's `partition list`).
    #[command(after_help = examples::PARTITION)]
    Partition {
        #[command(subcommand)]
        cmd: PartitionCmd,
    },
    /// Cluster administration (the Fluvio CLI's `cluster spu` commands).
    #[command(after_help = examples::CLUSTER)]
    Cluster {
        #[command(subcommand)]
        cmd: ClusterCmd,
    },
    /// Produce lines from stdin (or a file) to a topic; a progress bar on stderr when it is a terminal.
    #[command(after_help = examples::PRODUCE)]
    Produce(ProduceArgs),
    /// Read records of a partition.
    #[command(after_help = examples::CONSUME)]
    Consume(ConsumeArgs),
    /// Start an embedded broker, stream realistic keyed events through it, verify and report.
    #[command(after_help = examples::DEMO)]
    Demo(demo::DemoArgs),
    /// Measure producer throughput and latency against a broker.
    #[command(after_help = examples::BENCH)]
    Bench(bench::BenchArgs),
    /// Print a shell completion script for headwater.
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum TopicCmd {
    /// Create a topic.
    #[command(after_help = examples::TOPIC_CREATE)]
    Create {
        name: String,
        #[arg(short = 'p', long, default_value_t = 1)]
        partitions: u32,
        #[arg(short = 'r', long = "replication", default_value_t = 1)]
        replication: u32,
        /// any, none, gzip, snappy, lz4, zstd
        #[arg(long)]
        compression_type: Option<String>,
        /// e.g. `1h`, `7d`
        #[arg(long)]
        retention_time: Option<String>,
        /// bytes
        #[arg(long)]
        segment_size: Option<u32>,
        /// bytes
        #[arg(long)]
        max_partition_size: Option<u64>,
        #[command(flatten)]
        ep: Endpoint,
    },
    /// Delete a topic.
    #[command(after_help = examples::TOPIC_DELETE)]
    Delete {
        name: String,
        #[command(flatten)]
        ep: Endpoint,
    },
    /// List topics.
    #[command(after_help = examples::TOPIC_LIST)]
    List {
        #[command(flatten)]
        ep: Endpoint,
    },
}

#[derive(Subcommand)]
enum PartitionCmd {
    /// List every partition with its leader, replicas, status, high watermark and end offset.
    #[command(after_help = examples::PARTITION_LIST)]
    List {
        #[command(flatten)]
        ep: Endpoint,
    },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// SPU administration.
    #[command(after_help = examples::CLUSTER_SPU)]
    Spu {
        #[command(subcommand)]
        cmd: SpuCmd,
    },
}

#[derive(Subcommand)]
enum SpuCmd {
    /// Register a custom SPU with the SC; start its process (`fluvio-run spu -i ID ...`) after this.
    #[command(after_help = examples::CLUSTER_SPU_REGISTER)]
    Register {
        /// SPU id (the `-i` of the SPU process).
        #[arg(long)]
        id: i32,
        /// Name (default `custom-spu-<id>`).
        #[arg(short = 'n', long)]
        name: Option<String>,
        /// host:port that clients connect to.
        #[arg(short = 'p', long)]
        public_server: String,
        /// host:port that other SPUs connect to.
        #[arg(short = 'v', long)]
        private_server: String,
        #[command(flatten)]
        ep: Endpoint,
    },
    /// List the SPUs the SC knows, with their status.
    #[command(after_help = examples::CLUSTER_SPU_LIST)]
    List {
        #[command(flatten)]
        ep: Endpoint,
    },
}

#[derive(Args)]
struct ProduceArgs {
    topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// Split each line into key and value at the first occurrence of this separator.
    #[arg(long)]
    key_separator: Option<String>,
    /// Use this key for every record.
    #[arg(long)]
    key: Option<String>,
    #[arg(short = 'p', long)]
    partition: Option<u32>,
    #[arg(long)]
    compression: Option<String>,
    /// e.g. `100ms`
    #[arg(long)]
    linger: Option<String>,
    #[arg(long)]
    batch_size: Option<String>,
    #[arg(long)]
    max_request_size: Option<String>,
    /// read_uncommitted | read_committed
    #[arg(long)]
    isolation: Option<String>,
    /// at-least-once | at-most-once
    #[arg(long)]
    delivery_semantic: Option<String>,
    /// Print each record's metadata.
    #[arg(short = 'v', long)]
    verbose: bool,
    #[command(flatten)]
    ep: Endpoint,
}

#[derive(Args)]
struct ConsumeArgs {
    topic: String,
    #[arg(short = 'p', long, default_value_t = 0)]
    partition: u32,
    /// From the beginning.
    #[arg(short = 'B', long = "beginning", conflicts_with_all = ["start", "head", "tail"])]
    beginning: bool,
    /// From an absolute offset.
    #[arg(long)]
    start: Option<i64>,
    /// N records after the beginning.
    #[arg(short = 'H', long)]
    head: Option<i64>,
    /// N records before the end.
    #[arg(short = 'T', long)]
    tail: Option<i64>,
    /// Stop at the end of the log instead of waiting for more.
    #[arg(short = 'd', long)]
    disable_continuous: bool,
    /// Template: {{offset}} {{key}} {{value}} {{partition}} {{time}}
    #[arg(short = 'F', long)]
    format: Option<String>,
    /// text (value only) or json (one object per line)
    #[arg(short = 'O', long, default_value = "text")]
    output: String,
    /// Print the key too (`key:value`).
    #[arg(short = 'k', long)]
    key_value: bool,
    #[command(flatten)]
    ep: Endpoint,
}

fn main() -> ExitCode {
    // Core's stderr logging, with HEADWATER_LOG read by core alone (one rule in every language).
    headwater::logging::install();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.cmd {
        Cmd::Broker {
            data_dir,
            sc_addr,
            spus,
            spu_ports,
            sync,
            tls_cert,
            tls_key,
            tls_client_ca,
        } => {
            // The flags go through core's option parser, the one every binding's TestBroker uses.
            let spus = spus.to_string();
            let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
            let (data_dir, tls_cert, tls_key, tls_client_ca) = (
                path(&data_dir),
                path(&tls_cert),
                path(&tls_key),
                path(&tls_client_ca),
            );
            let mut options = vec![("spus", spus.as_str()), ("sync", sync.as_str())];
            for (key, v) in [
                ("data_dir", &data_dir),
                ("tls_cert", &tls_cert),
                ("tls_key", &tls_key),
                ("tls_client_ca", &tls_client_ca),
            ] {
                if let Some(v) = v {
                    options.push((key, v.as_str()));
                }
            }
            let mut config = BrokerConfig::from_options(options)?;
            config.spu_ports = spu_ports;
            broker(config, &sc_addr).await
        }
        Cmd::Topic { cmd } => topic(cmd).await,
        Cmd::Partition {
            cmd: PartitionCmd::List { ep },
        } => {
            let (endpoint, tls) = ep.resolve()?;
            let parts = Admin::connect_with(&endpoint, &tls)
                .await?
                .list_partitions()
                .await?;
            println!(
                "{:<30} {:>9} {:>6}  {:<20} {:<20} {:>8} {:>8}",
                "TOPIC", "PARTITION", "LEADER", "REPLICAS", "STATUS", "HW", "LEO"
            );
            for p in parts {
                let replicas: Vec<String> = p.replicas.iter().map(|r| r.to_string()).collect();
                println!(
                    "{:<30} {:>9} {:>6}  {:<20} {:<20} {:>8} {:>8}",
                    p.topic,
                    p.partition,
                    p.leader,
                    format!("[{}]", replicas.join(",")),
                    p.status,
                    p.high_watermark,
                    p.log_end_offset
                );
            }
            Ok(())
        }
        Cmd::Cluster {
            cmd: ClusterCmd::Spu { cmd },
        } => spu(cmd).await,
        Cmd::Produce(a) => produce(a).await,
        Cmd::Consume(a) => consume(a).await,
        Cmd::Demo(a) => demo::run(a).await,
        Cmd::Bench(a) => bench::run(a).await,
        Cmd::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "headwater",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn parse_duration(what: &str, s: &str) -> Result<Duration, Error> {
    humantime::parse_duration(s).map_err(|e| {
        Error::new(
            headwater::ErrorKind::InvalidArgument,
            format!("invalid {what} {s:?}: {e}"),
        )
    })
}

async fn broker(mut cfg: BrokerConfig, sc_addr: &str) -> Result<(), Error> {
    let (host, port) = sc_addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| Error::invalid(format!("--sc-addr must be host:port, got {sc_addr:?}")))?;
    cfg.host = host;
    cfg.sc_port = port;
    let broker = TestBroker::start(cfg).await?;
    println!("HEADWATER_ENDPOINT={}", broker.endpoint());
    let _ = std::io::stdout().flush();
    eprintln!(
        "headwater broker: SC {} · SPUs {} · {}{}  (Ctrl-C to stop)",
        broker.endpoint(),
        broker
            .spu_ids()
            .iter()
            .map(|id| broker.spu_endpoint(*id).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", "),
        broker
            .config()
            .data_dir
            .as_ref()
            .map(|d| format!("data in {}", d.display()))
            .unwrap_or_else(|| "in memory".into()),
        match &broker.config().tls {
            Some(t) if t.client_ca.is_some() => " · TLS, client certificates required",
            Some(_) => " · TLS",
            None => "",
        }
    );
    wait_for_shutdown().await;
    broker.stop();
    Ok(())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn spu(cmd: SpuCmd) -> Result<(), Error> {
    match cmd {
        SpuCmd::Register {
            id,
            name,
            public_server,
            private_server,
            ep,
        } => {
            let (endpoint, tls) = ep.resolve()?;
            Admin::connect_with(&endpoint, &tls)
                .await?
                .register_spu(id, name.as_deref(), &public_server, &private_server)
                .await?;
            println!("SPU {id} registered");
        }
        SpuCmd::List { ep } => {
            let (endpoint, tls) = ep.resolve()?;
            let spus = Admin::connect_with(&endpoint, &tls)
                .await?
                .list_spus()
                .await?;
            println!("{:>6}  {:<20} {:<8} PUBLIC", "ID", "NAME", "STATUS");
            for s in spus {
                let status = if s.online { "Online" } else { "Offline" };
                println!(
                    "{:>6}  {:<20} {:<8} {}",
                    s.id, s.name, status, s.public_address
                );
            }
        }
    }
    Ok(())
}

async fn topic(cmd: TopicCmd) -> Result<(), Error> {
    match cmd {
        TopicCmd::Create {
            name,
            partitions,
            replication,
            compression_type,
            retention_time,
            segment_size,
            max_partition_size,
            ep,
        } => {
            let compression = match compression_type {
                Some(c) => Some(CompressionAlgorithm::parse(&c).ok_or_else(|| Error::invalid(format!("--compression-type must be any, none, gzip, snappy, lz4 or zstd, got {c:?}")))?),
                None => None,
            };
            let retention_secs = match retention_time {
                Some(t) => Some(
                    parse_duration("--retention-time", &t)?
                        .as_secs()
                        .min(u32::MAX as u64) as u32,
                ),
                None => None,
            };
            let (endpoint, tls) = ep.resolve()?;
            let admin = Admin::connect_with(&endpoint, &tls).await?;
            admin
                .create_topic(
                    &name,
                    TopicConfig {
                        partitions,
                        replication,
                        compression,
                        retention_secs,
                        segment_size,
                        max_partition_size,
                    },
                )
                .await?;
            println!("topic \"{name}\" created");
        }
        TopicCmd::Delete { name, ep } => {
            let (endpoint, tls) = ep.resolve()?;
            Admin::connect_with(&endpoint, &tls)
                .await?
                .delete_topic(&name)
                .await?;
            println!("topic \"{name}\" deleted");
        }
        TopicCmd::List { ep } => {
            let (endpoint, tls) = ep.resolve()?;
            let topics = Admin::connect_with(&endpoint, &tls)
                .await?
                .list_topics()
                .await?;
            println!(
                "{:<30} {:>10} {:>12} {:>12} {:>12}",
                "NAME", "PARTITIONS", "REPLICATION", "COMPRESSION", "STATUS"
            );
            for t in topics {
                println!(
                    "{:<30} {:>10} {:>12} {:>12} {:>12}",
                    t.name, t.partitions, t.replication, t.compression, t.status
                );
            }
        }
    }
    Ok(())
}

async fn produce(a: ProduceArgs) -> Result<(), Error> {
    let mut cfg = ProducerConfig::default();
    // Interactive use wants records out promptly; batching still applies within the linger.
    cfg.set("linger_ms", "10")?;
    if let Some(l) = &a.linger {
        cfg.set(
            "linger_ms",
            &parse_duration("--linger", l)?.as_millis().to_string(),
        )?;
    }
    for (k, v) in [
        ("compression", &a.compression),
        ("batch_size", &a.batch_size),
        ("max_request_size", &a.max_request_size),
        ("isolation", &a.isolation),
    ] {
        if let Some(v) = v {
            cfg.set(k, v)?;
        }
    }
    if let Some(d) = &a.delivery_semantic {
        cfg.set("delivery", &d.replace('-', "_"))?;
    }
    let (endpoint, tls) = a.ep.resolve()?;
    cfg.tls = tls;
    let producer = Producer::connect(&endpoint, &a.topic, cfg).await?;
    let (mut reader, total): (Box<dyn BufRead>, progress::Total) = match &a.file {
        Some(f) => {
            let file = std::fs::File::open(f)
                .map_err(|e| Error::invalid(format!("cannot open {}: {e}", f.display())))?;
            // A regular file's size is known: the bar shows how much of it is read.
            let total = match file.metadata() {
                Ok(m) if m.is_file() => progress::Total::Bytes(m.len()),
                _ => progress::Total::Unknown,
            };
            (Box::new(std::io::BufReader::new(file)), total)
        }
        None => (
            Box::new(std::io::BufReader::new(std::io::stdin())),
            progress::Total::Unknown,
        ),
    };
    // Lines typed at a terminal are not long work: no bar over what is being typed.
    let typed = a.file.is_none() && std::io::stdin().is_terminal();
    let progress = progress::Progress::start(&a.topic, total, typed);
    let mut outputs = Vec::new();
    let mut bytes = 0usize;
    let mut read = 0u64;
    let mut buf = String::new();
    loop {
        buf.clear();
        let n = reader
            .read_line(&mut buf)
            .map_err(|e| Error::invalid(format!("cannot read input: {e}")))?;
        if n == 0 {
            break;
        }
        read += n as u64;
        // The line ending (\n or \r\n) is not part of the record, as with `BufRead::lines`.
        let line = match buf.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => buf.as_str(),
        };
        let (key, value): (Option<&str>, &str) = match (&a.key_separator, &a.key) {
            (Some(sep), _) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k), v),
                None => {
                    return Err(Error::invalid(format!(
                        "line {:?} has no key separator {sep:?}",
                        line
                    )))
                }
            },
            (None, Some(k)) => (Some(k.as_str()), line),
            (None, None) => (None, line),
        };
        bytes += value.len();
        let out = producer
            .send_parts(key.map(str::as_bytes), value.as_bytes(), a.partition, None)
            .await?;
        outputs.push(out);
        progress.set(outputs.len() as u64, read);
    }
    producer.flush().await?;
    // Before the results on stdout, which may be the same terminal.
    progress.finish();
    let mut partitions = std::collections::BTreeMap::new();
    for o in &outputs {
        let m = o.wait().await?;
        *partitions.entry(m.partition).or_insert(0u64) += 1;
        if a.verbose {
            println!(
                "[{}] partition {} offset {}",
                m.topic, m.partition, m.offset
            );
        }
    }
    producer.close().await?;
    if !a.verbose {
        let spread: Vec<String> = partitions
            .iter()
            .map(|(p, n)| format!("p{p}:{n}"))
            .collect();
        println!(
            "produced {} records ({} bytes) to \"{}\" [{}]",
            outputs.len(),
            bytes,
            a.topic,
            spread.join(" ")
        );
    }
    Ok(())
}

fn json_str(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn consume(a: ConsumeArgs) -> Result<(), Error> {
    let offset = match (a.beginning, a.start, a.head, a.tail) {
        (true, ..) => Offset::Beginning,
        (_, Some(n), ..) => Offset::Absolute(n),
        (_, _, Some(n), _) => Offset::FromBeginning(n),
        (_, _, _, Some(n)) => Offset::FromEnd(n),
        _ => Offset::End,
    };
    if a.output != "text" && a.output != "json" {
        return Err(Error::invalid(format!(
            "--output must be text or json, got {:?}",
            a.output
        )));
    }
    let (endpoint, tls) = a.ep.resolve()?;
    let mut stream = Consumer::stream(
        &endpoint,
        &a.topic,
        a.partition,
        offset,
        ConsumerConfig {
            tls,
            ..Default::default()
        },
    )
    .await?;
    let end = stream.end_at_start;
    if a.disable_continuous && stream.start_offset() >= end {
        return Ok(());
    }
    let stdout = std::io::stdout();
    while let Some(r) = stream.next().await {
        let r = r?;
        let line = if a.output == "json" {
            format!(
                "{{\"partition\":{},\"offset\":{},\"key\":{},\"value\":{},\"timestamp\":{}}}",
                r.partition,
                r.offset,
                r.key
                    .as_deref()
                    .map(json_str)
                    .unwrap_or_else(|| "null".into()),
                json_str(&r.value),
                r.timestamp
            )
        } else if let Some(f) = &a.format {
            f.replace("{{offset}}", &r.offset.to_string())
                .replace("{{partition}}", &r.partition.to_string())
                .replace(
                    "{{key}}",
                    &r.key
                        .as_deref()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_else(|| "null".into()),
                )
                .replace("{{value}}", &String::from_utf8_lossy(&r.value))
                .replace("{{time}}", &r.timestamp.to_string())
        } else if a.key_value {
            format!(
                "[{}] {}",
                r.key
                    .as_deref()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .unwrap_or_else(|| "null".into()),
                String::from_utf8_lossy(&r.value)
            )
        } else {
            String::from_utf8_lossy(&r.value).into_owned()
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
        if a.disable_continuous && r.offset + 1 >= end {
            break;
        }
    }
    Ok(())
}
