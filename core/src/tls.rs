//! TLS for the clients (producer, admin, consumer) and the embedded broker, with rustls and its ring
//! provider (no OpenSSL).
//!
//! - [`TlsConfig`] is what a client asks for: on/off, a CA bundle (else the system roots), an optional
//!   client certificate and key (mutual TLS) and an optional server-name override. Its five config
//!   keys (`tls`, `tls_ca_file`, `tls_cert_file`, `tls_key_file`, `tls_server_name`) are parsed here
//!   and reached through `ProducerConfig::set`, so every language spells them the same.
//! - [`ClientTls`] is a `TlsConfig` built once (certificates parsed, rustls config made) and shared by
//!   every connection of a cluster: the SC connection and each SPU connection.
//! - [`ServerTlsConfig`] is the embedded broker's side: a certificate chain and key, and optionally a
//!   client CA that makes client certificates mandatory.
//!
//! Server names: the SC is verified against `tls_server_name`, or else the host of the endpoint. An SPU
//! is verified against `<spu-name>.<tls_server_name>` when an override is set (what the official Fluvio
//! client does: it prefixes the SPU's metadata name to its TLS domain as SNI, so real TLS clusters carry
//! certificates for those names), or else against the SPU's advertised hostname.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::{Error, ErrorKind, Result};

/// The TLS keys of the configuration table, in table order.
pub const TLS_KEYS: &[&str] = &[
    "tls",
    "tls_ca_file",
    "tls_cert_file",
    "tls_key_file",
    "tls_server_name",
];

/// Where PEM text comes from: a file (read when the connection is made) or bytes in memory.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum PemSource {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => write!(f, "File({})", p.display()),
            // Never print key material.
            PemSource::Pem(b) => write!(f, "Pem(<{} bytes>)", b.len()),
        }
    }
}

impl PemSource {
    fn read(&self, key: &str) -> Result<Vec<u8>> {
        match self {
            PemSource::File(p) => std::fs::read(p)
                .map_err(|e| Error::config(key, format!("cannot read {}: {e}", p.display()))),
            PemSource::Pem(b) => Ok(b.clone()),
        }
    }
    fn describe(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Pem(_) => "the in-memory PEM".into(),
        }
    }
    /// The value `get` reports: the path, or `<pem>` for in-memory text.
    fn value(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Pem(_) => "<pem>".into(),
        }
    }
    /// Exact identity (for the cluster registry): the path, or the PEM bytes in hex.
    fn identity(&self) -> String {
        match self {
            PemSource::File(p) => format!("file:{}", p.display()),
            PemSource::Pem(b) => {
                let mut s = String::with_capacity(4 + b.len() * 2);
                s.push_str("pem:");
                for x in b {
                    s.push_str(&format!("{x:02x}"));
                }
                s
            }
        }
    }
}

/// A client's TLS settings. The default is plaintext.
///
/// TLS is on when `enabled` is `Some(true)`, or when it is `None` and any of `ca`, `cert`, `key` or
/// `server_name` is set (so a CA file is never silently ignored). `Some(false)` together with any of
/// those is a `Config` error at connect time.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct TlsConfig {
    pub enabled: Option<bool>,
    /// Trusted CA certificates (PEM); `None` = the system's roots (Mozilla's bundled roots if the
    /// system has none).
    pub ca: Option<PemSource>,
    /// Client certificate chain (PEM) for mutual TLS; needs `key`.
    pub cert: Option<PemSource>,
    /// Client private key (PEM: PKCS#8, PKCS#1 or SEC1); needs `cert`.
    pub key: Option<PemSource>,
    /// The name the SC's certificate is verified against (and sent as SNI); default: the endpoint's host.
    pub server_name: Option<String>,
    /// Encrypt but do not verify the server's certificate: Fluvio's `tls_policy = "anonymous"`. Rust
    /// and CLI only (a profile can ask for it); deliberately not a config key.
    pub insecure_skip_verify: bool,
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::config(
            key,
            format!("expected true or false, got {v:?}"),
        )),
    }
}

/// A file key's value must name an existing regular file (checked when set, so a typo fails early).
pub(crate) fn existing_file(key: &str, v: &str) -> Result<PemSource> {
    if v.is_empty() {
        return Err(Error::config(
            key,
            "expected a file path, got an empty string",
        ));
    }
    match std::fs::metadata(v) {
        Ok(m) if m.is_file() => Ok(PemSource::File(PathBuf::from(v))),
        Ok(_) => Err(Error::config(key, format!("{v} is not a file"))),
        Err(e) => Err(Error::config(key, format!("cannot use {v}: {e}"))),
    }
}

/// Validates a server name: a DNS name or an IP address.
pub fn parse_server_name(key: &str, v: &str) -> Result<ServerName<'static>> {
    if v.is_empty() {
        return Err(Error::config(
            key,
            "expected a DNS name or an IP address, got an empty string",
        ));
    }
    ServerName::try_from(v.to_string()).map_err(|_| {
        Error::config(
            key,
            format!("{v:?} is neither a valid DNS name nor an IP address"),
        )
    })
}

impl TlsConfig {
    /// TLS with the system roots.
    pub fn system_roots() -> Self {
        TlsConfig {
            enabled: Some(true),
            ..Default::default()
        }
    }
    /// Trust the CA certificates in this PEM file (turns TLS on).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(PemSource::File(path.into()));
        self
    }
    /// Trust these PEM CA certificates (turns TLS on).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca = Some(PemSource::Pem(pem.into()));
        self
    }
    /// Present this client certificate and key (PEM files) for mutual TLS.
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert = Some(PemSource::File(cert.into()));
        self.key = Some(PemSource::File(key.into()));
        self
    }
    /// Present this client certificate and key (PEM text) for mutual TLS.
    pub fn client_cert_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.cert = Some(PemSource::Pem(cert.into()));
        self.key = Some(PemSource::Pem(key.into()));
        self
    }
    /// Verify the SC against this name (and SPUs against `<spu-name>.<name>`).
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// Whether connections use TLS.
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(
            self.ca.is_some()
                || self.cert.is_some()
                || self.key.is_some()
                || self.server_name.is_some()
                || self.insecure_skip_verify,
        )
    }

    /// A config from `(key, value)` pairs, each as [`set`](Self::set) takes it (the same form as
    /// `ProducerConfig::from_options` and `TopicConfig::from_options`).
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TlsConfig> {
        let mut cfg = TlsConfig::default();
        for (k, v) in options {
            cfg.set(k, v)?;
        }
        Ok(cfg)
    }

    /// Sets one of [`TLS_KEYS`] from its string form. File keys must name an existing file (its
    /// contents are parsed when connecting).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        // Node and Java spell keys in camelCase; errors keep the caller's spelling.
        let canonical = TLS_KEYS
            .iter()
            .find(|k| **k == key || crate::producer::config::camel_case(k) == key)
            .copied()
            .unwrap_or(key);
        match canonical {
            "tls" => self.enabled = Some(parse_bool(key, value)?),
            "tls_ca_file" => self.ca = Some(existing_file(key, value)?),
            "tls_cert_file" => self.cert = Some(existing_file(key, value)?),
            "tls_key_file" => self.key = Some(existing_file(key, value)?),
            "tls_server_name" => {
                parse_server_name(key, value)?;
                self.server_name = Some(value.to_string())
            }
            other => return Err(Error::config(other, "not a TLS key")),
        }
        Ok(())
    }

    /// Reads one of [`TLS_KEYS`] back: `tls` is whether TLS is on; unset files and names are `None`.
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        Ok(match key {
            "tls" => Some(self.is_enabled().to_string()),
            "tls_ca_file" => self.ca.as_ref().map(PemSource::value),
            "tls_cert_file" => self.cert.as_ref().map(PemSource::value),
            "tls_key_file" => self.key.as_ref().map(PemSource::value),
            "tls_server_name" => self.server_name.clone(),
            other => return Err(Error::config(other, "not a TLS key")),
        })
    }

    /// A string that differs whenever two configs could connect differently; `""` for plaintext.
    /// Clusters are shared per (endpoint, identity).
    pub fn identity(&self) -> String {
        if !self.is_enabled() {
            return String::new();
        }
        let src = |s: &Option<PemSource>| s.as_ref().map(PemSource::identity).unwrap_or_default();
        format!(
            "tls;ca={};cert={};key={};name={};insecure={}",
            src(&self.ca),
            src(&self.cert),
            src(&self.key),
            self.server_name.as_deref().unwrap_or(""),
            self.insecure_skip_verify
        )
    }

    /// Builds the rustls client once (reading and parsing every PEM), or `None` for plaintext.
    /// Problems are `Config` errors naming the key.
    pub fn build(&self) -> Result<Option<Arc<ClientTls>>> {
        if !self.is_enabled() {
            if self.enabled == Some(false) {
                for (k, set) in [
                    ("tls_ca_file", self.ca.is_some()),
                    ("tls_cert_file", self.cert.is_some()),
                    ("tls_key_file", self.key.is_some()),
                    ("tls_server_name", self.server_name.is_some()),
                ] {
                    if set {
                        return Err(Error::config(
                            "tls",
                            format!("is false but {k} is set; remove one of them"),
                        ));
                    }
                }
            }
            return Ok(None);
        }
        if let Some(n) = &self.server_name {
            parse_server_name("tls_server_name", n)?;
        }
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        let builder = if self.insecure_skip_verify {
            tracing::warn!(
                "TLS without certificate verification (anonymous): the server is not authenticated"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let config = match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(Error::config(
                "tls_key_file",
                "tls_cert_file is set but tls_key_file is not: a client certificate needs its key",
            )),
            (None, Some(_)) => return Err(Error::config(
                "tls_cert_file",
                "tls_key_file is set but tls_cert_file is not: a client key needs its certificate",
            )),
            (Some(c), Some(k)) => {
                let chain = certs("tls_cert_file", c)?;
                let key = private_key("tls_key_file", k)?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::config(
                        "tls_key_file",
                        format!("the key does not fit the client certificate: {e}"),
                    )
                })?
            }
        };
        Ok(Some(Arc::new(ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name: self.server_name.clone(),
            has_client_cert: self.cert.is_some(),
        })))
    }

    fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        match &self.ca {
            Some(src) => {
                for c in certs("tls_ca_file", src)? {
                    roots.add(c).map_err(|e| {
                        Error::config(
                            "tls_ca_file",
                            format!("{} holds an unusable CA certificate: {e}", src.describe()),
                        )
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    tracing::debug!(
                        "no system root certificates found; using the bundled Mozilla roots"
                    );
                    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                }
            }
        }
        Ok(roots)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(key: &str, src: &PemSource) -> Result<Vec<CertificateDer<'static>>> {
    let pem = src.read(key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(key, format!("{} is not valid PEM: {e}", src.describe())))?;
    if certs.is_empty() {
        return Err(Error::config(
            key,
            format!("{} holds no PEM certificate", src.describe()),
        ));
    }
    Ok(certs)
}

fn private_key(key: &str, src: &PemSource) -> Result<PrivateKeyDer<'static>> {
    let pem = src.read(key)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Error::config(
            key,
            format!(
                "{} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
                src.describe()
            ),
        )
    })
}

/// The host part of `host:port` (`[v6]:port` too).
pub fn host_of(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => addr,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// A built client TLS configuration, shared by all connections of a cluster.
pub struct ClientTls {
    connector: tokio_rustls::TlsConnector,
    server_name: Option<String>,
    has_client_cert: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl ClientTls {
    /// The name the SC at `endpoint` is verified against.
    pub fn sc_server_name(&self, endpoint: &str) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| host_of(endpoint).to_string())
    }

    /// The name an SPU is verified against: `<spu-name>.<override>` (Fluvio's SNI rule) when a
    /// server name (a DNS name, not an IP address) is configured, else the SPU's advertised host.
    pub fn spu_server_name(&self, spu_name: &str, advertised_host: &str) -> String {
        match &self.server_name {
            Some(domain) if !spu_name.is_empty() && domain.parse::<std::net::IpAddr>().is_err() => {
                format!("{spu_name}.{domain}")
            }
            _ => advertised_host.to_string(),
        }
    }

    /// What to suggest when the first exchange after a successful handshake fails (with TLS 1.3 a
    /// server rejects a client certificate only after the client's side of the handshake is done).
    pub fn after_handshake_hint(&self) -> &'static str {
        if self.has_client_cert {
            "the TLS server may not trust our client certificate (check tls_cert_file and the server's client CA)"
        } else {
            "the TLS server may require a client certificate: set tls_cert_file and tls_key_file"
        }
    }

    /// Runs the TLS handshake over `tcp`, verifying the server against `server_name`.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        server_name: &str,
        addr: &str,
    ) -> Result<tokio_rustls::client::TlsStream<NoSigpipe>> {
        let name = parse_server_name("tls_server_name", server_name)?;
        self.connector
            .connect(name, NoSigpipe(tcp))
            .await
            .map_err(|e| {
                use std::io::ErrorKind as K;
                let from_rustls = e
                    .get_ref()
                    .is_some_and(|x| x.downcast_ref::<rustls::Error>().is_some());
                let closed = matches!(
                    e.kind(),
                    K::UnexpectedEof | K::ConnectionReset | K::BrokenPipe
                );
                let why = if closed && !from_rustls {
                    format!("the server closed the connection ({e}); is it a plaintext port?")
                } else {
                    describe_io_error(&e)
                };
                Error::transport(format!(
                    "TLS handshake with {addr} (server name {server_name}) failed: {why}"
                ))
            })
    }
}

/// Explains an I/O error; TLS failures get words a user can act on.
pub fn describe_io_error(e: &std::io::Error) -> String {
    use rustls::{AlertDescription, CertificateError};
    let Some(tls) = e.get_ref().and_then(|x| x.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    match tls {
        rustls::Error::InvalidCertificate(c) => {
            let hint = match c {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    "the server's certificate is not signed by a trusted CA (set tls_ca_file to the cluster's CA)"
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate is not valid for this server name (set tls_server_name to a name the certificate was issued for)"
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired"
                }
                _ => "the server's certificate was rejected",
            };
            format!("certificate verification failed: {hint} ({tls})")
        }
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => format!(
            "the server requires a client certificate: set tls_cert_file and tls_key_file ({tls})"
        ),
        rustls::Error::AlertReceived(AlertDescription::HandshakeFailure) => format!(
            "the server refused the TLS handshake; it may require a client certificate (tls_cert_file and tls_key_file) ({tls})"
        ),
        rustls::Error::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied,
        ) => format!(
            "the server rejected our client certificate: it is not signed by a CA the server trusts ({tls})"
        ),
        rustls::Error::InvalidMessage(_) => format!(
            "the peer does not speak TLS (is it a plaintext port? then leave tls off) ({tls})"
        ),
        other => format!("TLS error: {other}"),
    }
}

/// How long the broker waits for a client's TLS handshake.
pub const SERVER_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The broker's log line for a failed TLS accept.
pub fn describe_server_handshake_error(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|x| x.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidMessage(m)) => {
            format!("TLS handshake failed: the client does not speak TLS (plaintext?): {m:?}")
        }
        Some(rustls::Error::NoCertificatesPresented) => {
            "TLS handshake failed: the client presented no certificate (mutual TLS is required)"
                .into()
        }
        Some(rustls::Error::InvalidCertificate(c)) => {
            format!("TLS handshake failed: the client certificate was rejected: {c:?}")
        }
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

/// Accepts any server certificate but still checks handshake signatures (anonymous TLS).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The embedded broker's TLS: its certificate chain and key, and optionally a CA whose client
/// certificates are required (mutual TLS).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerTlsConfig {
    pub cert: PemSource,
    pub key: PemSource,
    /// When set, every client must present a certificate signed by this CA.
    pub client_ca: Option<PemSource>,
}

impl ServerTlsConfig {
    /// Certificate chain and key from PEM files.
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ServerTlsConfig {
            cert: PemSource::File(cert.into()),
            key: PemSource::File(key.into()),
            client_ca: None,
        }
    }
    /// Certificate chain and key as PEM text.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ServerTlsConfig {
            cert: PemSource::Pem(cert.into()),
            key: PemSource::Pem(key.into()),
            client_ca: None,
        }
    }
    /// Require client certificates signed by the CA in this PEM file.
    pub fn client_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(PemSource::File(path.into()));
        self
    }
    /// Require client certificates signed by this PEM CA.
    pub fn client_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(PemSource::Pem(pem.into()));
        self
    }

    /// Reads and parses everything; errors are `InvalidArgument` naming what is wrong.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor> {
        let invalid = |e: Error| {
            let what = e.message.trim_start_matches("invalid config ");
            Error::new(ErrorKind::InvalidArgument, format!("broker TLS {what}"))
        };
        let chain = certs("tls_cert", &self.cert).map_err(invalid)?;
        let key = private_key("tls_key", &self.key).map_err(invalid)?;
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for c in certs("tls_client_ca", ca).map_err(invalid)? {
                    roots.add(c).map_err(|e| {
                        Error::invalid(format!(
                            "broker TLS `tls_client_ca`: unusable CA certificate: {e}"
                        ))
                    })?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| Error::invalid(format!("broker TLS `tls_client_ca`: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            Error::invalid(format!("broker TLS `tls_key` does not fit `tls_cert`: {e}"))
        })?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

/// A TCP stream for TLS that never writes with `writev`. rustls writes its records vectored when the
/// stream offers it, and `writev` (unlike the `send(MSG_NOSIGNAL)` behind a plain write) raises
/// SIGPIPE on a connection the peer closed, which kills a C host program that has not ignored the
/// signal. Hiding the vectored path costs one `send` per TLS record instead.
pub struct NoSigpipe(pub TcpStream);

impl AsyncRead for NoSigpipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for NoSigpipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
    // `poll_write_vectored`/`is_write_vectored` keep their defaults: one buffer per write.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_options_sets_each_key_and_names_a_bad_one() {
        let c = TlsConfig::from_options([("tls", "true"), ("tlsServerName", "sc.local")]).unwrap();
        assert!(c.is_enabled());
        assert_eq!(
            c.get("tls_server_name").unwrap().as_deref(),
            Some("sc.local")
        );
        let e = TlsConfig::from_options([("tls", "true"), ("tls_bogus", "1")]).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Config);
        assert!(e.message.contains("tls_bogus"), "{e}");
    }

    #[test]
    fn enabling_rules() {
        assert!(!TlsConfig::default().is_enabled());
        assert!(TlsConfig::system_roots().is_enabled());
        assert!(TlsConfig::default().ca_file("/x").is_enabled());
        assert!(TlsConfig::default().server_name("a.b").is_enabled());
        let mut c = TlsConfig::default().ca_file("/x");
        c.enabled = Some(false);
        assert!(!c.is_enabled());
        let e = c.build().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(
            e.message.contains("`tls`") && e.message.contains("tls_ca_file"),
            "{e}"
        );
        assert_eq!(TlsConfig::default().identity(), "");
        assert_ne!(
            TlsConfig::default().ca_pem("a").identity(),
            TlsConfig::default().ca_pem("b").identity()
        );
    }

    #[test]
    fn keys_parse_and_read_back() {
        let mut c = TlsConfig::default();
        assert_eq!(c.get("tls").unwrap().as_deref(), Some("false"));
        c.set("tls_server_name", "broker.example.com").unwrap();
        assert_eq!(c.get("tls").unwrap().as_deref(), Some("true"));
        c.set("tls_server_name", "127.0.0.1").unwrap();
        for bad in ["", "has space", "a..b", "-x-.example"] {
            let e = c.set("tls_server_name", bad).unwrap_err();
            assert!(e.message.contains("tls_server_name"), "{e}");
        }
        for bad in ["", "/nonexistent/headwater.pem", "/"] {
            let e = c.set("tls_ca_file", bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config);
            assert!(e.message.contains("tls_ca_file"), "{e}");
        }
        for bad in ["", "TRUE", "1", "yes"] {
            assert!(c.set("tls", bad).is_err());
        }
    }

    #[test]
    fn hosts_and_names() {
        assert_eq!(host_of("example.com:9003"), "example.com");
        assert_eq!(host_of("[::1]:9003"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
        let t = ClientTls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(
                rustls::ClientConfig::builder_with_provider(provider())
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(RootCertStore::empty())
                    .with_no_client_auth(),
            )),
            server_name: None,
            has_client_cert: false,
        };
        assert_eq!(t.sc_server_name("h.example:1"), "h.example");
        assert_eq!(t.spu_server_name("custom-spu-5001", "10.0.0.1"), "10.0.0.1");
        let t = ClientTls {
            server_name: Some("cloud.example".into()),
            ..t
        };
        assert_eq!(t.sc_server_name("h.example:1"), "cloud.example");
        assert_eq!(
            t.spu_server_name("custom-spu-5001", "10.0.0.1"),
            "custom-spu-5001.cloud.example"
        );
        let t = ClientTls {
            server_name: Some("10.0.0.9".into()),
            ..t
        };
        assert_eq!(t.spu_server_name("custom-spu-5001", "10.0.0.1"), "10.0.0.1");
    }
}
