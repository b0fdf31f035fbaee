//! Fault injection per error class: the exact outcome a user sees, and that nothing acknowledged is lost.

use std::time::Duration;

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Consumer, Offset, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::protocol::api::spu_keys;
use headwater::ErrorKind;

fn cfg(pairs: &[(&str, &str)]) -> ProducerConfig {
    ProducerConfig::from_options(pairs.iter().copied()).unwrap()
}

async fn setup(topic: &str) -> (TestBroker, Producer) {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    b.create_topic(topic, 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        topic,
        cfg(&[
            ("linger_ms", "0"),
            ("retry_backoff_ms", "5"),
            ("max_retries", "3"),
        ]),
    )
    .await
    .unwrap();
    (b, p)
}

#[tokio::test]
async fn not_leader_is_retried_then_succeeds() {
    let (b, p) = setup("nl").await;
    b.fail_next(spu_keys::PRODUCE, 2, 6);
    let m = p.send(None, b"x").await.unwrap().wait().await.unwrap();
    assert_eq!(m.offset, 0);
    assert_eq!(p.stats().retries, 2);
    assert_eq!(b.records("nl", 0, 0).unwrap().len(), 1, "stored once");
}

#[tokio::test]
async fn request_timed_out_is_retried_until_max_retries() {
    let (b, p) = setup("rto").await;
    b.fail_next(spu_keys::PRODUCE, 10, 7);
    let e = p.send(None, b"x").await.unwrap().wait().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(7));
    assert!(e.is_retriable());
    assert!(e.message.contains("4 attempts"), "{e}");
    assert!(b.records("rto", 0, 0).unwrap().is_empty());
}

#[tokio::test]
async fn storage_error_fails_only_that_batch() {
    let (b, p) = setup("se").await;
    b.fail_next(spu_keys::PRODUCE, 1, 56);
    let e = p
        .send(None, b"lost")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(56));
    assert!(!e.is_retriable());
    assert_eq!(
        p.send(None, b"kept")
            .await
            .unwrap()
            .wait()
            .await
            .unwrap()
            .offset,
        0
    );
}

#[tokio::test]
async fn compression_and_unknown_topic_codes_map_to_their_kinds() {
    let (b, p) = setup("codes").await;
    b.fail_next(spu_keys::PRODUCE, 1, 9000);
    assert_eq!(
        p.send(None, b"a")
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Compression
    );
    b.fail_next(spu_keys::PRODUCE, 1, 2001);
    assert_eq!(
        p.send(None, b"b")
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_err()
            .kind,
        ErrorKind::UnknownTopic
    );
    b.fail_next(spu_keys::PRODUCE, 1, 10);
    assert_eq!(
        p.send(None, b"c")
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_err()
            .kind,
        ErrorKind::RecordTooLarge
    );
}

#[tokio::test]
async fn dropped_connection_is_retried_and_stored() {
    let (b, p) = setup("drop").await;
    b.drop_next(spu_keys::PRODUCE, 2);
    let m = p
        .send(Some(b"k"), b"after-drops")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(m.offset, 0);
    assert!(p.stats().retries >= 2);
    let stored = b.records("drop", 0, 0).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, b"after-drops");
}

#[tokio::test]
async fn slow_broker_hits_delivery_timeout_and_flush_timeout_bounds_the_wait() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    b.create_topic("slow", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "slow",
        cfg(&[("linger_ms", "0"), ("delivery_timeout_ms", "300")]),
    )
    .await
    .unwrap();
    b.delay(spu_keys::PRODUCE, Some(Duration::from_secs(3)));
    let out = p.send(None, b"late").await.unwrap();
    let e = out.wait().await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    let e = p.flush_timeout(Duration::from_secs(30)).await.unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Timeout,
        "flush reports the failure nobody was told about: {e}"
    );
    b.delay(spu_keys::PRODUCE, None);
    // A paused SPU: flush gives up at its timeout and nothing is lost once it resumes.
    b.pause();
    let p2 = Producer::connect(&b.endpoint(), "slow", cfg(&[("linger_ms", "0")]))
        .await
        .unwrap();
    let out = p2.send(None, b"held").await.unwrap();
    assert_eq!(
        p2.flush_timeout(Duration::from_millis(200))
            .await
            .unwrap_err()
            .kind,
        ErrorKind::Timeout
    );
    b.resume();
    p2.flush().await.unwrap();
    let m = out.wait().await.unwrap();
    assert!(b
        .records("slow", 0, m.offset)
        .unwrap()
        .iter()
        .any(|r| r.value == b"held"));
}

#[tokio::test]
async fn spu_stop_and_start_keeps_acknowledged_records() {
    let dir = tempfile::tempdir().unwrap();
    let b = TestBroker::start(BrokerConfig::default().data_dir(dir.path()))
        .await
        .unwrap();
    b.create_topic("spu", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "spu",
        cfg(&[
            ("linger_ms", "0"),
            ("retry_backoff_ms", "20"),
            ("max_retries", "100"),
        ]),
    )
    .await
    .unwrap();
    let before = p.send(None, b"before").await.unwrap().wait().await.unwrap();
    let id = b.spu_ids()[0];
    b.stop_spu(id).await.unwrap();
    let during = p.send(None, b"during").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!during.done(), "waits for the SPU");
    b.start_spu(id).await.unwrap();
    let m = during.wait().await.unwrap();
    assert_eq!(before.offset, 0);
    let vals: Vec<Vec<u8>> = b
        .records("spu", 0, 0)
        .unwrap()
        .into_iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(vals[0], b"before");
    assert_eq!(
        vals[m.offset as usize], b"during",
        "the acknowledged record is at its offset"
    );
    // A request in flight when the SPU stopped may have been written before its answer was lost:
    // at-least-once may store it twice, never lose it.
    assert!(
        vals[1..].iter().all(|v| v == b"during") && (2..=3).contains(&vals.len()),
        "{vals:?}"
    );
}

/// An attempt whose (retriable) error arrives after the delivery deadline ends the record as a
/// `Timeout` (that error stays in the message), like a batch that expires while queued.
#[tokio::test]
async fn an_attempt_failing_past_the_delivery_deadline_fails_as_timeout() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    b.create_topic("deadline", 1).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "deadline",
        cfg(&[
            ("linger_ms", "0"),
            ("max_retries", "100"),
            ("delivery_timeout_ms", "300"),
        ]),
    )
    .await
    .unwrap();
    // The answer (NotLeader, retriable) comes 600 ms later: past the deadline.
    b.delay(spu_keys::PRODUCE, Some(Duration::from_millis(600)));
    b.fail_next(spu_keys::PRODUCE, 100, 6);
    let e = p
        .send(None, b"never")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(e.message.contains("delivery_timeout_ms"), "{e}");
    b.delay(spu_keys::PRODUCE, None);
    b.fail_next(spu_keys::PRODUCE, 0, 0);
    assert!(b.records("deadline", 0, 0).unwrap().is_empty());
}

#[tokio::test]
async fn retention_during_produce_and_fetch_never_reuses_offsets() {
    let b = TestBroker::start(BrokerConfig {
        retention_interval: Duration::from_millis(5),
        ..Default::default()
    })
    .await
    .unwrap();
    b.create_topic_with(
        "churn",
        TopicConfig {
            segment_size: Some(1500),
            max_partition_size: Some(6000),
            ..TopicConfig::new(1)
        },
    )
    .unwrap();
    let p = Producer::connect(&b.endpoint(), "churn", cfg(&[("linger_ms", "0")]))
        .await
        .unwrap();
    let reader = {
        let ep = b.endpoint();
        tokio::spawn(async move {
            let mut last = -1i64;
            let mut s = Consumer::stream(&ep, "churn", 0, Offset::Beginning, Default::default())
                .await
                .unwrap();
            loop {
                match s.next().await {
                    Some(Ok(r)) => {
                        assert!(
                            r.offset > last,
                            "offsets only grow: {} after {last}",
                            r.offset
                        );
                        assert_eq!(
                            String::from_utf8(r.value).unwrap().parse::<i64>().unwrap(),
                            r.offset,
                            "never a reused offset"
                        );
                        last = r.offset;
                        if last == 499 {
                            return Ok(last);
                        }
                    }
                    // A reader that fell behind a deleted segment is told so, never served from it.
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("stream ended".to_string()),
                }
            }
        })
    };
    for i in 0..500 {
        let m = p
            .send(None, format!("{i}").as_bytes())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert_eq!(m.offset, i);
    }
    let (start, end) = b.offsets("churn", 0).unwrap();
    assert!(start > 0 && end == 500, "{start}..{end}");
    match tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .unwrap()
        .unwrap()
    {
        Ok(last) => assert_eq!(last, 499),
        Err(e) => assert!(
            e.contains("OffsetEvicted"),
            "the only acceptable end is an eviction notice: {e}"
        ),
    }
}

#[tokio::test]
async fn partition_limit_is_enforced() {
    let b = TestBroker::start(BrokerConfig {
        max_partitions_per_topic: 8,
        ..Default::default()
    })
    .await
    .unwrap();
    let e = b.create_topic("wide", 9).unwrap_err();
    // The broker's refusal keeps its Fluvio code, as through Admin: 2004 TopicInvalidConfiguration.
    assert_eq!(e.kind, ErrorKind::Broker(2004));
    assert!(e.message.contains("limit of 8"), "{e}");
    b.create_topic("ok", 8).unwrap();
}
