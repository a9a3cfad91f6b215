//! The configuration: a TOML file (`config/bidsieve.toml` documents every key), overridden by
//! `BIDSIEVE_<SECTION>_<KEY>` environment variables, overridden by flags, then validated as a
//! whole. Every problem names its key; secrets are never echoed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::serde_text;

/// Default bid listener.
pub(crate) const DEFAULT_PROXY_LISTEN: &str = "127.0.0.1:8080";
/// Default admin API listener.
pub(crate) const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8081";
/// Default metrics listener.
pub(crate) const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9090";
/// Default store: an SQLite file beside the working directory.
pub(crate) const DEFAULT_STORE_URL: &str = "sqlite://data/bidsieve.db";

/// The whole configuration, checked.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Config {
    pub(crate) proxy: ProxyConfig,
    pub(crate) admin: AdminConfig,
    pub(crate) metrics: MetricsConfig,
    pub(crate) store: StoreConfig,
    pub(crate) auth: AuthConfig,
    pub(crate) uid2: Uid2Config,
    pub(crate) log: LogConfig,
}

/// `[proxy]`: the data plane.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ProxyConfig {
    pub(crate) listen: String,
    /// Empty: `http://{listen}`.
    pub(crate) public_url: String,
    pub(crate) max_body: u64,
    pub(crate) max_decompressed_body: u64,
    #[serde(with = "serde_text")]
    pub(crate) tmax_margin: Duration,
    #[serde(with = "serde_text")]
    pub(crate) max_upstream_wait: Duration,
    pub(crate) max_response_body: u64,
    pub(crate) upstream_max_idle: u64,
    #[serde(with = "serde_text")]
    pub(crate) shutdown_grace: Duration,
    pub(crate) max_connections: u64,
    /// Worker threads of the runtime; 0: one per core.
    pub(crate) workers: u64,
    pub(crate) tag_html: String,
    /// Base64 of a 32-byte key; empty: generated once and kept in the store.
    pub(crate) win_key: String,
    #[serde(with = "serde_text")]
    pub(crate) poll_interval: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        use bidsieve_proxy::settings as d;
        Self {
            listen: DEFAULT_PROXY_LISTEN.to_owned(),
            public_url: String::new(),
            max_body: d::DEFAULT_MAX_BODY as u64,
            max_decompressed_body: d::DEFAULT_MAX_DECOMPRESSED as u64,
            tmax_margin: d::DEFAULT_TMAX_MARGIN,
            max_upstream_wait: d::DEFAULT_MAX_UPSTREAM_WAIT,
            max_response_body: d::DEFAULT_MAX_RESPONSE_BODY as u64,
            upstream_max_idle: 256,
            shutdown_grace: d::DEFAULT_GRACE,
            max_connections: d::DEFAULT_MAX_CONNECTIONS as u64,
            workers: 0,
            tag_html: "<img src=\"https://tag.bidsieve.example/i.gif?s={stream_id}&b={bid_id}&i={imp_id}\" width=\"1\" height=\"1\" style=\"display:none\">".to_owned(),
            win_key: String::new(),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// `[admin]`: the control plane.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AdminConfig {
    pub(crate) listen: String,
    pub(crate) list_inline_max: u64,
    pub(crate) max_body: u64,
    pub(crate) max_list_body: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_ADMIN_LISTEN.to_owned(),
            list_inline_max: 1000,
            max_body: 1024 * 1024,
            max_list_body: 512 * 1024 * 1024,
        }
    }
}

/// `[metrics]`: the Prometheus listener.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MetricsConfig {
    pub(crate) listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_METRICS_LISTEN.to_owned(),
        }
    }
}

/// `[store]`: where the configuration lives.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StoreConfig {
    pub(crate) url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_STORE_URL.to_owned(),
        }
    }
}

/// `[auth]`: admin API sessions.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AuthConfig {
    /// Empty: generated once and kept in the store, with a warning.
    pub(crate) jwt_secret: String,
    #[serde(with = "serde_text")]
    pub(crate) session_idle: Duration,
    #[serde(with = "serde_text")]
    pub(crate) session_max: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            session_idle: Duration::from_secs(2 * 3600),
            session_max: Duration::from_secs(24 * 3600),
        }
    }
}

/// `[uid2]`: the UID2 key refresh; off unless the three first keys are set.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct Uid2Config {
    pub(crate) base_url: String,
    pub(crate) api_key: String,
    pub(crate) secret_key: String,
    #[serde(with = "serde_text")]
    pub(crate) refresh_interval: Duration,
    #[serde(with = "serde_text")]
    pub(crate) timeout: Duration,
}

impl Default for Uid2Config {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: String::new(),
            secret_key: String::new(),
            refresh_interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `[log]`: tracing output.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LogConfig {
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub(crate) level: String,
    /// `text` or `json`.
    pub(crate) format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            format: "text".to_owned(),
        }
    }
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("win_key", &redacted(&self.win_key))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("jwt_secret", &redacted(&self.jwt_secret))
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .finish()
    }
}

impl std::fmt::Debug for Uid2Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uid2Config")
            .field("base_url", &self.base_url)
            .field("api_key", &redacted(&self.api_key))
            .field("secret_key", &redacted(&self.secret_key))
            .field("refresh_interval", &self.refresh_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a secret looks like in debug output.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() {
        "<unset>"
    } else {
        "<redacted>"
    }
}

/// Keys whose values are secrets: never echoed in an error.
const SECRET_KEYS: [&str; 4] = [
    "auth.jwt_secret",
    "proxy.win_key",
    "uid2.api_key",
    "uid2.secret_key",
];

/// Flags that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) values: Vec<(String, String)>,
}

impl Config {
    /// Parses a TOML text (pure; no environment).
    #[cfg(test)]
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        Self::build(text, std::iter::empty(), &Overrides::default())
    }

    /// Reads `path` (when given), applies the process environment and `flags`, validates.
    pub(crate) fn load(path: Option<&Path>, flags: &Overrides) -> Result<Config, String> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?,
            None => String::new(),
        };
        Self::build(&text, std::env::vars(), flags)
    }

    /// File text, then environment, then flags, then validation.
    pub(crate) fn build(
        text: &str,
        env: impl Iterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, String> {
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| format!("config file: {}", one_line(&e.to_string())))?;
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| format!("internal: defaults do not serialize: {e}"))?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("BIDSIEVE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            // Variables of other sections (BIDSIEVE_TEST_PG_URL...) are not configuration.
            let Some(toml::Value::Table(known)) = defaults.get(&section) else {
                continue;
            };
            if !known.contains_key(&key) {
                continue;
            }
            set(&mut table, &defaults, &section, &key, &value, &name)?;
        }
        for (dotted, value) in &flags.values {
            let (section, key) = dotted
                .split_once('.')
                .ok_or_else(|| format!("internal: bad override key {dotted}"))?;
            set(&mut table, &defaults, section, key, value, dotted)?;
        }
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                let inner = e.into_inner().to_string();
                let message = if SECRET_KEYS.contains(&key.as_str()) {
                    "invalid value".to_owned()
                } else {
                    one_line(&inner)
                };
                if key == "." || key.is_empty() {
                    format!("invalid configuration: {message}")
                } else {
                    format!("invalid configuration key `{key}`: {message}")
                }
            })?;
        config.validate()
    }

    /// Checks what types cannot: addresses, URLs, ranges, combinations.
    fn validate(mut self) -> Result<Config, String> {
        let mut problems: BTreeMap<&'static str, String> = BTreeMap::new();
        for (key, value) in [
            ("proxy.listen", &self.proxy.listen),
            ("admin.listen", &self.admin.listen),
            ("metrics.listen", &self.metrics.listen),
        ] {
            if value.parse::<SocketAddr>().is_err() {
                problems.insert(
                    key,
                    format!("`{value}` is not an address like 127.0.0.1:8080"),
                );
            }
        }
        if self.proxy.public_url.is_empty() {
            self.proxy.public_url = format!("http://{}", self.proxy.listen);
        }
        let public = self.proxy.public_url.trim_end_matches('/').to_owned();
        if !(public.starts_with("http://") || public.starts_with("https://"))
            || public.parse::<http::Uri>().is_err()
        {
            problems.insert(
                "proxy.public_url",
                format!("`{public}` is not an absolute http(s) URL"),
            );
        }
        self.proxy.public_url = public;
        let url = &self.store.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            problems.insert(
                "store.url",
                "must start with sqlite: or postgres://".to_owned(),
            );
        }
        for (key, value) in [
            ("proxy.max_body", self.proxy.max_body),
            (
                "proxy.max_decompressed_body",
                self.proxy.max_decompressed_body,
            ),
            ("proxy.max_response_body", self.proxy.max_response_body),
            ("proxy.max_connections", self.proxy.max_connections),
            ("admin.max_body", self.admin.max_body),
            ("admin.max_list_body", self.admin.max_list_body),
        ] {
            if value == 0 {
                problems.insert(key, "must be greater than 0".to_owned());
            }
        }
        for (key, value) in [
            ("proxy.max_upstream_wait", self.proxy.max_upstream_wait),
            ("proxy.poll_interval", self.proxy.poll_interval),
            ("auth.session_idle", self.auth.session_idle),
            ("auth.session_max", self.auth.session_max),
            ("uid2.refresh_interval", self.uid2.refresh_interval),
            ("uid2.timeout", self.uid2.timeout),
        ] {
            if value.is_zero() {
                problems.insert(key, "must be longer than 0".to_owned());
            }
        }
        if !self.proxy.win_key.is_empty() && decode_key(&self.proxy.win_key).is_none() {
            problems.insert("proxy.win_key", "must be the base64 of 32 bytes".to_owned());
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            problems.insert(
                "auth.jwt_secret",
                "must be at least 32 characters".to_owned(),
            );
        }
        let uid2 = [
            &self.uid2.base_url,
            &self.uid2.api_key,
            &self.uid2.secret_key,
        ];
        let set = uid2.iter().filter(|v| !v.is_empty()).count();
        if set != 0 && set != 3 {
            problems.insert(
                "uid2.base_url",
                "uid2.base_url, uid2.api_key and uid2.secret_key are set together or not at all"
                    .to_owned(),
            );
        }
        let base = &self.uid2.base_url;
        if !(base.is_empty() || base.starts_with("http://") || base.starts_with("https://")) {
            problems.insert("uid2.base_url", "must be an http(s) URL".to_owned());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            problems.insert("log.format", "must be `text` or `json`".to_owned());
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems
                .into_iter()
                .map(|(key, why)| format!("invalid configuration key `{key}`: {why}"))
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    /// True when the UID2 key refresh is configured.
    pub(crate) fn uid2_enabled(&self) -> bool {
        !self.uid2.base_url.is_empty()
    }
}

/// The 32 bytes of a base64 key.
pub(crate) fn decode_key(text: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    bytes.try_into().ok()
}

/// Puts one overriding value into the table, typed like the default at that key.
fn set(
    table: &mut toml::Table,
    defaults: &toml::Table,
    section: &str,
    key: &str,
    value: &str,
    source: &str,
) -> Result<(), String> {
    let default = defaults
        .get(section)
        .and_then(|s| s.as_table())
        .and_then(|s| s.get(key));
    let dotted = format!("{section}.{key}");
    let typed = match default {
        Some(toml::Value::Integer(_)) => value
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| {
                format!("invalid configuration key `{dotted}` (from {source}): not a whole number")
            })?,
        Some(toml::Value::Boolean(_)) => value
            .trim()
            .parse::<bool>()
            .map(toml::Value::Boolean)
            .map_err(|_| {
                format!("invalid configuration key `{dotted}` (from {source}): not true or false")
            })?,
        _ => toml::Value::String(value.to_owned()),
    };
    let section_table = table
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = section_table else {
        return Err(format!(
            "invalid configuration: `{section}` must be a table"
        ));
    };
    section_table.insert(key.to_owned(), typed);
    Ok(())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.proxy.listen, "127.0.0.1:8080");
        assert_eq!(c.proxy.public_url, "http://127.0.0.1:8080");
        assert_eq!(c.admin.listen, "127.0.0.1:8081");
        assert_eq!(c.metrics.listen, "127.0.0.1:9090");
        assert_eq!(c.store.url, "sqlite://data/bidsieve.db");
        assert_eq!(c.admin.list_inline_max, 1000);
        assert_eq!(c.uid2.refresh_interval, Duration::from_secs(3600));
        assert!(!c.uid2_enabled());
    }

    #[test]
    fn the_shipped_file_parses_and_matches_the_defaults() {
        let text = include_str!("../../../config/bidsieve.toml");
        let parsed = Config::parse(text).unwrap();
        let defaults = Config::parse("").unwrap();
        assert_eq!(
            toml::to_string(&parsed).unwrap(),
            toml::to_string(&defaults).unwrap()
        );
    }

    #[test]
    fn environment_overrides_file_and_flags_override_environment() {
        let text = "[proxy]\nlisten = \"127.0.0.1:1000\"\ntmax_margin = \"5ms\"\n";
        let c = Config::build(
            text,
            env(&[
                ("BIDSIEVE_PROXY_LISTEN", "127.0.0.1:2000"),
                ("BIDSIEVE_ADMIN_LIST_INLINE_MAX", "7"),
                ("BIDSIEVE_UID2_REFRESH_INTERVAL", "2h"),
                ("BIDSIEVE_TEST_PG_URL", "postgres://ignored"),
                ("BIDSIEVE_PROXY_NOT_A_KEY", "ignored"),
            ]),
            &Overrides {
                values: vec![("admin.listen".into(), "127.0.0.1:3000".into())],
            },
        )
        .unwrap();
        assert_eq!(c.proxy.listen, "127.0.0.1:2000");
        assert_eq!(c.proxy.tmax_margin, Duration::from_millis(5));
        assert_eq!(c.admin.list_inline_max, 7);
        assert_eq!(c.uid2.refresh_interval, Duration::from_secs(7200));
        assert_eq!(c.admin.listen, "127.0.0.1:3000");
    }

    #[test]
    fn a_bad_value_is_one_line_naming_the_key() {
        let err = Config::parse("[proxy]\nmax_body = \"lots\"\n").unwrap_err();
        assert!(err.contains("`proxy.max_body`"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = Config::parse("[proxy]\ntmax_margin = \"10 parsecs\"\n").unwrap_err();
        assert!(err.contains("`proxy.tmax_margin`"), "{err}");
        let err = Config::parse("[proxy]\nlisten = \"nowhere\"\n").unwrap_err();
        assert_eq!(
            err,
            "invalid configuration key `proxy.listen`: `nowhere` is not an address like 127.0.0.1:8080"
        );
        let err = Config::parse("[proxy]\nlisen = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.contains("lisen"), "{err}");
        let err = Config::build(
            "",
            env(&[("BIDSIEVE_ADMIN_LIST_INLINE_MAX", "many")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.contains("`admin.list_inline_max`")
                && err.contains("BIDSIEVE_ADMIN_LIST_INLINE_MAX"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_not_echoed() {
        let err = Config::parse("[proxy]\nwin_key = \"s3cr3t-value\"\n").unwrap_err();
        assert!(err.contains("`proxy.win_key`"), "{err}");
        assert!(!err.contains("s3cr3t-value"), "{err}");
        let err = Config::parse("[uid2]\napi_key = 12\n").unwrap_err();
        assert!(
            err.contains("`uid2.api_key`") && !err.contains("12"),
            "{err}"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Config::parse(
            "[uid2]\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"key-123\"\nsecret_key = \"c2VjcmV0\"\n[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef-x\"\n",
        )
        .unwrap();
        let debug = format!("{c:?}");
        for secret in ["key-123", "c2VjcmV0", "0123456789abcdef0123456789abcdef-x"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn uid2_keys_come_together() {
        let err = Config::parse("[uid2]\nbase_url = \"http://127.0.0.1:1\"\n").unwrap_err();
        assert!(err.contains("`uid2.base_url`"), "{err}");
        let c = Config::parse(
            "[uid2]\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\nsecret_key = \"s\"\n",
        )
        .unwrap();
        assert!(c.uid2_enabled());
    }
}
