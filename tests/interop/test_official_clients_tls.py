"""Interop over TLS: the OFFICIAL Fluvio clients against Headwater's broker serving (mutual) TLS.

The official clients, given a TLS domain D, verify the SC's certificate against D and each SPU's
against ``<spu-name>.D`` (they prefix the SPU's metadata name to the domain as SNI; our broker names
its SPUs ``custom-spu-<id>``). So they need a certificate valid for D *and* ``*.D``. The committed
fixtures (``tests/fixtures/tls``) are for ``localhost``/``127.0.0.1`` only, so this module issues, with
``openssl`` and the committed test CA (``ca.pem``/``ca.key``), a server certificate for
``headwater.test``, ``*.headwater.test``, ``localhost`` and ``127.0.0.1`` (the broker still listens on
127.0.0.1: the domain is only what the certificate is checked against), plus a client certificate from
an unrelated CA for the negative cases. Nothing is written outside pytest's temp directory.

* official Rust client (crate ``fluvio`` 0.50, rustls): ``fluvio-interop --tls-domain ... --tls-ca ...
  --tls-cert ... --tls-key ... [--tls-inline]`` = ``FluvioConfig::new(e).with_tls(TlsPolicy::Verified(
  TlsConfig::Files(TlsPaths{..})))`` (or ``TlsConfig::Inline(TlsCerts{..})``);
* official Python client (PyPI ``fluvio==0.21.0``, OpenSSL): ``Fluvio.connect()`` reading a profile
  from ``$HOME/.fluvio/config`` (HOME is a temp dir), or ``FluvioConfig.set_tls_file_paths``;
* our CLI: ``headwater produce/consume --tls-ca-file/--tls-cert-file/--tls-key-file
  [--tls-server-name]``, and the same profile file with no flags at all.
"""

import re
import secrets
import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest

from test_official_clients import (
    HEADWATER_BIN,
    INTEROP_BIN,
    OFFICIAL_PY,
    ROOT,
    SCENARIO_TIMEOUT,
    VENV_PY,
    Broker,
    assert_contiguous,
    assert_same_records,
    by_partition,
    json_lines,
    run,
    unique,
)
from test_official_clients import pytestmark  # noqa: F401 - same skips (driver / venv missing)

FIXTURES = ROOT / "tests" / "fixtures" / "tls"
DOMAIN = "headwater.test"
# A client with a bad certificate must fail on its own well within this (seconds); the subprocess
# timeout (NEGATIVE_TIMEOUT) turns a hang into a test failure.
NEGATIVE_DEADLINE = 45
NEGATIVE_TIMEOUT = 60


# ------------------------------------------------------------------------------------------------
# certificates


def _openssl(*args, cwd):
    try:
        subprocess.run(
            ["openssl", *map(str, args)],
            cwd=cwd,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.CalledProcessError as e:
        pytest.fail(f"openssl {' '.join(map(str, args))} failed:\n{e.stderr}")


def _ec_key(path, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=cwd)


def _issue(d, name, subject, extensions, ca_cert, ca_key):
    """name.key + name.pem signed by ca_cert/ca_key (explicit serial: no .srl file next to the CA)."""
    _ec_key(d / f"{name}.key", d)
    _openssl("req", "-new", "-key", d / f"{name}.key", "-subj", subject, "-out", d / f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text("\n".join(extensions) + "\n")
    _openssl(
        "x509", "-req", "-in", d / f"{name}.csr", "-CA", ca_cert, "-CAkey", ca_key,
        "-set_serial", f"0x{secrets.token_hex(8)}", "-sha256", "-days", "7",
        "-extfile", d / f"{name}.ext", "-out", d / f"{name}.pem",
        cwd=d,
    )
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("the TLS interop tests issue their certificates with the openssl CLI: install it")
    d = tmp_path_factory.mktemp("tls")
    ca, ca_key = FIXTURES / "ca.pem", FIXTURES / "ca.key"
    server_cert, server_key = _issue(
        d, "server", f"/CN={DOMAIN}",
        [
            f"subjectAltName=DNS:{DOMAIN},DNS:*.{DOMAIN},DNS:localhost,IP:127.0.0.1",
            "extendedKeyUsage=serverAuth",
            "basicConstraints=CA:FALSE",
        ],
        ca, ca_key,
    )
    # An unrelated CA and a proper client certificate from it: valid, but not trusted by the broker.
    _ec_key(d / "rogue-ca.key", d)
    _openssl(
        "req", "-x509", "-new", "-key", d / "rogue-ca.key", "-sha256", "-days", "7",
        "-subj", "/CN=rogue test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", d / "rogue-ca.pem",
        cwd=d,
    )
    rogue_cert, rogue_key = _issue(
        d, "rogue-client", "/CN=rogue-client",
        ["extendedKeyUsage=clientAuth", "basicConstraints=CA:FALSE"],
        d / "rogue-ca.pem", d / "rogue-ca.key",
    )
    return SimpleNamespace(
        dir=d,
        ca=ca,
        other_ca=FIXTURES / "other-ca.pem",
        client_cert=FIXTURES / "client.pem",
        client_key=FIXTURES / "client.key",
        server_cert=server_cert,
        server_key=server_key,
        rogue_cert=rogue_cert,
        rogue_key=rogue_key,
        # the committed certificate: localhost/127.0.0.1 only, no wildcard
        plain_server_cert=FIXTURES / "server.pem",
        plain_server_key=FIXTURES / "server.key",
    )


@pytest.fixture(scope="module")
def tls_broker(certs, tmp_path_factory):
    """Mutual TLS: server certificate for headwater.test/*.headwater.test, client certificates from ca.pem."""
    b = Broker(
        log_dir=tmp_path_factory.mktemp("tls-broker-logs"),
        tls=(certs.server_cert, certs.server_key, certs.ca),
    ).start()
    yield b
    b.stop()


# ------------------------------------------------------------------------------------------------
# clients


def rust_tls_opts(certs, *, domain=DOMAIN, ca=None, cert=None, key=None, inline=False):
    opts = [
        "--tls-domain", domain,
        "--tls-ca", ca or certs.ca,
        "--tls-cert", cert or certs.client_cert,
        "--tls-key", key or certs.client_key,
    ]
    return opts + (["--tls-inline"] if inline else [])


def rust_tls(broker, certs, *args, tls_opts=None, **kw):
    """The official Rust client over verified mutual TLS (default: the good CA and client certificate)."""
    opts = rust_tls_opts(certs) if tls_opts is None else tls_opts
    return run([INTEROP_BIN, *args, "--endpoint", broker.endpoint, *opts], broker=broker, **kw)


def hw_tls_flags(certs):
    return [
        "--tls-ca-file", certs.ca,
        "--tls-cert-file", certs.client_cert,
        "--tls-key-file", certs.client_key,
    ]


def headwater_tls(broker, certs, *args, **kw):
    return run(
        [HEADWATER_BIN, *args, "--endpoint", broker.endpoint, *hw_tls_flags(certs)],
        broker=broker,
        **kw,
    )


def write_profile(home, endpoint, *, ca, cert, key, domain=DOMAIN, source="files"):
    """A Fluvio profile file ($HOME/.fluvio/config) whose current profile is verified mutual TLS."""
    if source == "files":
        certs_toml = (
            f'domain = "{domain}"\nkey = "{key}"\ncert = "{cert}"\nca_cert = "{ca}"\n'
        )
    else:  # inline PEM text (TOML literal multi-line strings)
        pem = lambda p: "'''\n" + p.read_text() + "'''"  # noqa: E731
        certs_toml = (
            f'domain = "{domain}"\nkey = {pem(key)}\ncert = {pem(cert)}\nca_cert = {pem(ca)}\n'
        )
    text = f"""version = "2.0"
current_profile = "headwater-tls"

[profile.headwater-tls]
cluster = "headwater-tls"

[cluster.headwater-tls]
endpoint = "{endpoint}"

[cluster.headwater-tls.tls]
tls_policy = "verified"
tls_source = "{source}"

[cluster.headwater-tls.tls.certs]
{certs_toml}"""
    (home / ".fluvio").mkdir(parents=True, exist_ok=True)
    (home / ".fluvio" / "config").write_text(text)
    return home


def profile_env(home):
    """The profile in HOME is the only source: no FLV_PROFILE_PATH, no HEADWATER_ENDPOINT."""
    return {"HOME": str(home), "FLV_PROFILE_PATH": None, "HEADWATER_ENDPOINT": None}


def py_profile(broker, home, *args, **kw):
    """The official Python client connected through the profile file in HOME (Fluvio.connect())."""
    return run([VENV_PY, OFFICIAL_PY, *args, "--profile"], broker=broker, env=profile_env(home), **kw)


def assert_fails_fast(res, elapsed, who, *patterns):
    """A client with a bad TLS setup exited non-zero on its own, quickly, saying why."""
    out = res.stdout + res.stderr
    assert res.returncode != 0, f"{who}: expected a failure, exit 0\n{out}"
    assert res.stdout.strip() == "", f"{who}: printed results despite the failure:\n{res.stdout}"
    assert elapsed < NEGATIVE_DEADLINE, f"{who}: took {elapsed:.1f}s to fail"
    assert "timed out" not in res.stderr, f"{who}: hung until its own deadline:\n{res.stderr}"
    for pat in patterns:
        assert re.search(pat, res.stderr), f"{who}: stderr does not match {pat!r}:\n{res.stderr}"


def timed(fn, *args, **kw):
    t = time.monotonic()
    res = fn(*args, **kw)
    return res, time.monotonic() - t


# ------------------------------------------------------------------------------------------------
# 1. official Rust client over mutual TLS


@pytest.mark.parametrize("source", ["files", "inline"])
def test_official_rust_scenario_over_mutual_tls(tls_broker, certs, source):
    """Admin, every codec, keyed + null-key records, consume and verify, delete: all over mutual TLS."""
    res = rust_tls(
        tls_broker, certs, "scenario", "--topic", unique(f"tls-rs-{source}"),
        tls_opts=rust_tls_opts(certs, inline=source == "inline"),
        timeout=SCENARIO_TIMEOUT,
    )
    summary = json_lines(res.stdout)[-1]
    assert summary["ok"] is True
    assert summary["records"] == 5 * 25
    assert summary["null_key_records"] == 5 * 5
    assert summary["codecs"] == {c: 25 for c in ("none", "gzip", "snappy", "lz4", "zstd")}
    assert sum(summary["per_partition"].values()) == 125
    assert summary["deleted"] is True


def test_official_rust_keyed_records_round_trip_over_mutual_tls(tls_broker, certs):
    topic = unique("tls-rs-keyed")
    acked = json_lines(rust_tls(
        tls_broker, certs, "produce", "--topic", topic, "--count", "30",
        "--key-prefix", "key-", "--compression", "gzip", "--create-partitions", "2",
    ).stdout)
    acked += json_lines(rust_tls(
        tls_broker, certs, "produce", "--topic", topic, "--count", "10",
        "--null-key", "--compression", "zstd",
    ).stdout)
    assert len(acked) == 40
    assert [r["value"] for r in acked] == [f"value-{i}" for i in range(30)] + [
        f"value-{i}" for i in range(10)
    ]
    parts = by_partition(acked)
    assert set(parts) == {0, 1}, parts.keys()
    key_partition = {}
    for r in acked:
        if r["key"] is not None:
            assert key_partition.setdefault(r["key"], r["partition"]) == r["partition"]
    for p, expected in parts.items():
        assert_contiguous(expected, f"acknowledged offsets of partition {p}")
        got = json_lines(rust_tls(
            tls_broker, certs, "consume", "--topic", topic, "--partition", str(p)
        ).stdout)
        assert_same_records(got, expected, f"official Rust consume over TLS p{p}")
        assert all(r["timestamp"] > 0 for r in got)
        # our CLI reads the same records over TLS
        hw = json_lines(headwater_tls(
            tls_broker, certs, "consume", topic, "-p", str(p), "-B", "-d", "-O", "json"
        ).stdout)
        assert_same_records(hw, expected, f"headwater consume over TLS p{p}")
        assert [r["timestamp"] for r in hw] == [r["timestamp"] for r in got]


# ------------------------------------------------------------------------------------------------
# 2. official Python client over mutual TLS


@pytest.mark.parametrize("how", ["profile-files", "profile-inline", "config"])
def test_official_python_scenario_over_mutual_tls(tls_broker, certs, tmp_path, how):
    """profile-*: Fluvio.connect()/FluvioAdmin.connect() with $HOME/.fluvio/config (tls_source
    files/inline); config: FluvioConfig.set_tls_file_paths."""
    topic = unique(f"tls-py-{how}")
    if how.startswith("profile"):
        home = write_profile(
            tmp_path / "home", tls_broker.endpoint, ca=certs.ca, cert=certs.client_cert,
            key=certs.client_key, source=how.split("-")[1],
        )
        res = py_profile(tls_broker, home, "scenario", "--topic", topic, timeout=SCENARIO_TIMEOUT)
    else:
        res = run(
            [
                VENV_PY, OFFICIAL_PY, "scenario", "--topic", topic, "--endpoint", tls_broker.endpoint,
                "--tls-domain", DOMAIN, "--tls-ca", certs.ca,
                "--tls-cert", certs.client_cert, "--tls-key", certs.client_key,
            ],
            broker=tls_broker,
            timeout=SCENARIO_TIMEOUT,
        )
    summary = json_lines(res.stdout)[-1]
    assert summary["ok"] is True
    assert summary["records"] == 5 * 25
    assert summary["empty_key_records"] == 5 * 5
    assert sum(summary["per_partition"].values()) == 125
    assert summary["deleted"] is True


def test_official_python_produced_over_tls_read_by_official_rust(tls_broker, certs, tmp_path):
    home = write_profile(
        tmp_path / "home", tls_broker.endpoint, ca=certs.ca, cert=certs.client_cert,
        key=certs.client_key,
    )
    topic = unique("tls-py-x")
    acked = json_lines(py_profile(
        tls_broker, home, "produce", "--topic", topic, "--count", "24", "--key-prefix", "py-",
        "--compression", "snappy", "--create-partitions", "3",
    ).stdout)
    assert [(r["key"], r["value"]) for r in acked] == [(f"py-{i}", f"value-{i}") for i in range(24)]
    for p, expected in by_partition(acked).items():
        assert_contiguous(expected, f"Python-acknowledged offsets of partition {p}")
        got = json_lines(rust_tls(
            tls_broker, certs, "consume", "--topic", topic, "--partition", str(p)
        ).stdout)
        assert_same_records(got, expected, f"official Rust over TLS reading Python's p{p}")


# ------------------------------------------------------------------------------------------------
# 3. headwater CLI over TLS -> official clients over TLS


def test_headwater_produced_over_tls_read_by_official_clients(tls_broker, certs, tmp_path):
    topic = unique("tls-hw")
    partitions = 3
    headwater_tls(tls_broker, certs, "topic", "create", topic, "-p", str(partitions))

    # a) flags; SC and SPU verified against the endpoint's host (the certificate's IP SAN)
    n_a = 20
    headwater_tls(
        tls_broker, certs, "produce", topic, "--key-separator", ":",
        input="".join(f"hk{i}:hv-{i}\n" for i in range(n_a)),
    )
    # b) flags + --tls-server-name: SC verified as headwater.test, SPUs as custom-spu-<id>.headwater.test
    #    (the official client's naming); keyless, gzip
    n_b = 7
    headwater_tls(
        tls_broker, certs, "produce", topic, "--compression", "gzip", "--tls-server-name", DOMAIN,
        input="".join(f"nk-{i}\n" for i in range(n_b)),
    )
    # c) no flags at all: the official clients' profile file (the same one the Python client uses)
    home = write_profile(
        tmp_path / "home", tls_broker.endpoint, ca=certs.ca, cert=certs.client_cert,
        key=certs.client_key,
    )
    n_c = 9
    run(
        [HEADWATER_BIN, "produce", topic, "--key-separator", ":", "--compression", "lz4"],
        input="".join(f"pk{i}:pv-{i}\n" for i in range(n_c)),
        env=profile_env(home),
        broker=tls_broker,
    )

    expected = {f"hv-{i}": f"hk{i}" for i in range(n_a)}
    expected.update({f"nk-{i}": None for i in range(n_b)})
    expected.update({f"pv-{i}": f"pk{i}" for i in range(n_c)})

    seen = {}
    for p in range(partitions):
        rs = json_lines(rust_tls(
            tls_broker, certs, "consume", "--topic", topic, "--partition", str(p)
        ).stdout)
        pyr = json_lines(py_profile(
            tls_broker, home, "consume", "--topic", topic, "--partition", str(p)
        ).stdout)
        assert_contiguous(rs, f"official Rust over TLS, {topic}-{p}")
        assert_same_records(pyr, rs, f"official Python (profile) vs Rust over TLS, p{p}")
        assert [r["timestamp"] for r in pyr] == [r["timestamp"] for r in rs]
        for r in rs:
            assert r["value"] not in seen, f"{r['value']} read twice"
            seen[r["value"]] = r["key"]
            assert r["timestamp"] > 0, r
    assert seen == expected
    # keyless records spread round-robin; keyed ones kept their keys (null stays null)
    assert sum(1 for k in seen.values() if k is None) == n_b


# ------------------------------------------------------------------------------------------------
# 4. negative: bad TLS setups end in an error, never a hang


def test_official_rust_wrong_ca_fails(tls_broker, certs):
    res, elapsed = timed(
        rust_tls, tls_broker, certs, "probe", "--timeout-secs", str(NEGATIVE_DEADLINE),
        tls_opts=rust_tls_opts(certs, ca=certs.other_ca),
        check=False, timeout=NEGATIVE_TIMEOUT,
    )
    assert_fails_fast(res, elapsed, "official Rust, wrong CA", r"UnknownIssuer")


def test_official_rust_wrong_ca_inline_fails(tls_broker, certs):
    res, elapsed = timed(
        rust_tls, tls_broker, certs, "produce", "--topic", unique("never"), "--count", "1",
        "--key-prefix", "k", "--create-partitions", "1", "--timeout-secs", str(NEGATIVE_DEADLINE),
        tls_opts=rust_tls_opts(certs, ca=certs.other_ca, inline=True),
        check=False, timeout=NEGATIVE_TIMEOUT,
    )
    assert_fails_fast(res, elapsed, "official Rust produce, wrong CA (inline)", r"UnknownIssuer")


def test_official_rust_wrong_domain_fails(tls_broker, certs):
    res, elapsed = timed(
        rust_tls, tls_broker, certs, "probe", "--timeout-secs", str(NEGATIVE_DEADLINE),
        tls_opts=rust_tls_opts(certs, domain="other.example"),
        check=False, timeout=NEGATIVE_TIMEOUT,
    )
    assert_fails_fast(res, elapsed, "official Rust, wrong domain", r'not valid for name "other\.example"')


def test_official_rust_untrusted_client_certificate_refused(tls_broker, certs):
    res, elapsed = timed(
        rust_tls, tls_broker, certs, "probe", "--timeout-secs", str(NEGATIVE_DEADLINE),
        tls_opts=rust_tls_opts(certs, cert=certs.rogue_cert, key=certs.rogue_key),
        check=False, timeout=NEGATIVE_TIMEOUT,
    )
    # TLS 1.3: the client finishes its handshake first, then reads the broker's alert
    assert_fails_fast(
        res, elapsed, "official Rust, client certificate from another CA", r"fatal alert: UnknownCA"
    )


def test_official_rust_plaintext_refused_by_tls_broker(tls_broker, certs):
    res, elapsed = timed(
        run,
        [INTEROP_BIN, "probe", "--endpoint", tls_broker.endpoint, "--timeout-secs", str(NEGATIVE_DEADLINE)],
        broker=tls_broker, check=False, timeout=NEGATIVE_TIMEOUT,
    )
    assert_fails_fast(res, elapsed, "official Rust, plain TCP to a TLS broker", r"plain TCP")


def test_official_python_wrong_ca_fails(tls_broker, certs, tmp_path):
    home = write_profile(
        tmp_path / "home", tls_broker.endpoint, ca=certs.other_ca, cert=certs.client_cert,
        key=certs.client_key,
    )
    res, elapsed = timed(
        py_profile, tls_broker, home, "consume", "--topic", unique("never"), "--partition", "0",
        "--timeout-secs", str(NEGATIVE_DEADLINE),
        check=False, timeout=NEGATIVE_TIMEOUT,
    )
    assert_fails_fast(res, elapsed, "official Python, wrong CA", r"certificate verify failed")


def test_tls_broker_still_serves_after_bad_clients(tls_broker, certs):
    """Runs after the negative cases (file order): refused handshakes did not hurt the broker."""
    assert tls_broker.proc.poll() is None, tls_broker.logs()
    probe = json_lines(rust_tls(tls_broker, certs, "probe").stdout)[-1]
    assert probe["connected"] is True and probe["tls"] is True


# ------------------------------------------------------------------------------------------------
# why the official clients need *.domain


def test_official_client_verifies_spus_as_spu_name_dot_domain(certs, tmp_path):
    """With the committed certificate (localhost/127.0.0.1, no wildcard) and domain "localhost":
    the official client reaches the SC (checked as "localhost") but refuses the SPU, which it checks
    as "custom-spu-<id>.localhost". Our CLI (SPUs checked against their advertised host) is fine."""
    b = Broker(log_dir=tmp_path, tls=(certs.plain_server_cert, certs.plain_server_key, certs.ca)).start()
    try:
        topic = unique("tls-nowild")
        headwater_tls(b, certs, "topic", "create", topic, "-p", "1")
        headwater_tls(b, certs, "produce", topic, input="a\nb\nc\n")
        hw = json_lines(headwater_tls(b, certs, "consume", topic, "-p", "0", "-B", "-d", "-O", "json").stdout)
        assert [(r["offset"], r["value"]) for r in hw] == [(0, "a"), (1, "b"), (2, "c")]

        localhost = rust_tls_opts(certs, domain="localhost")
        probe = json_lines(rust_tls(b, certs, "probe", tls_opts=localhost).stdout)[-1]
        assert probe["connected"] is True  # the SC's certificate is fine for "localhost"

        res, elapsed = timed(
            rust_tls, b, certs, "consume", "--topic", topic, "--partition", "0",
            "--timeout-secs", str(NEGATIVE_DEADLINE),
            tls_opts=localhost, check=False, timeout=NEGATIVE_TIMEOUT,
        )
        assert_fails_fast(
            res, elapsed, "official Rust consume, SPU certificate without *.localhost",
            r'not valid for name "custom-spu-\d+\.localhost"',
        )
    finally:
        b.stop()
