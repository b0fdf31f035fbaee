"""Logging: HEADWATER_LOG (read by core) sets the level core forwards at; set_log_level takes the six
names (any case) or a logging level number 0..=50, and "off" stops forwarding."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from typing import Any, Callable, Dict, Iterator, Optional

import pytest

import headwater
from conftest import wait_until
from headwater import ConfigError, InvalidArgumentError, Producer, TestBroker

TopicFactory = Callable[..., str]


@pytest.fixture
def restore_level() -> Iterator[None]:
    level = headwater.logger.level
    try:
        yield
    finally:
        headwater.set_log_level("warn")
        headwater.logger.setLevel(level)


def test_set_log_level_names_and_numbers(restore_level: None) -> None:
    for level, logger_level in [
        ("DEBUG", logging.DEBUG),
        ("trace", 5),
        ("Info", logging.INFO),
        ("error", logging.ERROR),
        ("off", logging.CRITICAL + 1),
        (logging.WARNING, logging.WARNING),
        (0, 0),
        (50, 50),
    ]:
        headwater.set_log_level(level)
        assert headwater.logger.level == logger_level, level
    with pytest.raises(ConfigError, match="log_level") as e:
        headwater.set_log_level("verbose")
    assert "off, error, warn, info, debug, trace" in str(e.value)
    for bad in ("warning", "none", ""):
        with pytest.raises(ConfigError, match="log_level"):
            headwater.set_log_level(bad)
    for number in (-1, 51, 2**70):
        with pytest.raises(InvalidArgumentError, match=f"`log_level` must be in 0..=50, got {number}"):
            headwater.set_log_level(number)
    for wrong in (True, 1.5, None):
        with pytest.raises(InvalidArgumentError, match="log_level"):
            headwater.set_log_level(wrong)  # type: ignore[arg-type]
    assert headwater.logger.level == 50, "a refused level changes nothing"


def drop_producer_with_unsent_record(broker: TestBroker, topic: str, marker: bytes) -> None:
    """Core warns when a producer is dropped with records it never sent (the message names them)."""
    p = Producer.connect(broker.endpoint, topic, linger_ms=600_000)
    p.send(marker, b"v")
    del p


def test_off_stops_forwarding(
    broker: TestBroker, topic: TopicFactory, caplog: pytest.LogCaptureFixture, restore_level: None
) -> None:
    t = topic()
    headwater.set_log_level("off")
    caplog.set_level(logging.WARNING, logger="headwater")  # the logger lets warnings through
    drop_producer_with_unsent_record(broker, t, b"while-off")
    headwater.set_log_level("warn")
    drop_producer_with_unsent_record(broker, t, b"while-warn")
    # Records are emitted in order: once the second warning is there, the first would be too.
    unsent = lambda: [r for r in caplog.records if "unsent" in r.getMessage()]  # noqa: E731
    wait_until(lambda: len(unsent()) > 0, "the warning logged at warn")
    assert len(unsent()) == 1


ENV_SCRIPT = textwrap.dedent(
    """
    import atexit, json, logging
    records = []

    class Keep(logging.Handler):
        def emit(self, r):
            records.append([r.levelno, r.getMessage()])

    logging.getLogger("headwater").addHandler(Keep())
    # Registered before headwater's own exit hook, so it runs after it (that hook emits what is queued).
    atexit.register(lambda: print("RECORDS", json.dumps(records), flush=True))
    from headwater import Producer, TestBroker, logger
    print("LEVEL", logger.level, flush=True)
    with TestBroker.start() as b:
        b.create_topic("t")
        with Producer.connect(b.endpoint, "t", linger_ms=0, retry_backoff_ms=5) as p:
            b.fail_next(0, 1, 6)  # NotLeaderForPartition: core retries, and logs that at DEBUG
            assert p.send(None, b"v").wait(timeout=60).offset == 0
    """
)


def run_with_headwater_log(value: Optional[str]) -> Dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "HEADWATER_LOG"}
    if value is not None:
        env["HEADWATER_LOG"] = value
    r = subprocess.run(
        [sys.executable, "-c", ENV_SCRIPT], capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    records = json.loads(lines["RECORDS"])
    retries = [m for level, m in records if level == logging.DEBUG and "retrying a batch" in m]
    return {"level": int(lines["LEVEL"]), "retries": retries, "stderr": r.stderr}


def test_headwater_log_sets_the_forwarded_level() -> None:
    debug = run_with_headwater_log("DEBUG")
    assert debug["level"] == logging.DEBUG
    assert debug["retries"], "the retry's DEBUG event reached logging"
    default = run_with_headwater_log(None)
    assert default["level"] == logging.NOTSET
    assert default["retries"] == []


def test_unknown_headwater_log_falls_back_to_warn_with_one_warning() -> None:
    loud = run_with_headwater_log("loud")
    assert loud["level"] == logging.WARNING
    assert loud["retries"] == []
    assert loud["stderr"].count('HEADWATER_LOG="loud" is not a log level') == 1, loud["stderr"]
