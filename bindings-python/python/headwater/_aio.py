"""asyncio bridging: core completes on its own threads; results reach the loop through
``loop.call_soon_threadsafe`` (called by the native module's dispatch thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from ._native import ProduceOutput, RecordMetadata


def _set_future(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # cancelled meanwhile
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


async def _await_output(out: ProduceOutput) -> RecordMetadata:
    if out.done():
        return out.wait()
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[RecordMetadata] = loop.create_future()
    out._on_done(loop, fut)
    return await fut
