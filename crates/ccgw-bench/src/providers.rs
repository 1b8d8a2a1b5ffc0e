//! rustls's crypto provider: `ring` (what ccgw builds with) against `aws-lc-rs`
//! (rustls's default, a C build of minutes), each on both ends of raw hyper + rustls.
//! Two costs: a new connection per call (TCP, TLS handshake, one request) and pooled
//! requests. aws-lc-rs is measured when ccgw-bench is built with `--features aws-lc`,
//! as `cargo xtask bench` does.

use anyhow::Result;
use serde_json::{Value, json};
use std::sync::Arc;

use crate::clients::*;
use crate::measure::*;
use crate::report::row;
use crate::servers::*;
use crate::{Args, IN_FLIGHT};

fn candidates() -> Vec<(&'static str, rustls::crypto::CryptoProvider)> {
    #[allow(
        unused_mut,
        reason = "aws-lc-rs is added only with the `aws-lc` feature"
    )]
    let mut all = vec![("ring", rustls::crypto::ring::default_provider())];
    #[cfg(feature = "aws-lc")]
    all.push(("aws-lc-rs", rustls::crypto::aws_lc_rs::default_provider()));
    all
}

/// Handshake and pooled cost per provider; ratios to ring.
pub(crate) fn providers(args: &Args, rt: &tokio::runtime::Runtime) -> Result<Value> {
    let mut handshakes: Vec<PerCall> = Vec::new();
    let mut pooled: Vec<RawHyper> = Vec::new();
    for (name, provider) in candidates() {
        let tls = tls(provider)?;
        let addr = minimal_server(Arc::clone(&tls.server))?;
        handshakes.push(PerCall {
            name,
            addr,
            tls: Arc::clone(&tls.client),
        });
        let raw = rt.block_on(RawHyper::connect(addr, Arc::clone(&tls.client), IN_FLIGHT))?;
        pooled.push(raw.named(name));
    }
    let handshake_args = Args {
        sequential: (args.sequential / 10).max(50),
        ..args.clone()
    };
    let mut names = Vec::new();
    let clients: Vec<&dyn Client> = handshakes.iter().map(|c| c as &dyn Client).collect();
    let handshake_stats = run_clients(&handshake_args, &clients, &mut names, rt)?;
    let clients: Vec<&dyn Client> = pooled.iter().map(|c| c as &dyn Client).collect();
    let mut pooled_names = Vec::new();
    let pooled_stats = run_clients(args, &clients, &mut pooled_names, rt)?;
    let rows = |names: &[&str], stats: &[Stats]| {
        names
            .iter()
            .zip(stats)
            .map(|(n, s)| row(n, s, &stats[0]))
            .collect::<Vec<_>>()
    };
    Ok(json!({
        "aws_lc_measured": cfg!(feature = "aws-lc"),
        "connection_per_call": rows(&names, &handshake_stats),
        "pooled": rows(&pooled_names, &pooled_stats),
    }))
}
