//! The producer against the embedded broker: every assertion is about what the broker stores.

use std::collections::HashMap;
use std::time::Duration;

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Admin, Consumer, Offset, TopicConfig};
use headwater::producer::partitioner::key_partition;
use headwater::producer::{ProduceOutput, Producer, ProducerConfig, Record};
use headwater::protocol::api::spu_keys;
use headwater::{Compression, ErrorKind};

async fn broker() -> TestBroker {
    TestBroker::start(BrokerConfig::default()).await.unwrap()
}

fn cfg(pairs: &[(&str, &str)]) -> ProducerConfig {
    ProducerConfig::from_options(pairs.iter().copied()).unwrap()
}

async fn wait_all(outs: &[ProduceOutput]) -> Vec<headwater::RecordMetadata> {
    let mut v = Vec::new();
    for o in outs {
        v.push(o.wait().await.unwrap());
    }
    v
}

#[tokio::test]
async fn keys_stick_to_partitions_and_keep_order() {
    let b = broker().await;
    b.create_topic("keys", 4).unwrap();
    let p = Producer::connect(&b.endpoint(), "keys", cfg(&[("linger_ms", "5")]))
        .await
        .unwrap();
    let mut outs = Vec::new();
    for i in 0..400u32 {
        let key = format!("user-{}", i % 10);
        outs.push(
            p.send(Some(key.as_bytes()), format!("{key}:{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    p.flush().await.unwrap();
    let metas = wait_all(&outs).await;
    let mut last_seq: HashMap<String, i64> = HashMap::new();
    for part in 0..4 {
        for r in b.records("keys", part, 0).unwrap() {
            let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
            assert_eq!(
                key_partition(key.as_bytes(), 4),
                part,
                "{key} is in Fluvio's partition"
            );
            let seq: i64 = String::from_utf8(r.value)
                .unwrap()
                .split(':')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
            let prev = last_seq.insert(key.clone(), seq).unwrap_or(-1);
            assert!(seq > prev, "{key}: {seq} after {prev}");
        }
    }
    assert_eq!(last_seq.len(), 10);
    for (o, m) in outs.iter().zip(&metas) {
        assert_eq!(o.partition(), m.partition);
        let stored = &b.records("keys", m.partition, m.offset).unwrap()[0];
        assert_eq!(
            stored.offset, m.offset,
            "metadata offset is where the record is"
        );
    }
    p.close().await.unwrap();
}

#[tokio::test]
async fn keyless_spread_explicit_partition_and_empty_key() {
    let b = broker().await;
    b.create_topic("spread", 3).unwrap();
    let p = Producer::connect(&b.endpoint(), "spread", cfg(&[("linger_ms", "0")]))
        .await
        .unwrap();
    let mut outs = Vec::new();
    for i in 0..100 {
        outs.push(p.send(None, format!("v{i}").as_bytes()).await.unwrap());
    }
    p.flush().await.unwrap();
    let counts: Vec<usize> = (0..3)
        .map(|i| b.records("spread", i, 0).unwrap().len())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 100);
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
    // Explicit partition wins over the key; a partition that does not exist is an error.
    let m = p
        .send_record(Record::new(Some("user-1"), "pinned").partition(2))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(m.partition, 2);
    assert_eq!(
        p.send_parts(None, b"x", Some(3), None)
            .await
            .unwrap_err()
            .kind,
        ErrorKind::UnknownPartition
    );
    // No key and an empty key are different records: stored as None and Some(""), and "" hashes.
    let none = p.send(None, b"no-key").await.unwrap();
    let empty = p.send(Some(b""), b"empty-key").await.unwrap();
    p.flush().await.unwrap();
    let (mn, me) = (none.wait().await.unwrap(), empty.wait().await.unwrap());
    assert_eq!(me.partition, key_partition(b"", 3));
    assert_eq!(
        b.records("spread", mn.partition, mn.offset).unwrap()[0].key,
        None
    );
    assert_eq!(
        b.records("spread", me.partition, me.offset).unwrap()[0].key,
        Some(vec![])
    );
    p.close().await.unwrap();
}

#[tokio::test]
async fn batch_size_follows_the_estimate() {
    // Size estimate (docs/PROTOCOL.md §8.2): 61 + Σ record sizes. A 100-byte value, no key, timestamp delta 0:
    // inner = 1 attr + 1 ts + vsz(offset_delta) + 1 key-none + 2 len + 100 + 1 headers; size = 2 + inner
    // = 109 bytes for offset deltas < 64. With batch_size 1000: 61 + 8*109 = 933 fits, a 9th (1042) does not.
    let b = broker().await;
    b.create_topic("sizes", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "sizes",
        cfg(&[("batch_size", "1000"), ("linger_ms", "60000")]),
    )
    .await
    .unwrap();
    for _ in 0..100 {
        p.send_parts(None, &[7u8; 100], None, Some(1_700_000_000_000))
            .await
            .unwrap();
    }
    p.flush().await.unwrap();
    let counts: Vec<i64> = b
        .batches("sizes", 0)
        .unwrap()
        .iter()
        .map(|x| x.record_count)
        .collect();
    assert_eq!(counts, [vec![8i64; 12], vec![4]].concat());
    // A record bigger than batch_size (but within max_request_size) travels alone.
    p.send(None, b"small").await.unwrap();
    p.send(None, &[1u8; 5000]).await.unwrap();
    p.send(None, b"small").await.unwrap();
    p.flush().await.unwrap();
    let tail: Vec<i64> = b
        .batches("sizes", 0)
        .unwrap()
        .iter()
        .skip(13)
        .map(|x| x.record_count)
        .collect();
    assert_eq!(tail, vec![1, 1, 1]);
    p.close().await.unwrap();
}

#[tokio::test]
async fn linger_holds_records_until_it_elapses_or_flush() {
    let b = broker().await;
    b.create_topic("linger", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "linger", cfg(&[("linger_ms", "600000")]))
        .await
        .unwrap();
    let out = p.send(None, b"held").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        b.records("linger", 0, 0).unwrap().is_empty(),
        "nothing is sent before the linger elapses"
    );
    assert!(!out.done());
    assert_eq!(b.stats().produce_requests, 0);
    p.flush().await.unwrap();
    assert_eq!(
        b.records("linger", 0, 0).unwrap().len(),
        1,
        "flush sends at once"
    );
    assert_eq!(out.wait().await.unwrap().offset, 0);
    // With a short linger the batch goes out by itself.
    let p2 = Producer::connect(&b.endpoint(), "linger", cfg(&[("linger_ms", "20")]))
        .await
        .unwrap();
    let m = p2
        .send(None, b"soon")
        .await
        .unwrap()
        .wait_timeout(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(m.offset, 1);
    p.close().await.unwrap();
    p2.close().await.unwrap();
}

#[tokio::test]
async fn every_codec_is_stored_with_its_bits_and_decodes_back() {
    let b = broker().await;
    for c in headwater::protocol::compression::ALL_CODECS {
        let topic = format!("codec-{}", c.name());
        b.create_topic(&topic, 1).unwrap();
        let p = Producer::connect(
            &b.endpoint(),
            &topic,
            cfg(&[("compression", c.name()), ("linger_ms", "1000")]),
        )
        .await
        .unwrap();
        assert_eq!(p.compression(), c);
        let values: Vec<String> = (0..50)
            .map(|i| format!("{}-{i}-{}", c.name(), "x".repeat(i)))
            .collect();
        for v in &values {
            p.send(Some(b"k"), v.as_bytes()).await.unwrap();
        }
        p.flush().await.unwrap();
        let stored = b.records(&topic, 0, 0).unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|r| String::from_utf8(r.value.clone()).unwrap())
                .collect::<Vec<_>>(),
            values
        );
        assert!(stored
            .iter()
            .all(|r| r.compression == c && r.key.as_deref() == Some(b"k")));
        assert!(b
            .batches(&topic, 0)
            .unwrap()
            .iter()
            .all(|x| x.compression == c));
        let s = p.stats();
        if c != Compression::None {
            assert!(
                s.bytes_compressed < s.bytes_uncompressed + 61 * s.batches_sent,
                "{c}: {s:?}"
            );
        }
        p.close().await.unwrap();
    }
}

#[tokio::test]
async fn topic_compression_policy() {
    let b = broker().await;
    b.create_topic_with("gz", TopicConfig::new(1).compression(Compression::Gzip))
        .unwrap();
    let e = Producer::connect(&b.endpoint(), "gz", cfg(&[("compression", "lz4")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Compression, "{e}");
    let p = Producer::connect(&b.endpoint(), "gz", ProducerConfig::default())
        .await
        .unwrap();
    assert_eq!(
        p.compression(),
        Compression::Gzip,
        "unset follows the topic"
    );
    p.send(None, b"x").await.unwrap();
    p.flush().await.unwrap();
    assert_eq!(
        b.records("gz", 0, 0).unwrap()[0].compression,
        Compression::Gzip
    );
}

#[tokio::test]
async fn offsets_are_contiguous_across_batches_and_concurrent_senders() {
    let b = broker().await;
    b.create_topic("offsets", 2).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "offsets",
        cfg(&[("linger_ms", "2"), ("batch_size", "2048")]),
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut outs = Vec::new();
            for i in 0..2500 {
                let key = format!("t{t}-k{}", i % 7);
                outs.push((
                    format!("{t}-{i}"),
                    p.send(Some(key.as_bytes()), format!("{t}-{i}").as_bytes())
                        .await
                        .unwrap(),
                ));
            }
            outs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    p.flush().await.unwrap();
    let mut by_value = HashMap::new();
    for part in 0..2 {
        let recs = b.records("offsets", part, 0).unwrap();
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.offset, i as i64, "contiguous offsets in partition {part}");
            by_value.insert(
                String::from_utf8(r.value.clone()).unwrap(),
                (part, r.offset),
            );
        }
    }
    assert_eq!(by_value.len(), 10_000);
    for (v, o) in &all {
        let m = o.wait().await.unwrap();
        assert_eq!(by_value[v], (m.partition, m.offset), "metadata of {v}");
    }
    assert!(b.batches("offsets", 0).unwrap().len() > 10, "many batches");
    let s = p.stats();
    assert_eq!(
        (
            s.records_sent,
            s.records_acked,
            s.records_failed,
            s.queued_records
        ),
        (10_000, 10_000, 0, 0)
    );
    p.close().await.unwrap();
}

#[tokio::test]
async fn retriable_broker_errors_are_retried_in_order() {
    let b = broker().await;
    b.create_topic("retry", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "retry",
        cfg(&[
            ("linger_ms", "1"),
            ("retry_backoff_ms", "5"),
            ("batch_size", "200"),
        ]),
    )
    .await
    .unwrap();
    b.fail_next(spu_keys::PRODUCE, 3, 6); // NotLeaderForPartition: retriable
    let mut outs = Vec::new();
    for i in 0..300 {
        outs.push(
            p.send(Some(b"key"), format!("{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    p.flush().await.unwrap();
    wait_all(&outs).await;
    let values: Vec<i64> = b
        .records("retry", 0, 0)
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.value.clone()).unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        values,
        (0..300).collect::<Vec<_>>(),
        "one key's records stay in send order"
    );
    assert!(p.stats().retries >= 3);
    // A non-retriable code fails exactly the affected batch, with the broker's code.
    b.fail_next(spu_keys::PRODUCE, 1, 56);
    let bad = p.send(None, b"doomed").await.unwrap();
    let err = bad.wait().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Broker(56), "{err}");
    assert!(p.flush().await.is_err(), "flush reports the failure");
    let good = p.send(None, b"fine").await.unwrap();
    p.flush().await.unwrap();
    assert_eq!(good.wait().await.unwrap().offset, 300);
    // Retries stop at max_retries.
    let p2 = Producer::connect(
        &b.endpoint(),
        "retry",
        cfg(&[
            ("linger_ms", "0"),
            ("retry_backoff_ms", "1"),
            ("max_retries", "2"),
        ]),
    )
    .await
    .unwrap();
    b.fail_next(spu_keys::PRODUCE, 10, 6);
    let e = p2
        .send(None, b"gives-up")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(6));
    assert!(e.message.contains("3 attempts"), "{e}");
    b.fail_next(spu_keys::PRODUCE, 0, 6);
    p.close().await.unwrap();
}

#[tokio::test]
async fn paused_broker_fills_the_queue_then_queue_full() {
    let b = broker().await;
    b.create_topic("stall", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "stall",
        cfg(&[
            ("linger_ms", "0"),
            ("batch_size", "100"),
            ("batch_queue_size", "2"),
            ("send_timeout_ms", "200"),
        ]),
    )
    .await
    .unwrap();
    b.pause();
    let mut accepted = Vec::new();
    let err = loop {
        match p.send(None, &[5u8; 80]).await {
            Ok(o) => accepted.push(o),
            Err(e) => break e,
        }
        assert!(accepted.len() < 100, "the queue bound holds");
    };
    assert_eq!(err.kind, ErrorKind::QueueFull, "{err}");
    assert!(!accepted.is_empty());
    assert!(b.records("stall", 0, 0).unwrap().is_empty());
    b.resume();
    p.flush().await.unwrap();
    let metas = wait_all(&accepted).await;
    assert_eq!(
        b.records("stall", 0, 0).unwrap().len(),
        accepted.len(),
        "nothing accepted was lost"
    );
    assert_eq!(metas.last().unwrap().offset as usize, accepted.len() - 1);
    p.close().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_an_error_and_loses_nothing() {
    let b = broker().await;
    b.create_topic("bad", 1).unwrap();
    let e = Producer::connect(
        &b.endpoint(),
        "nope",
        cfg(&[("metadata_timeout_ms", "300")]),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownTopic, "{e}");
    assert!(e.message.contains("nope"));
    let e = ProducerConfig::default()
        .set("linger_ms", "soon")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("linger_ms"));
    let p = Producer::connect(
        &b.endpoint(),
        "bad",
        cfg(&[("max_request_size", "1000"), ("linger_ms", "0")]),
    )
    .await
    .unwrap();
    let ok1 = p.send(None, b"before").await.unwrap();
    let e = p.send(None, &[0u8; 2000]).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::RecordTooLarge, "{e}");
    let ok2 = p.send(None, b"after").await.unwrap();
    p.flush().await.unwrap();
    assert_eq!(
        (
            ok1.wait().await.unwrap().offset,
            ok2.wait().await.unwrap().offset
        ),
        (0, 1)
    );
    let e = p
        .send_all(vec![
            Record::new(None::<Vec<u8>>, "a"),
            Record::new(None::<Vec<u8>>, vec![0u8; 5000]),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RecordTooLarge);
    p.flush().await.unwrap();
    assert_eq!(
        b.records("bad", 0, 0).unwrap().len(),
        2,
        "a rejected send_all enqueues nothing"
    );
    p.close().await.unwrap();
    assert_eq!(
        p.send(None, b"late").await.unwrap_err().kind,
        ErrorKind::Closed
    );
    p.close().await.unwrap();
    let e = Producer::connect("127.0.0.1:1", "bad", cfg(&[("metadata_timeout_ms", "500")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
}

#[tokio::test]
async fn at_most_once_resolves_without_offsets() {
    let b = broker().await;
    b.create_topic("amo", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "amo",
        cfg(&[("delivery", "at_most_once"), ("linger_ms", "0")]),
    )
    .await
    .unwrap();
    let mut outs = Vec::new();
    for i in 0..20 {
        outs.push(p.send(None, format!("{i}").as_bytes()).await.unwrap());
    }
    p.flush().await.unwrap();
    for o in &outs {
        assert_eq!(o.wait().await.unwrap().offset, -1);
    }
    // The broker answers anyway; wait until it stored everything.
    for _ in 0..1000 {
        if b.records("amo", 0, 0).unwrap().len() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.records("amo", 0, 0).unwrap().len(), 20);
    p.close().await.unwrap();
}

#[tokio::test]
async fn broker_restart_mid_stream_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = TestBroker::start(BrokerConfig::default().data_dir(dir.path()))
        .await
        .unwrap();
    b.create_topic("durable", 2).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "durable",
        cfg(&[
            ("linger_ms", "2"),
            ("retry_backoff_ms", "20"),
            ("max_retries", "1000"),
            ("delivery_timeout_ms", "60000"),
        ]),
    )
    .await
    .unwrap();
    let sender = {
        let p = p.clone();
        tokio::spawn(async move {
            let mut outs = Vec::new();
            for i in 0..3000u32 {
                outs.push((
                    i,
                    p.send(
                        Some(format!("k{}", i % 5).as_bytes()),
                        format!("{i}").as_bytes(),
                    )
                    .await
                    .unwrap(),
                ));
                if i.is_multiple_of(100) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            outs
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.restart().await.unwrap();
    let outs = sender.await.unwrap();
    let _ = p.flush_timeout(Duration::from_secs(60)).await;
    let (mut acked, mut failed) = (0, 0);
    for (i, o) in &outs {
        match o.wait_timeout(Duration::from_secs(60)).await {
            Ok(m) => {
                acked += 1;
                let r = &b.records("durable", m.partition, m.offset).unwrap()[0];
                assert_eq!(
                    r.value,
                    i.to_string().into_bytes(),
                    "acknowledged record {i} is at its offset"
                );
            }
            Err(e) => {
                assert_ne!(e.kind, ErrorKind::Timeout, "no output hangs: {e}");
                failed += 1;
            }
        }
    }
    assert_eq!(acked + failed, 3000);
    assert!(acked > 0);
    // Offsets stay contiguous after recovery.
    for part in 0..2 {
        for (i, r) in b.records("durable", part, 0).unwrap().iter().enumerate() {
            assert_eq!(r.offset, i as i64);
        }
    }
    p.close().await.unwrap();
}

#[tokio::test]
async fn admin_and_consumer_over_the_network() {
    let b = broker().await;
    let admin = Admin::connect(&b.endpoint()).await.unwrap();
    admin
        .create_topic("adm", TopicConfig::new(2))
        .await
        .unwrap();
    assert!(admin
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "adm" && t.partitions == 2));
    let e = admin
        .create_topic("adm", TopicConfig::new(2))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(2002), "{e}");
    let e = admin
        .create_topic("Bad_Name", TopicConfig::new(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(2006), "{e}");
    let p = Producer::connect(&b.endpoint(), "adm", cfg(&[("linger_ms", "0")]))
        .await
        .unwrap();
    for i in 0..30 {
        p.send_parts(Some(b"k"), format!("v{i}").as_bytes(), Some(1), None)
            .await
            .unwrap();
    }
    p.flush().await.unwrap();
    let all = Consumer::read_to_end(&b.endpoint(), "adm", 1, Offset::Beginning)
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all[29].value, b"v29");
    let tail = Consumer::read_to_end(&b.endpoint(), "adm", 1, Offset::FromEnd(5))
        .await
        .unwrap();
    assert_eq!(
        tail.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![25, 26, 27, 28, 29]
    );
    let mid = Consumer::read_to_end(&b.endpoint(), "adm", 1, Offset::Absolute(10))
        .await
        .unwrap();
    assert_eq!(mid[0].offset, 10);
    assert!(
        Consumer::read_to_end(&b.endpoint(), "adm", 0, Offset::Beginning)
            .await
            .unwrap()
            .is_empty()
    );
    p.close().await.unwrap();
    admin.delete_topic("adm").await.unwrap();
    assert!(!admin
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "adm"));
    assert_eq!(
        admin.delete_topic("adm").await.unwrap_err().kind,
        ErrorKind::UnknownTopic
    );
}

#[tokio::test]
async fn dropping_with_unsent_records_warns_with_the_count() {
    use std::sync::{Arc, Mutex};
    headwater::logging::install();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    headwater::logging::set_sink(
        tracing::Level::WARN,
        Arc::new(move |_, _, msg| sink.lock().unwrap().push(msg.to_string())),
    );
    let b = broker().await;
    b.create_topic("dropped", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "dropped", cfg(&[("linger_ms", "600000")]))
        .await
        .unwrap();
    let outs: Vec<_> = send_n(&p, 3).await;
    drop(p);
    for o in outs {
        assert_eq!(
            o.wait().await.unwrap_err().kind,
            ErrorKind::Closed,
            "the record's output says it was not sent"
        );
    }
    let logs = seen.lock().unwrap().clone();
    assert!(
        logs.iter().any(|l| l.contains("3 unsent records")),
        "{logs:?}"
    );
    headwater::logging::clear_sink();
}

async fn send_n(p: &Producer, n: usize) -> Vec<ProduceOutput> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(p.send(None, format!("{i}").as_bytes()).await.unwrap());
    }
    v
}

/// Synchronous callers (bindings) use the blocking twins from plain threads with no runtime.
#[test]
fn blocking_api_from_a_plain_thread() {
    let b = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    let admin = headwater::runtime::block_on(Admin::connect(&b.endpoint())).unwrap();
    headwater::runtime::block_on(admin.create_topic("sync", TopicConfig::new(1))).unwrap();
    let p = Producer::connect_blocking(&b.endpoint(), "sync", cfg(&[("linger_ms", "0")])).unwrap();
    let out = p.send_blocking(Some(b"k"), b"v", None, None).unwrap();
    p.flush_blocking(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(
        out.wait_blocking(Some(Duration::from_secs(30)))
            .unwrap()
            .offset,
        0
    );
    let e = Producer::connect_blocking(
        &b.endpoint(),
        "missing",
        cfg(&[("metadata_timeout_ms", "200")]),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::UnknownTopic);
    p.close_blocking(None).unwrap();
    let recs = headwater::runtime::block_on(Consumer::read_to_end(
        &b.endpoint(),
        "sync",
        0,
        Offset::Beginning,
    ))
    .unwrap();
    assert_eq!(recs.len(), 1);
}

/// After fork(): the inherited producer fails with `Forked`; a new broker and producer in the child work.
#[test]
fn fork_child_gets_forked_error_and_fresh_objects_work() {
    let b = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    b.create_topic("forked", 1).unwrap();
    let p =
        Producer::connect_blocking(&b.endpoint(), "forked", cfg(&[("linger_ms", "0")])).unwrap();
    p.send_blocking(None, b"parent", None, None)
        .unwrap()
        .wait_blocking(None)
        .unwrap();
    // SAFETY: the child only calls into headwater and then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| {
            let e = p.send_blocking(None, b"child", None, None).unwrap_err();
            if e.kind != ErrorKind::Forked {
                return 2;
            }
            let b2 = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
            b2.create_topic("child", 1).unwrap();
            let p2 =
                Producer::connect_blocking(&b2.endpoint(), "child", cfg(&[("linger_ms", "0")]))
                    .unwrap();
            let m = p2
                .send_blocking(None, b"fresh", None, None)
                .unwrap()
                .wait_blocking(Some(Duration::from_secs(30)))
                .unwrap();
            p2.close_blocking(None).unwrap();
            if m.offset != 0 || b2.records("child", 0, 0).unwrap().len() != 1 {
                return 3;
            }
            std::mem::forget(p);
            std::mem::forget(b);
            0
        })();
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "child crashed: status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "child failed");
    // The parent is unaffected.
    assert_eq!(
        p.send_blocking(None, b"parent-again", None, None)
            .unwrap()
            .wait_blocking(None)
            .unwrap()
            .offset,
        1
    );
}

/// `DeliveryTracker` with the `send_*_tracked` calls: every record reaches the sink exactly once, with
/// the offset the broker stored it at, before `flush` returns; a failed batch reports its error for
/// each of its records.
#[tokio::test]
async fn delivery_tracker_reports_each_record_once_before_flush_returns() {
    use headwater::producer::DeliveryTracker;
    use std::sync::{Arc, Mutex};

    let b = broker().await;
    b.create_topic("tracked", 3).unwrap();
    let p = Producer::connect(&b.endpoint(), "tracked", cfg(&[("linger_ms", "2")]))
        .await
        .unwrap();
    type Seen = Arc<Mutex<Vec<(usize, u32, headwater::Result<i64>)>>>;
    let seen: Seen = Default::default();
    let s = seen.clone();
    let tracker = DeliveryTracker::new(move |d| {
        let mut s = s.lock().unwrap();
        for r in &d.records {
            s.push((r.token, d.partition, d.offset(r)));
        }
    });
    let n = 3000;
    for i in 0..n {
        let key = format!("k{}", i % 17);
        p.send_blocking_tracked(
            Some(key.as_bytes()),
            format!("v{i}").as_bytes(),
            None,
            None,
            &tracker,
            i,
        )
        .unwrap();
    }
    p.flush().await.unwrap();
    let mut got = seen.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        n,
        "every tracked record reported before flush returned"
    );
    got.sort_by_key(|g| g.0);
    let stored: Vec<Vec<_>> = (0..3)
        .map(|q| b.records("tracked", q, 0).unwrap())
        .collect();
    for (i, (token, partition, offset)) in got.iter().enumerate() {
        assert_eq!(*token, i, "each token exactly once");
        let offset = *offset.as_ref().unwrap();
        let r = &stored[*partition as usize][offset as usize];
        assert_eq!(r.value, format!("v{i}").as_bytes());
    }

    // A batch the broker fails: its records get the error, the next batch succeeds.
    b.fail_next(spu_keys::PRODUCE, 1, 56);
    seen.lock().unwrap().clear();
    p.send_blocking_tracked(None, b"lost", Some(0), None, &tracker, 1)
        .unwrap();
    p.flush().await.unwrap_err();
    let recs = [Record::new(None::<Vec<u8>>, b"kept".to_vec()).partition(0)];
    p.send_all_blocking_tracked(&recs, &tracker, |i| 2 + i)
        .unwrap();
    p.flush().await.unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, 1);
    assert_eq!(got[0].2.as_ref().unwrap_err().kind, ErrorKind::Broker(56));
    assert_eq!(got[1].0, 2);
    let kept = got[1].2.as_ref().unwrap();
    assert_eq!(b.records("tracked", 0, *kept).unwrap()[0].value, b"kept");

    // Tracking an output whose batch already completed still reports it (on a runtime thread).
    let out = p.send_parts(None, b"late", Some(1), None).await.unwrap();
    out.wait().await.unwrap();
    tracker.track(&out, 3);
    for _ in 0..500 {
        if seen.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.lock().unwrap()[2].0, 3);
}

/// The flush barrier bindings use: `flush_blocking_tracked` returns only after the sink ran for every
/// record tracked before it (however slow the sink), and a send core refuses raises at once and
/// neither holds up nor fails a later flush.
#[test]
fn tracked_flush_waits_for_every_report_and_a_refused_send_does_not_poison_it() {
    use headwater::producer::DeliveryTracker;
    use std::sync::{Arc, Mutex};

    let b = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    b.create_topic("barrier", 2).unwrap();
    let p = Producer::connect_blocking(
        &b.endpoint(),
        "barrier",
        cfg(&[("linger_ms", "20"), ("max_request_size", "4096")]),
    )
    .unwrap();
    let seen: Arc<Mutex<Vec<usize>>> = Arc::default();
    let s = seen.clone();
    let tracker = DeliveryTracker::new(move |d| {
        // A slow user callback: flush must outlast it.
        std::thread::sleep(Duration::from_millis(20));
        s.lock().unwrap().extend(d.records.iter().map(|r| r.token));
    });
    for i in 0..200 {
        p.send_blocking_tracked(None, format!("v{i}").as_bytes(), None, None, &tracker, i)
            .unwrap();
    }
    let e = p
        .send_blocking_tracked(None, &[0u8; 8192], None, None, &tracker, 999)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RecordTooLarge, "refused at send: {e}");
    p.flush_blocking_tracked(&tracker, Some(DEADLINE)).unwrap();
    let mut got = seen.lock().unwrap().clone();
    got.sort_unstable();
    assert_eq!(
        got,
        (0..200).collect::<Vec<_>>(),
        "each report ran before flush returned"
    );
    assert_eq!(tracker.unreported(), 0);
    // Packed records (as Node and Java pass them), sent borrowed.
    let recs = headwater::producer::decode_packed(b"ab", Some(&[1, -1, 1]), b"xyz", &[1u32, 1, 1])
        .unwrap();
    p.send_all_blocking_tracked(&recs, &tracker, |i| 1000 + i)
        .unwrap();
    p.close_blocking_tracked(&tracker, Some(DEADLINE)).unwrap();
    assert_eq!(seen.lock().unwrap().len(), 203);
    let stored: Vec<_> = (0..2)
        .flat_map(|q| b.records("barrier", q, 0).unwrap())
        .filter(|r| r.value.len() == 1)
        .map(|r| (r.key, r.value))
        .collect();
    assert_eq!(stored.len(), 3);
    for want in [
        (Some(b"a".to_vec()), b"x".to_vec()),
        (None, b"y".to_vec()),
        (Some(b"b".to_vec()), b"z".to_vec()),
    ] {
        assert!(stored.contains(&want), "{want:?} stored: {stored:?}");
    }
}

// ---- Waiting on a record sends its batch (no linger for a caller who waits) ----

/// A linger no test would sit out: a wait that completes proves its batch was sent early.
const FOREVER_LINGER: &[(&str, &str)] =
    &[("linger_ms", "600000"), ("delivery_timeout_ms", "900000")];
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn waiting_on_each_record_sends_it_at_once() {
    let b = broker().await;
    b.create_topic("naive", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "naive", cfg(FOREVER_LINGER))
        .await
        .unwrap();
    for i in 0..20i64 {
        let out = p.send(Some(b"k"), b"v").await.unwrap();
        let meta = tokio::time::timeout(DEADLINE, out.wait())
            .await
            .expect("the wait sent the batch instead of lingering")
            .unwrap();
        assert_eq!(meta.offset, i);
    }
    // The blocking wait and `.await` do the same.
    let out = p.send(None, b"blocking").await.unwrap();
    let meta = tokio::task::spawn_blocking(move || out.wait_blocking(Some(DEADLINE)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meta.offset, 20);
    let meta = tokio::time::timeout(DEADLINE, p.send(None, b"await").await.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meta.offset, 21);
    assert_eq!(
        b.stats().produce_requests,
        22,
        "one request per waited record"
    );
    assert_eq!(b.records("naive", 0, 0).unwrap().len(), 22);
    p.close().await.unwrap();
}

#[tokio::test]
async fn records_nobody_waits_on_still_batch() {
    let b = broker().await;
    b.create_topic("batched", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "batched", cfg(FOREVER_LINGER))
        .await
        .unwrap();
    let mut outs = Vec::new();
    for i in 0..10_000u32 {
        outs.push(p.send(None, format!("v{i}").as_bytes()).await.unwrap());
    }
    p.flush().await.unwrap();
    let requests = b.stats().produce_requests;
    // 10,000 small records in 16 KiB batches: a handful of requests, not one per record.
    assert!(
        requests <= 15,
        "{requests} requests for 10,000 fire-and-forget records"
    );
    assert_eq!(b.records("batched", 0, 0).unwrap().len(), 10_000);
    // Waiting after the sends were issued (like Promise.all / asyncio.gather) keeps the batches.
    let mut outs = Vec::new();
    for i in 0..500u32 {
        outs.push(p.send(None, format!("w{i}").as_bytes()).await.unwrap());
    }
    for o in &outs {
        tokio::time::timeout(DEADLINE, o.wait())
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        b.stats().produce_requests,
        requests + 1,
        "one batch for the 500 waited-on records"
    );
    p.close().await.unwrap();
}

#[tokio::test]
async fn a_wait_that_times_out_leaves_the_sent_batch_to_complete() {
    let b = broker().await;
    b.create_topic("paused", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "paused", cfg(FOREVER_LINGER))
        .await
        .unwrap();
    b.pause();
    let out = p.send(Some(b"k"), b"v").await.unwrap();
    let e = out
        .wait_timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout);
    b.resume();
    let meta = tokio::time::timeout(DEADLINE, out.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meta.offset, 0);
    assert_eq!(
        b.stats().produce_requests,
        1,
        "the timed-out wait neither resent nor dropped it"
    );
    p.close().await.unwrap();
}

#[tokio::test]
async fn send_now_by_batch_id_sends_that_batch_only() {
    let b = broker().await;
    b.create_topic("by-id", 2).unwrap();
    let p = Producer::connect(&b.endpoint(), "by-id", cfg(FOREVER_LINGER))
        .await
        .unwrap();
    let first = p.send_to(0, None, b"a").await.unwrap();
    let same_batch = p.send_to(0, None, b"b").await.unwrap();
    let other_partition = p.send_to(1, None, b"c").await.unwrap();
    assert_eq!(first.batch_id(), same_batch.batch_id());
    assert_ne!(first.batch_id(), 0);
    // The wrong partition, or an id no open batch has, seals nothing.
    p.send_now(1, first.batch_id() + 1000);
    p.send_now(7, first.batch_id());
    p.send_now(0, first.batch_id());
    let meta = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(r) = same_batch.try_get() {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("send_now sent the batch")
    .unwrap();
    assert_eq!((meta.partition, meta.offset), (0, 1));
    assert_eq!(
        b.stats().produce_requests,
        1,
        "partition 1's batch still lingers"
    );
    assert!(!other_partition.done());
    // A later batch of partition 0 has another id; the sent batch's id no longer seals anything.
    let next = p.send_to(0, None, b"d").await.unwrap();
    assert!(next.batch_id() > first.batch_id());
    p.send_now(0, first.batch_id());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!next.done(), "a stale id sealed the next batch");
    p.close().await.unwrap();
    assert_eq!(b.records("by-id", 0, 0).unwrap().len(), 3);
}

#[tokio::test]
async fn send_all_stamps_its_records_with_the_time_of_the_call() {
    let b = broker().await;
    b.create_topic("stamps", 1).unwrap();
    let p = Producer::connect(&b.endpoint(), "stamps", cfg(&[("linger_ms", "0")]))
        .await
        .unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut records: Vec<Record> = (0..20000)
        .map(|i| Record::new(None::<Vec<u8>>, format!("r{i}")))
        .collect();
    records[7] = Record::new(None::<Vec<u8>>, "explicit").timestamp(42);
    let outs = p.send_all(records).await.unwrap();
    let metas = wait_all(&outs).await;
    let call = metas[0].timestamp;
    assert!(call >= before, "{call} < {before}");
    for (i, m) in metas.iter().enumerate() {
        let want = if i == 7 { 42 } else { call };
        assert_eq!(m.timestamp, want, "record {i}");
    }
    // The same through the blocking form the bindings use.
    let p2 = p.clone();
    let outs = tokio::task::spawn_blocking(move || {
        let recs: Vec<Record> = (0..3)
            .map(|i| Record::new(None::<Vec<u8>>, format!("b{i}")))
            .collect();
        p2.send_all_blocking(&recs).unwrap()
    })
    .await
    .unwrap();
    let metas = wait_all(&outs).await;
    assert!(metas
        .iter()
        .all(|m| m.timestamp == metas[0].timestamp && m.timestamp >= call));
    p.close().await.unwrap();
}
