//! Agents with open event streams against `ccgw-sim` (a process of its own), through
//! ccgw and through the floor: raw hyper + rustls holding the same idle long polls, one
//! connection per agent. Each side runs in a fresh process against a fresh simulator,
//! so its memory and idle CPU are its own.

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Args;
use crate::measure::*;
use ccgw_testkit::{Child, SimProcess, json_line, memory_kib};

/// How long the idle CPU is measured, after 2 s of settling.
const IDLE: Duration = Duration::from_secs(15);
/// Sign-ins in flight at once while the streams open.
const SET_UP_CONCURRENCY: usize = 64;

/// ccgw against the floor with `agents` open streams; ratios to the floor.
pub(crate) fn streams(args: &Args, agents: u32) -> Result<Value> {
    let sim_bin = args
        .sim_bin
        .as_ref()
        .context("--sim-bin is needed for the streams")?;
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for kind in ["raw", "ccgw"] {
        let dir = args.out.join(format!("sim-{kind}-{agents}"));
        let sim = SimProcess::start(
            Command::new(sim_bin),
            &dir,
            &["--agents", &format!("101-{}", 100 + agents)],
        )
        .with_context(|| format!("cannot start {}", sim_bin.display()))?;
        let base = sim.base_url();
        let ca_file = sim.ca_file().context("ca_file")?;
        let (holder, mut out) = Child::spawn(
            Command::new(&exe)
                .arg("--out")
                .arg(&args.out)
                .args(["streams", kind, "--agents", &agents.to_string()])
                .args(["--base", base, "--ca-file", ca_file]),
        )?;
        let row =
            json_line(&mut out).with_context(|| format!("no figures from the {kind} streams"))?;
        drop(holder);
        drop(sim);
        rows.push(row);
    }
    let ratio = |key: &str| {
        rows[1][key].as_f64().unwrap_or_default() / rows[0][key].as_f64().unwrap_or(f64::NAN)
    };
    Ok(json!({
        "agents": agents,
        "floor": rows[0],
        "ccgw": rows[1],
        "memory_ratio": ratio("rss_kib_per_agent"),
        "idle_cpu_ratio": ratio("idle_cpu_seconds_per_minute"),
    }))
}

/// In the streams process: opens `agents` streams of `kind` ("raw" or "ccgw"), lets them
/// idle, and prints their figures as one JSON line.
pub(crate) fn hold(kind: &str, agents: u32, base: &str, ca_file: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rss_before = memory_kib("VmRSS");
    let started = Instant::now();
    rt.block_on(async {
        let held: Box<dyn std::any::Any + Send> = match kind {
            "ccgw" => Box::new(ccgw_streams(agents, base, ca_file).await?),
            "raw" => Box::new(raw_streams(agents, base, ca_file).await?),
            other => bail!("no stream kind {other:?}"),
        };
        let ready = started.elapsed();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let cpu_before = process_cpu();
        tokio::time::sleep(IDLE).await;
        let cpu = process_cpu() - cpu_before;
        let rss_after = memory_kib("VmRSS");
        println!(
            "{}",
            json!({
                "kind": kind,
                "agents": agents,
                "setup_seconds": ready.as_secs_f64(),
                "rss_kib_per_agent": rss_after.saturating_sub(rss_before) as f64 / f64::from(agents),
                "peak_rss_mib": memory_kib("VmHWM") / 1024,
                "idle_cpu_seconds_per_minute": cpu / IDLE.as_secs_f64() * 60.0,
            })
        );
        drop(held);
        Ok(())
    })
}

/// Signed-in agents, each with its stream open and idle in its long poll.
async fn ccgw_streams(
    agents: u32,
    base: &str,
    ca_file: &Path,
) -> Result<Vec<(ccgw::Agent, ccgw::EventStream)>> {
    let client = ccgw::Config {
        url: Some(base.to_owned()),
        system_roots: false,
        ca_file: Some(ca_file.to_owned()),
        connect_timeout: Duration::from_secs(20),
        ..ccgw::Config::default()
    }
    .build_client()?;
    let permits = Arc::new(tokio::sync::Semaphore::new(SET_UP_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 101..101 + agents {
        let (client, permits) = (client.clone(), Arc::clone(&permits));
        tasks.spawn(async move {
            let _p = permits.acquire_owned().await?;
            let sign_in = ccgw::SignIn::new(format!("pw{id}"), format!("40{id}"));
            let agent = client.sign_in(ccgw::AgentId::new(id)?, &sign_in).await?;
            let mut events = agent.events();
            // The two sign-in events, so the stream is idle in its long poll.
            for _ in 0..2 {
                events.next().await;
            }
            Ok::<_, anyhow::Error>((agent, events))
        });
    }
    let mut held = Vec::new();
    while let Some(done) = tasks.join_next().await {
        held.push(done??);
    }
    Ok(held)
}

/// The floor: per agent, one hyper connection over tokio-rustls that signs in, then
/// long-polls in a task of its own, following the Guid's rotation.
async fn raw_streams(
    agents: u32,
    base: &str,
    ca_file: &Path,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let authority = base.trim_start_matches("https://").to_owned();
    let ca = ccgw_testkit::client_config_trusting(
        &std::fs::read_to_string(ca_file)?,
        rustls::crypto::ring::default_provider(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(ca));
    let permits = Arc::new(tokio::sync::Semaphore::new(SET_UP_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 101..101 + agents {
        let (tls, authority, permits) = (tls.clone(), authority.clone(), Arc::clone(&permits));
        tasks.spawn(async move {
            let _p = permits.acquire_owned().await?;
            raw_agent(tls, authority, id).await
        });
    }
    let mut held = Vec::new();
    while let Some(done) = tasks.join_next().await {
        held.push(done??);
    }
    Ok(held)
}

async fn raw_agent(
    tls: tokio_rustls::TlsConnector,
    authority: String,
    id: u32,
) -> Result<tokio::task::JoinHandle<()>> {
    let tcp = tokio::net::TcpStream::connect(&authority).await?;
    tcp.set_nodelay(true)?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
    let stream = tls.connect(name, tcp).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let request = move |method: &str, path: String, guid: Option<&str>, body: String| {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("/agentgateway/resource{path}"))
            .header(http::header::HOST, &authority)
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            );
        if let Some(guid) = guid {
            builder = builder.header("guid", guid);
        }
        builder.body(Full::new(Bytes::from(body)))
    };
    let signed_in = sender
        .send_request(request(
            "PUT",
            format!("/onlineagent/{id}"),
            None,
            format!(r#"{{"password":"pw{id}","phonenum":"40{id}"}}"#),
        )?)
        .await?;
    let mut guid = set_guid(signed_in.headers()).context("no Guid on the sign-in answer")?;
    signed_in.into_body().collect().await?;
    let poll = move |guid: &str| {
        request(
            "GET",
            format!("/agentevent/{id}"),
            Some(guid),
            String::new(),
        )
    };
    // The two sign-in events, then idle long polls.
    for _ in 0..2 {
        sender.ready().await?;
        let answer = sender.send_request(poll(&guid)?).await?;
        guid = set_guid(answer.headers()).unwrap_or(guid);
        answer.into_body().collect().await?;
    }
    Ok(tokio::spawn(async move {
        loop {
            let Ok(request) = poll(&guid) else { return };
            if sender.ready().await.is_err() {
                return;
            }
            let Ok(answer) = sender.send_request(request).await else {
                return;
            };
            guid = set_guid(answer.headers()).unwrap_or(guid);
            if answer.into_body().collect().await.is_err() {
                return;
            }
        }
    }))
}

fn set_guid(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("set-guid")?
        .to_str()
        .ok()?
        .strip_prefix("JSESSIONID=")
        .map(str::to_owned)
}
