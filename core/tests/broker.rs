//! The embedded broker on its own: limits, hostile connections, persistence, retention.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Admin, Consumer, Offset, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::protocol::api::*;
use headwater::protocol::codec::from_bytes;

fn api_versions_frame() -> Vec<u8> {
    let h = RequestHeader {
        api_key: API_VERSIONS_KEY,
        api_version: 2,
        correlation_id: 7,
        client_id: "raw".into(),
    };
    request_frame(&h, &ApiVersionsRequest::ours())
}

/// Sends an ApiVersions request on a fresh raw connection and checks the answer.
fn raw_api_versions(addr: &str) -> ApiVersionsResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&api_versions_frame()).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    assert_eq!(&body[..4], &7i32.to_be_bytes());
    from_bytes(&body[4..], 2).unwrap()
}

fn is_closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[tokio::test]
async fn hostile_connections_close_only_themselves() {
    let b = TestBroker::start(BrokerConfig {
        max_frame_bytes: 1024,
        ..Default::default()
    })
    .await
    .unwrap();
    let ep = b.endpoint();
    // A frame over the limit.
    let mut big = TcpStream::connect(&ep).unwrap();
    big.write_all(&100_000i32.to_be_bytes()).unwrap();
    assert!(is_closed(&mut big));
    // An undecodable request: unknown api key.
    let mut junk = TcpStream::connect(&ep).unwrap();
    junk.write_all(&[0, 0, 0, 12, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
        .unwrap();
    assert!(is_closed(&mut junk));
    // A slow client that sends one byte and stalls blocks nobody.
    let mut slow = TcpStream::connect(&ep).unwrap();
    slow.write_all(&[0]).unwrap();
    let resp = raw_api_versions(&ep);
    assert!(resp.api_keys.iter().any(|k| k.api_key == 1004));
    assert!(b.stats().rejected_frames >= 2);
    // The SPU side too.
    let spu = b.spu_endpoint(b.spu_ids()[0]).unwrap();
    let mut junk = TcpStream::connect(&spu).unwrap();
    junk.write_all(&[0, 0, 0, 3, 1, 2, 3]).unwrap();
    assert!(is_closed(&mut junk));
    assert!(raw_api_versions(&spu)
        .api_keys
        .iter()
        .any(|k| k.api_key == 0));
    drop(slow);
}

#[tokio::test]
async fn connection_limit_refuses_extra_connections() {
    let b = TestBroker::start(BrokerConfig {
        max_connections: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let ep = b.endpoint();
    let keep: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&ep).unwrap()).collect();
    // Make sure both are accepted before the third arrives.
    for _ in 0..2000 {
        if b.stats().connections >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut third = TcpStream::connect(&ep).unwrap();
    third.write_all(&api_versions_frame()).unwrap_or(());
    assert!(is_closed(&mut third));
    drop(keep);
    for _ in 0..2000 {
        if b.stats().connections == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    raw_api_versions(&ep);
}

#[tokio::test]
async fn system_topic_and_topic_lifecycle() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    let admin = Admin::connect(&b.endpoint()).await.unwrap();
    admin
        .cluster()
        .wait_synced(Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        admin.list_topics().await.unwrap().is_empty(),
        "the system topic is not listed"
    );
    assert!(
        admin
            .cluster()
            .metadata()
            .topics
            .contains_key("consumer-offset"),
        "but it exists"
    );
    let e = b.delete_topic("consumer-offset").unwrap_err();
    assert!(e.message.contains("SystemSpecDeletionAttempt"), "{e}");
    let e = b
        .create_topic_with(
            "r3",
            TopicConfig {
                replication: 3,
                ..TopicConfig::new(1)
            },
        )
        .unwrap_err();
    assert!(e.message.contains("replication factor 3"), "{e}");
}

#[tokio::test]
async fn data_dir_restart_restores_topics_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = BrokerConfig::default().data_dir(dir.path());
    {
        let b = TestBroker::start(cfg.clone()).await.unwrap();
        b.create_topic("kept", 2).unwrap();
        let p = Producer::connect(
            &b.endpoint(),
            "kept",
            ProducerConfig::default().with("linger_ms", "0").unwrap(),
        )
        .await
        .unwrap();
        for i in 0..50 {
            p.send_parts(None, format!("{i}").as_bytes(), Some(i % 2), None)
                .await
                .unwrap();
        }
        p.close().await.unwrap();
        assert!(
            b.stats().fsyncs > 0,
            "every produce request is synced by default"
        );
        b.stop();
    }
    let b = TestBroker::start(cfg).await.unwrap();
    assert_eq!(b.topics(), vec!["kept".to_string()]);
    assert_eq!(b.offsets("kept", 0).unwrap(), (0, 25));
    let p = Producer::connect(
        &b.endpoint(),
        "kept",
        ProducerConfig::default().with("linger_ms", "0").unwrap(),
    )
    .await
    .unwrap();
    let m = p
        .send_parts(None, b"next", Some(0), None)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(m.offset, 25, "new records continue at the next offset");
    let back = Consumer::read_to_end(&b.endpoint(), "kept", 0, Offset::Beginning)
        .await
        .unwrap();
    assert_eq!(back.len(), 26);
    assert_eq!(back[0].value, b"0");
    p.close().await.unwrap();
}

#[tokio::test]
async fn retention_by_size_deletes_old_segments_without_reusing_offsets() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    b.create_topic_with(
        "ret",
        TopicConfig {
            segment_size: Some(2000),
            max_partition_size: Some(5000),
            ..TopicConfig::new(1)
        },
    )
    .unwrap();
    let p = Producer::connect(
        &b.endpoint(),
        "ret",
        ProducerConfig::default().with("linger_ms", "0").unwrap(),
    )
    .await
    .unwrap();
    for i in 0..100 {
        p.send(None, format!("{i:0>100}").as_bytes())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    b.enforce_retention();
    let (start, end) = b.offsets("ret", 0).unwrap();
    assert!(start > 0, "old segments deleted");
    assert_eq!(end, 100);
    // Readers from the beginning now start at the new log start; offsets stay put.
    let back = Consumer::read_to_end(&b.endpoint(), "ret", 0, Offset::Beginning)
        .await
        .unwrap();
    assert_eq!(back.first().unwrap().offset, start);
    assert_eq!(back.last().unwrap().offset, 99);
    let m = p.send(None, b"after").await.unwrap().wait().await.unwrap();
    assert_eq!(m.offset, 100);
    p.close().await.unwrap();
}
