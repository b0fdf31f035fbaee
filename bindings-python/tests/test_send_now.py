"""Waiting on a record sends its batch: no linger for a caller who waits (counted in produce requests).

A linger no test would sit out (600 s) makes the point without timing anything: a wait that returns
proves its batch was sent early, and the broker's request count says how the records were batched.
"""

from __future__ import annotations

import asyncio
from typing import Iterator, List

import pytest

from conftest import DEADLINE
from headwater import Producer, TestBroker

FOREVER = {"linger_ms": 600_000, "delivery_timeout_ms": 900_000}


@pytest.fixture
def own_broker() -> Iterator[TestBroker]:
    """A broker of its own: the request counts must not include other tests' requests."""
    with TestBroker.start(spus=1) as b:
        b.create_topic("t")
        yield b


def requests(b: TestBroker) -> int:
    return b.stats().produce_requests


def test_send_and_wait_each_is_one_request_per_record(own_broker: TestBroker) -> None:
    with Producer.connect(own_broker.endpoint, "t", **FOREVER) as p:
        offsets = [p.send(b"k", b"v").wait(timeout=DEADLINE).offset for _ in range(20)]
        assert offsets == list(range(20))
        assert requests(own_broker) == 20


def test_await_each_is_one_request_per_record(own_broker: TestBroker) -> None:
    async def main() -> List[int]:
        with Producer.connect(own_broker.endpoint, "t", **FOREVER) as p:
            return [(await asyncio.wait_for(p.send(None, b"v"), DEADLINE)).offset for _ in range(10)]

    assert asyncio.run(main()) == list(range(10))
    assert requests(own_broker) == 10


def test_fire_and_forget_still_batches(own_broker: TestBroker) -> None:
    with Producer.connect(own_broker.endpoint, "t", **FOREVER) as p:
        for i in range(10_000):
            p.send(None, b"v%d" % i)
        p.flush(timeout=DEADLINE)
        assert requests(own_broker) <= 15
        assert len(own_broker.records("t", 0)) == 10_000


def test_gather_after_sending_is_one_batch(own_broker: TestBroker) -> None:
    async def main() -> None:
        with Producer.connect(own_broker.endpoint, "t", **FOREVER) as p:
            outs = [p.send(None, b"v%d" % i) for i in range(500)]
            metas = await asyncio.wait_for(asyncio.gather(*outs), DEADLINE)
            assert [m.offset for m in metas] == list(range(500))

    asyncio.run(main())
    assert requests(own_broker) == 1


def test_waiting_in_order_after_sending_is_one_batch(own_broker: TestBroker) -> None:
    with Producer.connect(own_broker.endpoint, "t", **FOREVER) as p:
        outs = [p.send(None, b"v%d" % i) for i in range(500)]
        assert [o.wait(timeout=DEADLINE).offset for o in outs] == list(range(500))
    assert requests(own_broker) == 1
