//! Measurement: CPU (from `/proc`, through the test kit), latency percentiles,
//! sequential and loaded runs.

use anyhow::Result;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::clients::*;
use crate::{Args, IN_FLIGHT};

/// CPU seconds used by the calling thread.
pub(crate) fn thread_cpu() -> f64 {
    ccgw_testkit::cpu_seconds("/proc/thread-self/stat")
}

/// CPU seconds used by the whole process.
pub(crate) fn process_cpu() -> f64 {
    ccgw_testkit::cpu_seconds("/proc/self/stat")
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(Default, Clone)]
pub(crate) struct Stats {
    pub(crate) latencies_us: Vec<f64>,
    pub(crate) round_medians_us: Vec<f64>,
    pub(crate) throughput: Vec<f64>,
    pub(crate) cpu_us_per_req: Vec<f64>,
}

impl Stats {
    pub(crate) fn median_latency(&self) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    }
    pub(crate) fn p99_latency(&self) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.99)
    }
    /// `[share, latency µs]` pairs from the 1st to the 99th percentile.
    pub(crate) fn distribution(&self) -> Vec<[f64; 2]> {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        (1..=99)
            .map(|p| {
                let share = f64::from(p) / 100.0;
                [share, percentile(&v, share)]
            })
            .collect()
    }
    pub(crate) fn median_of(values: &[f64]) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    }
    pub(crate) fn spread(values: &[f64]) -> (f64, f64) {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

pub(crate) async fn sequential(client: &dyn Client, n: usize, stats: &mut Stats) -> Result<()> {
    let mut round = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        client.call(0).await?;
        round.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let mut sorted = round.clone();
    sorted.sort_by(f64::total_cmp);
    stats.round_medians_us.push(percentile(&sorted, 0.5));
    stats.latencies_us.extend(round);
    Ok(())
}

pub(crate) async fn loaded(client: &dyn Client, seconds: f64, stats: &mut Stats) -> Result<()> {
    // Warm the lanes, then measure.
    let warm = Instant::now() + Duration::from_millis(300);
    let measure = |until: Instant| async move {
        let lanes = (0..IN_FLIGHT).map(|lane| async move {
            let mut done = 0u64;
            while Instant::now() < until {
                client.call(lane).await?;
                done += 1;
            }
            Ok::<u64, anyhow::Error>(done)
        });
        let mut total = 0;
        for r in join_all(lanes).await {
            total += r?;
        }
        Ok::<u64, anyhow::Error>(total)
    };
    measure(warm).await?;
    let cpu = thread_cpu();
    let started = Instant::now();
    let done = measure(started + Duration::from_secs_f64(seconds)).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = thread_cpu() - cpu;
    stats.throughput.push(done as f64 / elapsed);
    stats.cpu_us_per_req.push(cpu / done.max(1) as f64 * 1e6);
    Ok(())
}

/// Polls all futures on the current task until every one is done.
pub(crate) async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

pub(crate) fn run_clients(
    args: &Args,
    clients: &[&dyn Client],
    names: &mut Vec<&'static str>,
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<Stats>> {
    let mut stats = vec![Stats::default(); clients.len()];
    rt.block_on(async {
        for c in clients {
            for _ in 0..200 {
                c.call(0).await?;
            }
        }
        for round in 0..args.rounds {
            for k in 0..clients.len() {
                let i = (k + round) % clients.len();
                sequential(clients[i], args.sequential, &mut stats[i]).await?;
            }
            for k in 0..clients.len() {
                let i = (k + round) % clients.len();
                loaded(clients[i], args.seconds, &mut stats[i]).await?;
            }
            eprintln!("  round {} of {} done", round + 1, args.rounds);
        }
        Ok::<(), anyhow::Error>(())
    })?;
    names.extend(clients.iter().map(|c| c.name()));
    Ok(stats)
}
