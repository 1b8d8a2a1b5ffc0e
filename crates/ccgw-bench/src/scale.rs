//! Agents with open event streams against `ccgw-sim` in a separate process.

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Args;
use crate::measure::*;
use ccgw_tests::memory_kib;

pub(crate) fn scale_run(args: &Args, agents: u32) -> Result<Value> {
    let dir = args.out.join(format!("sim-{agents}"));
    let (child, mut output) = ccgw_tests::Child::spawn(
        std::process::Command::new(&args.sim_bin)
            .args(["--listen", "127.0.0.1:0", "--json", "--agents"])
            .arg(format!("101-{}", 100 + agents))
            .arg("--cert-dir")
            .arg(&dir),
    )
    .with_context(|| format!("cannot start {}", args.sim_bin.display()))?;
    let result = (|| {
        let start = ccgw_tests::json_line(&mut output).context("the simulator's JSON line")?;
        let base = start["base_url"].as_str().context("base_url")?.to_owned();
        let ca_file = start["ca_file"].as_str().context("ca_file")?.to_owned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let rss_before = memory_kib("VmRSS");
        let started = Instant::now();
        rt.block_on(async {
            let client = ccgw::GatewayClient::builder(&base)
                .system_roots(false)
                .add_root_certificate_pem_file(&ca_file)
                .connect_timeout(Duration::from_secs(20))
                .build()?;
            let mut handles = Vec::new();
            let mut tasks = tokio::task::JoinSet::new();
            let permits = Arc::new(tokio::sync::Semaphore::new(64));
            for id in 101..101 + agents {
                let (client, permits) = (client.clone(), Arc::clone(&permits));
                tasks.spawn(async move {
                    let _p = permits.acquire_owned().await?;
                    let agent = client.sign_in(ccgw::AgentId::new(id)?, &ccgw::SignIn::new(format!("pw{id}"))).await?;
                    let mut events = agent.events();
                    // The two sign-in events, so every stream is idle in its long poll.
                    for _ in 0..2 {
                        events.next().await;
                    }
                    Ok::<_, anyhow::Error>((agent, events))
                });
            }
            while let Some(done) = tasks.join_next().await {
                handles.push(done??);
            }
            let ready = started.elapsed();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let cpu_before = process_cpu();
            let idle = Duration::from_secs(15);
            tokio::time::sleep(idle).await;
            let cpu = process_cpu() - cpu_before;
            let rss_after = memory_kib("VmRSS");
            let peak = memory_kib("VmHWM");
            drop(handles);
            Ok::<Value, anyhow::Error>(json!({
                "agents": agents,
                "setup_seconds": ready.as_secs_f64(),
                "rss_kib_per_agent": (rss_after.saturating_sub(rss_before)) as f64 / f64::from(agents),
                "peak_rss_mib": peak / 1024,
                "idle_cpu_seconds_per_minute": cpu / idle.as_secs_f64() * 60.0,
            }))
        })
    })();
    drop(child);
    result
}
