//! `ccgw-sim`: run a simulated CC-Gateway until Ctrl-C.

use clap::Parser;

/// A simulated CC-Gateway for the agent rest workflow (sign in, rest, cancel rest,
/// status, event polling, heartbeat, sign out).
#[derive(Parser, Debug)]
#[command(name = "ccgw-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: ccgw_sim::cli::SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ccgw_sim::cli::run(Cli::parse().sim).await
}
