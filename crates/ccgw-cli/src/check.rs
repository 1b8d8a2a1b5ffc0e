//! `ccgw check`: walks the documented sequence with one test agent against a real
//! gateway and compares what it did with the contract — each assumption, what the
//! gateway did, and whether it matches. The events each operation triggers come from
//! the spec (`ccgw_client::operations`), the return codes from `ccgw::RetCode`.

mod record;
mod walk;

use std::path::PathBuf;
use std::time::Duration;

use ccgw::AgentId;
use clap::Args;

pub(crate) use record::Recorder;

use crate::failure::Failure;
use crate::{GatewayArgs, parse_value};

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The test agent: one nobody uses (the check signs it in, rests it for the shortest
    /// time the contract allows, cancels, and signs it out). An agent that is signed in
    /// is refused before anything changes.
    #[arg(long, value_name = "ID", value_parser = parse_value::<AgentId>)]
    agent: AgentId,
    /// The test agent's phone number.
    #[arg(long)]
    phone: String,
    /// File holding the password (first line); default CCGW_PASSWORD or a prompt.
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// Also check a forced sign-in over the check's own session (the old Guid must be
    /// refused afterwards).
    #[arg(long)]
    take_over: bool,
    /// The load balancer's cookie expected when the gateway sets one (Huawei's ELB
    /// names it so; an NSLB's name is the operator's).
    #[arg(long, value_name = "NAME", default_value = "huaweielbsession")]
    cookie: String,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Write the exchanges (operation, HTTP status, return code, time) and the events,
    /// in order, to this file; no secret is in them.
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,
    #[command(flatten)]
    gateway: GatewayArgs,
}

/// Whether an assumption held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Matches,
    Differs,
    /// Not seen during the check (allowed: e.g. a rotation slower than the check).
    NotSeen,
}

impl Verdict {
    fn of(holds: bool) -> Verdict {
        if holds {
            Verdict::Matches
        } else {
            Verdict::Differs
        }
    }

    fn name(self) -> &'static str {
        match self {
            Verdict::Matches => "matches",
            Verdict::Differs => "DIFFERS",
            Verdict::NotSeen => "not seen",
        }
    }
}

/// One row of the report.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) assumption: String,
    pub(crate) observed: String,
    pub(crate) verdict: Verdict,
}

pub(crate) async fn run(args: CheckArgs, recorder: Recorder) -> Result<(), Failure> {
    let (client, config) = crate::client_for(&args.gateway)?;
    let password = crate::secrets::password(args.password_file.as_deref())?;
    let walk = walk::Walk {
        client,
        id: args.agent,
        sign_in: ccgw::SignIn::new(password.as_str(), args.phone.clone()),
        hold: config.poll_hold,
        cookie: args.cookie.clone(),
        take_over: args.take_over,
        recorder,
        rows: Vec::new(),
        events: walk::Seen::default(),
    };
    let (rows, transcript, signed_out) = walk.run().await?;
    if let Some(file) = &args.transcript {
        std::fs::write(file, transcript).map_err(|e| {
            Failure::Other(format!(
                "cannot write the transcript {}: {e}",
                file.display()
            ))
        })?;
    }
    print(&rows, args.json);
    let differ = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Differs)
        .count();
    if differ > 0 {
        let still = if signed_out {
            String::new()
        } else {
            format!(
                "; the sign-out failed, so agent {} may still be signed in: sign it out with `ccgw sign-out` (or on the platform)",
                args.agent
            )
        };
        return Err(Failure::Other(format!(
            "{differ} of {} assumptions do not hold for this gateway (the rows marked DIFFERS){still}",
            rows.len()
        )));
    }
    Ok(())
}

fn print(rows: &[Row], json: bool) {
    if json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"assumption": r.assumption, "observed": r.observed, "verdict": r.verdict.name()})
            })
            .collect();
        say!("{}", serde_json::json!({ "rows": rows }));
        return;
    }
    let width = rows.iter().map(|r| r.assumption.len()).max().unwrap_or(0);
    let seen = rows.iter().map(|r| r.observed.len()).max().unwrap_or(0);
    say!("{:width$}  {:seen$}  VERDICT", "ASSUMPTION", "THE GATEWAY");
    for r in rows {
        say!(
            "{:width$}  {:seen$}  {}",
            r.assumption,
            r.observed,
            r.verdict.name()
        );
    }
}

/// `d` as people read it (`10.0s`, `480ms`).
pub(crate) fn shown(d: Duration) -> String {
    format!("{d:.1?}")
}
