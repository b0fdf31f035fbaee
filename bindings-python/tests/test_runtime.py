"""GIL release, Ctrl-C, fork, interpreter exit and logging."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from typing import Callable, List

import pytest

from conftest import DEADLINE, run_script, wait_until
from headwater import Producer, TestBroker

TopicFactory = Callable[..., str]


def test_gil_released_while_flush_waits(broker: TestBroker, topic: TopicFactory) -> None:
    t = topic()
    p = Producer.connect(broker.endpoint, t, linger_ms=0)
    broker.pause()
    entered = threading.Event()
    errors: List[BaseException] = []

    def flush() -> None:
        entered.set()
        try:
            p.flush()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    th = threading.Thread(target=flush)
    try:
        p.send(b"k", b"v")
        th.start()
        entered.wait()
        # This thread needs the GIL for every step; it progresses while flush() is blocked.
        progress = 0
        while progress < 10_000:
            progress += 1
        assert th.is_alive(), "flush returned although the broker is paused"
        assert p.stats().queued_records == 1
    finally:
        broker.resume()
    th.join(DEADLINE)
    assert not th.is_alive() and not errors
    assert len(broker.records(t, 0)) == 1
    p.close()


# A process started in the background of a non-interactive shell (`make test &`, CI runners) inherits
# SIGINT as ignored, and Python then installs no KeyboardInterrupt handler: Ctrl-C is off for that
# process by its parent's choice, and flush() rightly runs on. The child restores Python's own
# handler, as an interactive terminal would give it, so the test checks the binding, not its parent.
CTRL_C = textwrap.dedent(
    """
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from headwater import Producer, TestBroker
    b = TestBroker.start()
    b.create_topic("t")
    p = Producer.connect(b.endpoint, "t", linger_ms=0)
    b.pause()
    out = p.send(b"k", b"v")
    for what in ("flush", "wait"):
        try:
            print("READY", what, flush=True)
            p.flush() if what == "flush" else out.wait()
            print("RETURNED", what, flush=True)
        except KeyboardInterrupt:
            print("INTERRUPTED", what, flush=True)
    b.resume()
    print("offset", out.wait().offset, flush=True)
    p.close()
    """
)


def readline_within(proc: subprocess.Popen[str], deadline: float) -> str:
    """The child's next stdout line; kills the child (ending the read) if none comes in time."""
    assert proc.stdout is not None
    timer = threading.Timer(deadline, proc.kill)
    timer.start()
    try:
        return proc.stdout.readline()
    finally:
        timer.cancel()


def test_ctrl_c_interrupts_flush_and_wait() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Always start it the way a background job is started, so the test does not depend on how
        # pytest itself was launched.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert proc.stdout is not None
        lines = []
        for what in ("flush", "wait"):
            line = readline_within(proc, DEADLINE)
            assert line.strip() == f"READY {what}", (line, proc.stderr.read() if proc.stderr else "")
            threading.Event().wait(0.3)  # let it block (the test passes either way it is interrupted)
            proc.send_signal(signal.SIGINT)
            lines.append(readline_within(proc, DEADLINE).strip())
        proc.wait(timeout=DEADLINE)  # small output: the pipes cannot fill up
        # Read through the same buffered readers as readline() above (communicate() would bypass them).
        out = proc.stdout.read()
        err = proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    assert lines == ["INTERRUPTED flush", "INTERRUPTED wait"], err
    assert "offset 0" in out, err
    assert proc.returncode == 0, err


FORK = textwrap.dedent(
    """
    import os, sys
    from headwater import ForkedProcessError, Producer, TestBroker
    b = TestBroker.start()
    b.create_topic("t")
    p = Producer.connect(b.endpoint, "t", linger_ms=0)
    out = p.send(b"k", b"parent")
    out.wait()
    pid = os.fork()
    if pid == 0:
        code = 0
        for name, call in [
            ("send", lambda: p.send(b"k", b"child")),
            ("send_all", lambda: p.send_all([(b"k", b"child")])),
            ("flush", lambda: p.flush()),
            ("wait", lambda: out.wait()),
            ("records", lambda: b.records("t", 0)),
        ]:
            try:
                call()
                print("child", name, "did not raise", flush=True)
                code = 1
            except ForkedProcessError as e:
                assert e.code == "FORKED"
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status))
    p.send(b"k", b"parent-after").wait()   # the parent's producer is unaffected
    print("values", [r.value for r in b.records("t", 0)])
    p.close()
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_inherited_objects_raise() -> None:
    r = run_script(FORK)
    assert r.returncode == 0, r.stderr
    assert "child exit 0" in r.stdout, r.stdout + r.stderr
    assert "values [b'parent', b'parent-after']" in r.stdout, r.stdout + r.stderr


FORK_NEW = textwrap.dedent(
    """
    import os
    from headwater import Producer, TestBroker
    b = TestBroker.start()
    b.create_topic("t")
    Producer.connect(b.endpoint, "t").close()
    pid = os.fork()
    if pid == 0:
        try:
            with Producer.connect(b.endpoint, "t", linger_ms=0, metadata_timeout_ms=5000) as p:
                p.send(b"k", b"from-child").wait(timeout=10)
            os._exit(0)
        except BaseException as e:
            print("child:", type(e).__name__, e, flush=True)
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    print("child status", status)
    print("values", [r.value for r in b.records("t", 0)])
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_fork_new_producer_in_child_works() -> None:
    r = run_script(FORK_NEW)
    assert "child status 0" in r.stdout, r.stdout + r.stderr
    assert "b'from-child'" in r.stdout


EXIT = textwrap.dedent(
    """
    import sys
    from headwater import Producer
    endpoint, topic, mode = sys.argv[1:4]
    p = Producer.connect(endpoint, topic, linger_ms=600000)
    for i in range(100):
        p.send(None, b"%d" % i)
    if mode == "close":
        p.close()
    # mode == "leave": the atexit hook closes it
    """
)


@pytest.mark.parametrize("mode", ["close", "leave"])
def test_exit_does_not_hang_or_lose_records(broker: TestBroker, topic: TopicFactory, mode: str) -> None:
    t = topic()
    r = run_script(EXIT, broker.endpoint, t, mode)
    assert r.returncode == 0, r.stderr
    assert [x.value for x in broker.records(t, 0)] == [b"%d" % i for i in range(100)]


def test_dropped_producer_warning_reaches_logging(
    broker: TestBroker, topic: TopicFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="headwater")
    p = Producer.connect(broker.endpoint, topic(), linger_ms=600_000)
    p.send(b"k", b"v")
    del p
    wait_until(
        lambda: any("unsent" in r.getMessage() and r.name == "headwater" for r in caplog.records),
        "the dropped-producer warning in logging",
    )
    [rec] = [r for r in caplog.records if "unsent" in r.getMessage()]
    assert rec.levelno == logging.WARNING


def test_warning_visible_by_default(broker: TestBroker, topic: TopicFactory) -> None:
    """Without any logging configuration the warning reaches stderr (logging's last resort)."""
    t = topic()
    code = textwrap.dedent(
        """
        import sys
        from headwater import Producer
        p = Producer.connect(sys.argv[1], sys.argv[2], linger_ms=600000)
        p.send(b"k", b"v")
        del p  # exit right away: records still queued for logging are emitted at exit
        """
    )
    r = run_script(code, broker.endpoint, t)
    assert r.returncode == 0, r.stderr
    assert "unsent" in r.stderr
