//! The report's sections at scale: open streams, the sign-in storm, rest calls under
//! load and the failover storm, each against the floor at the same cadence.

use serde_json::Value;

const FLOOR: &str = "floor (raw hyper + rustls, same cadence)";

fn f(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |x| format!("{x:.digits$}"))
}

pub(crate) fn sections(md: &mut String, v: &Value) {
    streams(md, v);
    storm(md, v);
    rests(md, v);
    failover(md, v);
}

fn streams(md: &mut String, v: &Value) {
    md.push_str("\n### Agents with open event streams: ccgw against the floor at the same cadence\n\nThe protocol's minimum for the set-up is one pause between the two sign-in events (pauses take no turn).\n\n| agents | client | set-up s | protocol minimum s | ratio | RSS KiB per agent | ratio | peak RSS MiB | idle CPU s per minute | ratio |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for s in v["streams"].as_array().into_iter().flatten() {
        if let Some(why) = s["not_measured"].as_str() {
            md.push_str(&format!(
                "| {} | not measured: {why} | | | | | | | | |\n",
                s["agents"]
            ));
            continue;
        }
        for side in ["floor", "ccgw"] {
            let r = &s[side];
            let ratio = |key: &str| {
                if side == "floor" {
                    "1.00".to_owned()
                } else {
                    f(&s[key], 2)
                }
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                s["agents"],
                if side == "floor" { FLOOR } else { "ccgw" },
                f(&r["setup_seconds"], 2),
                f(&s["protocol_minimum_seconds"], 2),
                ratio("setup_ratio"),
                f(&r["rss_kib_per_agent"], 1),
                ratio("memory_ratio"),
                r["peak_rss_mib"],
                f(&r["idle_cpu_seconds_per_minute"], 2),
                ratio("idle_cpu_ratio"),
            ));
        }
    }
}

fn storm(md: &mut String, v: &Value) {
    md.push_str("\n### The sign-in storm: agents signed in from nothing, streams open\n\nSign-ins (and connections being opened) at once: ccgw's `Config::set_up_concurrency`, the floor's own turns.\n\n| agents | sign-ins in flight | floor s | ccgw s | ratio | protocol minimum s |\n|---|---|---|---|---|---|\n");
    for s in v["storm"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            s["agents"],
            s["concurrency"],
            f(&s["floor"]["setup_seconds"], 2),
            f(&s["ccgw"]["setup_seconds"], 2),
            f(&s["setup_ratio"], 2),
            f(&s["protocol_minimum_seconds"], 2),
        ));
    }
}

fn rests(md: &mut String, v: &Value) {
    let loaded = v["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["ccgw"]["rest_us"].is_object());
    let quiet = &v["quiet_rest_us"]["quiet"];
    let beside = &v["quiet_rest_us"]["beside_floor_polls"];
    md.push_str("\n### Commands under load: ccgw's rest calls, one after the other, each on an agent of its own\n\n| polls held | rest calls | p50 µs | p99 µs | p99 ratio |\n|---|---|---|---|---|\n");
    md.push_str(&format!(
        "| none | {} | {} | {} | 1.00 |\n",
        quiet["count"],
        f(&quiet["p50"], 0),
        f(&quiet["p99"], 0)
    ));
    if beside.is_object() {
        md.push_str(&format!(
            "| {} held by the floor in the same process | {} | {} | {} | {} |\n",
            crate::streams::UNDER_LOAD,
            beside["count"],
            f(&beside["p50"], 0),
            f(&beside["p99"], 0),
            f(
                &ratio_of(beside["p99"].as_f64(), quiet["p99"].as_f64())
                    .map_or(Value::Null, Value::from),
                2
            ),
        ));
    }
    if let Some(s) = loaded {
        let r = &s["ccgw"]["rest_us"];
        md.push_str(&format!(
            "| {} held by ccgw | {} | {} | {} | {} |\n",
            s["agents"],
            r["count"],
            f(&r["p50"], 0),
            f(&r["p99"], 0),
            f(&rest_p99_ratio(v).map_or(Value::Null, Value::from), 2),
        ));
    }
}

/// The rest p99 with every poll held over the quiet p99.
pub(crate) fn rest_p99_ratio(v: &Value) -> Option<f64> {
    let loaded = v["streams"]
        .as_array()?
        .iter()
        .find_map(|s| s["ccgw"]["rest_us"]["p99"].as_f64())?;
    ratio_of(Some(loaded), v["quiet_rest_us"]["quiet"]["p99"].as_f64())
}

fn ratio_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn failover(md: &mut String, v: &Value) {
    let s = &v["failover"];
    md.push_str("\n### The failover storm: 2 nodes, every agent in rest, node 0 dies\n\nFrom the node's death until every agent it held is signed in again on the other node, its stream open and its rest restored (ccgw: `SupervisedAgent` with `ensure_rest`). The protocol's own part is the cluster's switch-over.\n\n");
    if let Some(why) = s["not_measured"].as_str() {
        md.push_str(&format!("Not measured: {why}.\n"));
        return;
    }
    md.push_str("| agents | lost with the node | switch-over s | floor s | ccgw s | ratio |\n|---|---|---|---|---|---|\n");
    md.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} |\n",
        s["agents"],
        s["ccgw"]["lost"],
        f(&s["switchover_seconds"], 1),
        f(&s["floor"]["recovery_seconds"], 2),
        f(&s["ccgw"]["recovery_seconds"], 2),
        f(&s["recovery_ratio"], 2),
    ));
    md.push_str("\nWhat the recovery is made of: seconds from the node's death until the last lost agent found its session lost, was signed in again, and had its rest restored.\n\n| client | all found lost | all signed in again | all restored |\n|---|---|---|---|\n");
    for (name, side) in [(FLOOR, "floor"), ("ccgw", "ccgw")] {
        let r = &s[side];
        md.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            f(&r["all_lost_seconds"], 2),
            f(&r["all_signed_in_seconds"], 2),
            f(&r["recovery_seconds"], 2),
        ));
    }
}
