//! The documented sequence, one step after the other, each compared with the contract.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ccgw::{
    Agent, AgentId, AgentState, Error, GatewayClient, RestCause, RestDuration, RetCode, SignIn,
};
use ccgw_client::operations;
use tokio::time::Instant;

use super::{Recorder, Row, Verdict, shown};
use crate::failure::Failure;

/// The events seen, with when, shared with the task that reads the stream.
#[derive(Clone, Default, Debug)]
pub(crate) struct Seen(Arc<Mutex<Vec<(Instant, String)>>>);

impl Seen {
    fn names_since(&self, since: Instant) -> Vec<String> {
        let seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, n)| n.clone())
            .collect()
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Follows `agent`'s events until its stream ends.
    fn follow(&self, agent: &Agent) {
        let (seen, mut stream) = (self.clone(), agent.events());
        tokio::spawn(async move {
            while let Some(Ok(event)) = stream.next().await {
                let name = event.event_type().to_owned();
                seen.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((Instant::now(), name));
            }
        });
    }

    /// Waits up to `limit` for `wanted` (in this order) among the events since `since`;
    /// what was seen.
    async fn wait_for(
        &self,
        since: Instant,
        wanted: &[&str],
        limit: Duration,
    ) -> (bool, Vec<String>) {
        let deadline = Instant::now() + limit;
        loop {
            let names = self.names_since(since);
            let mut rest = wanted.iter();
            let mut next = rest.next();
            for name in &names {
                if next.is_some_and(|w| w == name) {
                    next = rest.next();
                }
            }
            if next.is_none() || Instant::now() >= deadline {
                return (next.is_none(), names);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(crate) struct Walk {
    pub(crate) client: GatewayClient,
    pub(crate) id: AgentId,
    pub(crate) sign_in: SignIn,
    pub(crate) hold: Duration,
    pub(crate) cookie: String,
    pub(crate) take_over: bool,
    pub(crate) recorder: Recorder,
    pub(crate) rows: Vec<Row>,
    pub(crate) events: Seen,
}

/// `Ok` as "0", an error as its return code or its text.
fn answered<T>(result: &Result<T, Error>) -> String {
    match result {
        Ok(_) => "0".to_owned(),
        Err(e) => failed(e),
    }
}

/// An error as its return code, or its text when the gateway gave none.
fn failed(e: &Error) -> String {
    e.retcode()
        .map_or_else(|| e.chain().to_string(), |c| c.as_str().to_owned())
}

impl Walk {
    fn row(
        &mut self,
        assumption: impl Into<String>,
        observed: impl Into<String>,
        verdict: Verdict,
    ) {
        self.rows.push(Row {
            assumption: assumption.into(),
            observed: observed.into(),
            verdict,
        });
    }

    /// How long the gateway may take to deliver an event: a poll's hold and a margin.
    fn event_wait(&self) -> Duration {
        self.hold + Duration::from_secs(5)
    }

    /// The sequence; the rows, the transcript and whether the sign-out at the end (made
    /// whatever the steps found) succeeded.
    pub(crate) async fn run(mut self) -> Result<(Vec<Row>, String, bool), Failure> {
        let start = Instant::now();
        let agent = match self.client.sign_in(self.id, &self.sign_in).await {
            Ok(agent) => agent,
            Err(Error::Gateway {
                code: RetCode::AlreadySignedIn,
                ..
            }) => {
                return Err(Failure::Input(format!(
                    "agent {} is signed in: `ccgw check` needs a test agent nobody uses (it signs it in and out); nothing was changed",
                    self.id
                )));
            }
            Err(e) => {
                let failure = crate::failure::Failure::from_ccgw(&e, self.id);
                return Err(Failure::Ccgw(
                    e.disposition(),
                    format!("the check's sign-in failed: {}", failure.message()),
                ));
            }
        };
        self.row(
            "sign-in answers 0 with a Guid (Set-GUID)",
            "0, Guid given",
            Verdict::of(agent.guid().is_some()),
        );
        self.events.follow(&agent);
        self.cookie_row(&agent);
        let rotation = rotation_watch(&agent);
        self.sign_in_events(start).await;
        self.poll_hold().await;
        self.rest_steps(&agent).await;
        let agent = self.other_steps(agent).await;
        let signed_out = agent.sign_out().await;
        self.row(
            "sign-out answers 0",
            answered(&signed_out),
            Verdict::of(signed_out.is_ok()),
        );
        self.rotation_row(&rotation, start);
        self.answers_rows(start);
        let transcript = self.transcript(start);
        Ok((self.rows, transcript, signed_out.is_ok()))
    }

    fn cookie_row(&mut self, agent: &Agent) {
        let assumption = format!("a load balancer's cookie is named {}", self.cookie);
        match agent.affinity() {
            None => self.row(
                assumption,
                "no cookie (one gateway, no load balancer)",
                Verdict::NotSeen,
            ),
            Some(affinity) => {
                let names: Vec<String> = affinity
                    .expose_secret()
                    .split(';')
                    .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.trim().to_owned()))
                    .collect();
                let holds = names.contains(&self.cookie);
                self.row(
                    assumption,
                    format!("cookie {}", names.join(", ")),
                    Verdict::of(holds),
                );
            }
        }
    }

    /// An idle sign-in's events: the spec lists them first for `login`.
    async fn sign_in_events(&mut self, since: Instant) {
        let wanted = &operations::LOGIN.events[..2.min(operations::LOGIN.events.len())];
        let (holds, seen) = self.events.wait_for(since, wanted, self.event_wait()).await;
        self.row(
            format!("an idle sign-in sends {}", wanted.join(", ")),
            seen.join(", "),
            Verdict::of(holds),
        );
    }

    /// Quiet polls are held for the gateway's `poll_hold`.
    async fn poll_hold(&mut self) {
        let since = Instant::now();
        tokio::time::sleep(self.hold * 2 + Duration::from_millis(500)).await;
        let quiet: Vec<Duration> = self
            .recorder
            .calls()
            .into_iter()
            .filter(|c| c.operation == operations::GET_AGENT_EVENT.log_name && c.ended > since)
            .filter_map(|c| c.elapsed)
            .collect();
        let assumption = format!("a quiet poll is held {} (poll_hold)", shown(self.hold));
        let Some(&longest) = quiet.iter().max() else {
            return self.row(assumption, "no poll answered", Verdict::Differs);
        };
        let margin = (self.hold / 5).max(Duration::from_millis(300));
        let holds = longest + margin >= self.hold && longest <= self.hold + margin;
        self.row(
            assumption,
            format!("held {}", shown(longest)),
            Verdict::of(holds),
        );
    }

    /// Rest for the contract's shortest time, its event, a prolonged rest, the cancel and
    /// its event.
    async fn rest_steps(&mut self, agent: &Agent) {
        let Ok(shortest) = RestDuration::try_from(*RestDuration::RANGE_SECS.start()) else {
            return;
        };
        let since = Instant::now();
        let rest = agent.rest(shortest, RestCause::NONE).await;
        self.row(
            format!("rest for {} s answers 0", shortest.as_secs()),
            answered(&rest),
            Verdict::of(rest.is_ok()),
        );
        let wanted = &operations::REST.events[..1];
        let (holds, seen) = self.events.wait_for(since, wanted, self.event_wait()).await;
        self.row(
            format!("rest sends {}", wanted[0]),
            seen.join(", "),
            Verdict::of(holds),
        );
        let prolong = agent.rest(shortest, RestCause::NONE).prolong().await;
        self.row(
            "prolonging a rest answers 0",
            answered(&prolong),
            Verdict::of(prolong.is_ok()),
        );
        let since = Instant::now();
        let cancel = agent.cancel_rest().await;
        self.row(
            "cancelling the rest answers 0",
            answered(&cancel),
            Verdict::of(cancel.is_ok()),
        );
        let wanted = operations::CANCEL_REST.events;
        let (holds, seen) = self.events.wait_for(since, wanted, self.event_wait()).await;
        self.row(
            format!("cancelling sends {}", wanted.join(", ")),
            seen.join(", "),
            Verdict::of(holds),
        );
    }

    /// Heartbeat, state, and with `--take-over` a forced sign-in; the handle to sign out.
    async fn other_steps(&mut self, agent: Agent) -> Agent {
        let beat = agent.heartbeat().await;
        self.row(
            "a heartbeat answers 0",
            answered(&beat),
            Verdict::of(beat.is_ok()),
        );
        let status = agent.status().await;
        let state = match &status {
            Ok(s) => s.state.name().to_owned(),
            Err(e) => failed(e),
        };
        let idle = status.as_ref().is_ok_and(|s| s.state == AgentState::Idle);
        self.row(
            "the state reads idle after the cancel",
            state,
            Verdict::of(idle),
        );
        if !self.take_over {
            return agent;
        }
        let forced = self
            .client
            .sign_in(self.id, &self.sign_in.clone().take_over(true))
            .await;
        let Ok(second) = forced else {
            self.row(
                "a forced sign-in takes the session over",
                answered(&forced),
                Verdict::Differs,
            );
            return agent;
        };
        self.row(
            "a forced sign-in takes the session over",
            "0, taken over",
            Verdict::of(second.took_over()),
        );
        let old = agent.status().await;
        let refused = matches!(
            old.as_ref().err().and_then(Error::retcode),
            Some(RetCode::NoPermission)
        );
        self.row(
            format!(
                "the old Guid is then refused ({})",
                RetCode::NoPermission.as_str()
            ),
            answered(&old),
            Verdict::of(refused),
        );
        second
    }

    fn rotation_row(&mut self, rotation: &Rotation, start: Instant) {
        let assumption = "dynamic authentication rotates the Guid (Set-GUID on later answers)";
        match *rotation.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(after) => self.row(
                assumption,
                format!("rotated after {}", shown(after)),
                Verdict::Matches,
            ),
            None => self.row(
                assumption,
                format!("no rotation within the check's {}", shown(start.elapsed())),
                Verdict::NotSeen,
            ),
        }
    }

    /// Every answer HTTP 200 with a return code the contract lists.
    fn answers_rows(&mut self, start: Instant) {
        let calls: Vec<_> = self
            .recorder
            .calls()
            .into_iter()
            .filter(|c| c.ended >= start)
            .collect();
        let other_status: Vec<String> = calls
            .iter()
            .filter(|c| c.http_status != Some(200))
            .map(|c| {
                format!(
                    "{} {}",
                    c.operation,
                    c.http_status.map_or("none".to_owned(), |s| s.to_string())
                )
            })
            .collect();
        let observed = if other_status.is_empty() {
            format!("{} answers, all 200", calls.len())
        } else {
            other_status.join(", ")
        };
        self.row(
            "every answer is HTTP 200",
            observed,
            Verdict::of(other_status.is_empty()),
        );
        let unknown: Vec<String> = calls
            .iter()
            .filter_map(|c| c.retcode.as_deref())
            .filter(|code| matches!(RetCode::parse(code), RetCode::Other(_)))
            .map(str::to_owned)
            .collect();
        let observed = if unknown.is_empty() {
            "all listed".to_owned()
        } else {
            unknown.join(", ")
        };
        self.row(
            "every return code is one the contract lists",
            observed,
            Verdict::of(unknown.is_empty()),
        );
    }

    fn transcript(&self, start: Instant) -> String {
        let mut lines: Vec<(Instant, String)> = self
            .recorder
            .calls()
            .into_iter()
            .filter(|c| c.ended >= start)
            .map(|c| {
                let status = c.http_status.map_or("-".to_owned(), |s| s.to_string());
                let code = c.retcode.clone().unwrap_or_else(|| "-".to_owned());
                let took = c.elapsed.map_or("-".to_owned(), shown);
                (
                    c.ended,
                    format!("{} HTTP {status} retcode {code} in {took}", c.operation),
                )
            })
            .collect();
        lines.extend(
            self.events
                .all()
                .into_iter()
                .map(|(at, name)| (at, format!("event {name}"))),
        );
        lines.sort_by_key(|(at, _)| *at);
        let mut text = String::new();
        for (at, line) in lines {
            let _ = writeln!(
                text,
                "{:>9} {line}",
                shown(at.saturating_duration_since(start))
            );
        }
        text
    }
}

/// When the Guid first changed after the sign-in, watched while the check runs.
struct Rotation(Arc<Mutex<Option<Duration>>>);

fn rotation_watch(agent: &Agent) -> Rotation {
    let seen = Arc::new(Mutex::new(None));
    let (agent, first, start, out) = (
        agent.clone(),
        agent.guid(),
        Instant::now(),
        Arc::clone(&seen),
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match agent.guid() {
                None => return,
                Some(now) if Some(&now) != first.as_ref() => {
                    *out.lock().unwrap_or_else(PoisonError::into_inner) = Some(start.elapsed());
                    return;
                }
                Some(_) => {}
            }
        }
    });
    Rotation(seen)
}
