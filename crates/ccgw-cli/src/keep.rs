//! `ccgw keep`: agents kept signed in, each in its wanted state, through rotations,
//! forced sign-outs, take-overs and failovers (the library's supervised sessions); one
//! line per change, Prometheus metrics on request; on SIGTERM or SIGINT every agent is
//! signed out and the command ends.

#[cfg(feature = "prometheus")]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ccgw::{AgentId, RestCause, RestDuration, SessionEvent, SignIn, SupervisedAgent};
use clap::{Args, ValueEnum};
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::failure::Failure;
use crate::{GatewayArgs, client_for, describe, parse_rest_duration, parse_value, secrets};

/// Changes that brought an agent back into its wanted state after a loss.
const RECOVERED: &str = "ccgw_keep_recovered_total";
/// Agents in their wanted state now.
const IN_WANTED_STATE: &str = "ccgw_keep_agents_in_wanted_state";

#[derive(Args, Debug)]
pub(crate) struct KeepArgs {
    /// Agents to keep: IDs and ranges, comma separated (101-150,160), or @FILE for a
    /// file of them (one or more per line, `#` starts a comment).
    #[arg(long, value_name = "LIST")]
    agents: String,
    /// Each agent's phone number; `{id}` stands for its ID.
    #[arg(long, value_name = "PATTERN", default_value = "{id}")]
    phone: String,
    /// The state each agent is kept in.
    #[arg(long, value_enum, default_value_t = Want::Idle)]
    want: Want,
    /// With `--want rest`: the rest's duration (set again after a recovery for the time
    /// left).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_rest_duration)]
    rest_for: RestDuration,
    /// With `--want rest`: the rest cause (configured on the platform for the tenant).
    #[arg(long, default_value = "0", value_parser = parse_value::<RestCause>)]
    cause: RestCause,
    /// Passwords: a file of `ID=PASSWORD` lines, or of one line for every agent;
    /// default CCGW_PASSWORD for every agent.
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// Serve Prometheus metrics at http://ADDRESS/metrics (e.g. 127.0.0.1:9464).
    #[cfg(feature = "prometheus")]
    #[arg(long, value_name = "ADDRESS")]
    metrics: Option<SocketAddr>,
    /// One JSON object per line instead of a sentence.
    #[arg(long)]
    json: bool,
    /// How long driving an agent into its wanted state may take.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = ccgw::parse_duration)]
    wait: Duration,
    #[command(flatten)]
    gateway: GatewayArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Want {
    Idle,
    Rest,
}

/// `101-103,110` → 101, 102, 103, 110, each checked.
fn agent_list(text: &str) -> Result<Vec<AgentId>, Failure> {
    let text = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::Input(format!("cannot read the agent list {path}: {e}")))?,
        None => text.to_owned(),
    };
    let mut ids = Vec::new();
    let items = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|line| line.split([',', ' ', '\t']))
        .map(str::trim)
        .filter(|item| !item.is_empty());
    for item in items {
        let (first, last) = item.split_once('-').unwrap_or((item, item));
        let read = |t: &str| {
            t.parse::<AgentId>()
                .map_err(|e| Failure::Input(e.to_string()))
        };
        let (first, last) = (read(first)?, read(last)?);
        if first > last {
            return Err(Failure::Input(format!(
                "--agents: the range {item} runs backwards"
            )));
        }
        for id in first.get()..=last.get() {
            ids.push(AgentId::new(id).map_err(|e| Failure::Input(e.to_string()))?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(Failure::Input("--agents lists no agent".to_owned()));
    }
    Ok(ids)
}

/// Each agent's password: from `file` (`ID=PASSWORD` lines, or one line for all), else
/// CCGW_PASSWORD.
fn passwords(file: Option<&Path>, ids: &[AgentId]) -> Result<Vec<Zeroizing<String>>, Failure> {
    let Some(file) = file else {
        let one = secrets::password(None)?;
        return Ok(ids.iter().map(|_| one.clone()).collect());
    };
    let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
        Failure::Input(format!(
            "cannot read the password file {}: {e}",
            file.display()
        ))
    })?);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if let [one] = lines.as_slice()
        && !one.contains('=')
    {
        return Ok(ids
            .iter()
            .map(|_| Zeroizing::new((*one).to_owned()))
            .collect());
    }
    ids.iter()
        .map(|id| {
            lines
                .iter()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == id.to_string())
                .map(|(_, password)| Zeroizing::new(password.to_owned()))
                .ok_or_else(|| {
                    Failure::Input(format!(
                        "the password file {} has no line `{id}=…`",
                        file.display()
                    ))
                })
        })
        .collect()
}

pub(crate) async fn run(args: KeepArgs) -> Result<(), Failure> {
    let ids = agent_list(&args.agents)?;
    let passwords = passwords(args.password_file.as_deref(), &ids)?;
    let (client, _) = client_for(&args.gateway)?;
    #[cfg(feature = "prometheus")]
    if let Some(address) = args.metrics {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(address)
            .install()
            .map_err(|e| Failure::Input(format!("cannot serve metrics on {address}: {e}")))?;
    }
    metrics::gauge!(IN_WANTED_STATE).set(0.0);
    metrics::counter!(RECOVERED).absolute(0);
    let (stop, stopped) = watch::channel(false);
    let (gave_up_tx, mut gave_up) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for (id, password) in ids.iter().zip(passwords) {
        let phone = args.phone.replace("{id}", &id.to_string());
        let session = SupervisedAgent::start(&client, *id, SignIn::new(password.as_str(), phone));
        let keeper = Keeper {
            want: args.want,
            rest_for: args.rest_for,
            cause: args.cause,
            wait: args.wait,
            json: args.json,
        };
        tasks.spawn(keeper.keep(session, stopped.clone(), gave_up_tx.clone()));
    }
    report(args.json, None, "keeping", &format!("{} agents", ids.len()));
    tokio::select! {
        signal = shutdown_signal() => signal?,
        () = every_one_gave_up(&mut gave_up, ids.len()) => {
            return Err(Failure::Other(
                "every agent gave up (the lines above say why); nothing is signed in".to_owned(),
            ));
        }
    }
    report(args.json, None, "stopping", "signing every agent out");
    let _ = stop.send(true);
    let mut failed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err((id, message))) = done {
            failed.push(format!("agent {id}: {message}"));
        }
    }
    if failed.is_empty() {
        report(
            args.json,
            None,
            "stopped",
            &format!("{} agents signed out", ids.len()),
        );
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "{} of {} agents may still be signed in: {}",
            failed.len(),
            ids.len(),
            failed.join("; ")
        )))
    }
}

/// Waits until `count` agents reported that they gave up.
async fn every_one_gave_up(
    gave_up: &mut tokio::sync::mpsc::UnboundedReceiver<AgentId>,
    count: usize,
) {
    for _ in 0..count {
        if gave_up.recv().await.is_none() {
            return std::future::pending().await;
        }
    }
}

/// SIGTERM (systemd, a container runtime) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| Failure::Other(format!("cannot wait for SIGTERM: {e}")))?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

/// One line: `agent 101: recovered — after 1.2s` or its JSON object.
fn report(json: bool, agent: Option<AgentId>, change: &str, detail: &str) {
    if json {
        say!(
            "{}",
            serde_json::json!({"agent": agent.map(AgentId::get), "change": change, "detail": detail})
        );
    } else {
        match agent {
            Some(id) => say!("agent {id}: {change} — {detail}"),
            None => say!("{change}: {detail}"),
        }
    }
}

/// What one agent is kept as.
#[derive(Clone, Copy)]
struct Keeper {
    want: Want,
    rest_for: RestDuration,
    cause: RestCause,
    wait: Duration,
    json: bool,
}

impl Keeper {
    /// Follows `session` until `stop`, then signs it out; the error names what failed.
    async fn keep(
        self,
        mut session: SupervisedAgent,
        mut stop: watch::Receiver<bool>,
        gave_up: tokio::sync::mpsc::UnboundedSender<AgentId>,
    ) -> Result<(), (AgentId, String)> {
        let id = session.id();
        let mut in_wanted = false;
        loop {
            let item = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                item = session.next() => item,
            };
            let Some(item) = item else { break };
            let now_wanted = match self.follow(&session, item).await {
                Step::Wanted(wanted) => wanted,
                Step::Same => in_wanted,
                Step::Ended => {
                    set_wanted(&mut in_wanted, false);
                    let _ = gave_up.send(id);
                    return Ok(());
                }
            };
            set_wanted(&mut in_wanted, now_wanted);
        }
        set_wanted(&mut in_wanted, false);
        match session.sign_out().await {
            Ok(()) => {
                report(self.json, Some(id), "signed out", "stopped");
                Ok(())
            }
            Err(e) => Err((id, e.chain().to_string())),
        }
    }

    /// Reports one item of the session and acts on it.
    async fn follow(&self, session: &SupervisedAgent, item: SessionEvent) -> Step {
        let id = Some(session.id());
        match item {
            SessionEvent::SignedIn { took_over } => {
                let how = if took_over {
                    "an existing session taken over"
                } else {
                    "new session"
                };
                report(self.json, id, "signed in", how);
                Step::Wanted(self.drive(session).await)
            }
            SessionEvent::Lost(e) => {
                report(
                    self.json,
                    id,
                    "lost",
                    &format!("{}; signing in again", e.chain()),
                );
                Step::Wanted(false)
            }
            SessionEvent::TakenOver(e) => {
                report(self.json, id, "taken over", &e.chain().to_string());
                Step::Wanted(false)
            }
            SessionEvent::Recovered { after, .. } => {
                report(
                    self.json,
                    id,
                    "recovered",
                    &format!("signed in again after {after:.1?}"),
                );
                Step::Same
            }
            SessionEvent::Restored(Ok(_)) => {
                metrics::counter!(RECOVERED).increment(1);
                report(self.json, id, "restored", self.wanted_name());
                Step::Wanted(true)
            }
            SessionEvent::Restored(Err(e)) => {
                report(self.json, id, "not restored", &e.chain().to_string());
                Step::Wanted(false)
            }
            SessionEvent::EventsMissed { count } => {
                report(self.json, id, "events missed", &count.to_string());
                Step::Same
            }
            SessionEvent::GaveUp(e) => {
                report(self.json, id, "gave up", &e.chain().to_string());
                Step::Ended
            }
            SessionEvent::Event(event) => {
                report(self.json, id, "event", &describe(&event));
                Step::Same
            }
            _ => Step::Same,
        }
    }

    /// Drives a newly signed-in agent into the wanted state (remembered for recoveries).
    async fn drive(&self, session: &SupervisedAgent) -> bool {
        let driven = match self.want {
            Want::Idle => session.ensure_idle(self.wait).await,
            Want::Rest => {
                session
                    .ensure_rest(self.rest_for, self.cause, self.wait)
                    .await
            }
        };
        match driven {
            Ok(_) => {
                report(
                    self.json,
                    Some(session.id()),
                    "in wanted state",
                    self.wanted_name(),
                );
                true
            }
            Err(e) => {
                report(
                    self.json,
                    Some(session.id()),
                    "not in wanted state",
                    &e.chain().to_string(),
                );
                false
            }
        }
    }

    fn wanted_name(&self) -> &'static str {
        match self.want {
            Want::Idle => "idle",
            Want::Rest => "rest",
        }
    }
}

/// What an item did to the agent's wanted state.
enum Step {
    Wanted(bool),
    Same,
    Ended,
}

/// Keeps the gauge of agents in their wanted state in step with one agent's change.
fn set_wanted(current: &mut bool, now: bool) {
    if *current != now {
        let gauge = metrics::gauge!(IN_WANTED_STATE);
        if now {
            gauge.increment(1.0);
        } else {
            gauge.decrement(1.0);
        }
        *current = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_lists() {
        let ids = |t: &str| agent_list(t).map(|v| v.iter().map(|a| a.get()).collect::<Vec<_>>());
        assert_eq!(ids("101-103,110").ok(), Some(vec![101, 102, 103, 110]));
        assert_eq!(
            ids("103 101 # a comment\n102").ok(),
            Some(vec![101, 102, 103])
        );
        assert!(ids("103-101").is_err());
        assert!(ids("").is_err());
        assert!(ids("1-3").is_err(), "below the contract's range");
    }
}
