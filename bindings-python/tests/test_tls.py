"""TLS through the Python API: an embedded broker serving (mutual) TLS with the shared fixtures in
tests/fixtures/tls, Admin and Producer connecting with core's TLS keys, and the failures a user meets
(wrong CA, no client certificate, plaintext to a TLS broker, bad options)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Dict, Iterator, List, Tuple, Union

import pytest

from conftest import ROOT
from headwater import (
    Admin,
    BrokerConnectionError,
    ConfigError,
    ConfigValue,
    HeadwaterError,
    InvalidArgumentError,
    Producer,
    ProducerConfig,
    TestBroker,
    key_partition,
)

FIXTURES = ROOT / "tests" / "fixtures" / "tls"
CA = FIXTURES / "ca.pem"
OTHER_CA = FIXTURES / "other-ca.pem"
CLIENT: Dict[str, ConfigValue] = {
    "tls_ca_file": str(CA),
    "tls_cert_file": str(FIXTURES / "client.pem"),
    "tls_key_file": str(FIXTURES / "client.key"),
}
# Failures must come back as exceptions well before this (they are not timing assertions: a hang
# would otherwise block the suite until faulthandler's dump).
NO_HANG_S = 60.0


@pytest.fixture(scope="module")
def mtls() -> Iterator[TestBroker]:
    """A broker that serves TLS and requires client certificates signed by the test CA."""
    with TestBroker.start(
        spus=2,
        tls_cert=FIXTURES / "server.pem",
        tls_key=str(FIXTURES / "server.key"),
        tls_client_ca=CA,
    ) as b:
        yield b


def _topic(broker: TestBroker, name: str, partitions: int = 1) -> str:
    with Admin.connect(broker.endpoint, **CLIENT) as admin:
        admin.create_topic(name, partitions)
    return name


def test_admin_over_mutual_tls_creates_a_topic(mtls: TestBroker) -> None:
    with Admin.connect(mtls.endpoint, **CLIENT) as admin:
        admin.create_topic("tls-admin", 3)
        listed = {t.name: t.partitions for t in admin.list_topics()}
    assert listed.get("tls-admin") == 3
    assert "tls-admin" in mtls.topics()


def test_producer_over_mutual_tls_sends_keyed_records(mtls: TestBroker) -> None:
    topic = _topic(mtls, "tls-keyed", partitions=3)
    keys = [b"user-%d" % (i % 5) for i in range(20)]
    with Producer.connect(mtls.endpoint, topic, CLIENT, linger_ms=5) as p:
        outs = [p.send(k, b"value-%d" % i) for i, k in enumerate(keys)]
        metas = [o.wait(timeout=NO_HANG_S) for o in outs]
    expected: Dict[int, List[Tuple[bytes, bytes]]] = {0: [], 1: [], 2: []}
    for i, (k, m) in enumerate(zip(keys, metas)):
        assert m.topic == topic
        assert m.partition == key_partition(k, 3)
        # Offsets count up per partition from 0, in send order.
        assert m.offset == len(expected[m.partition]), (i, m)
        expected[m.partition].append((k, b"value-%d" % i))
    for partition, want in expected.items():
        stored = mtls.records(topic, partition)
        assert [(r.key, r.value) for r in stored] == want
        assert [r.offset for r in stored] == list(range(len(want)))
    assert sum(len(v) for v in expected.values()) == 20


def test_tls_true_as_a_bool_is_accepted(mtls: TestBroker) -> None:
    assert ProducerConfig(tls=True)["tls"] == "true"
    assert ProducerConfig(tls=False)["tls"] == "false"
    topic = _topic(mtls, "tls-bool")
    with Producer.connect(mtls.endpoint, topic, CLIENT, tls=True) as p:
        meta = p.send(b"k", b"with tls=True").wait(timeout=NO_HANG_S)
    assert meta.offset == 0
    assert [r.value for r in mtls.records(topic, 0)] == [b"with tls=True"]
    # Path objects are file paths too.
    with Admin.connect(
        mtls.endpoint,
        tls=True,
        tls_ca_file=CA,
        tls_cert_file=FIXTURES / "client.pem",
        tls_key_file=FIXTURES / "client.key",
    ) as admin:
        assert "tls-bool" in {t.name for t in admin.list_topics()}


def test_server_only_tls_with_ca_file() -> None:
    """Without tls_client_ca the broker takes clients without certificates; tls=True + the CA."""
    with TestBroker.start(tls_cert=FIXTURES / "server.pem", tls_key=FIXTURES / "server.key") as broker:
        with Admin.connect(broker.endpoint, tls=True, tls_ca_file=str(CA)) as admin:
            admin.create_topic("server-tls")
        with Producer.connect(broker.endpoint, "server-tls", tls=True, tls_ca_file=CA) as p:
            assert p.send(None, b"one-way").wait(timeout=NO_HANG_S).offset == 0
        assert [r.value for r in broker.records("server-tls", 0)] == [b"one-way"]


def _connect_fails(broker: TestBroker, topic: str, **options: ConfigValue) -> HeadwaterError:
    start = time.monotonic()
    with pytest.raises(HeadwaterError) as e:
        Producer.connect(broker.endpoint, topic, options, metadata_timeout_ms=10_000)
    assert time.monotonic() - start < NO_HANG_S
    return e.value


def test_untrusted_server_certificate(mtls: TestBroker) -> None:
    topic = _topic(mtls, "tls-other-ca")
    err = _connect_fails(mtls, topic, **{**CLIENT, "tls_ca_file": str(OTHER_CA)})
    assert isinstance(err, BrokerConnectionError) and isinstance(err, ConnectionError)
    assert err.code == "TRANSPORT"
    assert "certificate verification" in str(err), err
    with pytest.raises(BrokerConnectionError, match="certificate verification"):
        Admin.connect(mtls.endpoint, tls_ca_file=OTHER_CA)


def test_missing_client_certificate(mtls: TestBroker) -> None:
    topic = _topic(mtls, "tls-no-client-cert")
    err = _connect_fails(mtls, topic, tls_ca_file=str(CA))
    assert isinstance(err, BrokerConnectionError)
    assert err.code == "TRANSPORT"
    assert "client certificate" in str(err), err
    with pytest.raises(BrokerConnectionError, match="client certificate"):
        Admin.connect(mtls.endpoint, tls=True, tls_ca_file=CA)


def test_plaintext_client_to_tls_broker_fails_cleanly(mtls: TestBroker) -> None:
    topic = _topic(mtls, "tls-plaintext")
    err = _connect_fails(mtls, topic)
    assert isinstance(err, BrokerConnectionError)
    assert err.code == "TRANSPORT"
    assert "tls" in str(err).lower(), err
    start = time.monotonic()
    with pytest.raises(BrokerConnectionError):
        Admin.connect(mtls.endpoint)
    assert time.monotonic() - start < NO_HANG_S
    # The broker still serves TLS clients afterwards.
    with Producer.connect(mtls.endpoint, topic, CLIENT) as p:
        assert p.send(None, b"after").wait(timeout=NO_HANG_S).offset == 0


def test_bad_client_tls_options_name_the_key(mtls: TestBroker) -> None:
    with pytest.raises(ConfigError, match="tls_ca_file"):
        Admin.connect(mtls.endpoint, tls_ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="tls_server_name"):
        Admin.connect(mtls.endpoint, tls_server_name="has space.example")
    with pytest.raises(ConfigError, match="linger_ms"):
        Admin.connect(mtls.endpoint, linger_ms=5)  # not a TLS key
    with pytest.raises(ConfigError, match="`tls`"):
        Admin.connect(mtls.endpoint, tls="yes")
    # tls=False together with a CA file is a contradiction core reports at connect.
    with pytest.raises(ConfigError, match="`tls`"):
        Producer.connect(mtls.endpoint, "tls-admin", tls=False, tls_ca_file=str(CA))
    with pytest.raises(InvalidArgumentError, match="tls_ca_file"):
        Admin.connect(mtls.endpoint, tls_ca_file=1.5)  # type: ignore[arg-type]
    # Undecodable bytes in a file name (surrogateescape) cannot reach core's string options.
    with pytest.raises(ConfigError, match="tls_ca_file"):
        Admin.connect(mtls.endpoint, tls_ca_file=os.fsdecode(b"/tmp/\xff.pem"))


@pytest.mark.parametrize(
    "options,key",
    [
        ({"tls_cert": FIXTURES / "server.pem"}, "tls_key"),
        ({"tls_key": FIXTURES / "server.key"}, "tls_cert"),
        ({"tls_client_ca": CA}, "tls_client_ca"),
        ({"tls_cert": "/nonexistent/server.pem", "tls_key": FIXTURES / "server.key"}, "tls_cert"),
        ({"sync": "sometimes"}, "sync"),
        ({"sync": 0}, "sync"),
        ({"sync": True}, "sync"),
        ({"spus": 0}, "spus"),
        ({"data_dir": ""}, "data_dir"),
        ({"data_dir": os.fsdecode(b"/tmp/\xff")}, "data_dir"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_broker_option_names_the_key(options: Dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as e:
        TestBroker.start(**options)  # type: ignore[arg-type]
    assert f"`{key}`" in str(e.value), e.value
    assert e.value.code == "CONFIG"


def test_broker_option_types() -> None:
    with pytest.raises(InvalidArgumentError, match="tls_cert"):
        TestBroker.start(tls_cert=5, tls_key=FIXTURES / "server.key")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="sync"):
        TestBroker.start(sync=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="data_dir"):
        TestBroker.start(data_dir=b"/tmp")  # type: ignore[arg-type]


@pytest.mark.parametrize("sync", ["request", "never", 50, "50"])
def test_durable_broker_with_sync_policy_keeps_records(tmp_path: Path, sync: Union[str, int]) -> None:
    for round_ in range(2):  # the second broker recovers the first one's log from data_dir
        with TestBroker.start(data_dir=tmp_path, sync=sync) as broker:
            if round_ == 0:
                broker.create_topic("durable")
                with Producer.connect(broker.endpoint, "durable") as p:
                    p.send_all([(b"k", b"a"), (b"k", b"b")])
            assert [(r.offset, r.value) for r in broker.records("durable", 0)] == [(0, b"a"), (1, b"b")]
