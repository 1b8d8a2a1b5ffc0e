//! `ccgw`: set agents to rest on a CC-Gateway, watch their events, run the simulator, or
//! see the whole workflow in `ccgw demo`.

/// `println!` that ignores a closed stdout (e.g. piped into `head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod check;
mod commands;
#[cfg(feature = "sim")]
mod demo;
mod failure;
mod keep;
mod secrets;
mod settings;
mod variables;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ccgw::{AgentEvent, AgentId, Confirmed, GatewayClient, RestCause, RestDuration};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::failure::Failure;

/// `--help`'s closing text: the exit codes (one per disposition of `ccgw`'s errors)
/// and where secrets come from.
fn after_help() -> String {
    let mut text = String::from(
        "Exit codes:\n  0  success\n  1  another failure (e.g. the Guid file cannot be written)\n",
    );
    for (disposition, code, meaning) in failure::EXIT_CODES {
        text.push_str(&format!("  {code}  {meaning} [{disposition}]\n"));
    }
    text.push_str(
        "\nSecrets never go on the command line: the password comes from CCGW_PASSWORD,\n\
         --password-file or a prompt; the Guid from CCGW_GUID or the Guid file that\n\
         `ccgw sign-in` writes (mode 0600). Neither is ever printed.",
    );
    text
}

/// Set agents to rest on a Huawei CC-Gateway, watch their events, or try it all on the
/// embedded simulator (`ccgw demo`).
#[derive(Parser, Debug)]
#[command(name = "ccgw", version, after_help = after_help())]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log lines on stderr as JSON objects (for a log collector).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign an agent in; its Guid goes to the Guid file (never to the output).
    SignIn {
        #[command(flatten)]
        agent: AgentArgs,
        /// File holding the password (first line); default CCGW_PASSWORD or a prompt.
        #[arg(long, value_name = "PATH")]
        password_file: Option<PathBuf>,
        /// Phone number the agent works with (required by the gateway: 1 to 24 characters).
        #[arg(long, env = "CCGW_PHONE")]
        phone: String,
        /// State after sign-in.
        #[arg(long, value_enum, default_value_t = StartState::Idle)]
        state: StartState,
        /// If the agent is already signed in (100-002), take the session over with a
        /// forced sign-in: the previous holder's Guid stops working.
        #[arg(long)]
        take_over: bool,
    },
    /// Sign an agent out.
    SignOut {
        #[command(flatten)]
        agent: AgentArgs,
    },
    /// Apply for rest.
    Rest {
        #[command(flatten)]
        agent: AgentArgs,
        /// Rest duration: seconds, or with units (90s, 10m, 1h30m); at most 23h59m59s.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_rest_duration, allow_hyphen_values = true)]
        duration: RestDuration,
        /// Rest cause code configured on the platform for the tenant (0 = no cause).
        #[arg(long, default_value = "0", value_parser = parse_value::<RestCause>, allow_hyphen_values = true)]
        cause: RestCause,
        /// Set rest again while already resting (prolong=true).
        #[arg(long)]
        prolong: bool,
        /// Wait until the gateway confirms rest (AgentState_SetRest_Success, or the
        /// agent's state read as rest when another poller took the event).
        #[arg(long)]
        confirm: bool,
        /// How long --confirm waits.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s", allow_hyphen_values = true)]
        wait: u64,
    },
    /// End an agent's rest.
    CancelRest {
        #[command(flatten)]
        agent: AgentArgs,
        /// Wait until the gateway confirms it (AgentState_CancelRest_Success, or the
        /// agent's state read as idle when another poller took the event).
        #[arg(long)]
        confirm: bool,
        /// How long --confirm waits.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
        wait: u64,
    },
    /// Show an agent's state.
    Status {
        #[command(flatten)]
        agent: AgentArgs,
    },
    /// Follow an agent's events (one line each) until Ctrl-C or the session ends.
    Events {
        #[command(flatten)]
        agent: AgentArgs,
        /// Stop after this many events.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Check a gateway against the contract with one test agent: sign in, events, the
    /// poll hold, rest, prolong, cancel, heartbeat, state, sign out (and a forced sign-in
    /// with --take-over); a table of each assumption, what the gateway did, and whether
    /// it matches.
    Check(check::CheckArgs),
    /// Show the effective settings and where each came from (the file, a variable, an
    /// option, the default); secrets are never shown.
    #[command(after_help = settings::help())]
    Config {
        #[command(flatten)]
        gateway: GatewayArgs,
        /// One JSON object: each key's value and where it came from.
        #[arg(long)]
        json: bool,
    },
    /// Keep agents signed in, each in its wanted state, through rotations, forced
    /// sign-outs, take-overs and failovers, until SIGTERM or Ctrl-C signs them all out.
    Keep(keep::KeepArgs),
    /// Run the embedded CC-Gateway simulator (same options as `ccgw-sim`).
    #[cfg(feature = "sim")]
    Sim(ccgw_sim::cli::SimArgs),
    /// Show the whole rest workflow against the embedded simulator (no gateway needed).
    #[cfg(feature = "sim")]
    Demo {
        /// Length of the short rest whose timeout the demo waits out, in seconds.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=60))]
        rest_seconds: u32,
    },
}

/// The agent a command works on, and its gateway.
#[derive(Args, Debug)]
struct AgentArgs {
    /// Agent ID (work number).
    #[arg(long, value_name = "ID", value_parser = parse_value::<AgentId>, allow_hyphen_values = true)]
    agent: AgentId,
    /// One JSON object per line on stdout instead of sentences.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    gateway: GatewayArgs,
    /// Where the agent's Guid is kept [default: $CCGW_STATE_DIR or ~/.local/state/ccgw, file `agent-ID.guid`].
    #[arg(long, env = "CCGW_GUID_FILE", value_name = "PATH")]
    guid_file: Option<PathBuf>,
}

/// The gateway: options over the `CCGW_*` variables over the configuration file (`ccgw
/// help config` lists every key).
#[derive(Args, Debug)]
pub(crate) struct GatewayArgs {
    /// Configuration file (TOML; `ccgw help config` lists every key, its default and its
    /// variable). The CCGW_* variables override it, and the options here override both.
    #[arg(long, env = "CCGW_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Gateway base URL: scheme, host and port [or CCGW_URL, or `url` in the file].
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// PEM file with the gateway's CA certificate, added to the system roots [or
    /// CCGW_CA_FILE, or `ca_file` in the file].
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// Allow a plain http:// URL (local tests only: the Guid would travel unencrypted)
    /// [or CCGW_ALLOW_HTTP=1].
    #[arg(long)]
    allow_http: bool,
    /// Time allowed per request, until the last byte of the answer [default: 30s; or
    /// CCGW_TIMEOUT, or `request_timeout` in the file].
    #[arg(long, value_name = "DURATION", value_parser = ccgw::parse_duration)]
    timeout: Option<Duration>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StartState {
    Busy,
    Idle,
    WrapUp,
}

/// `600`, `90s`, `10m`, `1h30m` → whole seconds (the library's duration syntax).
fn parse_duration(text: &str) -> Result<u64, String> {
    if text.trim_start().starts_with('-') {
        return Err(format!("{text:?}: a duration cannot be negative"));
    }
    let duration = ccgw::parse_duration(text)?;
    if duration.subsec_nanos() != 0 {
        return Err(format!("{text:?}: use whole seconds here"));
    }
    Ok(duration.as_secs())
}

/// A rest duration: [`parse_duration`], within the contract's range.
pub(crate) fn parse_rest_duration(text: &str) -> Result<RestDuration, String> {
    RestDuration::try_from(parse_duration(text)?).map_err(|e| e.to_string())
}

/// A value of `ccgw` read from text, its range and its message the library's.
pub(crate) fn parse_value<T: std::str::FromStr<Err = ccgw::Error>>(
    text: &str,
) -> Result<T, String> {
    text.parse().map_err(|e: ccgw::Error| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only `ccgw check` reads the calls: a long-running command must not keep them.
    let recorder = matches!(cli.command, Command::Check(_)).then(check::Recorder::default);
    init_logging(cli.verbose, cli.log_json, recorder.clone());
    let present = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for warning in variables::unknown(present) {
        eprintln!("warning: {warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, recorder)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Log lines on stderr at the level `-v` asks for (JSON with `--log-json`), and, for
/// `ccgw check`, every call span to `recorder` whatever the level.
fn init_logging(verbose: u8, json: bool, recorder: Option<check::Recorder>) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2);
    let logs = if json {
        logs.json().with_filter(filter).boxed()
    } else {
        logs.with_filter(filter).boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(recorder)
        .try_init();
}

async fn run(command: Command, recorder: Option<check::Recorder>) -> Result<(), Failure> {
    match command {
        Command::SignIn {
            agent,
            password_file,
            phone,
            state,
            take_over,
        } => commands::sign_in(agent, password_file, phone, state, take_over).await,
        Command::SignOut { agent } => commands::sign_out(agent).await,
        Command::Rest {
            agent,
            duration,
            cause,
            prolong,
            confirm,
            wait,
        } => commands::rest(agent, duration, cause, prolong, confirm, wait).await,
        Command::CancelRest {
            agent,
            confirm,
            wait,
        } => commands::cancel_rest(agent, confirm, wait).await,
        Command::Status { agent } => commands::status(agent).await,
        Command::Events { agent, count } => commands::events(agent, count).await,
        Command::Keep(args) => keep::run(args).await,
        Command::Check(args) => check::run(args, recorder.unwrap_or_default()).await,
        Command::Config { gateway, json } => settings::show(&gateway, json),
        #[cfg(feature = "sim")]
        Command::Sim(args) => ccgw_sim::cli::run(args)
            .await
            .map_err(|e| Failure::Other(format!("{e:#}"))),
        #[cfg(feature = "sim")]
        Command::Demo { rest_seconds } => demo::run(rest_seconds).await,
    }
}

/// How often `ccgw events` writes a rotated Guid to the Guid file.
const GUID_FILE_REFRESH: Duration = Duration::from_millis(500);

/// "by its event (…)" or "by the agent's state (…)".
fn confirmed_by(by: Confirmed, event: &str, state: &str) -> String {
    match by {
        Confirmed::ByState => format!(
            "by the agent's state ({state}; another poller, such as `ccgw events`, took {event})"
        ),
        _ => format!("by its event ({event})"),
    }
}

/// One result line: `text`, or with `--json` the object `value` (with the agent's ID).
pub(crate) fn print_result(args: &AgentArgs, text: &str, mut value: serde_json::Value) {
    if args.json {
        if let Some(object) = value.as_object_mut() {
            object.insert("agent".to_owned(), args.agent.get().into());
        }
        say!("{value}");
    } else {
        say!("{text}");
    }
}

pub(crate) fn print_event(agent: AgentId, event: &AgentEvent, json: bool) {
    if json {
        let content = match event {
            AgentEvent::RestStarted { reason } => serde_json::json!({"reason": reason}),
            AgentEvent::Other { content, .. } => {
                serde_json::from_str(content).unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        };
        say!(
            "{}",
            serde_json::json!({"agent": agent.get(), "eventType": event.event_type(), "content": content})
        );
    } else {
        say!("agent {agent}: {}", describe(event));
    }
}

pub(crate) fn describe(event: &AgentEvent) -> String {
    match event {
        AgentEvent::RestStarted { reason } => {
            format!("AgentState_SetRest_Success — in rest (cause {reason})")
        }
        AgentEvent::RestTimeout => {
            "AgentState_Rest_Timeout — the rest time is up; still in rest".to_owned()
        }
        AgentEvent::RestCancelled => "AgentState_CancelRest_Success — rest ended, idle".to_owned(),
        AgentEvent::Gap { state } => format!(
            "events may have been missed (a poll's answer was lost); the agent is now {}",
            state.map_or("(state unreadable)", |s| s.name())
        ),
        other => other.event_type().to_owned(),
    }
}

/// A command's gateway client and agent, and what its messages name.
pub(crate) struct Target {
    pub(crate) client: GatewayClient,
    pub(crate) id: AgentId,
    ca_file: Option<PathBuf>,
}

impl Target {
    /// `error` as a failure of this command (naming its CA file when TLS failed).
    pub(crate) fn fail(&self, error: &ccgw::Error) -> Failure {
        Failure::about(error, self.id, self.ca_file.as_deref())
    }
}

/// The effective configuration: the file, the `CCGW_*` variables over it, the options
/// over both.
pub(crate) fn effective_config(args: &GatewayArgs) -> Result<ccgw::Config, ccgw::Error> {
    let mut config = ccgw::Config::load(args.config.as_deref())?;
    if let Some(url) = &args.url {
        config.url = Some(url.clone());
    }
    if let Some(ca) = &args.ca_file {
        config.ca_file = Some(ca.clone());
    }
    config.allow_http |= args.allow_http;
    if let Some(timeout) = args.timeout {
        config.request_timeout = timeout;
    }
    Ok(config)
}

pub(crate) fn client_for(args: &GatewayArgs) -> Result<(GatewayClient, ccgw::Config), Failure> {
    let mut config = effective_config(args).map_err(|e| Failure::config(&e))?;
    // A password in the environment is masked in whatever the gateway echoes, whichever
    // command runs (a sign-in adds the one it sends by itself).
    if let Ok(password) = std::env::var(secrets::PASSWORD_ENV) {
        config.secrets.push(password);
    }
    let Some(url) = config.url.clone() else {
        return Err(Failure::Input(
            "no gateway URL: pass --url, set CCGW_URL, or set `url` in the --config file"
                .to_owned(),
        ));
    };
    tracing::info!(
        url,
        fallback_urls = ?config.fallback_urls,
        ca_file = %config.ca_file.as_deref().map_or("(none)".into(), |p| p.display().to_string()),
        system_roots = config.system_roots,
        timeout = ?config.request_timeout,
        "gateway"
    );
    let client = config.build_client().map_err(|e| Failure::config(&e))?;
    Ok((client, config))
}

fn connect(args: &AgentArgs) -> Result<Target, Failure> {
    let (client, config) = client_for(&args.gateway)?;
    Ok(Target {
        client,
        id: args.agent,
        ca_file: config.ca_file,
    })
}

fn agent_handle(args: &AgentArgs) -> Result<(Target, ccgw::Agent, secrets::GuidSource), Failure> {
    let target = connect(args)?;
    let source = secrets::GuidSource::find(&args.guid_file, target.id)?;
    let agent = target
        .client
        .agent(target.id, source.guid().clone(), source.affinity());
    Ok((target, agent, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("600"), Ok(600));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert!(parse_duration("1500ms").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1h30").is_err());
    }
}
