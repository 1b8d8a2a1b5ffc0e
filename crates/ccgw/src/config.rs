//! One configuration for a deployment: a TOML file, `CCGW_*` environment variables, or
//! both (the variables win). The one place the client's defaults live.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, config};

/// The settings of a [`GatewayClient`](crate::GatewayClient) and of its
/// [supervised sessions](crate::SupervisedAgent), as a deployment writes them down, and
/// the one place their defaults live. Every key is optional except `url`. In code, set
/// the fields over [`Config::default`]; in a deployment, a TOML file and `CCGW_*`
/// variables ([`Config::load`]); [`Config::settings`] lists every key with its variable
/// and default (`ccgw help config` prints them). [`build_client`](Config::build_client)
/// checks the settings together.
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The gateway's base URL (`CCGW_URL`).
    pub url: Option<String>,
    /// Further gateways (nodes or load balancers), tried in order after `url`
    /// (`CCGW_FALLBACK_URLS`, comma separated). Every sign-in — the first, and each
    /// recovery of a [supervised session](crate::SupervisedAgent) — tries `url` first,
    /// then these in order, moving on only when a gateway did not take the request:
    /// nothing reached it ([`Disposition::Resend`](crate::Disposition::Resend)) or it
    /// answered `000-004` (switching over). A session then stays on the gateway that
    /// signed it in, with the load balancer's cookie from its sign-in answer.
    pub fallback_urls: Vec<String>,
    /// A PEM file of CA certificates to trust (`CCGW_CA_FILE`), besides the system's
    /// roots or instead of them (`system_roots`). Gateways usually present certificates
    /// of a private CA.
    pub ca_file: Option<PathBuf>,
    /// CA certificates to trust, as PEM text held in memory (`CCGW_CA_PEM`), for a
    /// service that gets its trust roots from elsewhere than a file.
    pub ca_pem: Option<String>,
    /// Whether the system's roots are trusted too (`CCGW_SYSTEM_ROOTS`).
    pub system_roots: bool,
    /// Allow a plain `http://` URL, for local tests only (`CCGW_ALLOW_HTTP`).
    pub allow_http: bool,
    /// How long a connection (TCP and TLS) may take (`CCGW_CONNECT_TIMEOUT`, default 5 s).
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// How long a request may take, from sending to the last byte of the answer
    /// (`CCGW_TIMEOUT`, the command line's name; default 30 s). Event polls have their own.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long one event poll may take (`CCGW_POLL_TIMEOUT`, default 40 s); longer than
    /// `poll_hold`.
    #[serde(with = "duration")]
    pub poll_timeout: Duration,
    /// How long the gateway holds a quiet event poll (`CCGW_POLL_HOLD`, default 10 s, its
    /// documented long poll).
    #[serde(with = "duration")]
    pub poll_hold: Duration,
    /// How long the gateway keeps accepting a Guid after rotating it (`CCGW_GUID_GRACE`,
    /// default 120 s: `GUIDTIMEOUT` on real gateways); longer than `poll_hold`. The event
    /// stream's pauses after failures stay within it.
    #[serde(with = "duration")]
    pub guid_grace: Duration,
    /// The largest answer body read, in bytes (`CCGW_RESPONSE_LIMIT`, default 64 KiB).
    pub response_limit: usize,
    /// Connections open to one gateway at most (`CCGW_MAX_CONNECTIONS`, default 16384,
    /// at most 1,000,000), counted apart for event polls and for everything else, so
    /// that held polls never take the connection a rest call needs; a request beyond
    /// them waits for a free one within its timeout. Idle ones are kept, up to as many,
    /// for `pool_idle_timeout`.
    pub max_connections: usize,
    /// Sign-ins in flight at once through this client, and connections being opened
    /// (TCP connect and TLS handshake) at once to each gateway, for event polls and for
    /// other calls each (`CCGW_SET_UP_CONCURRENCY`, default 64, at most 1,000,000): a
    /// start-up or a failover of thousands of agents queues its sign-ins and its
    /// handshakes instead of sending them all at once (which overflows a gateway's
    /// listen queue: a dropped connection attempt is tried again only after a second).
    /// A sign-in's wait for its turn is not part of its timeout; a connection's is part
    /// of its request's timeout, not of the connect timeout.
    pub set_up_concurrency: usize,
    /// How long an idle pooled connection is kept (`CCGW_POOL_IDLE_TIMEOUT`, default 90 s).
    #[serde(with = "duration")]
    pub pool_idle_timeout: Duration,
    /// The `User-Agent` header (`CCGW_USER_AGENT`, default `ccgw/<version>`).
    pub user_agent: String,
    /// A supervised session's first pause after a failed sign-in (`CCGW_BACKOFF_MIN`,
    /// default 500 ms), doubled after each failure.
    #[serde(with = "duration")]
    pub backoff_min: Duration,
    /// A supervised session's longest pause (`CCGW_BACKOFF_MAX`, default 30 s). Each
    /// pause is drawn between half of it and all of it, so agents that lost their
    /// sessions together do not come back in step.
    #[serde(with = "duration")]
    pub backoff_max: Duration,
    /// Consecutive failed sign-ins after which a supervised session gives up
    /// (`CCGW_MAX_ATTEMPTS`; absent: never, as long as the failures are passing ones). A
    /// refusal that cannot pass (wrong password, `100-015`, …) gives up at once.
    pub max_attempts: Option<u32>,
    /// How many times a supervised session is taken back after another holder took it
    /// over (`CCGW_TAKE_BACK`, default 0: it reports it and stops, so two supervisors of
    /// one agent do not take it from each other for ever).
    pub take_back: u32,
    /// Further texts never to be shown: masked, like the Guids, cookies and passwords the
    /// client knows by itself, in every error and log line (e.g. a password the caller
    /// read for other agents). Texts shorter than 4 characters are not looked for. Not
    /// read from files or the environment, not serialized, not in `Debug`.
    #[serde(skip)]
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("fallback_urls", &self.fallback_urls)
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "(PEM)"))
            .field("system_roots", &self.system_roots)
            .field("allow_http", &self.allow_http)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_hold", &self.poll_hold)
            .field("guid_grace", &self.guid_grace)
            .field("response_limit", &self.response_limit)
            .field("max_connections", &self.max_connections)
            .field("set_up_concurrency", &self.set_up_concurrency)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("user_agent", &self.user_agent)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("max_attempts", &self.max_attempts)
            .field("take_back", &self.take_back)
            .field(
                "secrets",
                &format_args!("<{} redacted>", self.secrets.len()),
            )
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: None,
            fallback_urls: Vec::new(),
            ca_file: None,
            ca_pem: None,
            system_roots: true,
            allow_http: false,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            poll_timeout: Duration::from_secs(40),
            poll_hold: Duration::from_secs(10),
            guid_grace: Duration::from_secs(120),
            response_limit: ccgw_client::DEFAULT_RESPONSE_LIMIT,
            max_connections: 16_384,
            set_up_concurrency: 64,
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: concat!("ccgw/", env!("CARGO_PKG_VERSION")).to_owned(),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_attempts: None,
            take_back: 0,
            secrets: Vec::new(),
        }
    }
}

/// What kind of value a variable holds, to turn its text into TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Duration,
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
    ("connect_timeout", "CCGW_CONNECT_TIMEOUT", Kind::Duration),
    ("request_timeout", "CCGW_TIMEOUT", Kind::Duration),
    ("poll_timeout", "CCGW_POLL_TIMEOUT", Kind::Duration),
    ("poll_hold", "CCGW_POLL_HOLD", Kind::Duration),
    ("guid_grace", "CCGW_GUID_GRACE", Kind::Duration),
    ("response_limit", "CCGW_RESPONSE_LIMIT", Kind::Number),
    ("max_connections", "CCGW_MAX_CONNECTIONS", Kind::Number),
    (
        "set_up_concurrency",
        "CCGW_SET_UP_CONCURRENCY",
        Kind::Number,
    ),
    (
        "pool_idle_timeout",
        "CCGW_POOL_IDLE_TIMEOUT",
        Kind::Duration,
    ),
    ("user_agent", "CCGW_USER_AGENT", Kind::Text),
    ("backoff_min", "CCGW_BACKOFF_MIN", Kind::Duration),
    ("backoff_max", "CCGW_BACKOFF_MAX", Kind::Duration),
    ("max_attempts", "CCGW_MAX_ATTEMPTS", Kind::Number),
    ("take_back", "CCGW_TAKE_BACK", Kind::Number),
];

/// One setting of a [`Config`] as an operator sees it: its key in the file, its
/// variable, its value and its default as text (`ca_pem` shown by its size only).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The key in a configuration file (`request_timeout`).
    pub key: &'static str,
    /// The environment variable (`CCGW_TIMEOUT`).
    pub variable: &'static str,
    /// This configuration's value (empty when unset).
    pub value: String,
    /// The default value (empty when unset).
    pub default: String,
}

impl Config {
    /// Every setting with its variable, this configuration's value and the default, in
    /// the order of the configuration's fields. [`Config::secrets`] is not among them.
    ///
    /// ```
    /// let settings = ccgw::Config::default().settings();
    /// let timeout = settings.iter().find(|s| s.key == "request_timeout").unwrap();
    /// assert_eq!((timeout.variable, timeout.default.as_str()), ("CCGW_TIMEOUT", "30s"));
    /// ```
    pub fn settings(&self) -> Vec<Setting> {
        let shown = |config: &Config| {
            let mut shown = config.clone();
            if let Some(pem) = &mut shown.ca_pem {
                *pem = format!("(PEM, {} bytes)", pem.len());
            }
            toml::Table::try_from(&shown).unwrap_or_default()
        };
        let (values, defaults) = (shown(self), shown(&Config::default()));
        let text = |table: &toml::Table, key: &str| match table.get(key) {
            None => String::new(),
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        VARIABLES
            .iter()
            .map(|&(key, variable, _)| Setting {
                key,
                variable,
                value: text(&values, key),
                default: text(&defaults, key),
            })
            .collect()
    }

    /// Reads a configuration from TOML text. Unknown keys and ill-typed values are
    /// errors naming the key and line.
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        toml::from_str(text)
            .map_err(|e| config(&format!("the configuration is invalid: {e}"), None))
    }

    /// The file (if any), then the process's `CCGW_*` variables over it.
    pub fn load(file: Option<&Path>) -> Result<Config, Error> {
        Self::load_with(file, |name| std::env::var(name).ok())
    }

    /// [`load`](Self::load) with the variables from `lookup` instead of the process's
    /// environment.
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
            table.insert(key.to_owned(), from_variable(key, variable, &text, kind)?);
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
}

fn from_variable(key: &str, variable: &str, text: &str, kind: Kind) -> Result<toml::Value, Error> {
    let text = text.trim();
    Ok(match kind {
        Kind::Text => toml::Value::String(text.to_owned()),
        Kind::Duration => {
            parse_duration(text).map_err(|e| config(&format!("{variable} ({key}): {e}"), None))?;
            toml::Value::String(text.to_owned())
        }
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
            .build_client()
            .map(drop)
            .expect_err("refused");
        assert!(
            refused
                .to_string()
                .contains("backoff_min (10s) must not be longer than backoff_max (5s)"),
            "{refused}"
        );
        read("5s", "5s")
            .build_client()
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
