use headwater::{BrokerConfig, Producer, ProducerConfig, TestBroker};

#[tokio::main]
async fn main() -> headwater::Result<()> {
    // An embedded broker: no cluster needed. Point `endpoint` at a real Fluvio SC instead.
    let broker = TestBroker::start(BrokerConfig::default()).await?;
    broker.create_topic("events", 3)?;

    let config = ProducerConfig::default()
        .with("linger_ms", "10")?
        .with("compression", "lz4")?;
    let producer = Producer::connect(&broker.endpoint(), "events", config).await?;
    let output = producer.send(Some(b"user-1"), b"clicked").await?; // returns at once
    producer.send(None, b"keyless").await?;
    producer.flush().await?;
    let meta = output.wait().await?; // RecordMetadata { topic, partition, offset, timestamp }
    println!(
        "user-1 landed in partition {} at offset {}",
        meta.partition, meta.offset
    );
    producer.close().await?;

    let stored = broker.records("events", meta.partition, 0)?;
    assert_eq!(stored[0].value, b"clicked");
    Ok(())
}
