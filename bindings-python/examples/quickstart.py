"""Quickstart: an embedded broker, a producer, and reading back what the broker stored."""

from headwater import Producer, TestBroker

with TestBroker.start(spus=1) as broker:
    broker.create_topic("events", partitions=3)
    with Producer.connect(broker.endpoint, "events", linger_ms=10, compression="lz4") as p:
        out = p.send(b"user-1", b"clicked")  # returns at once
        meta = out.wait()  # RecordMetadata(topic, partition, offset, timestamp)
        p.send_all([(None, b"a"), (b"k", "text")])
        p.flush()
    print(meta)
    stored = [r for part in range(3) for r in broker.records("events", part)]
    assert len(stored) == 3
    print(sorted(r.value for r in stored))
