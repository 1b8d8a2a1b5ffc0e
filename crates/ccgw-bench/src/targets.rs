//! The targets ccgw is held to, each checked against this run's figures.

use serde_json::{Value, json};

use crate::clients::CCGW;

/// `(target, figure, met)` for every target; a figure this run did not measure is not met.
pub(crate) fn targets(v: &Value) -> Vec<(String, Option<f64>, bool)> {
    let ccgw = v["per_request"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["client"] == CCGW)
        .cloned()
        .unwrap_or(Value::Null);
    let rows = [
        (
            "client CPU per request at 64 in flight ≤ 1.25× raw hyper",
            at_most(ccgw["cpu_ratio"].as_f64(), 1.25),
        ),
        (
            "throughput at 64 in flight ≥ 0.8× raw hyper",
            at_least(ccgw["throughput_ratio"].as_f64(), 0.8),
        ),
        (
            "sequential latency ≤ 1.05× raw hyper",
            at_most(ccgw["latency_ratio"].as_f64(), 1.05),
        ),
        (
            "ccgw over the generated client, latency ≤ 1.03×",
            at_most(v["ccgw_vs_generated"]["latency"].as_f64(), 1.03),
        ),
        (
            "ccgw over the generated client, CPU ≤ 1.03×",
            at_most(v["ccgw_vs_generated"]["cpu"].as_f64(), 1.03),
        ),
        (
            "simulator ≥ 0.9× a minimal hyper server",
            at_least(v["simulator_capacity"]["ratio"].as_f64(), 0.9),
        ),
    ];
    rows.into_iter()
        .chain(scale_targets(v))
        .map(|(name, (figure, met))| (name.to_owned(), figure, met))
        .collect()
}

type Row = (&'static str, (Option<f64>, bool));

/// A figure and whether it is at most `bound` (a figure not measured is not).
fn at_most(x: Option<f64>, bound: f64) -> (Option<f64>, bool) {
    (x, x.is_some_and(|x| x <= bound))
}

/// A figure and whether it is at least `bound`.
fn at_least(x: Option<f64>, bound: f64) -> (Option<f64>, bool) {
    (x, x.is_some_and(|x| x >= bound))
}

/// The targets at scale, each a ratio to the floor at the same cadence.
fn scale_targets(v: &Value) -> Vec<Row> {
    let streams_at = |agents: u64| {
        v["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["agents"] == json!(agents))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The largest run measured (a count beyond the descriptor limit is not).
    let largest = v["streams"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .filter(|s| s["ccgw"].is_object())
                .filter_map(|s| s["agents"].as_u64())
                .max()
        })
        .map_or(Value::Null, streams_at);
    let ten_thousand = streams_at(10_000);
    vec![
        (
            "open streams: memory per agent ≤ 1.25× the floor (largest run)",
            at_most(largest["memory_ratio"].as_f64(), 1.25),
        ),
        (
            "open streams: ≤ 24 KiB per agent at 10,000 agents",
            at_most(ten_thousand["ccgw"]["rss_kib_per_agent"].as_f64(), 24.0),
        ),
        (
            "open streams: idle CPU ≤ 1.5× the floor at the same cadence (largest run)",
            at_most(largest["idle_cpu_ratio"].as_f64(), 1.5),
        ),
        (
            "sign-in storm: set-up of 10,000 ≤ 1.5× the floor",
            at_most(ten_thousand["setup_ratio"].as_f64(), 1.5),
        ),
        (
            "failover storm: recovery of 10,000 ≤ 1.5× the floor",
            at_most(v["failover"]["recovery_ratio"].as_f64(), 1.5),
        ),
        (
            "rest p99 with 10,000 polls held ≤ 2× the quiet p99",
            at_most(crate::scale_report::rest_p99_ratio(v), 2.0),
        ),
    ]
}

/// The targets as a Markdown table.
pub(crate) fn markdown(v: &Value) -> String {
    let mut md = String::from("### Targets\n\n| target | this run | met |\n|---|---|---|\n");
    for (name, figure, met) in targets(v) {
        md.push_str(&format!(
            "| {name} | {} | {} |\n",
            figure.map_or("not measured".to_owned(), |x| format!("{x:.2}")),
            if met { "yes" } else { "**no**" }
        ));
    }
    md
}
