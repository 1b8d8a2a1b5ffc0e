//! One configuration for a deployment: a TOML file, `CCGW_*` environment variables, or
//! both (the variables win), checked exactly as [`ClientBuilder::build`] checks it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::client::{
    ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_GUID_GRACE, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POLL_HOLD, DEFAULT_POLL_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RESPONSE_LIMIT,
    DEFAULT_USER_AGENT, GatewayClient, config,
};
use crate::error::Error;
use crate::supervisor::Supervision;

/// The settings of a [`GatewayClient`] and of its [supervised sessions](crate::SupervisedAgent),
/// as a deployment writes them down. Every key is optional except `url`; the defaults
/// are the builder's. The README's "Deploying" section lists every key with its
/// variable.
///
/// ```
/// let config = ccgw::Config::from_toml(r#"
///     url = "https://gateway.example:8043"
///     request_timeout = "5s"
///     poll_timeout = "40s"
/// "#)?;
/// assert_eq!(config.request_timeout, std::time::Duration::from_secs(5));
/// let refused = ccgw::Config::from_toml(r#"
///     url = "https://gateway.example:8043"
///     poll_timeout = "5s"
/// "#)
/// .and_then(|c| c.build_client())
/// .unwrap_err();
/// assert!(refused.to_string().contains("poll_timeout (5s) must be longer than poll_hold (10s)"));
/// # Ok::<(), ccgw::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The gateway's base URL (`CCGW_URL`).
    pub url: Option<String>,
    /// Further gateways, tried in order after `url` (`CCGW_FALLBACK_URLS`, comma
    /// separated); see [`ClientBuilder::fallback_url`].
    pub fallback_urls: Vec<String>,
    /// A PEM file of CA certificates to trust (`CCGW_CA_FILE`).
    pub ca_file: Option<PathBuf>,
    /// CA certificates to trust, as PEM text held in memory (`CCGW_CA_PEM`), for a
    /// service that gets its trust roots from elsewhere than a file.
    pub ca_pem: Option<String>,
    /// Whether the system's roots are trusted too (`CCGW_SYSTEM_ROOTS`).
    pub system_roots: bool,
    /// Allow a plain `http://` URL, for local tests only (`CCGW_ALLOW_HTTP`).
    pub allow_http: bool,
    /// [`ClientBuilder::connect_timeout`] (`CCGW_CONNECT_TIMEOUT`).
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// [`ClientBuilder::request_timeout`] (`CCGW_TIMEOUT`, the command line's name).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// [`ClientBuilder::poll_timeout`] (`CCGW_POLL_TIMEOUT`).
    #[serde(with = "duration")]
    pub poll_timeout: Duration,
    /// [`ClientBuilder::poll_hold`] (`CCGW_POLL_HOLD`).
    #[serde(with = "duration")]
    pub poll_hold: Duration,
    /// [`ClientBuilder::guid_grace`] (`CCGW_GUID_GRACE`).
    #[serde(with = "duration")]
    pub guid_grace: Duration,
    /// [`ClientBuilder::response_limit`], in bytes (`CCGW_RESPONSE_LIMIT`).
    pub response_limit: usize,
    /// [`ClientBuilder::max_connections`] (`CCGW_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// [`ClientBuilder::pool_idle_timeout`] (`CCGW_POOL_IDLE_TIMEOUT`).
    #[serde(with = "duration")]
    pub pool_idle_timeout: Duration,
    /// [`ClientBuilder::user_agent`] (`CCGW_USER_AGENT`).
    pub user_agent: String,
    /// [`Supervision::backoff_min`] (`CCGW_BACKOFF_MIN`).
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// [`Supervision::backoff_max`] (`CCGW_BACKOFF_MAX`).
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    /// [`Supervision::max_attempts`] (`CCGW_MAX_ATTEMPTS`; absent: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        let supervision = Supervision::default();
        Self {
            url: None,
            fallback_urls: Vec::new(),
            ca_file: None,
            ca_pem: None,
            system_roots: true,
            allow_http: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            poll_timeout: DEFAULT_POLL_TIMEOUT,
            poll_hold: DEFAULT_POLL_HOLD,
            guid_grace: DEFAULT_GUID_GRACE,
            response_limit: DEFAULT_RESPONSE_LIMIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            pool_idle_timeout: crate::client::DEFAULT_POOL_IDLE_TIMEOUT,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            backoff_min: supervision.backoff_min,
            backoff_max: supervision.backoff_max,
            max_attempts: supervision.max_attempts,
        }
    }
}

/// What kind of value a variable holds, to turn its text into TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Flag,
    Number,
    List,
}

/// Every key with its variable. A test checks that it lists every field of [`Config`].
const VARIABLES: &[(&str, &str, Kind)] = &[
    ("url", "CCGW_URL", Kind::Text),
    ("fallback_urls", "CCGW_FALLBACK_URLS", Kind::List),
    ("ca_file", "CCGW_CA_FILE", Kind::Text),
    ("ca_pem", "CCGW_CA_PEM", Kind::Text),
    ("system_roots", "CCGW_SYSTEM_ROOTS", Kind::Flag),
    ("allow_http", "CCGW_ALLOW_HTTP", Kind::Flag),
    ("connect_timeout", "CCGW_CONNECT_TIMEOUT", Kind::Text),
    ("request_timeout", "CCGW_TIMEOUT", Kind::Text),
    ("poll_timeout", "CCGW_POLL_TIMEOUT", Kind::Text),
    ("poll_hold", "CCGW_POLL_HOLD", Kind::Text),
    ("guid_grace", "CCGW_GUID_GRACE", Kind::Text),
    ("response_limit", "CCGW_RESPONSE_LIMIT", Kind::Number),
    ("max_connections", "CCGW_MAX_CONNECTIONS", Kind::Number),
    ("pool_idle_timeout", "CCGW_POOL_IDLE_TIMEOUT", Kind::Text),
    ("user_agent", "CCGW_USER_AGENT", Kind::Text),
    ("backoff_min", "CCGW_BACKOFF_MIN", Kind::Text),
    ("backoff_max", "CCGW_BACKOFF_MAX", Kind::Text),
    ("max_attempts", "CCGW_MAX_ATTEMPTS", Kind::Number),
];

impl Config {
    /// Reads a configuration from TOML text. Unknown keys and ill-typed values are
    /// errors naming the key and line.
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        toml::from_str(text)
            .map_err(|e| config(&format!("the configuration is invalid: {e}"), None))
    }

    /// Reads a configuration file (TOML).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, Error> {
        Self::load_with(Some(path.as_ref()), |_| None)
    }

    /// The file (if any), then the process's `CCGW_*` variables over it.
    pub fn load(file: Option<&Path>) -> Result<Config, Error> {
        Self::load_with(file, |name| std::env::var(name).ok())
    }

    /// [`load`](Self::load) with the variables from `lookup` instead of the process's
    /// environment (for tests and embedding).
    pub fn load_with(
        file: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    config(
                        &format!("cannot read the configuration file {}", path.display()),
                        Some(Box::new(e)),
                    )
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    config(
                        &format!("the configuration file {} is invalid: {e}", path.display()),
                        None,
                    )
                })?
            }
        };
        let mut variables = false;
        for &(key, variable, kind) in VARIABLES {
            let Some(text) = lookup(variable) else {
                continue;
            };
            table.insert(key.to_owned(), from_variable(variable, &text, kind)?);
            variables = true;
        }
        let origin = match (file, variables) {
            (Some(p), false) => p.display().to_string(),
            (Some(p), true) => format!("{} with the CCGW_* variables", p.display()),
            (None, _) => "the CCGW_* variables".to_owned(),
        };
        Config::deserialize(table).map_err(|e| {
            config(
                &format!("the configuration ({origin}) is invalid: {e}"),
                None,
            )
        })
    }

    /// The client builder these settings describe (not yet built). Refuses what
    /// [`ClientBuilder::build`] would refuse (the Guid's grace among it: one rule, the
    /// builder's), and a `backoff_min` longer than `backoff_max`.
    pub fn client_builder(&self) -> Result<ClientBuilder, Error> {
        let Some(url) = self.url.as_deref() else {
            return Err(config(
                "no gateway URL: set `url` in the configuration file or CCGW_URL",
                None,
            ));
        };
        if self.backoff_min > self.backoff_max {
            return Err(config(
                &format!(
                    "backoff_min ({:?}) must not be longer than backoff_max ({:?})",
                    self.backoff_min, self.backoff_max
                ),
                None,
            ));
        }
        let mut builder = GatewayClient::builder(url)
            .system_roots(self.system_roots)
            .allow_plain_http(self.allow_http)
            .connect_timeout(self.connect_timeout)
            .request_timeout(self.request_timeout)
            .poll_timeout(self.poll_timeout)
            .poll_hold(self.poll_hold)
            .guid_grace(self.guid_grace)
            .response_limit(self.response_limit)
            .max_connections(self.max_connections)
            .pool_idle_timeout(Some(self.pool_idle_timeout))
            .user_agent(self.user_agent.clone());
        for fallback in &self.fallback_urls {
            builder = builder.fallback_url(fallback);
        }
        if let Some(ca) = &self.ca_file {
            builder = builder.add_root_certificate_pem_file(ca);
        }
        if let Some(pem) = &self.ca_pem {
            builder = builder.add_root_certificate_pem(pem);
        }
        Ok(builder)
    }

    /// Builds the client: [`client_builder`](Self::client_builder), then
    /// [`build`](ClientBuilder::build).
    pub fn build_client(&self) -> Result<GatewayClient, Error> {
        self.client_builder()?.build()
    }

    /// The supervision settings.
    pub fn supervision(&self) -> Supervision {
        let mut supervision = Supervision::default().backoff(self.backoff_min, self.backoff_max);
        supervision.max_attempts = self.max_attempts;
        supervision
    }
}

fn from_variable(variable: &str, text: &str, kind: Kind) -> Result<toml::Value, Error> {
    let text = text.trim();
    Ok(match kind {
        Kind::Text => toml::Value::String(text.to_owned()),
        Kind::List => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        Kind::Flag => match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => toml::Value::Boolean(true),
            "0" | "false" | "no" | "off" | "" => toml::Value::Boolean(false),
            _ => {
                return Err(config(
                    &format!("{variable}={text:?} is not a flag (use true or false)"),
                    None,
                ));
            }
        },
        Kind::Number => match text.parse::<i64>() {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => {
                return Err(config(
                    &format!("{variable}={text:?} is not a whole number"),
                    None,
                ));
            }
        },
    })
}

/// A duration as people write it: `600` (seconds), `90s`, `250ms`, `10m`, `1h30m`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(ccgw::parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(ccgw::parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert!(ccgw::parse_duration("10x").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let wrong = || {
        format!(
            "{text:?} is not a duration: use seconds or units h, m, s, ms (e.g. 10s, 1m30s, 250ms)"
        )
    };
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(wrong());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let number: u64 = rest[..digits].parse().map_err(|_| wrong())?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (Duration::from_millis(1), 2)
        } else if rest.starts_with('h') {
            (Duration::from_secs(3600), 1)
        } else if rest.starts_with('m') {
            (Duration::from_secs(60), 1)
        } else if rest.starts_with('s') {
            (Duration::from_secs(1), 1)
        } else {
            return Err(wrong());
        };
        rest = &rest[len..];
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| unit.checked_mul(n))
            .ok_or_else(wrong)?;
        total = total.checked_add(part).ok_or_else(wrong)?;
    }
    Ok(total)
}

/// Durations in the configuration: text as [`parse_duration`] reads it, or a number of
/// seconds; written back as text.
mod duration {
    use super::*;

    pub(super) fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if value.subsec_millis() == 0 {
            s.serialize_str(&format!("{}s", value.as_secs()))
        } else {
            s.serialize_str(&format!("{}ms", value.as_millis()))
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Seconds(u64),
            Text(String),
        }
        match Written::deserialize(d)? {
            Written::Seconds(secs) => Ok(Duration::from_secs(secs)),
            Written::Text(text) => parse_duration(&text).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_variable() {
        let mut full = Config {
            url: Some("https://a".into()),
            ca_file: Some("ca.pem".into()),
            ca_pem: Some("-----BEGIN CERTIFICATE-----".into()),
            max_attempts: Some(3),
            ..Config::default()
        };
        full.fallback_urls.push("https://b".into());
        let table = toml::Table::try_from(&full).expect("serialisable");
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut listed: Vec<&str> = VARIABLES.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }

    #[test]
    fn durations() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("600"), Ok(s(600)));
        assert_eq!(parse_duration("10m"), Ok(s(600)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration("90s"), Ok(s(90)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        for bad in ["10x", "m", "1h30", "", "-5s", "99999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn load_reads_the_file_then_the_process_variables() {
        let dir = std::env::temp_dir().join(format!("ccgw-config-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("load.toml");
        std::fs::write(
            &file,
            "url = \"https://file.example\"\nresponse_limit = 4321\n",
        )
        .expect("written");
        // Whatever CCGW_* variables this process has, `load` is the file plus them.
        let loaded = Config::load(Some(&file)).expect("read");
        let expected = Config::load_with(Some(&file), |n| std::env::var(n).ok()).expect("read");
        assert_eq!(loaded, expected);
        assert_ne!(loaded, Config::default());
    }

    #[test]
    fn flags_read_both_ways() {
        for (text, value) in [
            ("0", false),
            ("off", false),
            ("false", false),
            ("1", true),
            ("yes", true),
        ] {
            let config = Config::load_with(None, |n| {
                (n == "CCGW_SYSTEM_ROOTS" || n == "CCGW_ALLOW_HTTP").then(|| text.to_owned())
            })
            .expect("a flag");
            assert_eq!(
                (config.system_roots, config.allow_http),
                (value, value),
                "{text}"
            );
        }
        let wrong = Config::load_with(None, |n| (n == "CCGW_ALLOW_HTTP").then(|| "maybe".into()))
            .expect_err("not a flag");
        assert!(
            wrong.to_string().contains("CCGW_ALLOW_HTTP=\"maybe\""),
            "{wrong}"
        );
    }

    #[test]
    fn a_backoff_range_upside_down_is_refused() {
        let read = |min: &str, max: &str| {
            Config::from_toml(&format!(
                "url = \"https://gw.example\"\nbackoff_min = \"{min}\"\nbackoff_max = \"{max}\"\n"
            ))
            .expect("well-formed")
        };
        let refused = read("10s", "5s")
            .client_builder()
            .map(drop)
            .expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("backoff_min (10s) must not be longer than backoff_max (5s)"),
            "{refused}"
        );
        read("5s", "5s")
            .client_builder()
            .map(drop)
            .expect("a fixed pause is fine");
    }

    #[test]
    fn written_back_durations_read_the_same() {
        let config = Config {
            poll_timeout: Duration::from_millis(1500),
            ..Config::default()
        };
        let text = toml::to_string(&config).expect("serialisable");
        assert_eq!(Config::from_toml(&text).expect("readable"), config);
    }
}
