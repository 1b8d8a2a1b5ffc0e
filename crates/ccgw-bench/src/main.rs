//! `ccgw-bench`, run by `cargo xtask bench` (release build): what a rest request costs
//! through each client, over HTTPS on loopback, as ratios to a baseline measured in the
//! same run. Writes `results.json`, `results.md` and the chart `results.svg` into `--out`.
//!
//! Servers and clients run on separate OS threads, each with a single-threaded tokio
//! runtime; client CPU is the client thread's own CPU time (`/proc/thread-self/stat`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;

const PATH: &str = "/agentgateway/resource/onlineagent/101/rest/600/3?prolong=false";
const BODY: &str = r#"{"result":{},"message":"success","retcode":"0"}"#;
const GUID: &str = "bench-guid-0000.AgentGateway0";
const IN_FLIGHT: usize = 64;

#[derive(Parser, Debug, Clone)]
#[command(name = "ccgw-bench")]
struct Args {
    /// Where results.json and results.md are written.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Sequential requests per client per round.
    #[arg(long, default_value_t = 2000)]
    sequential: usize,
    /// Rounds (client order rotates each round).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds of load per client per throughput round.
    #[arg(long, default_value_t = 1.5)]
    seconds: f64,
    /// The ccgw-sim binary, for the open streams (a separate process).
    #[arg(long)]
    sim_bin: Option<PathBuf>,
    /// Agent counts for the open streams (the file-descriptor limit is raised for them).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,20000,50000")]
    scale: Vec<u32>,
    /// Sign-ins in flight at once for the sign-in storm of 10,000 agents.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256")]
    storm: Vec<usize>,
    /// Agents of the failover storm (0: none).
    #[arg(long, default_value_t = 10_000)]
    failover: u32,
    /// Skip the instruction counts (callgrind).
    #[arg(long)]
    no_instructions: bool,
    #[command(subcommand)]
    part: Option<Part>,
}

/// Parts of the bench that run in processes of their own (started by the bench itself).
#[derive(clap::Subcommand, Debug, Clone)]
enum Part {
    /// Draw `--out`/results.svg again from `--out`/results.json.
    Chart,
    /// Serve the minimal server until standard input closes.
    #[command(hide = true)]
    Serve,
    /// Send `--requests` sequential requests through one client (run under callgrind).
    #[command(hide = true)]
    Count {
        client: String,
        #[arg(long)]
        requests: usize,
        #[arg(long)]
        base: String,
        #[arg(long)]
        ca_file: PathBuf,
    },
    /// Set up `--agents` agents of one kind with open event streams; print their figures.
    #[command(hide = true)]
    Streams(streams::side::Side),
    /// Keep `--agents` agents of one kind in rest on a 2-node cluster, kill node 0, time
    /// the recovery.
    #[command(hide = true)]
    Failover(streams::side::Side),
}

mod chart;
mod clients;
mod failover;
mod files;
mod instructions;
mod measure;
mod providers;
mod report;
mod scale_report;
mod servers;
mod streams;
mod targets;

use clients::*;
use measure::*;
use providers::*;
use report::*;
use servers::*;

/// Raw hyper, the generated client on ccgw's transport and ccgw, with the same TLS
/// configuration, for the server at `addr` (`base`).
async fn three_clients(
    addr: std::net::SocketAddr,
    base: &str,
    tls: &Tls,
) -> Result<(RawHyper, Generated, Ccgw)> {
    let raw = RawHyper::connect(addr, Arc::clone(&tls.client), IN_FLIGHT).await?;
    // The generated client on ccgw's transport, with the same TLS configuration.
    let transport = ccgw_client::transport::Transport::new(
        base,
        ccgw_client::transport::TransportConfig::new(Some(Arc::clone(&tls.client))),
    )?;
    let session = ccgw_client::Session::new().with_transport(transport);
    session.set_guid(GUID)?;
    let generated = Generated {
        api: ccgw_client::Client::new_with_client(base, reqwest::Client::new(), session),
    };
    let client = ccgw::Config {
        url: Some(base.to_owned()),
        system_roots: false,
        ca_pem: Some(tls.ca_pem.clone()),
        ..ccgw::Config::default()
    }
    .build_client()?;
    let ccgw_client = Ccgw {
        agent: client.agent(ccgw::AgentId::new(101)?, ccgw::Guid::new(GUID)?, None),
    };
    Ok((raw, generated, ccgw_client))
}

/// Parts 2 to 9: the demo-client pattern, the simulator's capacity, the crypto providers,
/// instructions per request, open event streams, the storms and rest calls under load.
fn further_parts(
    args: &Args,
    tls: &Tls,
    addr: std::net::SocketAddr,
    ccgw_client: &Ccgw,
    rt: &tokio::runtime::Runtime,
) -> Result<(Vec<&'static str>, Vec<Stats>, serde_json::Value)> {
    eprintln!("2. the demo-client pattern (a new connection per call) against pooled ccgw");
    let per_call = PerCall {
        name: "new connection per call (demo-client pattern)",
        addr,
        tls: Arc::clone(&tls.client),
    };
    let demo_args = Args {
        sequential: (args.sequential / 10).max(50),
        ..args.clone()
    };
    let mut demo_names = Vec::new();
    let demo_stats = run_clients(&demo_args, &[ccgw_client, &per_call], &mut demo_names, rt)?;

    eprintln!(
        "3. simulator capacity: ccgw-sim against the minimal hyper server, same load generator"
    );
    let capacity = sim_capacity(args, tls, addr, rt)?;

    eprintln!("4. rustls's crypto provider: ring against aws-lc-rs over raw hyper");
    let providers = providers(args, rt)?;

    eprintln!("5. instructions per request (callgrind, client-only processes)");
    let instructions = if args.no_instructions {
        serde_json::json!({"measured": false, "reason": "--no-instructions"})
    } else {
        instructions::instructions(&args.out)?
    };

    let mut sections = serde_json::json!({
        "simulator_capacity": capacity,
        "crypto_providers": providers,
        "instructions": instructions,
    });
    if let (Some(all), serde_json::Value::Object(scale)) =
        (sections.as_object_mut(), at_scale(args)?)
    {
        all.extend(scale);
    }
    Ok((demo_names, demo_stats, sections))
}

/// Parts 6 to 9: open streams, the sign-in storm, rest calls under load, the failover
/// storm.
fn at_scale(args: &Args) -> Result<serde_json::Value> {
    eprintln!(
        "6. open event streams: ccgw against the floor at the same cadence (separate processes)"
    );
    let limit = files::raise_limit();
    let mut scale = Vec::new();
    for n in files::counts(&args.scale, limit) {
        match n {
            Ok(n) => {
                eprintln!("   {n} agents");
                scale.push(streams::streams(args, n)?);
            }
            Err((n, why)) => scale.push(serde_json::json!({"agents": n, "not_measured": why})),
        }
    }
    eprintln!(
        "7. the sign-in storm: {} agents from nothing at {:?} sign-ins in flight",
        streams::UNDER_LOAD,
        args.storm
    );
    let storm = streams::storm(args, streams::UNDER_LOAD, &args.storm)?;
    eprintln!(
        "8. rest calls with no poll held, and beside {} polls held by the floor",
        streams::UNDER_LOAD
    );
    let quiet = streams::quiet_rests(args)?;
    let failover = if args.failover > 0 {
        eprintln!(
            "9. the failover storm: {} agents in rest on 2 nodes, node 0 dies",
            args.failover
        );
        failover::failover(args, args.failover)?
    } else {
        serde_json::json!({"not_measured": "--failover 0"})
    };

    Ok(serde_json::json!({
        "streams": scale,
        "storm": storm,
        "quiet_rest_us": quiet,
        "failover": failover,
    }))
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    // ring, as ccgw uses; plain reqwest (feature `plain-reqwest`) needs a default
    // provider in every process that builds a `reqwest::Client`.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match &args.part {
        None => {}
        Some(Part::Chart) => {
            let json = std::fs::read_to_string(args.out.join("results.json"))?;
            return chart::chart(&serde_json::from_str(&json)?, &args.out.join("results.svg"));
        }
        Some(Part::Serve) => return instructions::serve(),
        Some(Part::Count {
            client,
            requests,
            base,
            ca_file,
        }) => return instructions::count(client, *requests, base, ca_file),
        Some(Part::Streams(side)) => return streams::side::run(side),
        Some(Part::Failover(side)) => return failover::run(side),
    }
    let tls = tls(rustls::crypto::ring::default_provider())?;
    let addr = minimal_server(Arc::clone(&tls.server))?;
    let base = format!("https://127.0.0.1:{}", addr.port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    eprintln!(
        "1. per-request cost against a minimal hyper server over HTTPS ({} rounds)",
        args.rounds
    );
    let (raw, generated, ccgw_client) = rt.block_on(three_clients(addr, &base, &tls))?;
    #[cfg(feature = "plain-reqwest")]
    let plain = plain_reqwest(&tls.ca_pem, &base)?;
    let mut clients: Vec<&dyn Client> = vec![&raw];
    #[cfg(feature = "plain-reqwest")]
    clients.push(&plain);
    clients.extend([&generated as &dyn Client, &ccgw_client]);
    let mut names = Vec::new();
    let stats = run_clients(&args, &clients, &mut names, &rt)?;

    let (demo_names, demo_stats, extra) = further_parts(&args, &tls, addr, &ccgw_client, &rt)?;

    let json = report(&names, &stats, &demo_names, &demo_stats, extra);
    chart::chart(&json, &args.out.join("results.svg"))?;
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let md = format!("{}\n{}", targets::markdown(&json), markdown(&json));
    std::fs::write(args.out.join("results.md"), &md)?;
    println!("{md}");
    Ok(())
}
