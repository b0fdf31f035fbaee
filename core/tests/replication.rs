//! Replication and leader failover in the embedded broker (3 SPUs), for both isolation levels.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Admin, Consumer, ConsumerConfig, Offset, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::ErrorKind;

fn cfg(pairs: &[(&str, &str)]) -> ProducerConfig {
    ProducerConfig::from_options(pairs.iter().copied()).unwrap()
}

async fn three_spus() -> TestBroker {
    TestBroker::start(BrokerConfig::default().spus(3))
        .await
        .unwrap()
}

fn replicated(partitions: u32, rf: u32) -> TopicConfig {
    TopicConfig {
        replication: rf,
        ..TopicConfig::new(partitions)
    }
}

/// Waits (bounded) until every replica of every partition has the leader's records.
async fn wait_in_sync(b: &TestBroker, topic: &str, partitions: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let synced = (0..partitions).all(|p| {
            let leader = b.leader(topic, p).unwrap();
            let end = b.replica_end(topic, p, leader).unwrap();
            b.high_watermark(topic, p).unwrap() == end
                && b.replicas(topic, p)
                    .unwrap()
                    .iter()
                    .all(|s| b.replica_end(topic, p, *s).unwrap() == end)
        });
        if synced {
            return;
        }
        assert!(Instant::now() < deadline, "replicas did not catch up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn followers_on_distinct_spus_receive_every_batch() {
    let b = three_spus().await;
    b.create_topic_with("rep", replicated(3, 3)).unwrap();
    let mut leaders = Vec::new();
    for p in 0..3 {
        let r = b.replicas("rep", p).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.iter().collect::<std::collections::HashSet<_>>().len(),
            3,
            "distinct SPUs"
        );
        leaders.push(b.leader("rep", p).unwrap());
    }
    leaders.sort();
    leaders.dedup();
    assert_eq!(leaders.len(), 3, "leaders spread across SPUs");
    let p = Producer::connect(&b.endpoint(), "rep", cfg(&[("linger_ms", "1")]))
        .await
        .unwrap();
    for i in 0..300 {
        p.send(
            Some(format!("k{}", i % 9).as_bytes()),
            format!("{i}").as_bytes(),
        )
        .await
        .unwrap();
    }
    p.flush().await.unwrap();
    wait_in_sync(&b, "rep", 3).await;
    for part in 0..3 {
        let on_leader = b.records("rep", part, 0).unwrap();
        for spu in b.replicas("rep", part).unwrap() {
            assert_eq!(
                b.replica_records("rep", part, spu).unwrap(),
                on_leader,
                "replica on SPU {spu} of rep-{part}"
            );
        }
    }
    // The metadata says the same: replicas, leader, high watermark.
    let admin = Admin::connect(&b.endpoint()).await.unwrap();
    let pm = admin
        .cluster()
        .metadata()
        .partition("rep", 0)
        .unwrap()
        .clone();
    assert_eq!(pm.spec.replicas, b.replicas("rep", 0).unwrap());
    assert_eq!(pm.spec.leader, b.leader("rep", 0).unwrap());
    p.close().await.unwrap();
}

#[tokio::test]
async fn replication_factor_above_the_spu_count_is_rejected() {
    let b = three_spus().await;
    let admin = Admin::connect(&b.endpoint()).await.unwrap();
    let e = admin
        .create_topic("too-many", replicated(1, 4))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Broker(2005), "TopicNotProvisioned: {e}");
    assert!(e.message.contains("replication factor 4"), "{e}");
}

#[tokio::test]
async fn read_committed_acks_wait_for_the_followers() {
    let b = three_spus().await;
    b.create_topic_with("rc", replicated(1, 3)).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "rc",
        cfg(&[
            ("isolation", "read_committed"),
            ("linger_ms", "0"),
            ("timeout_ms", "300"),
            ("max_retries", "0"),
        ]),
    )
    .await
    .unwrap();
    b.pause_replication(true);
    let e = p
        .send(None, b"unreplicated")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Broker(7),
        "RequestTimedOut while followers lag: {e}"
    );
    assert_eq!(
        p.flush().await.unwrap_err().kind,
        ErrorKind::Broker(7),
        "flush reports it too"
    );
    assert_eq!(b.high_watermark("rc", 0).unwrap(), 0);
    // Committed readers see nothing beyond the high watermark; uncommitted readers see the leader's log.
    let committed = Consumer::read_to_end(&b.endpoint(), "rc", 0, Offset::Beginning)
        .await
        .unwrap();
    assert!(committed.is_empty());
    let mut s = Consumer::stream(
        &b.endpoint(),
        "rc",
        0,
        Offset::Absolute(0),
        ConsumerConfig::default(),
    )
    .await
    .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), s.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(r.value, b"unreplicated");
    let mut sc = Consumer::stream(
        &b.endpoint(),
        "rc",
        0,
        Offset::Absolute(0),
        ConsumerConfig {
            read_committed: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sc.next())
            .await
            .is_err(),
        "nothing committed yet"
    );
    b.pause_replication(false);
    let m = p
        .send(None, b"replicated")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(m.offset, 1);
    assert!(b.high_watermark("rc", 0).unwrap() >= 2);
    let first = tokio::time::timeout(Duration::from_secs(30), sc.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.offset, 0, "committed now");
    p.close().await.unwrap();
}

/// Sends keyed records while the leader SPU of partition 0 is stopped mid-stream; returns
/// (acknowledged, failed, lost) where lost = acknowledged records not at their offset afterwards.
async fn failover_run(
    isolation: &str,
    pause_replication_before_stop: bool,
) -> (usize, usize, usize) {
    let b = three_spus().await;
    b.create_topic_with("fo", replicated(4, 3)).unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "fo",
        cfg(&[
            ("isolation", isolation),
            ("linger_ms", "2"),
            ("retry_backoff_ms", "20"),
            ("max_retries", "1000"),
            ("delivery_timeout_ms", "60000"),
        ]),
    )
    .await
    .unwrap();
    let old_leader = b.leader("fo", 0).unwrap();
    let mut outs = Vec::new();
    for i in 0..2000u32 {
        if i == 1000 {
            p.flush().await.unwrap();
            // Everything acknowledged so far reaches every replica first: under read_uncommitted a
            // record the followers had not copied yet would also be lost, and on a busy machine
            // replication can lag behind the acknowledgements.
            let deadline = Instant::now() + Duration::from_secs(60);
            for part in 0..4 {
                let leader = b.leader("fo", part).unwrap();
                let end = b.replica_end("fo", part, leader).unwrap();
                for spu in b.replicas("fo", part).unwrap() {
                    while b.replica_end("fo", part, spu).unwrap() < end {
                        assert!(Instant::now() < deadline, "replication did not catch up");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            if pause_replication_before_stop {
                b.pause_replication(true);
                let end = b.replica_end("fo", 0, old_leader).unwrap();
                for j in 0..50u32 {
                    let v = format!("unreplicated-{j}");
                    outs.push((
                        v.clone(),
                        p.send_parts(Some(b"x"), v.as_bytes(), Some(0), None)
                            .await
                            .unwrap(),
                    ));
                }
                // On the old leader only: read_uncommitted acknowledges them, read_committed cannot.
                let deadline = Instant::now() + Duration::from_secs(60);
                while b.replica_end("fo", 0, old_leader).unwrap() < end + 50 {
                    assert!(Instant::now() < deadline, "the leader did not write them");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if isolation == "read_uncommitted" {
                    p.flush().await.unwrap();
                }
            }
            b.stop_spu(old_leader).await.unwrap();
            b.pause_replication(false);
        }
        let v = format!("{i}");
        outs.push((
            v.clone(),
            p.send(Some(format!("key-{}", i % 13).as_bytes()), v.as_bytes())
                .await
                .unwrap(),
        ));
    }
    let _ = p.flush_timeout(Duration::from_secs(120)).await;
    assert_ne!(
        b.leader("fo", 0).unwrap(),
        old_leader,
        "partition 0 moved to a follower"
    );
    let (mut acked, mut failed, mut lost) = (0, 0, 0);
    let mut stored: HashMap<(u32, i64), Vec<u8>> = HashMap::new();
    for part in 0..4 {
        for r in b.records("fo", part, 0).unwrap() {
            stored.insert((part, r.offset), r.value);
        }
    }
    for (v, o) in &outs {
        match o.wait_timeout(Duration::from_secs(120)).await {
            Ok(m) => {
                acked += 1;
                if stored.get(&(m.partition, m.offset)) != Some(&v.clone().into_bytes()) {
                    lost += 1;
                }
            }
            Err(e) => {
                assert_ne!(e.kind, ErrorKind::Timeout, "no send hangs: {e}");
                failed += 1;
            }
        }
    }
    // Per-key order on every partition's (new) leader.
    for part in 0..4 {
        let mut last: HashMap<Vec<u8>, i64> = HashMap::new();
        for r in b.records("fo", part, 0).unwrap() {
            if let Ok(n) = String::from_utf8(r.value.clone()).unwrap().parse::<i64>() {
                let prev = last.insert(r.key.clone().unwrap(), n).unwrap_or(-1);
                assert!(n >= prev, "per-key order on fo-{part}: {n} after {prev}");
            }
        }
    }
    // The stopped SPU comes back as a follower and catches up.
    b.start_spu(old_leader).await.unwrap();
    wait_in_sync(&b, "fo", 4).await;
    p.close().await.unwrap();
    println!("failover {isolation} (replication paused before the stop: {pause_replication_before_stop}): acknowledged {acked}, failed {failed}, lost {lost}");
    (acked, failed, lost)
}

#[tokio::test]
async fn failover_read_committed_loses_nothing() {
    let (acked, failed, lost) = failover_run("read_committed", false).await;
    assert_eq!(
        lost, 0,
        "no record acknowledged under read_committed is lost"
    );
    assert_eq!(acked + failed, 2000);
    assert!(
        acked >= 1990,
        "the producer followed the new leader: {acked} acknowledged"
    );
}

#[tokio::test]
async fn failover_read_committed_with_lagging_followers_loses_nothing() {
    // The 50 sends made while followers lag cannot be acknowledged: they retry onto the new leader.
    let (acked, _failed, lost) = failover_run("read_committed", true).await;
    assert_eq!(lost, 0);
    assert!(acked >= 2000, "{acked}");
}

#[tokio::test]
async fn failover_read_uncommitted_reports_what_it_can_lose() {
    let (acked, _failed, lost) = failover_run("read_uncommitted", true).await;
    // The records only the old leader had were acknowledged and are gone after the failover.
    assert_eq!(
        lost, 50,
        "read_uncommitted lost exactly the unreplicated acknowledged records"
    );
    assert!(acked >= 2000);
}

#[tokio::test]
async fn replicas_survive_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = TestBroker::start(BrokerConfig::default().spus(2).data_dir(dir.path()))
        .await
        .unwrap();
    b.create_topic_with("durable-rep", replicated(2, 2))
        .unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "durable-rep",
        cfg(&[("isolation", "read_committed"), ("linger_ms", "0")]),
    )
    .await
    .unwrap();
    for i in 0..100 {
        p.send(None, format!("{i}").as_bytes())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    p.close().await.unwrap();
    let before: Vec<_> = (0..2)
        .map(|part| b.records("durable-rep", part, 0).unwrap())
        .collect();
    b.restart().await.unwrap();
    for part in 0..2 {
        assert_eq!(
            b.records("durable-rep", part, 0).unwrap(),
            before[part as usize]
        );
        for spu in b.replicas("durable-rep", part).unwrap() {
            assert_eq!(
                b.replica_end("durable-rep", part, spu).unwrap(),
                before[part as usize].len() as i64
            );
        }
    }
}
