//! The pump against a scripted source, on tokio's paused clock: no server, no sleeping.

use std::collections::VecDeque;

use super::*;

/// One answer of the scripted gateway to a poll.
enum Answer {
    Event(&'static str),
    Quiet,
    Refused(&'static str),
    Lost,
    Unreachable,
    Untrusted,
}

/// A source that answers polls from a script (then holds every poll), recording when
/// each poll, refresh and state read happened.
#[derive(Clone)]
struct Script {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    log: Arc<Mutex<Vec<(Duration, &'static str)>>>,
    start: Instant,
    /// What each refresh answers: whether it must be tried again.
    refresh_fails: Arc<Mutex<u32>>,
}

impl Script {
    fn new(answers: Vec<Answer>) -> Script {
        Script {
            answers: Arc::new(Mutex::new(answers.into())),
            log: Arc::default(),
            start: Instant::now(),
            refresh_fails: Arc::default(),
        }
    }

    fn note(&self, what: &'static str) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((self.start.elapsed(), what));
    }

    fn log(&self) -> Vec<(Duration, &'static str)> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn pauses_between_polls(&self) -> Vec<Duration> {
        let polls: Vec<Duration> = self
            .log()
            .into_iter()
            .filter(|(_, w)| *w == "poll")
            .map(|(t, _)| t)
            .collect();
        polls.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

fn gateway(code: &str) -> Error {
    Error::Gateway {
        operation: ccgw_client::operations::GET_AGENT_EVENT.log_name,
        code: RetCode::parse(code),
        message: String::new(),
    }
}

impl Source for Script {
    fn agent_id(&self) -> u32 {
        101
    }

    fn backoff_max(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn poll(&self) -> impl Future<Output = Result<Option<AgentEvent>, Error>> + Send {
        self.note("poll");
        let next = self
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        async move {
            match next {
                Some(Answer::Event(name)) => Ok(Some(AgentEvent::Other {
                    event_type: name.to_owned(),
                    content: "null".to_owned(),
                })),
                Some(Answer::Quiet) => Ok(None),
                Some(Answer::Refused(code)) => Err(gateway(code)),
                Some(Answer::Lost) => Err(Error::OutcomeUnknown {
                    reason: "no answer".to_owned(),
                    source: None,
                }),
                Some(Answer::Unreachable) => Err(Error::Connect("refused".into())),
                Some(Answer::Untrusted) => Err(Error::Tls("unknown issuer".into())),
                None => std::future::pending().await,
            }
        }
    }

    fn refresh(&self) -> impl Future<Output = bool> + Send {
        self.note("refresh");
        let mut fails = self
            .refresh_fails
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let again = *fails > 0;
        *fails = fails.saturating_sub(1);
        std::future::ready(again)
    }

    fn state(&self) -> impl Future<Output = Option<AgentState>> + Send {
        self.note("state");
        std::future::ready(Some(AgentState::Rest))
    }
}

fn names(events: &[Result<AgentEvent, Error>]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Ok(event) => event.event_type().to_owned(),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

/// Reads until the stream ends or `limit` items, on the paused clock.
async fn read(stream: &mut EventStream, limit: usize) -> Vec<Result<AgentEvent, Error>> {
    let mut items = Vec::new();
    while items.len() < limit {
        match tokio::time::timeout(Duration::from_secs(600), stream.next()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) | Err(_) => break,
        }
    }
    items
}

#[tokio::test(start_paused = true)]
async fn events_flow_with_the_documented_pause_between_polls() {
    let script = Script::new(vec![Answer::Event("A"), Answer::Quiet, Answer::Event("B")]);
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    assert_eq!(names(&read(&mut stream, 2).await), ["A", "B"]);
    // A then a quiet poll then B: two pauses so far, each the documented one.
    assert_eq!(script.pauses_between_polls()[..2], [REPOLL, REPOLL]);
    assert!(
        lock(&slot).is_some(),
        "the pump runs while a stream is open"
    );
}

/// The pauses between the polls of five refusals with `code`, then an event.
async fn pauses_after_five(code: &'static str) -> Vec<Duration> {
    let mut answers: Vec<Answer> = (0..5).map(|_| Answer::Refused(code)).collect();
    answers.push(Answer::Event("A"));
    let script = Script::new(answers);
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    assert_eq!(names(&read(&mut stream, 1).await), ["A"]);
    script.pauses_between_polls()
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_doubling_up_to_the_source_s_maximum() {
    let s = Duration::from_millis;
    assert_eq!(
        pauses_after_five("000-007").await,
        [s(500), s(1000), s(2000), s(4000), s(4000)]
    );
}

/// A switch-over (`000-004`) ends within seconds: the polls follow it at most a second
/// apart, so the session is found lost (or back) soon after it ends.
#[tokio::test(start_paused = true)]
async fn a_switch_over_is_followed_at_most_a_second_apart() {
    let s = Duration::from_millis;
    assert_eq!(
        pauses_after_five("000-004").await,
        [s(500), s(1000), s(1000), s(1000), s(1000)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rotating_guid_is_tolerated_five_times_then_ends_the_streams() {
    let mut answers: Vec<Answer> = (0..4).map(|_| Answer::Refused("000-003")).collect();
    answers.push(Answer::Event("A"));
    answers.extend((0..5).map(|_| Answer::Refused("000-003")));
    let script = Script::new(answers);
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    let items = read(&mut stream, 10).await;
    let shown = names(&items);
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(shown[0], "A");
    assert!(shown[1].contains("000-003"), "{shown:?}");
    assert!(lock(&slot).is_none(), "the pump has left its slot");
}

#[tokio::test(start_paused = true)]
async fn a_signed_out_session_ends_the_streams_at_once() {
    let script = Script::new(vec![Answer::Refused("100-006")]);
    let slot = PumpSlot::default();
    let (mut first, mut second) = (subscribe(&slot, &script), subscribe(&slot, &script));
    for stream in [&mut first, &mut second] {
        let shown = names(&read(stream, 5).await);
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].contains("100-006"), "{shown:?}");
    }
    assert_eq!(script.log().len(), 1, "one poll for both streams");
}

/// A gateway that came back with a certificate this client does not trust: no retry
/// mends it, so the streams end at once with the TLS error (not after two minutes).
#[tokio::test(start_paused = true)]
async fn an_untrusted_certificate_ends_the_streams_at_once() {
    let script = Script::new(vec![
        Answer::Event("AgentOther_InService"),
        Answer::Untrusted,
    ]);
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    let read = read(&mut stream, 5).await;
    assert!(
        matches!(read.as_slice(), [Ok(_), Err(Error::Tls(_))]),
        "{read:?}"
    );
    assert_eq!(script.log().len(), 2, "no poll after the TLS failure");
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_refreshes_the_guid_then_reports_a_gap_with_the_state() {
    let script = Script::new(vec![Answer::Lost, Answer::Event("A")]);
    *script
        .refresh_fails
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = 1;
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    let items = read(&mut stream, 2).await;
    assert!(
        matches!(
            items.first(),
            Some(Ok(AgentEvent::Gap {
                state: Some(AgentState::Rest)
            }))
        ),
        "{:?}",
        names(&items)
    );
    assert_eq!(names(&items)[1], "A");
    let order: Vec<&str> = script.log().into_iter().map(|(_, w)| w).collect();
    // The refresh that must be tried again comes first; no poll until it succeeds.
    assert_eq!(order[..5], ["poll", "refresh", "refresh", "state", "poll"]);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_gateway_ends_the_streams_after_two_minutes() {
    let answers = (0..200).map(|_| Answer::Unreachable).collect();
    let script = Script::new(answers);
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    let started = Instant::now();
    let shown = names(&read(&mut stream, 5).await);
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].contains("events could not be polled for 120s"),
        "{shown:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= UNREACHABLE_LIMIT && took < UNREACHABLE_LIMIT + Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_pump_stops_when_its_last_stream_is_dropped() {
    let answers = (0..100).map(|_| Answer::Quiet).collect();
    let script = Script::new(answers);
    let slot = PumpSlot::default();
    let stream = subscribe(&slot, &script);
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(5);
    while lock(&slot).is_some() && Instant::now() < deadline {
        tokio::time::sleep(REPOLL).await;
    }
    assert!(lock(&slot).is_none(), "the pump left its slot");
    let polls = script.log().len();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(script.log().len(), polls, "no poll after the pump stopped");
}

#[tokio::test(start_paused = true)]
async fn a_stopped_pump_ends_its_streams_without_an_error() {
    let script = Script::new(Vec::new());
    let slot = PumpSlot::default();
    let mut stream = subscribe(&slot, &script);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop(&slot);
    assert!(read(&mut stream, 5).await.is_empty());
}
