"""tests/vectors/{config,errors,partitioner}.json through the Python API."""

from __future__ import annotations

import builtins
import dataclasses
from pathlib import Path
from typing import Any, Dict, List

import pytest

import headwater
from conftest import vectors
from headwater import (
    ConfigError,
    HeadwaterError,
    InvalidArgumentError,
    Producer,
    ProducerConfig,
    ProducerStats,
    TestBroker,
    _native,
)

CONFIG = vectors("config.json")
ERRORS = vectors("errors.json")
PARTITIONER = vectors("partitioner.json")

# ---------------------------------------------------------------------------------------------- config


def _cases(kind: str) -> List[Any]:
    out = []
    for case in CONFIG["cases"]:
        for item in case.get(kind, []):
            out.append(pytest.param(case, item, id=f"{case['key']}={str(item)[:30]!r}"))
    return out


@pytest.mark.parametrize("case,item", _cases("valid"))
def test_config_valid(case: Dict[str, Any], item: Dict[str, Any]) -> None:
    for key in (case["key"], case["camel"]):
        cfg = ProducerConfig({key: item["input"]})
        assert cfg[case["key"]] == str(item["value"])


@pytest.mark.parametrize("case,bad", _cases("invalid"))
def test_config_invalid(case: Dict[str, Any], bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        ProducerConfig({case["key"]: bad})
    assert case["key"] in str(e.value)
    assert e.value.code == "CONFIG" and e.value.retriable is False
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("key", CONFIG["unknown_keys"])
def test_config_unknown_key(key: str) -> None:
    with pytest.raises(ConfigError) as e:
        ProducerConfig({key: "1"})
    assert key in str(e.value)


def test_config_defaults_and_keys() -> None:
    defaults = ProducerConfig()
    assert sorted(defaults) == sorted(c["key"] for c in CONFIG["cases"])
    for case in CONFIG["cases"]:
        assert defaults[case["key"]] == case["default"], case["key"]


@pytest.mark.parametrize("case,item", _cases("valid_tls"))
def test_config_valid_tls(case: Dict[str, Any], item: Dict[str, Any]) -> None:
    for key in (case["key"], case["camel"]):
        cfg = ProducerConfig({key: item["input"]})
        assert cfg[case["key"]] == str(item["value"])
        assert cfg["tls"] == "true"  # every valid_tls input turns TLS on


def test_config_accepts_ints_bools_paths_and_rejects_other_types() -> None:
    assert ProducerConfig(linger_ms=5, batch_size=1024)["linger_ms"] == "5"
    # A bool is passed to core as true/false (core parses): right for `tls`, a Config error elsewhere.
    assert ProducerConfig(tls=True)["tls"] == "true"
    assert ProducerConfig(tls=False)["tls"] == "false"
    with pytest.raises(ConfigError, match="linger_ms"):
        ProducerConfig(linger_ms=True)
    assert ProducerConfig(tls_ca_file=Path("/etc/hosts"))["tls_ca_file"] == "/etc/hosts"
    for bad in (1.5, None, b"5", [5]):
        with pytest.raises(InvalidArgumentError, match="linger_ms"):
            ProducerConfig(linger_ms=bad)  # type: ignore[arg-type]


def test_stats_fields(broker: TestBroker) -> None:
    assert [f.name for f in dataclasses.fields(ProducerStats)] == CONFIG["stats"]["fields"]
    broker.create_topic("stats-fields")
    with Producer.connect(broker.endpoint, "stats-fields") as p:
        s = p.stats()
        assert all(isinstance(getattr(s, f), int) and getattr(s, f) >= 0 for f in CONFIG["stats"]["fields"])


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("case", ERRORS["cases"], ids=lambda c: c["code"])
def test_error_classes(case: Dict[str, Any]) -> None:
    assert ERRORS["python_base_class"] == "HeadwaterError"
    if not case["languages"]["python"]:
        return
    cls = getattr(headwater, case["python_class"])
    assert issubclass(cls, HeadwaterError)
    for base in case["python_bases"]:
        expected = HeadwaterError if base == "HeadwaterError" else getattr(builtins, base)
        assert issubclass(cls, expected), (cls, base)
    # The mapping from core's kind is mechanical: class, code, number, retriable, message.
    err = _native.error_for_test(case["code"], "boom", 6 if case["code"] == "BROKER" else None)
    assert type(err) is cls
    assert isinstance(err, HeadwaterError)
    assert err.code == case["code"]
    assert err.number == case["number"]
    if case["retriable"] is not None:
        assert err.retriable is case["retriable"]
    assert err.broker_code == (6 if case["code"] == "BROKER" else None)
    assert err.message == str(err) and str(err).startswith(f"[{case['code']}") and str(err).endswith("boom")
    assert not hasattr(err, "kind")


@pytest.mark.parametrize("fc", [c for c in ERRORS["fluvio_codes"] if c["maps_to"]], ids=lambda c: c["name"])
def test_fluvio_codes(fc: Dict[str, Any]) -> None:
    err = _native.fluvio_error_for_test(fc["code"])
    assert isinstance(err, HeadwaterError)
    assert err.code == fc["maps_to"]
    assert err.retriable is fc["retriable"]
    if fc["maps_to"] == "BROKER":
        assert isinstance(err, headwater.BrokerError)
        assert err.broker_code == fc["code"]


# ---------------------------------------------------------------------------------------------- partitioner


def test_partitioner_hash_helper() -> None:
    for k in PARTITIONER["keys"]:
        assert headwater.key_hash(bytes.fromhex(k["key_hex"])) == int(k["siphash"])
    for c in PARTITIONER["cases"]:
        key = bytes.fromhex(c["key_hex"])
        assert headwater.key_partition(key, c["partition_count"]) == c["partition"], c


def test_partitioner_produced_records_land_in_expected_partitions(broker: TestBroker) -> None:
    """Keyed records sent through a real producer land where the vectors say (counts 1..16)."""
    by_count: Dict[int, List[Dict[str, Any]]] = {}
    for c in PARTITIONER["cases"]:
        if c["partition_count"] <= 16:
            by_count.setdefault(c["partition_count"], []).append(c)
    for count, cases in sorted(by_count.items()):
        name = f"vec-part-{count}"
        broker.create_topic(name, count)
        with Producer.connect(broker.endpoint, name, linger_ms=0) as p:
            outs = [p.send(bytes.fromhex(c["key_hex"]), b"v") for c in cases]
            p.flush()
            for c, o in zip(cases, outs):
                assert o.partition == c["partition"]
                assert o.wait().partition == c["partition"]
        stored = {(r.key, part) for part in range(count) for r in broker.records(name, part)}
        for c in cases:
            assert (bytes.fromhex(c["key_hex"]), c["partition"]) in stored


@pytest.mark.parametrize("seq", PARTITIONER["keyless_sequences"], ids=lambda s: str(s["partition_count"]))
def test_partitioner_keyless_sequences(broker: TestBroker, seq: Dict[str, Any]) -> None:
    name = f"vec-keyless-{seq['partition_count']}"
    broker.create_topic(name, seq["partition_count"])
    with Producer.connect(broker.endpoint, name, linger_ms=0) as p:
        outs = [p.send(None, b"v%d" % i) for i in range(len(seq["expected"]))]
        p.flush()
        assert [o.wait().partition for o in outs] == seq["expected"]
    for part in range(seq["partition_count"]):
        assert all(r.key is None for r in broker.records(name, part))
