//! Instructions per request, counted by callgrind (valgrind) in a client-only process:
//! the minimal server runs in a process of its own, and each client sends `FEW` and then
//! `MANY` sequential requests in two runs; the difference, divided by the extra
//! requests, leaves set-up (TLS handshake, runtime, parsing arguments) out.

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::clients::*;
use crate::servers::*;
use crate::{GUID, PATH};

const FEW: usize = 200;
const MANY: usize = 1200;

/// The clients counted, by the key the counting process takes.
pub(crate) const COUNTED: [(&str, &str); 3] = [
    ("raw", "raw hyper + rustls"),
    ("generated", GENERATED),
    ("ccgw", CCGW),
];

/// Serves the minimal server in this process until its standard input closes; prints
/// `{"base_url", "ca_pem"}` first.
pub(crate) fn serve() -> Result<()> {
    let tls = tls(rustls::crypto::ring::default_provider())?;
    let addr = minimal_server(Arc::clone(&tls.server))?;
    println!(
        "{}",
        json!({"base_url": format!("https://127.0.0.1:{}", addr.port()), "ca_pem": tls.ca_pem})
    );
    std::io::stdin().read_line(&mut String::new())?;
    Ok(())
}

/// Sends `requests` sequential rest requests through the client `key` (one of
/// [`COUNTED`]) to `base`, trusting `ca_file`.
pub(crate) fn count(key: &str, requests: usize, base: &str, ca_file: &Path) -> Result<()> {
    let ca_pem = std::fs::read_to_string(ca_file)?;
    let client_tls = Arc::new(client_config(&ca_pem)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let client: Box<dyn Client> = match key {
            "raw" => {
                let addr = base
                    .trim_start_matches("https://")
                    .parse()
                    .context("the server's address")?;
                Box::new(RawHyper::connect(addr, client_tls, 1).await?)
            }
            "generated" => Box::new(generated(base, client_tls)?),
            "ccgw" => Box::new(ccgw(base, &ca_pem)?),
            other => bail!("no client {other:?}"),
        };
        for _ in 0..requests {
            client.call(0).await?;
        }
        Ok(())
    })
}

/// The generated client on ccgw's transport.
pub(crate) fn generated(base: &str, tls: Arc<rustls::ClientConfig>) -> Result<Generated> {
    let transport = ccgw_client::transport::Transport::new(
        base,
        ccgw_client::transport::TransportConfig::new(Some(tls)),
    )?;
    let session = ccgw_client::Session::new().with_transport(transport);
    session.set_guid(GUID)?;
    Ok(Generated {
        api: ccgw_client::Client::new_with_client(base, reqwest::Client::new(), session),
    })
}

/// ccgw with the CA in `ca_pem` as its only root.
pub(crate) fn ccgw(base: &str, ca_pem: &str) -> Result<Ccgw> {
    let client = ccgw::Config {
        url: Some(base.to_owned()),
        system_roots: false,
        ca_pem: Some(ca_pem.to_owned()),
        ..ccgw::Config::default()
    }
    .build_client()?;
    Ok(Ccgw {
        agent: client.agent(ccgw::AgentId::new(101)?, ccgw::Guid::new(GUID)?, None),
    })
}

fn client_config(ca_pem: &str) -> Result<rustls::ClientConfig> {
    ccgw_testkit::client_config_trusting(ca_pem, rustls::crypto::ring::default_provider())
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Counts every client of [`COUNTED`] under callgrind; `measured: false` with the
/// reason when valgrind cannot run here.
pub(crate) fn instructions(out: &Path) -> Result<Value> {
    let valgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success());
    if valgrind.is_none() {
        return Ok(json!({"measured": false,
            "reason": "valgrind is not installed (Debian: apt-get install valgrind)"}));
    }
    let exe = std::env::current_exe()?;
    let (_server, mut output) = ccgw_testkit::Child::spawn(
        Command::new(&exe)
            .args(["--out"])
            .arg(out)
            .arg("serve")
            .stdin(Stdio::piped()),
    )?;
    let start = ccgw_testkit::json_line(&mut output).context("the server's JSON line")?;
    let base = start["base_url"].as_str().context("base_url")?.to_owned();
    let ca_file = out.join("instructions-ca.pem");
    std::fs::write(&ca_file, start["ca_pem"].as_str().context("ca_pem")?)?;
    let collected = |key: &str, requests: usize| -> Result<u64> {
        let run = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .arg("--out")
            .arg(out)
            .args([
                "count",
                key,
                "--requests",
                &requests.to_string(),
                "--base",
                &base,
            ])
            .arg("--ca-file")
            .arg(&ca_file)
            .output()?;
        let stderr = String::from_utf8_lossy(&run.stderr);
        if !run.status.success() {
            bail!("counting {key} failed:\n{stderr}");
        }
        stderr
            .lines()
            .find_map(|l| {
                l.split_once("Collected :")
                    .map(|(_, n)| n.trim().to_owned())
            })
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("no `Collected :` line from callgrind:\n{stderr}"))
    };
    let mut rows = Vec::new();
    for (key, name) in COUNTED {
        eprintln!("  counting {name}");
        let few = collected(key, FEW)?;
        let many = collected(key, MANY)?;
        rows.push(json!({"client": name,
            "instructions_per_request": many.saturating_sub(few) as f64 / (MANY - FEW) as f64}));
    }
    let base_ir = rows[0]["instructions_per_request"].as_f64().unwrap_or(1.0);
    for row in &mut rows {
        let ir = row["instructions_per_request"].as_f64().unwrap_or_default();
        row["ratio"] = json!(ir / base_ir);
    }
    Ok(json!({"measured": true, "requests": [FEW, MANY], "path": PATH, "clients": rows}))
}
