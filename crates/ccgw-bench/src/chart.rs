//! The chart of `docs/benchmarks.md` (SVG, plotters): each client's ratios to raw hyper, and the
//! sequential latency distributions.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use serde_json::Value;

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// Writes the chart of `results` (the bench's JSON) to `path`.
pub(crate) fn chart(results: &Value, path: &Path) -> Result<()> {
    let rows: Vec<&Value> = results["per_request"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let root = SVGBackend::new(path, (1100, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (strip, charts) = root.split_vertically(30);
    legend(&strip, &rows).map_err(|e| anyhow!("{e}"))?;
    let (left, right) = charts.split_horizontally(560);
    ratios(&left, &rows).map_err(|e| anyhow!("{e}"))?;
    latencies(&right, &rows).map_err(|e| anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// One legend for both charts: each client's colour and name, in a row.
fn legend(area: &Area<'_>, rows: &[&Value]) -> Drawn {
    let mut x = 60;
    for (i, row) in rows.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let name = row["client"].as_str().unwrap_or_default();
        area.draw(&Rectangle::new([(x, 10), (x + 12, 22)], color.filled()))?;
        area.draw(&Text::new(
            name.to_owned(),
            (x + 18, 10),
            ("sans-serif", 13),
        ))?;
        x += 40 + 7 * i32::try_from(name.len()).unwrap_or(30);
    }
    Ok(())
}

/// Latency, CPU per request and throughput of each client as ratios to raw hyper.
fn ratios(area: &Area<'_>, rows: &[&Value]) -> Drawn {
    let metrics = [
        ("latency", "latency_ratio"),
        ("CPU/request", "cpu_ratio"),
        ("throughput", "throughput_ratio"),
    ];
    let top = rows
        .iter()
        .flat_map(|r| {
            metrics
                .iter()
                .map(move |(_, k)| r[*k].as_f64().unwrap_or(0.0))
        })
        .fold(1.0_f64, f64::max)
        * 1.15;
    let groups = metrics.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption("ratio to raw hyper + rustls (same run)", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..groups, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(0)
        .y_desc("ratio")
        .draw()?;
    chart.draw_series(metrics.iter().enumerate().map(|(m, (name, _))| {
        Text::new(
            (*name).to_owned(),
            (m as f64 + 0.4, top * 0.97),
            ("sans-serif", 13),
        )
    }))?;
    let width = 0.8 / rows.len().max(1) as f64;
    for (i, row) in rows.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart.draw_series(metrics.iter().enumerate().map(|(m, (_, key))| {
            let x0 = m as f64 + 0.1 + i as f64 * width;
            let y = row[*key].as_f64().unwrap_or(0.0);
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, y)], color.filled())
        }))?;
    }
    chart.draw_series(LineSeries::new(
        [(0.0, 1.0), (groups, 1.0)],
        BLACK.stroke_width(1),
    ))?;
    Ok(())
}

/// Each client's sequential latency distribution (share of requests at or below).
fn latencies(area: &Area<'_>, rows: &[&Value]) -> Drawn {
    let points = |row: &Value| -> Vec<(f64, f64)> {
        row["latency_distribution_us"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p[1].as_f64()?, p[0].as_f64()?)))
            .collect()
    };
    let most = rows
        .iter()
        .flat_map(|r| points(r))
        .map(|(x, _)| x)
        .fold(1.0_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "sequential latency, share of requests at or below",
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(28)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..most * 1.05, 0.0..1.0)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("µs")
        .draw()?;
    for (i, row) in rows.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart.draw_series(LineSeries::new(points(row), color.stroke_width(2)))?;
    }
    Ok(())
}
