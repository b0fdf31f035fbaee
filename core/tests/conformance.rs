//! The embedded broker answers raw requests the way the real Fluvio engine does. Each test pins one
//! behaviour that the differential suite (`tests/real-fluvio/test_conformance.py`) found to differ
//! and that the broker now reproduces, so it stays fixed without a real cluster at hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::protocol::api::*;
use headwater::protocol::batch::{put_record, write_batch, BatchInfo};
use headwater::protocol::codec::{from_bytes, to_bytes, Decode, DecodeResult, Encode, Reader};
use headwater::protocol::sc::*;
use headwater::protocol::spu::*;
use headwater::protocol::{Compression, ErrorCode};

const SC_V: i16 = 19;
const SPU_V: i16 = 25;

enum Got {
    Frame(Vec<u8>),
    Closed,
    Silence,
}

/// A raw connection: size-prefixed frames, correlation ids from 1.
struct Raw {
    s: TcpStream,
    corr: i32,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { s, corr: 0 }
    }

    fn send(&mut self, key: u16, version: i16, body: &[u8]) -> i32 {
        self.corr += 1;
        let mut frame = vec![0u8; 4];
        RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: self.corr,
            client_id: "conformance".into(),
        }
        .encode(&mut frame, 0);
        frame.extend_from_slice(body);
        let n = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&n.to_be_bytes());
        let _ = self.s.write_all(&frame);
        self.corr
    }

    fn recv(&mut self, wait: Duration) -> Got {
        let deadline = Instant::now() + wait;
        let mut buf = Vec::new();
        let mut want = 4;
        while buf.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Silence;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut chunk = vec![0u8; want - buf.len()];
            match self.s.read(&mut chunk) {
                Ok(0) => return Got::Closed,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Got::Silence
                }
                Err(_) => return Got::Closed,
            }
            if want == 4 && buf.len() == 4 {
                want = 4 + i32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
            }
        }
        Got::Frame(buf[8..].to_vec())
    }

    /// The body of the next frame (correlation id stripped), which must come.
    fn answer(&mut self) -> Vec<u8> {
        match self.recv(Duration::from_secs(20)) {
            Got::Frame(b) => b,
            Got::Closed => panic!("connection closed instead of an answer"),
            Got::Silence => panic!("no answer"),
        }
    }

    fn call<T: Decode>(&mut self, key: u16, version: i16, body: &[u8]) -> T {
        self.send(key, version, body);
        from_bytes(&self.answer(), version).unwrap()
    }

    fn closes(&mut self) -> bool {
        matches!(self.recv(Duration::from_secs(20)), Got::Closed)
    }
}

fn bytes<T: Encode>(x: &T, v: i16) -> Vec<u8> {
    to_bytes(x, v)
}

fn api_versions(client_version: &str) -> Vec<u8> {
    bytes(
        &ApiVersionsRequest {
            client_version: client_version.into(),
            client_os: "linux".into(),
            client_arch: "x86_64".into(),
        },
        2,
    )
}

fn keys(r: &ApiVersionsResponse) -> Vec<(i16, i16, i16)> {
    r.api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect()
}

fn computed(partitions: u32, replication: u32) -> TopicSpec {
    TopicSpec {
        replicas: ReplicaSpec::Computed(TopicReplicaParam {
            partitions,
            replication_factor: replication,
            ignore_rack_assignment: false,
        }),
        ..Default::default()
    }
}

fn create_body(name: &str, spec: TopicSpec, dry_run: bool) -> Vec<u8> {
    let req = CreateRequest {
        name: name.into(),
        dry_run,
        timeout_ms: None,
        spec,
    };
    bytes(&ObjectEnvelope::new(LABEL_TOPIC, &req, SC_V), SC_V)
}

fn create(sc: &mut Raw, name: &str, spec: TopicSpec, dry_run: bool) -> Status {
    sc.call(sc_keys::CREATE, SC_V, &create_body(name, spec, dry_run))
}

fn list_topics(sc: &mut Raw) -> Vec<TopicMetadata> {
    let req = ListRequest::default();
    let env: ObjectEnvelope = sc.call(
        sc_keys::LIST,
        SC_V,
        &bytes(&ObjectEnvelope::new(LABEL_TOPIC, &req, SC_V), SC_V),
    );
    env.inner(SC_V).unwrap()
}

fn batch(values: &[&[u8]]) -> Vec<u8> {
    let mut section = (values.len() as u32).to_be_bytes().to_vec();
    for (i, v) in values.iter().enumerate() {
        put_record(&mut section, None, v, 0, i as i64);
    }
    let mut out = Vec::new();
    let info = BatchInfo {
        base_offset: 0,
        record_count: values.len(),
        first_timestamp: 1_700_000_000_000,
        max_time_stamp: 1_700_000_000_000,
        compression: Compression::None,
    };
    write_batch(&mut out, &info, &section).unwrap();
    out
}

/// A partition index and the raw bytes of its record set.
type RawEntry = (u32, Vec<u8>);

/// A produce request body with raw record sets: [(topic, [(partition, record set bytes)])].
fn produce_body(topics: &[(&str, Vec<RawEntry>)], smartmodules: Option<&[u8]>) -> Vec<u8> {
    let mut b = vec![0u8]; // transactional_id None
    b.extend_from_slice(&1i16.to_be_bytes());
    b.extend_from_slice(&1500i32.to_be_bytes());
    b.extend_from_slice(&(topics.len() as u32).to_be_bytes());
    for (name, parts) in topics {
        name.to_string().encode(&mut b, 0);
        b.extend_from_slice(&(parts.len() as u32).to_be_bytes());
        for (idx, set) in parts {
            b.extend_from_slice(&idx.to_be_bytes());
            b.extend_from_slice(&(set.len() as i32).to_be_bytes());
            b.extend_from_slice(set);
        }
    }
    match smartmodules {
        None => b.extend_from_slice(&0u32.to_be_bytes()),
        Some(sm) => {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(sm);
        }
    }
    b
}

fn produce(spu: &mut Raw, topic: &str, partition: u32, set: Vec<u8>) -> PartitionProduceResponse {
    let resp: ProduceResponse = spu.call(
        spu_keys::PRODUCE,
        SPU_V,
        &produce_body(&[(topic, vec![(partition, set)])], None),
    );
    resp.responses[0].partitions[0].clone()
}

fn stream_fetch_body(topic: &str, partition: u32, offset: i64, max_bytes: i32) -> Vec<u8> {
    bytes(
        &StreamFetchRequest {
            topic: topic.into(),
            partition,
            fetch_offset: offset,
            max_bytes,
            isolation: 0,
            consumer_id: None,
        },
        SPU_V,
    )
}

fn fetch(spu: &mut Raw, topic: &str, partition: u32, offset: i64, max: i32) -> StreamFetchResponse {
    spu.call(
        spu_keys::STREAM_FETCH,
        SPU_V,
        &stream_fetch_body(topic, partition, offset, max),
    )
}

async fn broker() -> TestBroker {
    TestBroker::start(BrokerConfig::default()).await.unwrap()
}

fn spu_addr(b: &TestBroker) -> String {
    b.spu_endpoint(b.spu_ids()[0]).unwrap()
}

fn message(s: &Status) -> &str {
    s.error_message.as_deref().unwrap_or("")
}

#[tokio::test]
async fn sc_api_versions_drops_clients_without_a_semver_version() {
    let b = broker().await;
    let mut ok = Raw::connect(&b.endpoint());
    let resp: ApiVersionsResponse = ok.call(API_VERSIONS_KEY, 2, &api_versions("0.50.2"));
    assert_eq!(
        keys(&resp),
        vec![
            (1001, 9, 19),
            (1002, 1, 19),
            (1003, 15, 19),
            (1004, 15, 19),
            (1005, 14, 19),
            (1006, 1, 19)
        ]
    );
    for bad in ["not-a-version", "", "1.2", "v1.2.3"] {
        let mut c = Raw::connect(&b.endpoint());
        c.send(API_VERSIONS_KEY, 2, &api_versions(bad));
        assert!(c.closes(), "{bad:?} answered");
    }
    // Version 0 carries no client version at all.
    let mut v0 = Raw::connect(&b.endpoint());
    v0.send(API_VERSIONS_KEY, 0, &[]);
    assert!(v0.closes());
}

#[tokio::test]
async fn spu_api_versions_match_the_real_spu() {
    let b = broker().await;
    let mut c = Raw::connect(&spu_addr(&b));
    let resp: ApiVersionsResponse = c.call(API_VERSIONS_KEY, 2, &api_versions("not-semver"));
    assert_eq!(
        keys(&resp),
        vec![
            (0, 0, 25),
            (1, 0, 25),
            (1002, 25, 25),
            (1003, 0, 25),
            (1005, 0, 0)
        ]
    );
    assert_eq!(resp.platform_version, "0.0.0");
    // No client version (ApiVersions v0, clients <= 0.9.12): StreamFetch only up to 15.
    let old: ApiVersionsResponse = c.call(API_VERSIONS_KEY, 0, &[]);
    assert!(keys(&old).contains(&(1003, 0, 15)));
}

#[tokio::test]
async fn topic_create_checks_in_the_real_scs_order() {
    let b = broker().await;
    let mut sc = Raw::connect(&b.endpoint());
    let s = create(&mut sc, "Bad_Name", computed(1, 1), true);
    assert_eq!(s.error_code.code(), 2006);
    assert_eq!(
        message(&s),
        "Invalid topic name: 'Bad_Name'. Contain only lowercase alphanumeric characters or '-'"
    );
    let long = "a".repeat(64);
    let s = create(&mut sc, &long, computed(1, 1), true);
    assert!(message(&s).ends_with("Name exceeds max characters allowed 63"));
    assert!(create(&mut sc, "t", computed(1, 1), false)
        .error_code
        .is_ok());
    for dry_run in [false, true] {
        let s = create(&mut sc, "t", computed(2, 1), dry_run);
        assert_eq!(s.error_code.code(), 2002);
        assert_eq!(message(&s), "Topic 't' already exists");
    }
    let s = create(&mut sc, "z", computed(0, 1), true);
    assert_eq!(
        (s.error_code.code(), message(&s)),
        (2000, "partition must be greater than 0")
    );
    let s = create(&mut sc, "z", computed(1, 0), false);
    assert_eq!(
        (s.error_code.code(), message(&s)),
        (2000, "replication factor must be greater than 0")
    );
    let short_retention = TopicSpec {
        cleanup_policy: Some(CleanupPolicy { time_in_seconds: 1 }),
        ..computed(1, 1)
    };
    let s = create(&mut sc, "z", short_retention, false);
    assert_eq!(
        (s.error_code.code(), message(&s)),
        (2004, "retention_secs 1 is less than minimum 10")
    );
    let small_partition = TopicSpec {
        storage: Some(TopicStorageConfig {
            segment_size: Some(2_000_000),
            max_partition_size: Some(1_500_000),
        }),
        ..computed(1, 1)
    };
    let s = create(&mut sc, "z", small_partition, false);
    assert_eq!(
        message(&s),
        "max_partition_size 1500000 is less than segment size 2000000"
    );
    let dedup = TopicSpec {
        deduplication: Some(Deduplication {
            transform: Transform {
                uses: "fluvio/dedup@0.1.0".into(),
                ..Default::default()
            },
            ..Default::default()
        }),
        ..computed(1, 1)
    };
    let s = create(&mut sc, "z", dedup, false);
    assert_eq!(
        (s.name.as_str(), s.error_code.code()),
        ("fluvio/dedup@0.1.0", 10000)
    );
    let assigned = TopicSpec {
        replicas: ReplicaSpec::Assigned(vec![PartitionMap {
            id: 0,
            replicas: vec![9999],
            ..Default::default()
        }]),
        ..Default::default()
    };
    let s = create(&mut sc, "z", assigned, false);
    assert_eq!(
        (s.error_code.code(), message(&s)),
        (2000, "invalid spu id: 9999")
    );
    assert_eq!(
        list_topics(&mut sc)
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["t"],
        "nothing else was created"
    );
}

#[tokio::test]
async fn replication_above_the_spu_count_keeps_an_unprovisioned_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig::default().data_dir(dir.path());
    let mut b = TestBroker::start(cfg).await.unwrap();
    let mut sc = Raw::connect(&b.endpoint());
    assert!(create(&mut sc, "rf2", computed(1, 2), true)
        .error_code
        .is_ok());
    let s = create(&mut sc, "rf2", computed(1, 2), false);
    assert_eq!(s.error_code.code(), 2005);
    assert!(
        message(&s).starts_with("only 0 out of 1 provisioned"),
        "{s:?}"
    );
    let check = |topics: Vec<TopicMetadata>| {
        let t = topics.iter().find(|t| t.name == "rf2").expect("kept");
        assert_eq!(t.status.resolution, TopicResolution::InsufficientResources);
        assert!(t.status.replica_map.is_empty());
    };
    check(list_topics(&mut sc));
    b.restart().await.unwrap();
    let mut sc = Raw::connect(&b.endpoint());
    check(list_topics(&mut sc));
    let del: Status = sc.call(
        sc_keys::DELETE,
        SC_V,
        &bytes(
            &ObjectEnvelope::new(
                LABEL_TOPIC,
                &DeleteRequest {
                    key: "rf2".into(),
                    force: false,
                },
                SC_V,
            ),
            SC_V,
        ),
    );
    assert!(del.error_code.is_ok());
}

fn envelope<T: Encode>(label: &str, inner: &T) -> Vec<u8> {
    bytes(&ObjectEnvelope::new(label, inner, SC_V), SC_V)
}

#[tokio::test]
async fn admin_answers_for_missing_and_unknown_objects() {
    let b = broker().await;
    let mut sc = Raw::connect(&b.endpoint());
    let missing = DeleteRequest {
        key: "nope".into(),
        force: false,
    };
    let s: Status = sc.call(sc_keys::DELETE, SC_V, &envelope(LABEL_TOPIC, &missing));
    assert_eq!((s.error_code.code(), message(&s)), (2001, "not found"));
    let s: Status = sc.call(sc_keys::DELETE, SC_V, &envelope("Bogus", &missing));
    assert_eq!(s.name, "create error");
    assert_eq!(
        s.error_code,
        ErrorCode::Other("unknown admin object type".into())
    );
    let s: Status = sc.call(
        sc_keys::CREATE,
        SC_V,
        &envelope(
            "Bogus",
            &CreateRequest {
                name: "x".into(),
                dry_run: false,
                timeout_ms: None,
                spec: computed(1, 1),
            },
        ),
    );
    assert_eq!(s.name, "create error");
    // Update: a missing topic, the system topic, an unknown kind.
    let add_partition = |key: &str| {
        let mut p = bytes(&key.to_string(), SC_V);
        p.push(0);
        p.extend_from_slice(&1u32.to_be_bytes());
        p
    };
    let update = |label: &str, key: &str| {
        let mut b = bytes(&label.to_string(), SC_V);
        let p = add_partition(key);
        b.extend_from_slice(&(p.len() as u32).to_be_bytes());
        b.extend_from_slice(&p);
        b
    };
    let s: Status = sc.call(sc_keys::UPDATE, SC_V, &update(LABEL_TOPIC, "nope"));
    assert_eq!((s.error_code.code(), message(&s)), (2001, "not found"));
    let s: Status = sc.call(
        sc_keys::UPDATE,
        SC_V,
        &update(LABEL_TOPIC, "consumer-offset"),
    );
    assert_eq!(s.error_code.code(), 12002);
    let s: Status = sc.call(sc_keys::UPDATE, SC_V, &update("Bogus", "x"));
    assert_eq!(s.name, "update error");
    // Kinds the broker keeps none of list as empty; registered SPUs list as CustomSpu.
    let req = ListRequest::default();
    let env: ObjectEnvelope = sc.call(sc_keys::LIST, SC_V, &envelope("SmartModule", &req));
    assert_eq!(env.payload, vec![0, 0, 0, 0]);
    let env: ObjectEnvelope = sc.call(sc_keys::LIST, SC_V, &envelope("CustomSpu", &req));
    let mut r = Reader::new(&env.payload);
    assert_eq!(r.i32().unwrap(), 1);
    assert_eq!(String::decode(&mut r, SC_V).unwrap(), "custom-spu-5001");
    assert_eq!(r.i32().unwrap(), 5001);
    // An unknown kind closes the connection on List and Watch.
    sc.send(sc_keys::LIST, SC_V, &envelope("Bogus", &req));
    assert!(sc.closes());
    let mut w = Raw::connect(&b.endpoint());
    w.send(
        sc_keys::WATCH,
        SC_V,
        &envelope("Mirror", &WatchRequest::default()),
    );
    assert!(w.closes());
    let mut w = Raw::connect(&b.endpoint());
    let env: ObjectEnvelope = w.call(
        sc_keys::WATCH,
        SC_V,
        &envelope("TableFormat", &WatchRequest::default()),
    );
    assert_eq!(env.payload.len(), 16, "an update of an empty store");
}

/// A Predefined("nope") Filter invocation at version 25.
fn predefined_smartmodule() -> Vec<u8> {
    let mut sm = vec![0u8];
    "nope".to_string().encode(&mut sm, 0);
    sm.extend_from_slice(&[0, 0, 0, 0, 0]); // kind Filter, params {}, lookback None, name None
    sm
}

#[tokio::test]
async fn produce_answers_like_the_real_spu() {
    let b = broker().await;
    b.create_topic("t", 1).unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    // An unknown topic is "not leader", like an unknown partition.
    assert_eq!(
        produce(&mut spu, "nope", 0, batch(&[b"x"]))
            .error_code
            .code(),
        6
    );
    assert_eq!(
        produce(&mut spu, "t", 3, batch(&[b"x"])).error_code.code(),
        6
    );
    // A smart module the cluster does not hold.
    let resp: ProduceResponse = spu.call(
        spu_keys::PRODUCE,
        SPU_V,
        &produce_body(
            &[("t", vec![(0, batch(&[b"x"]))])],
            Some(&predefined_smartmodule()),
        ),
    );
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        ErrorCode::SmartModuleNotFound {
            name: "nope".into()
        }
    );
    // The smart-module vector is read at every version: without it the request is cut short.
    let mut body = produce_body(&[("t", vec![(0, batch(&[b"x"]))])], None);
    body.truncate(body.len() - 4);
    spu.send(spu_keys::PRODUCE, 7, &body);
    assert!(spu.closes());
    assert_eq!(b.offsets("t", 0).unwrap(), (0, 0), "nothing was written");
}

#[tokio::test]
async fn record_sets_are_read_leniently() {
    let b = broker().await;
    b.create_topic("t", 1).unwrap();
    let whole = batch(&[b"hello"]);
    let mut spu = Raw::connect(&spu_addr(&b));
    // A second batch missing its last bytes is kept with what arrived.
    let mut set = whole.clone();
    set.extend_from_slice(&whole[..whole.len() - 4]);
    let r = produce(&mut spu, "t", 0, set);
    assert!(r.error_code.is_ok(), "{r:?}");
    let stored = b.batches("t", 0).unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].size_bytes, whole.len() - 4);
    // A batch_len beyond the record set: the batch is taken as far as it goes.
    let mut long = whole.clone();
    long[8..12].copy_from_slice(&((whole.len() + 50) as i32).to_be_bytes());
    let r = produce(&mut spu, "t", 0, long);
    assert_eq!((r.error_code.code(), r.base_offset), (0, 2));
    // A record set cut inside a batch header leaves bytes that the rest of the request is read
    // from: here the request falls apart and the connection closes.
    let body = produce_body(&[("t", vec![(0, whole[..30].to_vec())])], None);
    spu.send(spu_keys::PRODUCE, SPU_V, &body);
    assert!(spu.closes());
}

#[tokio::test]
async fn empty_and_oversized_batches() {
    let b = broker().await;
    b.create_topic_with(
        "small",
        headwater::client::TopicConfig {
            segment_size: Some(1024),
            ..headwater::client::TopicConfig::new(1)
        },
    )
    .unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    let big = batch(&[&[b'x'; 1500]]);
    assert_eq!(produce(&mut spu, "small", 0, big).error_code.code(), 10);
    let mut empty = batch(&[]);
    empty[23..27].copy_from_slice(&(-1i32).to_be_bytes());
    let r = produce(&mut spu, "small", 0, empty.clone());
    assert_eq!((r.error_code.code(), r.base_offset), (0, 0), "filtered");
    let mut mixed = batch(&[b"a"]);
    mixed.extend_from_slice(&empty);
    assert_eq!(produce(&mut spu, "small", 0, mixed).error_code.code(), 56);
    assert_eq!(b.offsets("small", 0).unwrap(), (0, 0));
}

#[tokio::test]
async fn stream_fetch_cuts_responses_at_max_bytes() {
    let b = broker().await;
    b.create_topic("t", 1).unwrap();
    let (b1, b2) = (batch(&[b"one"]), batch(&[b"two-two"]));
    let mut spu = Raw::connect(&spu_addr(&b));
    for x in [&b1, &b2, &b1] {
        produce(&mut spu, "t", 0, x.clone());
    }
    // Whole batches, then a piece of the next one.
    let r = fetch(&mut spu, "t", 0, 0, b1.len() as i32 + 10);
    let records = &r.partition.records.0;
    assert_eq!(records.len(), b1.len() + 10);
    let (whole, used) = headwater::protocol::batch::split_batches(records);
    assert_eq!(
        (whole.len(), used),
        (1, b1.len()),
        "one whole batch, then 10 bytes"
    );
    assert_eq!(
        records[b1.len() + 8..],
        b2[8..10],
        "the start of the next batch"
    );
    // Only a piece when the first batch alone is larger.
    let r = fetch(&mut spu, "t", 0, 0, 20);
    assert_eq!(r.partition.records.0.len(), 20);
    // A negative max_bytes is read as unsigned: everything.
    let r = fetch(&mut spu, "t", 0, 0, -1);
    assert_eq!(r.partition.records.0.len(), 2 * b1.len() + b2.len());
    // Zero: nothing is ever sent, the stream stays open.
    spu.send(
        spu_keys::STREAM_FETCH,
        SPU_V,
        &stream_fetch_body("t", 0, 0, 0),
    );
    assert!(matches!(spu.recv(Duration::from_millis(500)), Got::Silence));
}

#[tokio::test]
async fn stream_fetch_reads_stop_at_a_segment_end() {
    let b = broker().await;
    b.create_topic_with(
        "seg",
        headwater::client::TopicConfig {
            segment_size: Some(1024),
            ..headwater::client::TopicConfig::new(1)
        },
    )
    .unwrap();
    let one = batch(&[&[b'x'; 250]]);
    let mut spu = Raw::connect(&spu_addr(&b));
    for _ in 0..5 {
        produce(&mut spu, "seg", 0, one.clone());
    }
    let per_segment = 1024 / one.len();
    let r = fetch(&mut spu, "seg", 0, 0, 1 << 20);
    assert_eq!(r.partition.records.0.len(), per_segment * one.len());
}

#[tokio::test]
async fn stream_fetch_errors_carry_zeros() {
    let b = broker().await;
    b.create_topic("t", 1).unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    produce(&mut spu, "t", 0, batch(&[b"a", b"b"]));
    let r = fetch(&mut spu, "t", 4, 0, 1000);
    assert_eq!((r.stream_id, r.partition.error_code.code()), (0, 6));
    assert_eq!(r.partition.high_watermark, 0);
    let r = fetch(&mut spu, "t", 0, 10, 1000);
    assert_eq!(
        r.partition.error_code,
        ErrorCode::Other("start offset: 10 is greater than leo: 2".into())
    );
    assert_eq!(
        (r.partition.high_watermark, r.partition.log_start_offset),
        (0, 0)
    );
    let r = fetch(&mut spu, "t", 0, -1, 1000);
    assert_eq!(
        r.partition.error_code,
        ErrorCode::OffsetEvicted {
            offset: -1,
            next_available: 0
        }
    );
    // A smart module that is not there: the stream is opened, then fails.
    let mut body = stream_fetch_body("t", 0, 0, 1000);
    let n = body.len();
    body.truncate(n - 5); // smartmodules (empty) and consumer_id (None)
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&predefined_smartmodule());
    body.push(0);
    let r: StreamFetchResponse = spu.call(spu_keys::STREAM_FETCH, SPU_V, &body);
    assert_ne!(r.stream_id, 0);
    assert_eq!(
        r.partition.error_code,
        ErrorCode::SmartModuleNotFound {
            name: "nope".into()
        }
    );
    // An isolation other than 0 or 1 cannot be read.
    let mut body = stream_fetch_body("t", 0, 0, 1000);
    body[2 + 1 + 4 + 8 + 4] = 2;
    spu.send(spu_keys::STREAM_FETCH, SPU_V, &body);
    assert!(spu.closes());
    // FetchOffsets for an unknown partition: zeros, not -1.
    let mut spu = Raw::connect(&spu_addr(&b));
    let req = FetchOffsetsRequest {
        topics: vec![FetchOffsetTopic {
            name: "t".into(),
            partitions: vec![FetchOffsetPartition { partition_index: 9 }],
        }],
        consumer_id: None,
    };
    let r: FetchOffsetsResponse = spu.call(spu_keys::FETCH_OFFSETS, SPU_V, &bytes(&req, SPU_V));
    let p = &r.topics[0].partitions[0];
    assert_eq!(
        (p.error_code.code(), p.start_offset, p.last_stable_offset),
        (3001, 0, 0)
    );
}

headwater::wire_struct! {
    pub struct ClassicPartition {
        pub partition_index: u32,
        pub error_code: ErrorCode,
        pub high_watermark: i64,
        pub next_filter_offset: i64 => 11,
        pub log_start_offset: i64,
        pub aborted: Option<Vec<i64>>,
        pub records: RecordSet,
    }
}
headwater::wire_struct! {
    pub struct ClassicTopic {
        pub name: String,
        pub partitions: Vec<ClassicPartition>,
    }
}
headwater::wire_struct! {
    pub struct ClassicFetchResponse {
        pub throttle_time_ms: i32,
        pub error_code: ErrorCode,
        pub session_id: i32,
        pub topics: Vec<ClassicTopic>,
    }
}

fn classic_fetch_body(topic: &str, partitions: &[(u32, i64)], max_bytes: i32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0i32.to_be_bytes()); // max_wait
    b.extend_from_slice(&0i32.to_be_bytes()); // min_bytes
    b.extend_from_slice(&max_bytes.to_be_bytes());
    b.push(0); // isolation
    b.extend_from_slice(&1u32.to_be_bytes());
    topic.to_string().encode(&mut b, 0);
    b.extend_from_slice(&(partitions.len() as u32).to_be_bytes());
    for (p, offset) in partitions {
        b.extend_from_slice(&p.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes()); // current_leader_epoch
        b.extend_from_slice(&offset.to_be_bytes());
        b.extend_from_slice(&0i64.to_be_bytes()); // log_start_offset
        b.extend_from_slice(&(1i32 << 20).to_be_bytes());
    }
    b.extend_from_slice(&0u32.to_be_bytes()); // forgotten topics
    b
}

#[tokio::test]
async fn classic_fetch_is_served() {
    let b = broker().await;
    b.create_topic("t", 1).unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    let one = batch(&[b"a", b"b"]);
    produce(&mut spu, "t", 0, one.clone());
    let r: ClassicFetchResponse = spu.call(
        1,
        SPU_V,
        &classic_fetch_body("t", &[(0, 0), (5, 0)], 1 << 20),
    );
    let parts = &r.topics[0].partitions;
    assert_eq!(parts[0].high_watermark, 2);
    assert_eq!(parts[0].records.0.len(), one.len());
    assert_eq!(parts[1].error_code.code(), 6);
    let r: ClassicFetchResponse = spu.call(1, SPU_V, &classic_fetch_body("t", &[(0, 9)], 1 << 20));
    assert_eq!(r.topics[0].partitions[0].error_code.code(), 2);
    let r: ClassicFetchResponse = spu.call(1, SPU_V, &classic_fetch_body("t", &[(0, 0)], 30));
    assert_eq!(r.topics[0].partitions[0].records.0.len(), 30);
}

headwater::wire_struct! {
    pub struct UpdateConsumerOffsetResponse {
        pub offset: i64,
        pub error_code: ErrorCode,
    }
}
headwater::wire_struct! {
    pub struct ConsumerOffset {
        pub consumer_id: String,
        pub topic: String,
        pub partition: u32,
        pub offset: i64,
        pub modified_time: u64,
    }
}
headwater::wire_struct! {
    pub struct FetchConsumerOffsetsResponse {
        pub error_code: ErrorCode,
        pub consumers: Vec<ConsumerOffset>,
    }
}

fn commit(spu: &mut Raw, offset: i64, session: u32) -> UpdateConsumerOffsetResponse {
    let mut body = offset.to_be_bytes().to_vec();
    body.extend_from_slice(&session.to_be_bytes());
    spu.call(1006, SPU_V, &body)
}

fn committed(spu: &mut Raw, topic: &str) -> Vec<ConsumerOffset> {
    // filter_opts Some{replica Some(topic, 0), consumer None}
    let mut body = vec![1u8, 1];
    topic.to_string().encode(&mut body, 0);
    body.extend_from_slice(&0u32.to_be_bytes());
    body.push(0);
    let r: FetchConsumerOffsetsResponse = spu.call(1008, SPU_V, &body);
    assert!(r.error_code.is_ok());
    r.consumers
}

fn decode_consumer_delete(b: &[u8]) -> DecodeResult<ErrorCode> {
    ErrorCode::decode(&mut Reader::new(b), SPU_V)
}

#[tokio::test]
async fn consumer_offsets_are_committed_listed_deleted_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = TestBroker::start(BrokerConfig::default().data_dir(dir.path()))
        .await
        .unwrap();
    b.create_topic("t", 1).unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    produce(&mut spu, "t", 0, batch(&[b"a", b"b"]));
    assert_eq!(
        commit(&mut spu, 1, 1).error_code.code(),
        3002,
        "no such stream"
    );
    let plain = fetch(&mut spu, "t", 0, 0, 1 << 20);
    assert_eq!(
        commit(&mut spu, 1, plain.stream_id).error_code,
        ErrorCode::Other("stream without consumer id".into())
    );
    let with_id = StreamFetchRequest {
        topic: "t".into(),
        partition: 0,
        fetch_offset: 0,
        max_bytes: 1 << 20,
        isolation: 0,
        consumer_id: Some("grp".into()),
    };
    let r: StreamFetchResponse = spu.call(spu_keys::STREAM_FETCH, SPU_V, &bytes(&with_id, SPU_V));
    let c = commit(&mut spu, 2, r.stream_id);
    assert_eq!((c.offset, c.error_code.code()), (2, 0));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let list = committed(&mut spu, "t");
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].consumer_id.as_str(), list[0].offset), ("grp", 2));
    assert!(
        list[0].modified_time.abs_diff(now) < 60,
        "seconds since the epoch"
    );
    // Kept across a restart with a data directory.
    b.restart().await.unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    assert_eq!(committed(&mut spu, "t").len(), 1);
    let mut del = Vec::new();
    "t".to_string().encode(&mut del, 0);
    del.extend_from_slice(&0u32.to_be_bytes());
    "grp".to_string().encode(&mut del, 0);
    for _ in 0..2 {
        spu.send(1007, SPU_V, &del);
        assert!(decode_consumer_delete(&spu.answer()).unwrap().is_ok());
    }
    assert!(committed(&mut spu, "t").is_empty());
    // Deleting the topic drops its offsets.
    let r: StreamFetchResponse = spu.call(spu_keys::STREAM_FETCH, SPU_V, &bytes(&with_id, SPU_V));
    commit(&mut spu, 1, r.stream_id);
    b.delete_topic("t").unwrap();
    let mut spu = Raw::connect(&spu_addr(&b));
    assert!(committed(&mut spu, "t").is_empty());
}
