//! Fluvio's profile file (`$FLV_PROFILE_PATH`, else `~/.fluvio/config`): the endpoint and TLS settings
//! of the current profile, so people who already use Fluvio connect with zero configuration.
//!
//! ```toml
//! version = "2.0"
//! current_profile = "cloud"
//! [profile.cloud]
//! cluster = "cloud"
//! [cluster.cloud]
//! endpoint = "sc.example.com:9003"        # `addr` is an accepted alias
//! [cluster.cloud.tls]
//! tls_policy = "verified"                 # or "disabled" (default), "anonymous"
//! tls_source = "files"                    # or "inline": the same fields hold PEM text
//! [cluster.cloud.tls.certs]
//! domain = "sc.example.com"               # server name; SPUs are <spu-name>.<domain>
//! ca_cert = "/path/ca.crt"
//! cert = "/path/client.crt"               # client certificate and key (mutual TLS)
//! key = "/path/client.key"
//! ```

use std::path::{Path, PathBuf};

use headwater::tls::{PemSource, TlsConfig};
use headwater::{Error, ErrorKind};
use toml::{Table, Value};

/// The current profile's cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub endpoint: String,
    pub tls: TlsConfig,
}

/// Where the profile file is: `$FLV_PROFILE_PATH` (must exist), else `~/.fluvio/config` (if it exists).
pub fn profile_path() -> Option<(PathBuf, bool)> {
    if let Some(p) = std::env::var_os("FLV_PROFILE_PATH").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some((Path::new(&home).join(".fluvio").join("config"), false))
}

/// The current profile from the profile file, `None` when there is no file (and none was asked for).
pub fn load_current() -> Result<Option<Profile>, Error> {
    let Some((path, required)) = profile_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => {
            return Err(bad(
                &path.display().to_string(),
                format!("cannot read it: {e}"),
            ))
        }
    };
    parse(&text, &path.display().to_string()).map(Some)
}

fn bad(origin: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "Fluvio profile file {origin}: {msg} (or pass --endpoint / set HEADWATER_ENDPOINT)"
        ),
    )
}

fn str_of<'a>(t: &'a Table, key: &str, origin: &str, at: &str) -> Result<Option<&'a str>, Error> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(origin, format!("`{at}.{key}` must be a string"))),
    }
}

fn table_of<'a>(
    t: &'a Table,
    key: &str,
    origin: &str,
    at: &str,
) -> Result<Option<&'a Table>, Error> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::Table(x)) => Ok(Some(x)),
        Some(_) => Err(bad(origin, format!("`{at}.{key}` must be a table"))),
    }
}

/// Parses a profile file's text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Profile, Error> {
    let root: Table = text
        .parse()
        .map_err(|e: toml::de::Error| bad(origin, format!("not valid TOML: {}", e.message())))?;
    let name = str_of(&root, "current_profile", origin, "")?
        .ok_or_else(|| bad(origin, "no current_profile"))?
        .to_string();
    let profiles = table_of(&root, "profile", origin, "")?
        .ok_or_else(|| bad(origin, "no [profile] section"))?;
    let profile = table_of(profiles, &name, origin, "profile")?.ok_or_else(|| {
        bad(
            origin,
            format!("current_profile `{name}` has no [profile.{name}]"),
        )
    })?;
    let cluster_name = str_of(profile, "cluster", origin, &format!("profile.{name}"))?
        .ok_or_else(|| bad(origin, format!("[profile.{name}] names no cluster")))?;
    let cluster = table_of(&root, "cluster", origin, "")?
        .and_then(|c| c.get(cluster_name))
        .and_then(Value::as_table)
        .ok_or_else(|| {
            bad(
                origin,
                format!("profile `{name}` uses cluster `{cluster_name}`, which has no [cluster.{cluster_name}]"),
            )
        })?;
    let at = format!("cluster.{cluster_name}");
    let endpoint = match str_of(cluster, "endpoint", origin, &at)? {
        Some(e) => e,
        None => str_of(cluster, "addr", origin, &at)?
            .ok_or_else(|| bad(origin, format!("[{at}] has no endpoint")))?,
    }
    .to_string();
    let tls = match table_of(cluster, "tls", origin, &at)? {
        None => TlsConfig::default(),
        Some(t) => tls_policy(t, origin, &format!("{at}.tls"))?,
    };
    Ok(Profile {
        name,
        endpoint,
        tls,
    })
}

fn tls_policy(t: &Table, origin: &str, at: &str) -> Result<TlsConfig, Error> {
    let policy = str_of(t, "tls_policy", origin, at)?.unwrap_or("disabled");
    match policy {
        "disabled" | "disable" => Ok(TlsConfig::default()),
        "anonymous" => Ok(TlsConfig {
            enabled: Some(true),
            insecure_skip_verify: true,
            ..Default::default()
        }),
        "verified" | "verify" => {
            let inline = match str_of(t, "tls_source", origin, at)?.unwrap_or("files") {
                "files" | "file" => false,
                "inline" => true,
                other => {
                    return Err(bad(
                        origin,
                        format!("`{at}.tls_source` must be files or inline, got {other:?}"),
                    ))
                }
            };
            let certs = table_of(t, "certs", origin, at)?.ok_or_else(|| {
                bad(
                    origin,
                    format!("[{at}] is verified but has no [{at}.certs]"),
                )
            })?;
            let at = format!("{at}.certs");
            let src = |key: &str| -> Result<Option<PemSource>, Error> {
                Ok(str_of(certs, key, origin, &at)?
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        if inline {
                            PemSource::Pem(s.as_bytes().to_vec())
                        } else {
                            PemSource::File(PathBuf::from(s))
                        }
                    }))
            };
            Ok(TlsConfig {
                enabled: Some(true),
                ca: src("ca_cert")?,
                cert: src("cert")?,
                key: src("key")?,
                server_name: str_of(certs, "domain", origin, &at)?
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                insecure_skip_verify: false,
            })
        }
        other => Err(bad(
            origin,
            format!("`{at}.tls_policy` must be disabled, anonymous or verified, got {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = r#"
version = "2.0"
current_profile = "local"

[profile.local]
cluster = "local"

[cluster.local]
endpoint = "127.0.0.1:9003"
use_spu_local_address = false

[cluster.local.tls]
tls_policy = "disabled"
"#;

    #[test]
    fn plaintext_local_profile() {
        let p = parse(LOCAL, "test").unwrap();
        assert_eq!(p.name, "local");
        assert_eq!(p.endpoint, "127.0.0.1:9003");
        assert!(!p.tls.is_enabled());
    }

    #[test]
    fn no_tls_table_and_addr_alias() {
        let p = parse(
            "current_profile = \"x\"\n[profile.x]\ncluster = \"c\"\n[cluster.c]\naddr = \"h:1\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(p.endpoint, "h:1");
        assert_eq!(p.tls, TlsConfig::default());
    }

    #[test]
    fn verified_with_files_picks_the_current_profile() {
        let text = r#"
version = "2.0"
current_profile = "prod"
[profile.local]
cluster = "local"
[profile.prod]
cluster = "prod-cluster"
topic = "ignored"
[cluster.local]
endpoint = "127.0.0.1:9003"
[cluster.prod-cluster]
endpoint = "sc.example.com:9003"
[cluster.prod-cluster.tls]
tls_policy = "verified"
tls_source = "files"
[cluster.prod-cluster.tls.certs]
domain = "example.com"
key = "/etc/fluvio/client.key"
cert = "/etc/fluvio/client.crt"
ca_cert = "/etc/fluvio/ca.crt"
"#;
        let p = parse(text, "t").unwrap();
        assert_eq!(p.name, "prod");
        assert_eq!(p.endpoint, "sc.example.com:9003");
        assert!(p.tls.is_enabled() && !p.tls.insecure_skip_verify);
        assert_eq!(p.tls.server_name.as_deref(), Some("example.com"));
        assert_eq!(p.tls.ca, Some(PemSource::File("/etc/fluvio/ca.crt".into())));
        assert_eq!(
            p.tls.cert,
            Some(PemSource::File("/etc/fluvio/client.crt".into()))
        );
        assert_eq!(
            p.tls.key,
            Some(PemSource::File("/etc/fluvio/client.key".into()))
        );
    }

    #[test]
    fn verified_inline_holds_pem_text_and_aliases_work() {
        let text = r#"
current_profile = "cloud"
[profile.cloud]
cluster = "cloud"
[cluster.cloud]
endpoint = "router.cloud.example:9003"
[cluster.cloud.tls]
tls_policy = "verify"
tls_source = "inline"
[cluster.cloud.tls.certs]
domain = "cloud.example"
key = "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"
cert = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
ca_cert = "-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n"
"#;
        let p = parse(text, "t").unwrap();
        match &p.tls.ca {
            Some(PemSource::Pem(b)) => assert!(b.starts_with(b"-----BEGIN CERTIFICATE-----")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(p.tls.key, Some(PemSource::Pem(_))));
        assert_eq!(p.tls.server_name.as_deref(), Some("cloud.example"));
    }

    #[test]
    fn anonymous_encrypts_without_verification() {
        let text = LOCAL.replace("\"disabled\"", "\"anonymous\"");
        let p = parse(&text, "t").unwrap();
        assert!(p.tls.is_enabled());
        assert!(p.tls.insecure_skip_verify);
        assert_eq!(p.tls.ca, None);
    }

    #[test]
    fn broken_profiles_are_config_errors_naming_the_file() {
        for (text, words) in [
            ("not toml [", "not valid TOML"),
            ("version = \"2.0\"\n", "no current_profile"),
            ("current_profile = \"a\"\n[profile.b]\ncluster = \"b\"\n", "has no [profile.a]"),
            (
                "current_profile = \"a\"\n[profile.a]\ncluster = \"gone\"\n",
                "which has no [cluster.gone]",
            ),
            (
                "current_profile = \"a\"\n[profile.a]\ncluster = \"a\"\n[cluster.a]\nuse_spu_local_address = true\n",
                "has no endpoint",
            ),
            (&LOCAL.replace("\"disabled\"", "\"maybe\""), "tls_policy"),
            (&LOCAL.replace("tls_policy = \"disabled\"", "tls_policy = \"verified\""), "certs"),
        ] {
            let e = parse(text, "/home/u/.fluvio/config").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config);
            assert!(e.message.contains("/home/u/.fluvio/config"), "{e}");
            assert!(e.message.contains(words), "{words}: {e}");
        }
    }
}
