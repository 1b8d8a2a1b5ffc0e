//! Invalid input never reaches the wire: every value outside a range is rejected with an
//! error naming the field and the range, every value inside is accepted, and a counting
//! server shows that no request is sent for an invalid value.

use crate::common;

use std::time::Duration;

use ccgw::{AgentId, Error, GatewayClient, Guid, RestCause, RestDuration};
use ccgw_testkit::{Reply, TestServer};
use common::{SENTINEL, plain_client};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;

fn range_message(e: &ccgw::Error, field: &str, range: &str) {
    let text = e.to_string();
    assert!(
        matches!(e, ccgw::Error::InvalidArgument { field: f, .. } if *f == field),
        "{e:?}"
    );
    assert!(text.contains(field) && text.contains(range), "{text}");
}

proptest! {
    #[test]
    fn agent_ids(id in any::<u32>()) {
        match AgentId::new(id) {
            Ok(a) => { prop_assert!((101..=999_999).contains(&id)); prop_assert_eq!(a.get(), id); }
            Err(e) => {
                prop_assert!(!(101..=999_999).contains(&id));
                range_message(&e, "agent id", "101..=999999");
                prop_assert!(e.to_string().contains(&id.to_string()));
            }
        }
        prop_assert_eq!(id.to_string().parse::<AgentId>().ok(), AgentId::new(id).ok());
    }

    #[test]
    fn rest_durations(secs in any::<u32>(), nanos in 0u32..1_000_000_000) {
        let inside = (1..=86_399).contains(&secs);
        match RestDuration::from_secs(secs) {
            Ok(d) => { prop_assert!(inside); prop_assert_eq!(d.as_secs(), secs); }
            Err(e) => { prop_assert!(!inside); range_message(&e, "rest duration", "1..=86399"); }
        }
        let from_duration = RestDuration::try_from(Duration::new(u64::from(secs), nanos));
        prop_assert_eq!(from_duration.is_ok(), inside && nanos == 0);
    }

    #[test]
    fn rest_causes(code in any::<u32>(), negative in i64::MIN..0) {
        match RestCause::try_from(code) {
            Ok(c) => { prop_assert!(code <= 255); prop_assert_eq!(u32::from(c.get()), code); }
            Err(e) => { prop_assert!(code > 255); range_message(&e, "rest cause", "0..=255"); }
        }
        let e = RestCause::try_from(negative).expect_err("negative");
        range_message(&e, "rest cause", "0..=255");
    }

    #[test]
    fn agent_ids_from_i64(id in any::<i64>()) {
        prop_assert_eq!(AgentId::try_from(id).is_ok(), (101..=999_999).contains(&id));
    }
}

/// What an integrator's service does with untrusted input: parse, then call. For invalid
/// values the call must fail before anything is sent.
async fn rest_from_text(
    client: &GatewayClient,
    agent: &str,
    secs: &str,
    cause: &str,
) -> Result<(), Error> {
    let agent = client.agent(agent.parse::<AgentId>()?, Guid::new(SENTINEL)?, None);
    agent
        .rest(secs.parse::<RestDuration>()?, cause.parse::<RestCause>()?)
        .await
}

#[test]
fn no_request_is_sent_for_an_invalid_value() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    ccgw_testkit::logs::capture();
    runtime.block_on(async {
        let mut server = TestServer::start(Reply::envelope("0", Some("{}")))
            .await
            .expect("server");
        let client = plain_client(
            &server.base_url(),
            Duration::from_secs(5),
            Duration::from_secs(5),
        );
        let invalid = (any::<i64>(), any::<i64>(), any::<i64>()).prop_filter(
            "at least one value out of range",
            |(a, t, c)| {
                !(101..=999_999).contains(a) || !(1..=86_399).contains(t) || !(0..=255).contains(c)
            },
        );
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let cases: Vec<(i64, i64, i64)> = (0..300)
            .map(|_| invalid.new_tree(&mut runner).expect("a case").current())
            .collect();
        for (a, t, c) in &cases {
            let err = rest_from_text(&client, &a.to_string(), &t.to_string(), &c.to_string())
                .await
                .expect_err("invalid input must be refused");
            assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
            assert!(err.to_string().contains("must be within"), "{err}");
        }
        for text in ["", "abc", "1e3", "0x10", " 600 s", "-", "+5"] {
            let err = rest_from_text(&client, "101", text, "3")
                .await
                .expect_err(text);
            assert!(
                matches!(err, Error::InvalidArgument { .. }),
                "{text:?}: {err:?}"
            );
        }
        assert_eq!(
            server.connections(),
            0,
            "{} invalid inputs opened a connection",
            cases.len()
        );

        // The counter does count: one valid call is one request.
        rest_from_text(&client, "101", "600", "3")
            .await
            .expect("valid input is sent");
        assert!(server.next_request(Duration::from_secs(5)).await.is_some());
        assert_eq!(server.connections(), 1);
    });
    common::assert_logs_clean();
}

/// A confirmation's wait beyond a day is refused by name before anything is sent (a
/// deadline that far would overflow the clock).
#[tokio::test]
async fn a_wait_beyond_a_day_is_refused_before_sending() {
    let server = TestServer::start(Reply::envelope("0", None))
        .await
        .expect("server");
    let client = plain_client(
        &server.base_url(),
        Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let agent = common::agent(&client);
    let rest = || {
        agent.rest(
            RestDuration::from_secs(600).expect("in range"),
            RestCause::from(3u8),
        )
    };
    for wait in [Duration::MAX, Duration::from_secs(24 * 60 * 60 + 1)] {
        let e = rest().confirmed(wait).await.expect_err("refused");
        assert!(
            matches!(&e, Error::InvalidArgument { field: "wait", .. }),
            "{e:?}"
        );
        let e = rest().ensured(wait).await.expect_err("refused");
        assert!(e.to_string().contains("wait"), "{e}");
    }
    assert_eq!(server.connections(), 0, "nothing sent");
}
