"""tests/vectors/scenarios.json through the Python API: an interpreter of its ops, one test per scenario.

Each scenario starts with no broker and no producer; whatever it starts is closed and stopped in a
finally block, also when a step fails. Steps whose `languages` leave out Python are skipped.
`within_ms` is a hang guard (the step runs in a thread that must finish in time), not a timing check.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Optional

import pytest

import headwater
from conftest import vectors
from headwater import Admin, HeadwaterError, Producer, TestBroker

SCENARIOS = vectors("scenarios.json")
ERRORS = {c["code"]: c for c in vectors("errors.json")["cases"]}
LANG = "python"


def key_of(step: Dict[str, Any]) -> Any:
    """The key of a step (scenarios.json `bytes` and `wrong_type`): None = no key."""
    if "key_json" in step:
        return step["key_json"]
    if "key_hex" in step:
        return bytes.fromhex(step["key_hex"])
    key = step.get("key")
    return None if key is None else key.encode()


def value_of(step: Dict[str, Any]) -> Any:
    if "value_json" in step:
        return step["value_json"]
    if "value_hex" in step:
        return bytes.fromhex(step["value_hex"])
    if "value_fill" in step:
        fill = step["value_fill"]
        return bytes.fromhex(fill["byte_hex"]) * fill["len"]
    value = step["value"]
    return None if value is None else value.encode()


def seconds(step: Dict[str, Any]) -> Optional[float]:
    ms = step.get("timeout_ms")
    return None if ms is None else ms / 1000


def matches(got: Any, expected: Dict[str, Any]) -> bool:
    return all(getattr(got, k) == v for k, v in expected.items())


class Runner:
    """The state of one scenario: its broker, producer, admin client and named outputs."""

    def __init__(self) -> None:
        self.broker: Optional[TestBroker] = None
        self.producer: Optional[Producer] = None
        self.admin: Optional[Admin] = None
        self.outputs: Dict[str, Any] = {}

    def close(self) -> None:
        try:
            if self.producer is not None:
                try:
                    self.producer.close(timeout=10)
                except HeadwaterError:
                    pass  # a failure the scenario did not flush; the producer is closed anyway
        finally:
            if self.broker is not None:
                self.broker.stop()

    # Each op returns what its step's `expect` is compared with (None when there is nothing).

    def op_start_broker(self, step: Dict[str, Any]) -> None:
        self.broker = TestBroker.start(**step.get("options", {}))

    def op_stop_broker(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.broker.stop()

    def op_create_topic(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.broker.create_topic(step["name"], **step.get("options", {}))

    def op_read_back(self, step: Dict[str, Any]) -> List[Dict[str, Any]]:
        assert self.broker is not None
        return [
            {"offset": r.offset, "key": r.key, "value": r.value}
            for r in self.broker.records(step["topic"], step["partition"], step.get("from_offset", 0))
        ]

    def op_broker_pause(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.broker.pause()

    def op_broker_resume(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.broker.resume()

    def op_broker_fail_next(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.broker.fail_next(step["api_key"], step["count"], step["code"])

    def op_connect(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        if self.producer is not None:
            self.producer.close(timeout=10)
            self.producer = None
        self.producer = Producer.connect(self.broker.endpoint, step["topic"], step.get("config", {}))

    def op_producer_state(self, step: Dict[str, Any]) -> Producer:
        assert self.producer is not None
        return self.producer

    def keep(self, step: Dict[str, Any], result: Any) -> None:
        if "as" in step:
            self.outputs[step["as"]] = result

    def op_send(self, step: Dict[str, Any]) -> None:
        assert self.producer is not None
        self.keep(step, self.producer.send(key_of(step), value_of(step)))

    def op_send_to(self, step: Dict[str, Any]) -> None:
        assert self.producer is not None
        self.keep(step, self.producer.send_to(step["partition"], key_of(step), value_of(step)))

    def op_send_all(self, step: Dict[str, Any]) -> None:
        assert self.producer is not None
        self.keep(step, self.producer.send_all([(key_of(r), value_of(r)) for r in step["records"]]))

    def op_wait(self, step: Dict[str, Any]) -> Any:
        return self.outputs[step["output"]].wait(timeout=seconds(step))

    def op_wait_all(self, step: Dict[str, Any]) -> List[Any]:
        return [o.wait() for o in self.outputs[step["outputs"]]]

    def op_flush(self, step: Dict[str, Any]) -> None:
        assert self.producer is not None
        self.producer.flush(timeout=seconds(step))

    def op_close(self, step: Dict[str, Any]) -> None:
        assert self.producer is not None
        self.producer.close(timeout=seconds(step))

    def op_stats(self, step: Dict[str, Any]) -> Any:
        assert self.producer is not None
        stats = self.producer.stats()
        for field, low in step.get("expect_at_least", {}).items():
            assert getattr(stats, field) >= low, (field, stats)
        return stats

    def op_admin_connect(self, step: Dict[str, Any]) -> None:
        assert self.broker is not None
        self.admin = Admin.connect(self.broker.endpoint)

    def op_admin_create_topic(self, step: Dict[str, Any]) -> None:
        assert self.admin is not None
        self.admin.create_topic(step["name"], **step.get("options", {}))

    def op_admin_delete_topic(self, step: Dict[str, Any]) -> None:
        assert self.admin is not None
        self.admin.delete_topic(step["name"])

    def op_admin_list_topics(self, step: Dict[str, Any]) -> None:
        assert self.admin is not None
        topics = self.admin.list_topics()
        for expected in step.get("expect_contains", []):
            assert any(matches(t, expected) for t in topics), (expected, topics)
        for name in step.get("expect_absent", []):
            assert name not in {t.name for t in topics}, (name, topics)

    def op_set_log_level(self, step: Dict[str, Any]) -> None:
        headwater.set_log_level(step["level"])


def check_result(step: Dict[str, Any], result: Any) -> None:
    expected = step.get("expect", "ok")
    if expected == "ok":
        return
    if step["op"] == "read_back":
        want = [
            {
                "offset": r["offset"],
                "key": bytes.fromhex(r["key_hex"]) if "key_hex" in r else key_of(r),
                "value": bytes.fromhex(r["value_hex"]) if "value_hex" in r else r["value"].encode(),
            }
            for r in expected
        ]
        assert result == want
    elif isinstance(expected, list):
        assert len(result) == len(expected), (result, expected)
        for got, want in zip(result, expected):
            assert matches(got, want), (got, want)
    else:
        assert matches(result, expected), (result, expected)


def check_error(step: Dict[str, Any], err: BaseException) -> None:
    want = step["expect_error"]
    assert isinstance(err, HeadwaterError), f"not a HeadwaterError: {err!r}"
    assert err.code == want["code"], err
    assert type(err).__name__ == ERRORS[want["code"]]["python_class"], err
    if "retriable" in want:
        assert err.retriable is want["retriable"], err
    if "broker_code" in want:
        assert err.broker_code == want["broker_code"], err
    for fragment in want.get("message_contains", []):
        assert fragment in err.message, (fragment, err.message)
    if "message_names_key" in want:
        assert want["message_names_key"] in err.message, err.message


def run_step(runner: Runner, step: Dict[str, Any]) -> None:
    op: Callable[[Dict[str, Any]], Any] = getattr(runner, f"op_{step['op']}")
    if "expect_error" in step:
        with pytest.raises(Exception) as e:
            op(step)
        check_error(step, e.value)
    else:
        check_result(step, op(step))


def run_guarded(runner: Runner, step: Dict[str, Any]) -> None:
    """Runs a step with a `within_ms` hang guard in a thread that must finish in time."""
    failure: List[BaseException] = []

    def body() -> None:
        try:
            run_step(runner, step)
        except BaseException as e:  # re-raised on the test's thread below
            failure.append(e)

    th = threading.Thread(target=body, daemon=True)
    th.start()
    th.join(step["within_ms"] / 1000)
    assert not th.is_alive(), f"step {step['op']} did not finish within {step['within_ms']} ms"
    if failure:
        raise failure[0]


@pytest.mark.parametrize("scenario", SCENARIOS["scenarios"], ids=lambda s: s["name"])
def test_scenario(scenario: Dict[str, Any]) -> None:
    runner = Runner()
    level = headwater.logger.level
    try:
        for i, step in enumerate(scenario["steps"]):
            if LANG not in step.get("languages", [LANG]):
                continue
            try:
                if "within_ms" in step:
                    run_guarded(runner, step)
                else:
                    run_step(runner, step)
            except BaseException as e:
                raise AssertionError(f"step {i} {step}: {e!r}") from e
    finally:
        runner.close()
        # log_level_validation changes the level; other tests expect the defaults.
        headwater.set_log_level("warn")
        headwater.logger.setLevel(level)
