"""asyncio: await each send, flush and close without blocking the event loop."""

import asyncio

from headwater import Producer, RecordMetadata, TestBroker


async def main(endpoint: str) -> list[RecordMetadata]:
    async with Producer.connect(endpoint, "clicks", linger_ms=5) as p:
        first = await p.send(b"user-1", b"clicked")
        rest = [p.send(None, f"event-{i}") for i in range(10)]
        await p.flush_async()
        return [first, *(o.wait() for o in rest)]


if __name__ == "__main__":
    with TestBroker.start() as broker:
        broker.create_topic("clicks", partitions=2)
        metas = asyncio.run(main(broker.endpoint))
        print(len(metas), "records; first at offset", metas[0].offset)
