//! The `ccgw-sim` command line, also used by `ccgw sim`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{AgentConfig, AuthMode, Config, Faults, Hostile, InvalidPath, Simulator, Transport};
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};

/// Options of a simulated CC-Gateway.
#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8043")]
    pub listen: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    pub http: bool,
    /// Where the CA certificate (ca.pem) and its key (ca-key.pem, mode 0600) are kept: a
    /// restart with the same directory keeps the CA, so running clients go on trusting it.
    #[arg(long, default_value = "target/ccgw-sim")]
    pub cert_dir: PathBuf,
    /// First and last agent ID (each gets the password "pw" + its ID, e.g. pw101).
    #[arg(long, default_value = "101-110", value_parser = parse_range)]
    pub agents: (u32, u32),
    /// Authentication mode: static (AUTHMODE=1) or dynamic (AUTHMODE=2, Guid rotation).
    #[arg(long, value_enum, default_value_t = Auth::Dynamic)]
    pub auth: Auth,
    /// Dynamic authentication: Guid rotation interval in seconds (GUIDINTERVAL).
    #[arg(long, default_value_t = 60)]
    pub guid_interval: u64,
    /// Dynamic authentication: how long a replaced Guid stays valid, seconds (GUIDTIMEOUT).
    #[arg(long, default_value_t = 120)]
    pub guid_timeout: u64,
    /// How long an event poll is held when no event is queued, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub poll_hold_ms: u64,
    /// Answer path values outside the documented ranges with HTTP 404 instead of 000-002.
    #[arg(long)]
    pub routing_404: bool,
    /// Refuse forced sign-in of a signed-in agent (forceLogin, and login of a signed-in
    /// agent, answer 100-015), as a platform whose forced sign-in switch is off.
    #[arg(long)]
    pub no_forced_sign_in: bool,
    /// End rest when its time is up (AgentState_Rest_Timeout, then AgentState_Ready; the
    /// agent is idle), as a tenant with "Forcibly End Agent Rest After Timeout" on.
    #[arg(long)]
    pub end_rest_at_timeout: bool,
    /// Do not deliver AgentOther_ShutdownService after a sign-out (the vendor: it "will
    /// not always be received").
    #[arg(long)]
    pub no_sign_out_event: bool,
    /// An event this gateway never sends (by eventType, e.g. AgentState_SetRest_Success),
    /// as a build that lacks it; repeatable. For checking that a client, or `ccgw check`,
    /// notices.
    #[arg(long, value_name = "EVENT")]
    pub silent_event: Vec<String>,
    /// Agents whose accounts are locked (sign-in answers 110-016), as FIRST-LAST or one
    /// ID; repeatable.
    #[arg(long, value_name = "AGENTS", value_parser = parse_range)]
    pub locked: Vec<(u32, u32)>,
    /// Gateway nodes behind one load-balancer front on the same port: sessions stay on
    /// the node that signed them in, routed by a sticky cookie set on the sign-in answer.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub nodes: u8,
    /// Name of the load balancer's sticky cookie (with --nodes above 1).
    #[arg(long, default_value = "huaweielbsession", value_name = "NAME")]
    pub affinity_cookie: String,
    /// How long a node that went down is answered 000-004 (switching over) before
    /// requests for it go to another node, in milliseconds.
    #[arg(long, default_value_t = 3_000)]
    pub switchover_ms: u64,
    /// Print one line of JSON (base URL, CA file, Guids of --sign-in agents) instead of
    /// the human-readable banner.
    #[arg(long)]
    pub json: bool,
    /// Sign these agents in at start (repeatable); their Guids are printed.
    #[arg(long = "sign-in", value_name = "AGENT")]
    pub sign_in: Vec<u32>,
    /// Random faults, as KIND=PROBABILITY pairs separated by commas. Kinds: drop-before,
    /// drop-after (connection closed before / after the request is handled), stall
    /// (held for stall-ms, then dropped), delay (answer delayed up to delay-max-ms),
    /// switch-over (answered 000-004), repeated-call (answered 000-007), server-error
    /// (answered HTTP 500 with an HTML page). Also stall-ms=N
    /// and delay-max-ms=N; forced-sign-out-every-ms=N (a random agent signed out by force
    /// that often); with --nodes, node-down-every-ms=N (one node after the other goes
    /// down that often) and node-down-for-ms=N (for that long). Example:
    /// drop-after=0.01,delay=0.05,switch-over=0.01
    #[arg(long, value_name = "SPEC", value_parser = parse_faults)]
    pub faults: Option<Faults>,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 0, requires = "faults")]
    pub fault_seed: u64,
    /// Answer every request but a sign-in in one hostile way, with the caller's Guid,
    /// cookie and password in it — to check that a client shows none of them. CASE is
    /// one of: echo-secrets, cut-guid, cut-cookie, foreign-guid, guid-as-retcode,
    /// cookie-as-retcode, wrong-types, quoted-secrets, cut-string, html-error,
    /// html-success, odd-fields, content-type, redirect, binary, long, too-large,
    /// rotate-and-name, new-cookie-and-name, unknown-event, header-echo.
    #[arg(long, value_name = "CASE")]
    pub hostile: Option<Hostile>,
}

/// Authentication mode on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Auth {
    /// AUTHMODE=1.
    Static,
    /// AUTHMODE=2.
    Dynamic,
}

fn parse_faults(text: &str) -> Result<Faults, String> {
    const KINDS: &str = "drop-before, drop-after, stall, delay, switch-over, repeated-call, server-error, stall-ms, delay-max-ms, forced-sign-out-every-ms, node-down-every-ms, node-down-for-ms";
    let mut faults = Faults::default();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?}: give KIND=VALUE (kinds: {KINDS})"))?;
        let (key, value) = (key.trim(), value.trim());
        let millis = || {
            value
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("{key}: {value:?} is not a number of milliseconds"))
        };
        let share = || match value.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(format!("{key}: {value:?} is not a probability from 0 to 1")),
        };
        match key {
            "drop-before" => faults.drop_before = share()?,
            "drop-after" => faults.drop_after = share()?,
            "stall" => faults.stall = share()?,
            "delay" => faults.delay = share()?,
            "switch-over" => faults.switch_over = share()?,
            "repeated-call" => faults.repeated_call = share()?,
            "server-error" => faults.server_error = share()?,
            "stall-ms" => faults.stall_for = millis()?,
            "delay-max-ms" => faults.delay_max = millis()?,
            "node-down-every-ms" => faults.node_down_every = Some(millis()?),
            "forced-sign-out-every-ms" => faults.forced_sign_out_every = Some(millis()?),
            "node-down-for-ms" => faults.node_down_for = millis()?,
            other => return Err(format!("unknown fault {other:?} (kinds: {KINDS})")),
        }
    }
    let total = faults.drop_before
        + faults.drop_after
        + faults.stall
        + faults.delay
        + faults.switch_over
        + faults.repeated_call
        + faults.server_error;
    if total > 1.0 {
        return Err(format!("the probabilities add up to {total}, more than 1"));
    }
    Ok(faults)
}

fn parse_range(text: &str) -> Result<(u32, u32), String> {
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{s:?} is not an agent ID"))
    };
    let (a, b) = (parse(a)?, parse(b)?);
    if a > b || b - a >= 100_000 {
        return Err(format!(
            "{text:?}: give FIRST-LAST with FIRST <= LAST, at most 100000 agents"
        ));
    }
    Ok((a, b))
}

/// Runs a simulator with `args` until Ctrl-C, printing its URL, CA file, agents and a
/// curl line that signs one in (or one JSON line with `--json`).
pub async fn run(args: SimArgs) -> Result<()> {
    let config = config_of(&args);
    let sim = match Simulator::start(config.clone()).await {
        Ok(sim) => sim,
        Err(crate::SimError::Bind(e)) if e.kind() == std::io::ErrorKind::AddrInUse => {
            anyhow::bail!(
                "cannot start the simulator: {} is in use; pick another address with --listen (port 0: any free port)",
                args.listen
            );
        }
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot start the simulator on {}", args.listen));
        }
    };
    let ca_file = sim
        .ca_file()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
    let mut signed_in = serde_json::Map::new();
    for agent in &args.sign_in {
        let guid = sim
            .handle()
            .sign_in(*agent)
            .with_context(|| format!("agent {agent} cannot be signed in (is it configured?)"))?;
        signed_in.insert(agent.to_string(), guid.into());
    }

    show(&banner(
        &args,
        &config,
        &sim,
        ca_file.as_deref(),
        &signed_in,
    ));

    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    let stats = sim.handle().stats();
    sim.shutdown().await;
    if !args.json {
        show(&format!(
            "stopped after {} requests, {} sign-ins, {} events delivered, {} dropped from full queues\n",
            stats.requests, stats.logins, stats.events_delivered, stats.events_overflowed
        ));
    }
    Ok(())
}

/// Writes `text` to stdout, ignoring a closed stdout (e.g. piped into `head`) instead of
/// panicking as `print!` would.
fn show(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

/// The simulator's configuration from the command line's arguments.
fn config_of(args: &SimArgs) -> Config {
    Config {
        agents: (args.agents.0..=args.agents.1)
            .map(AgentConfig::numbered)
            .collect(),
        auth_mode: match args.auth {
            Auth::Static => AuthMode::Static,
            Auth::Dynamic => AuthMode::Dynamic {
                interval: Duration::from_secs(args.guid_interval),
                timeout: Duration::from_secs(args.guid_timeout),
            },
        },
        poll_hold: Duration::from_millis(args.poll_hold_ms),
        invalid_path: if args.routing_404 {
            InvalidPath::NotFound
        } else {
            InvalidPath::Retcode
        },
        transport: if args.http {
            Transport::Http
        } else {
            Transport::Https {
                cert_dir: Some(args.cert_dir.clone()),
                extra_names: Vec::new(),
            }
        },
        listen: args.listen,
        forced_sign_in: !args.no_forced_sign_in,
        end_rest_at_timeout: args.end_rest_at_timeout,
        sign_out_event: !args.no_sign_out_event,
        silent_events: args.silent_event.clone(),
        locked: args.locked.iter().flat_map(|&(a, b)| a..=b).collect(),
        nodes: args.nodes,
        affinity_cookie: args.affinity_cookie.clone(),
        switchover: Duration::from_millis(args.switchover_ms),
        faults: Faults {
            hostile: args.hostile,
            ..args
                .faults
                .clone()
                .map(|f| Faults {
                    seed: args.fault_seed,
                    ..f
                })
                .unwrap_or_default()
        },
        ..Config::default()
    }
}

/// The faults' rates, one line.
fn faults_line(f: &Faults) -> String {
    format!(
        "drop-before {}, drop-after {}, stall {} ({:?}), delay {} (up to {:?}), 000-004 {}, 000-007 {}, HTTP 500 {} (seed {})",
        f.drop_before,
        f.drop_after,
        f.stall,
        f.stall_for,
        f.delay,
        f.delay_max,
        f.switch_over,
        f.repeated_call,
        f.server_error,
        f.seed
    )
}

/// What the simulator prints once it runs: JSON, or a banner for a person.
fn banner(
    args: &SimArgs,
    config: &Config,
    sim: &Simulator,
    ca_file: Option<&std::path::Path>,
    signed_in: &serde_json::Map<String, serde_json::Value>,
) -> String {
    if args.json {
        let ca = ca_file.map(|p| p.display().to_string());
        let start =
            serde_json::json!({"base_url": sim.base_url(), "ca_file": ca, "guids": signed_in});
        return format!("{start}\n");
    }
    let mut text = String::new();
    let first = &config.agents[0];
    let _ = writeln!(text, "ccgw-sim: a simulated CC-Gateway");
    let _ = writeln!(text, "  base URL   {}", sim.base_url());
    let _ = match ca_file {
        Some(p) => writeln!(
            text,
            "  CA file    {} (trust it; do not turn verification off)",
            p.display()
        ),
        None => writeln!(text, "  CA file    none (plain HTTP)"),
    };
    let _ = writeln!(
        text,
        "  agents     {}..={} with password pw<id> (e.g. {} / {})",
        args.agents.0, args.agents.1, first.id, first.password
    );
    let _ = writeln!(
        text,
        "  auth       {}",
        match config.auth_mode {
            AuthMode::Static => "static (AUTHMODE=1)".to_owned(),
            AuthMode::Dynamic { interval, timeout } => format!(
                "dynamic (AUTHMODE=2), Guid rotates every {interval:?}, old Guid valid {timeout:?}"
            ),
        }
    );
    text.push_str(&platform(config));
    if let Some(case) = config.faults.hostile {
        let _ = writeln!(
            text,
            "  HOSTILE    every answer but a sign-in is {case}, with the caller's secrets in it"
        );
    }
    for (agent, guid) in signed_in {
        let _ = writeln!(
            text,
            "  signed in  agent {agent}, Guid {}",
            guid.as_str().unwrap_or_default()
        );
    }
    text.push_str(&how_to_use(sim, first, ca_file));
    let cacert = ca_file
        .map(|p| format!(" --cacert {}", p.display()))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "\nControls (node N is 0..{}; AGENT an agent ID):\n  curl{cacert} -X POST {}{}nodes/N/down   (or …/up; …agents/AGENT/sign-out)",
        config.nodes,
        sim.base_url(),
        crate::remote::PREFIX
    );
    let _ = writeln!(text, "\nCtrl-C stops it.");
    text
}

/// The banner's lines on the platform: rest causes, nodes, faults.
fn platform(config: &Config) -> String {
    let mut text = String::new();
    let causes: Vec<String> = config.rest_causes.iter().map(u8::to_string).collect();
    let _ = writeln!(
        text,
        "  causes     0 (no cause) and {} configured",
        causes.join(", ")
    );
    let _ = writeln!(
        text,
        "  nodes      {}{}",
        config.nodes,
        if config.nodes > 1 {
            format!(
                " behind one front, sticky cookie {}, switch-over {:?}",
                config.affinity_cookie, config.switchover
            )
        } else {
            String::new()
        }
    );
    let faults = if config.faults.any() {
        faults_line(&config.faults)
    } else {
        "none".to_owned()
    };
    let _ = writeln!(text, "  faults     {faults}");
    text
}

/// The banner's lines for a person: the `ccgw` settings and a `curl` line that signs the
/// first agent in.
fn how_to_use(sim: &Simulator, first: &AgentConfig, ca_file: Option<&std::path::Path>) -> String {
    let mut text = String::new();
    let cacert = ca_file
        .map(|p| format!(" --cacert {}", p.display()))
        .unwrap_or_default();
    let allow_http = if ca_file.is_none() {
        " CCGW_ALLOW_HTTP=1"
    } else {
        ""
    };
    let _ = writeln!(text, "\nPoint the ccgw command line at it:");
    let _ = writeln!(
        text,
        "  export CCGW_URL={}{}{allow_http}",
        sim.base_url(),
        ca_file
            .map(|p| format!(" CCGW_CA_FILE={}", p.display()))
            .unwrap_or_default()
    );
    let _ = writeln!(
        text,
        "\nSign agent {} in (the Guid is in the Set-GUID header):",
        first.id
    );
    let _ = writeln!(
        text,
        "  curl -i{cacert} -X PUT {}/agentgateway/resource/onlineagent/{} -H 'Content-Type: application/json; charset=UTF-8' -d '{{\"password\":\"{}\",\"phonenum\":\"{}\",\"status\":4}}'",
        sim.base_url(),
        first.id,
        first.password,
        first.phone
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--hostile`'s help names every case there is, and no other.
    #[test]
    fn the_hostile_help_names_every_case() {
        use clap::CommandFactory as _;
        #[derive(clap::Parser)]
        struct Sim {
            #[command(flatten)]
            args: SimArgs,
        }
        let command = Sim::command();
        let help = command
            .get_arguments()
            .find(|a| a.get_id() == "hostile")
            .and_then(|a| a.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        let listed = help.split_once("one of: ").map_or("", |(_, l)| l);
        let names: Vec<&str> = listed.trim_end_matches('.').split(", ").collect();
        let all: Vec<&str> = Hostile::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(names, all);
    }

    #[test]
    fn fault_specs() {
        let f = parse_faults("drop-after=0.01, delay=0.05,stall-ms=1500").expect("valid");
        assert_eq!((f.drop_after, f.delay), (0.01, 0.05));
        assert_eq!(f.stall_for, Duration::from_millis(1500));
        assert_eq!(f.drop_before, 0.0);
        for (bad, says) in [
            ("drop=0.1", "unknown fault \"drop\""),
            ("delay", "give KIND=VALUE"),
            ("delay=2", "not a probability"),
            ("stall-ms=soon", "not a number of milliseconds"),
            ("drop-before=0.6,drop-after=0.6", "add up to 1.2"),
        ] {
            let err = parse_faults(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
