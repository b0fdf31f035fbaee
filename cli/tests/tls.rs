//! The `headwater` command over TLS: the Fluvio profile file gives the endpoint and TLS settings (no
//! flags at all), the --tls-* flags work, and `headwater broker --tls-cert/--tls-key` serves TLS.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::tls::ServerTlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Runs `headwater args...` with a clean environment for endpoints and profiles.
fn headwater(home: &Path, profile: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_headwater"));
    cmd.args(args)
        .env_remove("HEADWATER_ENDPOINT")
        .env_remove("FLV_PROFILE_PATH")
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = profile {
        cmd.env("FLV_PROFILE_PATH", p);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn the_fluvio_profile_gives_endpoint_and_mutual_tls() {
    let ca = Ca::new("cluster CA");
    let clients = Ca::new("client CA");
    let (sc, sk) = ca.issue(
        &["broker.test", "*.broker.test"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (cc, ck) = clients.issue(&["cli"], ExtendedKeyUsagePurpose::ClientAuth);
    let broker = TestBroker::start_blocking(
        BrokerConfig::default()
            .tls(ServerTlsConfig::from_pem(sc, sk).client_ca_pem(clients.cert.pem())),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let ca_file = write(dir, "ca.crt", &ca.cert.pem());
    let cert_file = write(dir, "client.crt", &cc);
    let key_file = write(dir, "client.key", &ck);
    // Fluvio's own format (crates/fluvio/src/config): the current profile points at a cluster.
    let profile = write(
        dir,
        "config",
        &format!(
            r#"version = "2.0"
current_profile = "secure"

[profile.local]
cluster = "local"

[profile.secure]
cluster = "secure"

[cluster.local]
endpoint = "127.0.0.1:1"

[cluster.secure]
endpoint = "{}"
use_spu_local_address = false

[cluster.secure.tls]
tls_policy = "verified"
tls_source = "files"

[cluster.secure.tls.certs]
domain = "broker.test"
key = "{key_file}"
cert = "{cert_file}"
ca_cert = "{ca_file}"
"#,
            broker.endpoint()
        ),
    );
    let p = Some(profile.as_str());
    ok(&headwater(dir, p, &["topic", "create", "from-profile"], ""));
    let out = ok(&headwater(
        dir,
        p,
        &["produce", "from-profile"],
        "one\ntwo\n",
    ));
    assert!(out.contains("produced 2 records"), "{out}");
    let out = ok(&headwater(
        dir,
        p,
        &["consume", "from-profile", "-B", "-d"],
        "",
    ));
    assert_eq!(out, "one\ntwo\n");
    let stored = broker.records("from-profile", 0, 0).unwrap();
    assert_eq!(stored.len(), 2);

    // ~/.fluvio/config is read when FLV_PROFILE_PATH is not set.
    std::fs::create_dir_all(dir.join(".fluvio")).unwrap();
    std::fs::copy(&profile, dir.join(".fluvio").join("config")).unwrap();
    let out = ok(&headwater(dir, None, &["topic", "list"], ""));
    assert!(out.contains("from-profile"), "{out}");

    // An explicit --endpoint wins over the profile (and is plaintext unless told otherwise).
    let out = headwater(
        dir,
        p,
        &["topic", "list", "--endpoint", &broker.endpoint()],
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS"));

    // A profile file that was asked for but is missing is a clear error.
    let missing = dir.join("nope").to_str().unwrap().to_string();
    let out = headwater(dir, Some(&missing), &["topic", "list"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Fluvio profile file") && err.contains(&missing),
        "{err}"
    );
}

/// Kills the broker process this test started, even when an assertion fails.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn broker_flags_serve_tls_and_client_flags_connect() {
    let ca = Ca::new("cli CA");
    let (sc, sk) = ca.issue(
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let cert = write(dir, "server.crt", &sc);
    let key = write(dir, "server.key", &sk);
    let ca_file = write(dir, "ca.crt", &ca.cert.pem());
    let mut broker = Child(
        Command::new(env!("CARGO_BIN_EXE_headwater"))
            .args([
                "broker",
                "--sc-addr",
                "127.0.0.1:0",
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
            ])
            .env_remove("HEADWATER_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(broker.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("HEADWATER_ENDPOINT=")
        .unwrap()
        .to_string();

    let tls = ["--endpoint", &endpoint, "--tls-ca-file", &ca_file];
    ok(&headwater(
        dir,
        None,
        &[&["topic", "create", "flags"][..], &tls].concat(),
        "",
    ));
    let out = ok(&headwater(
        dir,
        None,
        &[&["produce", "flags"][..], &tls].concat(),
        "x\n",
    ));
    assert!(out.contains("produced 1 records"), "{out}");
    let out = ok(&headwater(
        dir,
        None,
        &[&["consume", "flags", "-B", "-d"][..], &tls].concat(),
        "",
    ));
    assert_eq!(out, "x\n");
    // The server-name override must match the certificate.
    let out = headwater(
        dir,
        None,
        &[
            &["topic", "list", "--tls-server-name", "other.test"][..],
            &tls,
        ]
        .concat(),
        "",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("certificate verification"));
    // Plaintext to the TLS broker fails with a hint.
    let out = headwater(dir, None, &["topic", "list", "--endpoint", &endpoint], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TLS"));
}
