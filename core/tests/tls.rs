//! TLS end to end against the embedded broker: a CA made here with rcgen, the broker serving TLS on
//! the SC and every SPU, and the producer, admin and consumer connecting through the one config parser.
//! Every assertion is about an outcome (records read back, the kind and words of an error).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use headwater::broker::{BrokerConfig, TestBroker};
use headwater::client::{Admin, Consumer, ConsumerConfig, Offset, TopicConfig};
use headwater::producer::{Producer, ProducerConfig};
use headwater::tls::{ServerTlsConfig, TlsConfig};
use headwater::ErrorKind;
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
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca { cert, key }
    }
    fn pem(&self) -> String {
        self.cert.pem()
    }
    /// (certificate PEM, key PEM) for `names` (DNS names or IP addresses).
    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }
    fn server(&self, names: &[&str]) -> ServerTlsConfig {
        let (c, k) = self.issue(names, ExtendedKeyUsagePurpose::ServerAuth);
        ServerTlsConfig::from_pem(c, k)
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

async fn tls_broker(spus: u32, tls: ServerTlsConfig) -> TestBroker {
    TestBroker::start(BrokerConfig::default().spus(spus).tls(tls))
        .await
        .unwrap()
}

fn producer_cfg(pairs: &[(&str, &str)]) -> ProducerConfig {
    let mut c = ProducerConfig::from_options(pairs.iter().copied()).unwrap();
    c.set("linger_ms", "0").unwrap();
    c
}

#[tokio::test]
async fn producer_admin_and_consumer_over_tls_end_to_end() {
    let ca = Ca::new("headwater test CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let b = tls_broker(2, ca.server(&["localhost", "127.0.0.1"])).await;
    let ep = b.endpoint();

    // Admin: the same settings as a TlsConfig.
    let tls = TlsConfig::default().ca_file(&ca_file);
    let admin = Admin::connect_with(&ep, &tls).await.unwrap();
    admin
        .create_topic("secure", TopicConfig::new(2))
        .await
        .unwrap();
    assert!(admin
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "secure"));
    // The SPUs are advertised as SSL (Fluvio's EncryptionEnum 1).
    {
        let md = admin.cluster().metadata();
        assert_eq!(md.spus.len(), 2);
        assert!(md
            .spus
            .values()
            .all(|s| s.spec.public_endpoint.encryption == 1));
    }

    // Producer: the config keys, through the one parser.
    let cfg = producer_cfg(&[("tls_ca_file", ca_file.to_str().unwrap())]);
    assert_eq!(cfg.get("tls").unwrap().as_deref(), Some("true"));
    let p = Producer::connect(&ep, "secure", cfg).await.unwrap();
    let mut outs = Vec::new();
    for i in 0..40u32 {
        let key = format!("k{}", i % 4);
        outs.push(
            p.send(Some(key.as_bytes()), format!("v{i}").as_bytes())
                .await
                .unwrap(),
        );
    }
    p.flush().await.unwrap();
    let mut acked = 0;
    for o in &outs {
        o.wait().await.unwrap();
        acked += 1;
    }
    assert_eq!(acked, 40);
    p.close().await.unwrap();

    // Consumer: reads every record back over TLS, from both partitions (both SPUs).
    let mut values = Vec::new();
    for part in 0..2 {
        let cfg = ConsumerConfig {
            tls: tls.clone(),
            ..Default::default()
        };
        let recs = Consumer::read_to_end_with(&ep, "secure", part, Offset::Beginning, cfg)
            .await
            .unwrap();
        let stored = b.records("secure", part, 0).unwrap();
        assert_eq!(recs.len(), stored.len());
        values.extend(
            recs.into_iter()
                .map(|r| String::from_utf8(r.value).unwrap()),
        );
    }
    values.sort();
    let mut expected: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(values, expected);
}

#[tokio::test]
async fn in_memory_pem_and_system_roots_flag() {
    let ca = Ca::new("in-memory CA");
    let b = tls_broker(1, ca.server(&["127.0.0.1"])).await;
    b.create_topic("mem", 1).unwrap();
    let mut cfg = producer_cfg(&[]);
    cfg.tls = TlsConfig::default().ca_pem(ca.pem());
    let p = Producer::connect(&b.endpoint(), "mem", cfg).await.unwrap();
    p.send(None, b"hello").await.unwrap().wait().await.unwrap();
    p.close().await.unwrap();
    assert_eq!(b.records("mem", 0, 0).unwrap()[0].value, b"hello");

    // `tls=true` alone trusts the system roots, which do not include our test CA.
    let e = Producer::connect(&b.endpoint(), "mem", producer_cfg(&[("tls", "true")]))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("certificate verification"), "{e}");
}

#[tokio::test]
async fn mutual_tls_requires_a_trusted_client_certificate() {
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let client_ca_file = write(dir.path(), "client-ca.pem", &clients.pem());
    let (cc, ck) = clients.issue(&["producer-1"], ExtendedKeyUsagePurpose::ClientAuth);
    let cert_file = write(dir.path(), "client.pem", &cc);
    let key_file = write(dir.path(), "client.key", &ck);
    let server = ca
        .server(&["localhost", "127.0.0.1"])
        .client_ca_file(&client_ca_file);
    let b = tls_broker(1, server).await;
    b.create_topic("mtls", 1).unwrap();
    let ep = b.endpoint();

    // With a client certificate: works end to end.
    let with_cert = [
        ("tls_ca_file", ca_file.to_str().unwrap()),
        ("tls_cert_file", cert_file.to_str().unwrap()),
        ("tls_key_file", key_file.to_str().unwrap()),
    ];
    let p = Producer::connect(&ep, "mtls", producer_cfg(&with_cert))
        .await
        .unwrap();
    p.send(Some(b"k"), b"signed")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    p.close().await.unwrap();
    let back = Consumer::read_to_end_with(
        &ep,
        "mtls",
        0,
        Offset::Beginning,
        ConsumerConfig {
            tls: TlsConfig::default()
                .ca_file(&ca_file)
                .client_cert_files(&cert_file, &key_file),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].value, b"signed");

    // Without one: a clear Transport error (and no sharing of the authenticated cluster above: the
    // registry keys clusters by TLS identity).
    let e = Admin::connect_with(&ep, &TlsConfig::default().ca_file(&ca_file))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("client certificate"), "{e}");

    // A certificate from a CA the broker does not trust: rejected too.
    let (oc, ok) = ca.issue(&["intruder"], ExtendedKeyUsagePurpose::ClientAuth);
    let mut cfg = producer_cfg(&[("tls_ca_file", ca_file.to_str().unwrap())]);
    cfg.tls = cfg.tls.client_cert_pem(oc, ok);
    let e = Producer::connect(&ep, "mtls", cfg).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("client certificate"), "{e}");
    // The broker still holds exactly the one authenticated record.
    assert_eq!(b.records("mtls", 0, 0).unwrap().len(), 1);
}

#[tokio::test]
async fn wrong_ca_fails_with_a_certificate_verification_error() {
    let ca = Ca::new("real CA");
    let other = Ca::new("some other CA");
    let dir = tempfile::tempdir().unwrap();
    let other_file = write(dir.path(), "other.pem", &other.pem());
    let b = tls_broker(1, ca.server(&["localhost", "127.0.0.1"])).await;
    b.create_topic("t", 1).unwrap();
    let e = Producer::connect(
        &b.endpoint(),
        "t",
        producer_cfg(&[("tls_ca_file", other_file.to_str().unwrap())]),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("certificate verification"), "{e}");
    assert!(e.message.contains("tls_ca_file"), "says what to fix: {e}");
    let e = Admin::connect_with(&b.endpoint(), &TlsConfig::default().ca_file(&other_file))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("certificate verification"), "{e}");
}

#[tokio::test]
async fn plaintext_client_to_a_tls_port_is_rejected_cleanly() {
    headwater::logging::install();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = lines.clone();
    headwater::logging::set_sink(
        headwater::logging::Level::WARN,
        Arc::new(move |_, _, msg| seen.lock().unwrap().push(msg.to_string())),
    );
    let ca = Ca::new("ca");
    let b = tls_broker(1, ca.server(&["127.0.0.1"])).await;
    b.create_topic("mixed", 1).unwrap();
    let ep = b.endpoint();

    let e = Admin::connect(&ep).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("TLS"), "hints at TLS: {e}");
    // The broker logged why and went on serving: a TLS client works.
    let tls = TlsConfig::default().ca_pem(ca.pem());
    let admin = Admin::connect_with(&ep, &tls).await.unwrap();
    assert!(admin
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "mixed"));
    let mut cfg = producer_cfg(&[]);
    cfg.tls = tls;
    let p = Producer::connect(&ep, "mixed", cfg).await.unwrap();
    p.send(None, b"after").await.unwrap().wait().await.unwrap();
    p.close().await.unwrap();
    assert_eq!(b.records("mixed", 0, 0).unwrap().len(), 1);
    // The log line is written by the broker's connection task: wait for it (bounded, generous).
    let logged = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("does not speak TLS"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !logged() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        logged(),
        "the broker logs the rejected plaintext connection: {:?}",
        lines.lock().unwrap()
    );
    headwater::logging::clear_sink();
}

#[tokio::test]
async fn tls_client_to_a_plaintext_port_fails_clearly() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    let e = Admin::connect_with(&b.endpoint(), &TlsConfig::system_roots())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("TLS handshake"), "{e}");
    // The plaintext broker is unharmed.
    Admin::connect(&b.endpoint())
        .await
        .unwrap()
        .list_topics()
        .await
        .unwrap();
}

#[tokio::test]
async fn server_name_override_verifies_the_sc_and_prefixes_spu_names() {
    let ca = Ca::new("named CA");
    // Valid only for broker.test and its subdomains: not for 127.0.0.1, the address we dial.
    let b = tls_broker(1, ca.server(&["broker.test", "*.broker.test"])).await;
    b.create_topic("named", 1).unwrap();
    let ep = b.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let ca_path = ca_file.to_str().unwrap();

    // Without the override the SC's certificate does not match the host we dialled.
    let e = Producer::connect(&ep, "named", producer_cfg(&[("tls_ca_file", ca_path)]))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("certificate verification"), "{e}");
    assert!(
        e.message.contains("tls_server_name"),
        "says what to fix: {e}"
    );

    // With it: the SC is verified as broker.test and the SPU as custom-spu-5001.broker.test.
    let cfg = producer_cfg(&[("tls_ca_file", ca_path), ("tlsServerName", "broker.test")]);
    let p = Producer::connect(&ep, "named", cfg.clone()).await.unwrap();
    p.send(Some(b"k"), b"named")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    p.close().await.unwrap();
    let back = Consumer::read_to_end_with(
        &ep,
        "named",
        0,
        Offset::Beginning,
        ConsumerConfig {
            tls: cfg.tls,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(back.len(), 1);
}

#[tokio::test]
async fn anonymous_tls_encrypts_without_verifying() {
    let ca = Ca::new("unknown CA");
    let b = tls_broker(1, ca.server(&["elsewhere.test"])).await;
    b.create_topic("anon", 1).unwrap();
    let mut cfg = producer_cfg(&[]);
    cfg.tls.insecure_skip_verify = true;
    assert!(cfg.tls.is_enabled());
    let p = Producer::connect(&b.endpoint(), "anon", cfg).await.unwrap();
    p.send(None, b"x").await.unwrap().wait().await.unwrap();
    p.close().await.unwrap();
    assert_eq!(b.records("anon", 0, 0).unwrap().len(), 1);
}

#[tokio::test]
async fn bad_tls_settings_are_config_errors_naming_the_key() {
    let b = TestBroker::start(BrokerConfig::default()).await.unwrap();
    b.create_topic("cfg", 1).unwrap();
    let ep = b.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let not_pem = write(dir.path(), "not.pem", "hello\n");
    let ca = Ca::new("ca");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());

    // Missing files fail when set.
    let e = ProducerConfig::default()
        .set("tls_ca_file", "/nonexistent/ca.pem")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("tls_ca_file"), "{e}");
    // Contents are checked when connecting.
    for (key, expect) in [
        ("tls_ca_file", "tls_ca_file"),
        ("tls_cert_file", "tls_key_file"), // a certificate without its key
        ("tls_key_file", "tls_cert_file"), // a key without its certificate
    ] {
        let cfg = producer_cfg(&[(key, not_pem.to_str().unwrap())]);
        let e = Producer::connect(&ep, "cfg", cfg).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{e}");
        assert!(e.message.contains(expect), "{key}: {e}");
    }
    let cfg = producer_cfg(&[
        ("tls_ca_file", ca_file.to_str().unwrap()),
        ("tls_cert_file", not_pem.to_str().unwrap()),
        ("tls_key_file", not_pem.to_str().unwrap()),
    ]);
    let e = Producer::connect(&ep, "cfg", cfg).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.message.contains("tls_cert_file"), "{e}");
    // tls=false contradicting a CA file.
    let cfg = producer_cfg(&[("tls_ca_file", ca_file.to_str().unwrap()), ("tls", "false")]);
    let e = Producer::connect(&ep, "cfg", cfg).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(e.message.contains("`tls`"), "{e}");
    // A broker given a bad certificate refuses to start.
    let e =
        TestBroker::start(BrokerConfig::default().tls(ServerTlsConfig::from_pem("nope", "nope")))
            .await
            .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    assert!(e.message.contains("tls_cert"), "{e}");
}

/// `valid_tls` in tests/vectors/config.json: inputs that are valid but turn TLS on, so the shared
/// runners (which connect to a plaintext broker with every `valid` input) cannot use them.
#[test]
fn config_vectors_valid_tls_inputs_round_trip() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/config.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut seen = 0;
    for c in v["cases"].as_array().unwrap() {
        let key = c["key"].as_str().unwrap();
        let camel = c["camel"].as_str().unwrap();
        for ok in c["valid_tls"].as_array().into_iter().flatten() {
            let input = ok["input"].as_str().unwrap();
            for name in [key, camel] {
                let mut cfg = ProducerConfig::default();
                cfg.set(name, input)
                    .unwrap_or_else(|e| panic!("{name}={input:?}: {e}"));
                assert_eq!(cfg.get(key).unwrap().as_deref(), ok["value"].as_str());
                assert!(cfg.tls.is_enabled(), "{name}={input:?} turns TLS on");
            }
            seen += 1;
        }
    }
    assert!(seen >= 8, "valid_tls examples for every TLS key ({seen})");
}

/// The committed fixtures every binding uses (`tests/fixtures/tls`), through the string options the
/// bindings pass: `BrokerConfig::from_options` on the broker side, `TlsConfig::set` (camelCase as
/// Node and Java spell it) for the admin.
#[tokio::test]
async fn string_options_with_the_shared_fixtures_give_mutual_tls() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    let f = |name: &str| fx.join(name).to_str().unwrap().to_string();
    let cfg = BrokerConfig::from_options([
        ("spus", "2"),
        ("tlsCert", f("server.pem").as_str()),
        ("tls_key", f("server.key").as_str()),
        ("tlsClientCa", f("ca.pem").as_str()),
    ])
    .unwrap();
    assert_eq!(cfg.spus, 2);
    let b = TestBroker::start(cfg).await.unwrap();
    let ep = b.endpoint();

    let mut tls = TlsConfig::default();
    tls.set("tlsCaFile", &f("ca.pem")).unwrap();
    tls.set("tlsCertFile", &f("client.pem")).unwrap();
    tls.set("tls_key_file", &f("client.key")).unwrap();
    let admin = Admin::connect_with(&ep, &tls).await.unwrap();
    admin
        .create_topic("fixtures", TopicConfig::new(2))
        .await
        .unwrap();
    assert!(admin
        .list_topics()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "fixtures"));

    // The unrelated CA fails verification; no client certificate fails the mutual-TLS check.
    let mut wrong = TlsConfig::default();
    wrong.set("tls_ca_file", &f("other-ca.pem")).unwrap();
    let e = Admin::connect_with(&ep, &wrong).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transport, "{e}");
    assert!(e.message.contains("certificate verification"), "{e}");
    let mut anonymous = TlsConfig::default();
    anonymous.set("tlsCaFile", &f("ca.pem")).unwrap();
    let e = Admin::connect_with(&ep, &anonymous).await.unwrap_err();
    assert!(e.message.contains("client certificate"), "{e}");
}

#[test]
fn broker_options_errors_name_the_key_as_spelled() {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    let cert = fx.join("server.pem");
    let cert = cert.to_str().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("spuz", "1")], "`spuz`"),
        (&[("spus", "0")], "`spus`"),
        (&[("spus", "two")], "`spus`"),
        (&[("dataDir", "")], "`dataDir`"),
        (&[("sync", "sometimes")], "`sync`"),
        (&[("tls_cert", "/no/such/file.pem")], "`tls_cert`"),
        (&[("tls_cert", cert)], "`tls_key`"),
        (&[("tlsKey", cert)], "`tls_cert`"),
        (&[("tls_client_ca", cert)], "`tls_client_ca`"),
    ];
    for (opts, key) in cases {
        let e = BrokerConfig::from_options(opts.iter().copied()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config, "{opts:?}: {e}");
        assert!(e.message.contains(key), "{opts:?}: {e}");
    }
    for (sync, ms) in [("250", 250), ("250ms", 250), ("2s", 2000)] {
        let c = BrokerConfig::from_options([("sync", sync)]).unwrap();
        assert!(
            matches!(c.sync, headwater::broker::SyncPolicy::Interval(d) if d.as_millis() == ms),
            "{sync}"
        );
    }
    for bad in ["0", "ms", "2m", "-5", "1.5s"] {
        let e = BrokerConfig::from_options([("sync", bad)]).unwrap_err();
        assert!(e.message.contains("`sync`"), "{bad}: {e}");
    }
    let ok = BrokerConfig::from_options([("sync", "250"), ("data_dir", "/tmp/x")]).unwrap();
    assert_eq!(ok.data_dir.as_deref(), Some(Path::new("/tmp/x")));
    assert!(ok.tls.is_none());
}
