//! The results as JSON and as the Markdown tables of `docs/benchmarks.md`.

use serde_json::{Value, json};

use crate::clients::{CCGW, GENERATED};
use crate::measure::*;

/// One client's figures and its ratios to `base`.
pub(crate) fn row(name: &str, s: &Stats, base: &Stats) -> Value {
    let (lo, hi) = Stats::spread(&s.round_medians_us);
    json!({
        "client": name,
        "latency_median_us": s.median_latency(),
        "latency_p99_us": s.p99_latency(),
        "latency_round_medians_us": [lo, hi],
        "latency_ratio": s.median_latency() / base.median_latency(),
        "throughput_rps": Stats::median_of(&s.throughput),
        "throughput_rounds": s.throughput,
        "throughput_ratio": Stats::median_of(&s.throughput) / Stats::median_of(&base.throughput),
        "cpu_us_per_request": Stats::median_of(&s.cpu_us_per_req),
        "cpu_rounds": s.cpu_us_per_req,
        "cpu_ratio": Stats::median_of(&s.cpu_us_per_req) / Stats::median_of(&base.cpu_us_per_req),
        "latency_distribution_us": s.distribution(),
    })
}

/// The figures of the client named `name` (the first measured is the baseline).
fn by_name<'a>(names: &[&str], stats: &'a [Stats], name: &str) -> Option<&'a Stats> {
    names.iter().position(|n| *n == name).map(|i| &stats[i])
}

/// Everything measured, as JSON; `sections` (an object) adds the parts measured
/// elsewhere: `simulator_capacity`, `crypto_providers`, `instructions`, `streams`.
pub(crate) fn report(
    names: &[&str],
    stats: &[Stats],
    demo_names: &[&str],
    demo: &[Stats],
    sections: Value,
) -> Value {
    let ccgw_vs_generated = match (
        by_name(names, stats, CCGW),
        by_name(names, stats, GENERATED),
    ) {
        (Some(c), Some(g)) => json!({
            "latency": c.median_latency() / g.median_latency(),
            "cpu": Stats::median_of(&c.cpu_us_per_req) / Stats::median_of(&g.cpu_us_per_req),
        }),
        _ => Value::Null,
    };
    let mut all = json!({
        "per_request": names.iter().zip(stats).map(|(n, s)| row(n, s, &stats[0])).collect::<Vec<_>>(),
        "ccgw_vs_generated": ccgw_vs_generated,
        "connection_per_call": demo_names.iter().zip(demo).map(|(n, s)| row(n, s, &demo[0])).collect::<Vec<_>>(),
    });
    if let (Some(all), Value::Object(sections)) = (all.as_object_mut(), sections) {
        all.extend(sections);
    }
    all
}

const HEADER: &str = "| client | latency median µs (round medians) | p99 µs | ratio | 64 in flight req/s (rounds) | ratio | client CPU µs/req | ratio |\n|---|---|---|---|---|---|---|---|\n";

/// One table row per client of `rows`.
fn fmt_rows(md: &mut String, rows: &Value) {
    for r in rows.as_array().into_iter().flatten() {
        let rounds = |k: &str| {
            r[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join("–")
        };
        md.push_str(&format!(
            "| {} | {:.0} ({}) | {:.0} | {:.2} | {:.0} ({}) | {:.2} | {:.1} | {:.2} |\n",
            r["client"].as_str().unwrap_or_default(),
            r["latency_median_us"].as_f64().unwrap_or_default(),
            rounds("latency_round_medians_us"),
            r["latency_p99_us"].as_f64().unwrap_or_default(),
            r["latency_ratio"].as_f64().unwrap_or_default(),
            r["throughput_rps"].as_f64().unwrap_or_default(),
            rounds("throughput_rounds"),
            r["throughput_ratio"].as_f64().unwrap_or_default(),
            r["cpu_us_per_request"].as_f64().unwrap_or_default(),
            r["cpu_ratio"].as_f64().unwrap_or_default(),
        ));
    }
}

pub(crate) fn markdown(v: &Value) -> String {
    let mut md = String::from(
        "### Per-request cost, rest over HTTPS on loopback (ratios to raw hyper, same run)\n\n",
    );
    md.push_str(HEADER);
    fmt_rows(&mut md, &v["per_request"]);
    md.push_str(&format!(
        "\nccgw vs the generated client alone: latency {:.3}×, client CPU {:.3}×.\n",
        v["ccgw_vs_generated"]["latency"]
            .as_f64()
            .unwrap_or_default(),
        v["ccgw_vs_generated"]["cpu"].as_f64().unwrap_or_default()
    ));
    md.push_str("\n### Pooled ccgw vs a new connection per call (ratios to pooled ccgw)\n\n");
    md.push_str(HEADER);
    fmt_rows(&mut md, &v["connection_per_call"]);
    further_sections(&mut md, v);
    md
}

/// The simulator's capacity, the crypto providers, instructions per request and the
/// open event streams.
fn further_sections(md: &mut String, v: &Value) {
    let c = &v["simulator_capacity"];
    md.push_str(&format!(
        "\n### Simulator capacity (64 in flight, raw hyper load generator)\n\nccgw-sim {:.0} req/s, minimal hyper server {:.0} req/s: **{:.2}×**.\n",
        c["sim_rps"].as_f64().unwrap_or_default(),
        c["minimal_hyper_rps"].as_f64().unwrap_or_default(),
        c["ratio"].as_f64().unwrap_or_default()
    ));
    let p = &v["crypto_providers"];
    md.push_str("\n### rustls crypto provider, raw hyper + rustls on both ends (ratios to ring)\n\nA new connection and TLS handshake per call:\n\n");
    md.push_str(HEADER);
    fmt_rows(md, &p["connection_per_call"]);
    md.push_str("\nPooled connections:\n\n");
    md.push_str(HEADER);
    fmt_rows(md, &p["pooled"]);
    if p["aws_lc_measured"] != true {
        md.push_str(
            "\n(aws-lc-rs not measured: ccgw-bench was built without `--features aws-lc`.)\n",
        );
    }
    md.push_str("\n### Instructions per request (callgrind, client process only)\n\n");
    let ins = &v["instructions"];
    if ins["measured"] == true {
        md.push_str("| client | instructions per request | ratio |\n|---|---|---|\n");
        for r in ins["clients"].as_array().into_iter().flatten() {
            md.push_str(&format!(
                "| {} | {:.0} | {:.2} |\n",
                r["client"].as_str().unwrap_or_default(),
                r["instructions_per_request"].as_f64().unwrap_or_default(),
                r["ratio"].as_f64().unwrap_or_default()
            ));
        }
    } else {
        md.push_str(&format!(
            "Not measured: {}.\n",
            ins["reason"].as_str().unwrap_or("unknown")
        ));
    }
    crate::scale_report::sections(md, v);
}
