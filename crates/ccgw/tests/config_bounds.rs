//! `Config` fed arbitrary values: building a client never panics, and every refusal
//! names the setting at fault.

use std::time::Duration;

use proptest::prelude::*;

/// A CA certificate (self-signed, valid for a century), so that building gets past the
/// trust roots.
const CA: &str = include_str!("fixtures/ca.pem");

/// The settings a refusal may name: the fields of `Config`.
const SETTINGS: [&str; 13] = [
    "connect_timeout",
    "request_timeout",
    "poll_timeout",
    "poll_hold",
    "guid_grace",
    "pool_idle_timeout",
    "backoff_min",
    "backoff_max",
    "max_connections",
    "set_up_concurrency",
    "response_limit",
    "user agent",
    "base URL",
];

/// Durations users pick, the edges, and anything at all.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_secs(24 * 60 * 60)),
        (0u64..200_000).prop_map(Duration::from_millis),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

fn count() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0), Just(usize::MAX), 1usize..100_000, any::<usize>()]
}

prop_compose! {
    fn config()(
        timeouts in proptest::array::uniform8(duration()),
        max_connections in count(),
        set_up_concurrency in count(),
        response_limit in count(),
        max_attempts in any::<Option<u32>>(),
        take_back in any::<u32>(),
    ) -> ccgw::Config {
        let [connect, request, poll, hold, grace, idle, min, max] = timeouts;
        ccgw::Config {
            url: Some("https://127.0.0.1:9".to_owned()),
            ca_pem: Some(CA.to_owned()),
            system_roots: false,
            connect_timeout: connect,
            request_timeout: request,
            poll_timeout: poll,
            poll_hold: hold,
            guid_grace: grace,
            pool_idle_timeout: idle,
            backoff_min: min,
            backoff_max: max,
            max_connections,
            set_up_concurrency,
            response_limit,
            max_attempts,
            take_back,
            ..ccgw::Config::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_config_builds_or_names_the_setting_at_fault(config in config()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        match config.build_client() {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                prop_assert!(
                    SETTINGS.iter().any(|s| text.contains(s)),
                    "a refusal that names no setting: {text}"
                );
            }
        }
    }
}

#[test]
fn the_defaults_with_a_gateway_build() {
    let config = ccgw::Config {
        url: Some("https://127.0.0.1:9".to_owned()),
        ca_pem: Some(CA.to_owned()),
        system_roots: false,
        ..ccgw::Config::default()
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = runtime.enter();
    config.build_client().expect("the defaults build");
}

#[test]
fn a_duration_beyond_a_day_is_refused_by_name() {
    for setting in ["connect_timeout", "pool_idle_timeout", "backoff_max"] {
        let mut config = ccgw::Config {
            url: Some("https://127.0.0.1:9".to_owned()),
            ca_pem: Some(CA.to_owned()),
            system_roots: false,
            ..ccgw::Config::default()
        };
        let too_long = Duration::from_secs(24 * 60 * 60 + 1);
        match setting {
            "connect_timeout" => config.connect_timeout = too_long,
            "pool_idle_timeout" => config.pool_idle_timeout = too_long,
            _ => config.backoff_max = too_long,
        }
        let e = config.build_client().expect_err("refused");
        assert!(
            e.to_string()
                .contains(&format!("{setting} (86401s) must be at most")),
            "{e}"
        );
    }
}
