//! `ccgw demo`: the whole rest workflow against the embedded simulator, as a timeline.

use std::time::{Duration, Instant};

use ccgw::{AgentEvent, AgentId, EventStream, RestCause, RestDuration, SignIn};
use ccgw_sim::{AuthMode, Config, Simulator, Transport};
use indicatif::{ProgressBar, ProgressStyle};

use crate::describe;
use crate::failure::Failure;

const AGENT: u32 = 101;
/// Longest wait for any one event.
const EVENT_WAIT: Duration = Duration::from_secs(30);

struct Timeline {
    started: Instant,
    steps: u32,
    events: u32,
}

impl Timeline {
    fn line(&self, text: &str) {
        say!("[{:>6.2}s] {text}", self.started.elapsed().as_secs_f64());
    }

    fn step(&mut self, text: &str) {
        self.steps += 1;
        self.line(&format!("{}. {text}", self.steps));
    }

    /// Prints events until one satisfies `wanted`, with a spinner while waiting.
    async fn until(
        &mut self,
        events: &mut EventStream,
        waiting_for: &str,
        wanted: impl Fn(&AgentEvent) -> bool,
    ) -> Result<AgentEvent, Failure> {
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("           {spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(format!("waiting for {waiting_for}…"));
        spinner.enable_steady_tick(Duration::from_millis(100));
        let outcome = loop {
            match tokio::time::timeout(EVENT_WAIT, events.next()).await {
                Err(_) => {
                    break Err(Failure::Other(format!(
                        "{waiting_for} did not arrive within {EVENT_WAIT:?}"
                    )));
                }
                Ok(None) => break Err(Failure::Other("the event stream ended".to_owned())),
                Ok(Some(Err(e))) => break Err(Failure::from_ccgw(&e, agent_id())),
                Ok(Some(Ok(event))) => {
                    self.events += 1;
                    spinner.suspend(|| self.line(&format!("   event: {}", describe(&event))));
                    if wanted(&event) {
                        break Ok(event);
                    }
                }
            }
        };
        spinner.finish_and_clear();
        outcome
    }
}

fn agent_id() -> AgentId {
    AgentId::new(AGENT).unwrap_or_else(|_| unreachable!("101 is in range"))
}

/// The agent's state, read, as a step.
async fn show_status(t: &mut Timeline, agent: &ccgw::Agent) -> Result<(), Failure> {
    let status = agent.status().await.map_err(|e| failure(&e))?;
    t.step(&format!(
        "status: {} ({})",
        status.state.name(),
        status.state.code()
    ));
    Ok(())
}

/// Confirmed rest, its timeout, a prolonged rest, its cancellation: each step waits for
/// its event.
async fn rest_and_cancel(
    t: &mut Timeline,
    agent: &ccgw::Agent,
    events: &mut EventStream,
    rest_seconds: u32,
) -> Result<(), Failure> {
    let short = RestDuration::from_secs(rest_seconds).map_err(|e| Failure::Input(e.to_string()))?;
    t.step(&format!("confirmed rest: {rest_seconds} s, cause 1"));
    agent
        .rest(short, RestCause::from(1))
        .confirmed(EVENT_WAIT)
        .await
        .map_err(|e| failure(&e))?;
    t.until(events, "AgentState_SetRest_Success", |e| {
        matches!(e, AgentEvent::RestStarted { .. })
    })
    .await?;
    show_status(t, agent).await?;

    t.step(&format!("waiting out the {rest_seconds} s rest"));
    t.until(events, "AgentState_Rest_Timeout", |e| {
        matches!(e, AgentEvent::RestTimeout)
    })
    .await?;

    t.step("prolong rest: 600 s, cause 2 (prolong=true, as an agent already in rest must)");
    let long = RestDuration::from_secs(600).map_err(|e| Failure::Input(e.to_string()))?;
    agent
        .rest(long, RestCause::from(2))
        .prolong()
        .await
        .map_err(|e| failure(&e))?;
    t.until(events, "AgentState_SetRest_Success", |e| {
        matches!(e, AgentEvent::RestStarted { .. })
    })
    .await?;

    t.step("cancel rest");
    agent.cancel_rest().await.map_err(|e| failure(&e))?;
    t.until(events, "AgentState_CancelRest_Success", |e| {
        matches!(e, AgentEvent::RestCancelled)
    })
    .await?;
    show_status(t, agent).await?;
    Ok(())
}

fn failure(e: &ccgw::Error) -> Failure {
    Failure::from_ccgw(e, agent_id())
}

/// Runs the demo; `rest_seconds` is the short rest whose timeout it waits out.
pub(crate) async fn run(rest_seconds: u32) -> Result<(), Failure> {
    say!(
        "ccgw demo: the rest workflow against the EMBEDDED SIMULATOR (ccgw-sim) on loopback — not a real gateway."
    );
    let config = Config {
        agents: vec![ccgw_sim::AgentConfig::numbered(AGENT)],
        auth_mode: AuthMode::Dynamic {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(120),
        },
        poll_hold: Duration::from_secs(2),
        transport: Transport::Https {
            cert_dir: None,
            extra_names: Vec::new(),
        },
        ..Config::default()
    };
    let sim = Simulator::start(config)
        .await
        .map_err(|e| Failure::Other(format!("the simulator cannot start: {e}")))?;
    let mut t = Timeline {
        started: Instant::now(),
        steps: 0,
        events: 0,
    };
    t.step(&format!(
        "simulator up at {} with its own CA; TLS is verified against it",
        sim.base_url()
    ));

    let client = ccgw::Config {
        url: Some(sim.base_url().to_owned()),
        system_roots: false,
        ca_pem: Some(sim.ca_pem().unwrap_or_default().to_owned()),
        ..ccgw::Config::default()
    }
    .build_client()
    .map_err(|e| failure(&e))?;
    let id = agent_id();
    let agent = client
        .sign_in(id, &SignIn::new(format!("pw{AGENT}"), format!("40{AGENT}")))
        .await
        .map_err(|e| failure(&e))?;
    t.step(&format!(
        "agent {id} signed in; its Guid came in Set-GUID (kept secret, never shown)"
    ));
    let mut events = agent.events();
    t.until(&mut events, "AgentState_Ready", |e| {
        e.event_type() == "AgentState_Ready"
    })
    .await?;

    rest_and_cancel(&mut t, &agent, &mut events, rest_seconds).await?;

    agent.sign_out().await.map_err(|e| failure(&e))?;
    t.step(&format!("agent {id} signed out"));
    drop(events);
    let stats = sim.handle().stats();
    sim.shutdown().await;
    say!(
        "\ndemo finished in {:.1} s: {} steps, {} events received, every state change confirmed by its event; the simulator answered {} requests.",
        t.started.elapsed().as_secs_f64(),
        t.steps,
        t.events,
        stats.requests
    );
    Ok(())
}
