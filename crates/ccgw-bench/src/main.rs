//! `ccgw-bench`, run by `cargo xtask bench` (release build): what a rest request costs
//! through each client, over HTTPS on loopback, as ratios to a baseline measured in the
//! same run. Writes `results.json` and `results.md` into `--out`.
//!
//! Servers and clients run on separate OS threads, each with a single-threaded tokio
//! runtime; client CPU is the client thread's own CPU time (`/proc/thread-self/stat`).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const PATH: &str = "/agentgateway/resource/onlineagent/101/rest/600/3?prolong=false";
const BODY: &str = r#"{"result":{},"message":"success","retcode":"0"}"#;
const GUID: &str = "bench-guid-0000.AgentGateway0";
const IN_FLIGHT: usize = 64;

#[derive(Parser, Debug)]
#[command(name = "ccgw-bench")]
struct Args {
    /// Where results.json and results.md are written.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Sequential requests per client per round.
    #[arg(long, default_value_t = 2000)]
    sequential: usize,
    /// Rounds (client order rotates each round).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds of load per client per throughput round.
    #[arg(long, default_value_t = 1.5)]
    seconds: f64,
    /// The ccgw-sim binary, for the scale measurement (a separate process).
    #[arg(long)]
    sim_bin: PathBuf,
    /// Agent counts for the scale measurement.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    scale: Vec<u32>,
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// One way of sending the rest request.
trait Client {
    fn name(&self) -> &'static str;
    /// One request on connection/lane `lane` (0 for sequential runs).
    fn call(&self, lane: usize) -> BoxFut<'_>;
}

fn check_body(bytes: &[u8]) -> Result<()> {
    let v: Value = serde_json::from_slice(bytes)?;
    if v["retcode"] != "0" {
        bail!("unexpected answer {v}");
    }
    Ok(())
}

// ---- TLS material and the minimal hyper server ----

struct Tls {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn tls() -> Result<Tls> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?
        .signed_by(&key, &issuer)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        ca_pem: ca.pem(),
        server: Arc::new(server),
        client: Arc::new(client),
    })
}

/// A minimal hyper + rustls server answering every request with the rest success body,
/// on its own thread; returns its address.
fn minimal_server(config: Arc<rustls::ServerConfig>) -> Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(|_req| async {
                        let mut response =
                            http::Response::new(Full::new(Bytes::from_static(BODY.as_bytes())));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/json;charset=UTF-8"),
                        );
                        Ok::<_, std::convert::Infallible>(response)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    Ok(addr)
}

// ---- the clients ----

struct RawHyper {
    senders: Vec<tokio::sync::Mutex<SendRequest<Empty<Bytes>>>>,
    authority: String,
}

impl RawHyper {
    async fn connect(
        addr: std::net::SocketAddr,
        tls: Arc<rustls::ClientConfig>,
        lanes: usize,
    ) -> Result<Self> {
        let mut senders = Vec::new();
        for _ in 0..lanes {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(&tls))
                .connect(name, tcp)
                .await?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            senders.push(tokio::sync::Mutex::new(sender));
        }
        Ok(Self {
            senders,
            authority: addr.to_string(),
        })
    }
}

impl RawHyper {
    /// One POST of `path` with `guid` on lane `lane`; checks the answer's retcode.
    async fn post(&self, lane: usize, path: &str, guid: &str) -> Result<()> {
        let request = http::Request::post(path)
            .header(http::header::HOST, &self.authority)
            .header("guid", guid)
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=UTF-8",
            )
            .header(http::header::CONTENT_LENGTH, "0")
            .body(Empty::<Bytes>::new())?;
        let mut sender = self.senders[lane % self.senders.len()].lock().await;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        drop(sender);
        check_body(&response.into_body().collect().await?.to_bytes())
    }
}

impl Client for RawHyper {
    fn name(&self) -> &'static str {
        "raw hyper + rustls"
    }

    fn call(&self, lane: usize) -> BoxFut<'_> {
        Box::pin(self.post(lane, PATH, GUID))
    }
}

/// The rest request through `http`, as a hand-written reqwest client sends it.
async fn reqwest_rest(http: &reqwest::Client, url: &str) -> Result<()> {
    let response = http
        .post(url)
        .header("guid", GUID)
        .header("content-type", "application/json; charset=UTF-8")
        .header("content-length", "0")
        .send()
        .await?;
    check_body(&response.bytes().await?)
}

struct PlainReqwest {
    http: reqwest::Client,
    url: String,
}

impl Client for PlainReqwest {
    fn name(&self) -> &'static str {
        "plain reqwest"
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(reqwest_rest(&self.http, &self.url))
    }
}

struct Generated {
    api: ccgw_client::Client,
}

impl Client for Generated {
    fn name(&self) -> &'static str {
        "generated client (ccgw-client)"
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let time = std::num::NonZeroU64::new(600).context("600")?;
            let answer = self
                .api
                .rest(101, time, 3, Some(false))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if answer.retcode.as_str() != "0" {
                bail!("retcode {}", answer.retcode.as_str());
            }
            Ok(())
        })
    }
}

struct Ccgw {
    agent: ccgw::Agent,
}

impl Client for Ccgw {
    fn name(&self) -> &'static str {
        "ccgw"
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let duration = ccgw::RestDuration::from_secs(600)?;
            self.agent.rest(duration, ccgw::RestCause::from(3)).await?;
            Ok(())
        })
    }
}

/// Huawei's demo pattern: a new client (connection and TLS handshake) per call.
struct PerCall {
    ca: reqwest::Certificate,
    url: String,
}

impl Client for PerCall {
    fn name(&self) -> &'static str {
        "new connection per call (demo-client pattern)"
    }

    fn call(&self, _lane: usize) -> BoxFut<'_> {
        Box::pin(async move {
            let http = reqwest::Client::builder()
                .tls_certs_only([self.ca.clone()])
                .build()?;
            reqwest_rest(&http, &self.url).await
        })
    }
}

// ---- measuring ----

/// CPU seconds used by the calling thread.
fn thread_cpu() -> f64 {
    proc_stat_cpu("/proc/thread-self/stat")
}

/// CPU seconds used by the whole process.
fn process_cpu() -> f64 {
    proc_stat_cpu("/proc/self/stat")
}

fn proc_stat_cpu(path: &str) -> f64 {
    // Fields 14 and 15 (utime, stime) in clock ticks, after the ")" of the name.
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(Default, Clone)]
struct Stats {
    latencies_us: Vec<f64>,
    round_medians_us: Vec<f64>,
    throughput: Vec<f64>,
    cpu_us_per_req: Vec<f64>,
}

impl Stats {
    fn median_latency(&self) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    }
    fn p99_latency(&self) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.99)
    }
    fn median_of(values: &[f64]) -> f64 {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        percentile(&v, 0.5)
    }
    fn spread(values: &[f64]) -> (f64, f64) {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (min, max)
    }
}

async fn sequential(client: &dyn Client, n: usize, stats: &mut Stats) -> Result<()> {
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

async fn loaded(client: &dyn Client, seconds: f64, stats: &mut Stats) -> Result<()> {
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
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
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

fn run_clients(
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

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)?;
    let tls = tls()?;
    let addr = minimal_server(Arc::clone(&tls.server))?;
    let base = format!("https://127.0.0.1:{}", addr.port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ca = reqwest::Certificate::from_pem(tls.ca_pem.as_bytes())?;

    eprintln!(
        "1. per-request cost against a minimal hyper server over HTTPS ({} rounds)",
        args.rounds
    );
    let (raw, plain, generated, ccgw_client) = rt.block_on(async {
        let raw = RawHyper::connect(addr, Arc::clone(&tls.client), IN_FLIGHT).await?;
        let http = reqwest::Client::builder()
            .tls_certs_only([ca.clone()])
            .tcp_nodelay(true)
            .build()?;
        let plain = PlainReqwest {
            http: http.clone(),
            url: format!("{base}{PATH}"),
        };
        let session = ccgw_client::Session::new();
        session.set_guid(GUID)?;
        let generated = Generated {
            api: ccgw_client::Client::new_with_client(&base, http, session),
        };
        let client = ccgw::GatewayClient::builder(&base)
            .system_roots(false)
            .add_root_certificate_pem(&tls.ca_pem)
            .build()?;
        let ccgw_client = Ccgw {
            agent: client.agent(ccgw::AgentId::new(101)?, ccgw::Guid::new(GUID)?),
        };
        Ok::<_, anyhow::Error>((raw, plain, generated, ccgw_client))
    })?;
    let mut names = Vec::new();
    let stats = run_clients(
        &args,
        &[&raw, &plain, &generated, &ccgw_client],
        &mut names,
        &rt,
    )?;

    eprintln!("2. the demo-client pattern (a new connection per call) against pooled ccgw");
    let per_call = PerCall {
        ca: ca.clone(),
        url: format!("{base}{PATH}"),
    };
    let demo_args = Args {
        sequential: (args.sequential / 10).max(50),
        seconds: args.seconds,
        rounds: args.rounds,
        out: args.out.clone(),
        sim_bin: args.sim_bin.clone(),
        scale: Vec::new(),
    };
    let mut demo_names = Vec::new();
    let demo_stats = run_clients(&demo_args, &[&ccgw_client, &per_call], &mut demo_names, &rt)?;

    eprintln!(
        "3. simulator capacity: ccgw-sim against the minimal hyper server, same load generator"
    );
    let capacity = sim_capacity(&args, &tls, addr, &rt)?;

    eprintln!("4. scale: agents with open event streams against ccgw-sim (separate process)");
    let mut scale = Vec::new();
    for &n in &args.scale {
        scale.push(scale_run(&args, n)?);
    }

    let json = report(&names, &stats, &demo_names, &demo_stats, &capacity, &scale);
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    let md = markdown(&json);
    std::fs::write(args.out.join("results.md"), &md)?;
    println!("{md}");
    Ok(())
}

fn sim_capacity(
    args: &Args,
    tls: &Tls,
    minimal: std::net::SocketAddr,
    rt: &tokio::runtime::Runtime,
) -> Result<Value> {
    // The simulator on its own thread and runtime, like the minimal server.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(srt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        srt.block_on(async move {
            let sim = match ccgw_sim::Simulator::start(ccgw_sim::Config::default()).await {
                Ok(sim) => sim,
                Err(_) => return,
            };
            let guid = sim.handle().sign_in(101);
            let _ = tx.send((sim.addr(), sim.ca_pem().map(str::to_owned), guid));
            std::future::pending::<()>().await;
        });
    });
    let (sim_addr, sim_ca, guid) = rx
        .recv_timeout(Duration::from_secs(20))
        .context("the simulator did not start")?;
    let guid = guid.context("agent 101 could not sign in")?;
    let mut sim_roots = rustls::RootCertStore::empty();
    for cert in
        rustls::pki_types::pem::PemObject::pem_slice_iter(sim_ca.context("no CA")?.as_bytes())
    {
        sim_roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut sim_tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(sim_roots)
        .with_no_client_auth();
    sim_tls.alpn_protocols = vec![b"http/1.1".to_vec()];

    struct Load {
        raw: RawHyper,
        guid: String,
        name: &'static str,
    }
    impl Client for Load {
        fn name(&self) -> &'static str {
            self.name
        }
        fn call(&self, lane: usize) -> BoxFut<'_> {
            Box::pin(self.raw.post(
                lane,
                "/agentgateway/resource/onlineagent/101/rest/600/3?prolong=true",
                &self.guid,
            ))
        }
    }
    let (minimal_load, sim_load) = rt.block_on(async {
        let minimal_load = Load {
            raw: RawHyper::connect(minimal, Arc::clone(&tls.client), IN_FLIGHT).await?,
            guid: GUID.to_owned(),
            name: "minimal hyper server",
        };
        let sim_load = Load {
            raw: RawHyper::connect(sim_addr, Arc::new(sim_tls), IN_FLIGHT).await?,
            guid,
            name: "ccgw-sim",
        };
        Ok::<_, anyhow::Error>((minimal_load, sim_load))
    })?;
    let mut stats = [Stats::default(), Stats::default()];
    rt.block_on(async {
        for round in 0..args.rounds {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let load: &dyn Client = if i == 0 { &minimal_load } else { &sim_load };
                loaded(load, args.seconds, &mut stats[i]).await?;
            }
        }
        Ok::<(), anyhow::Error>(())
    })?;
    let minimal_rate = Stats::median_of(&stats[0].throughput);
    let sim_rate = Stats::median_of(&stats[1].throughput);
    Ok(json!({
        "minimal_hyper_rps": minimal_rate,
        "minimal_hyper_rps_rounds": stats[0].throughput,
        "sim_rps": sim_rate,
        "sim_rps_rounds": stats[1].throughput,
        "ratio": sim_rate / minimal_rate,
    }))
}

fn scale_run(args: &Args, agents: u32) -> Result<Value> {
    let dir = args.out.join(format!("sim-{agents}"));
    let mut child = std::process::Command::new(&args.sim_bin)
        .args(["--listen", "127.0.0.1:0", "--json", "--agents"])
        .arg(format!("101-{}", 100 + agents))
        .arg("--cert-dir")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", args.sim_bin.display()))?;
    let result = (|| {
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
            &mut line,
        )?;
        let start: Value = serde_json::from_str(&line)?;
        let base = start["base_url"].as_str().context("base_url")?.to_owned();
        let ca_file = start["ca_file"].as_str().context("ca_file")?.to_owned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let rss_before = rss_kib("VmRSS:");
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
            let rss_after = rss_kib("VmRSS:");
            let peak = rss_kib("VmHWM:");
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
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn report(
    names: &[&str],
    stats: &[Stats],
    demo_names: &[&str],
    demo: &[Stats],
    capacity: &Value,
    scale: &[Value],
) -> Value {
    let row = |name: &str, s: &Stats, base: &Stats| {
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
        })
    };
    json!({
        "per_request": names.iter().zip(stats).map(|(n, s)| row(n, s, &stats[0])).collect::<Vec<_>>(),
        "ccgw_vs_generated": {
            "latency": stats[3].median_latency() / stats[2].median_latency(),
            "cpu": Stats::median_of(&stats[3].cpu_us_per_req) / Stats::median_of(&stats[2].cpu_us_per_req),
        },
        "connection_per_call": demo_names.iter().zip(demo).map(|(n, s)| row(n, s, &demo[0])).collect::<Vec<_>>(),
        "simulator_capacity": capacity,
        "scale": scale,
    })
}

fn markdown(v: &Value) -> String {
    let mut md = String::from(
        "### Per-request cost, rest over HTTPS on loopback (ratios to raw hyper, same run)\n\n",
    );
    md.push_str("| client | latency median µs (round medians) | p99 µs | ratio | 64 in flight req/s (rounds) | ratio | client CPU µs/req | ratio |\n|---|---|---|---|---|---|---|---|\n");
    let fmt_rows = |md: &mut String, rows: &Value| {
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
    };
    fmt_rows(&mut md, &v["per_request"]);
    md.push_str(&format!(
        "\nccgw vs the generated client alone: latency {:.3}×, client CPU {:.3}×.\n",
        v["ccgw_vs_generated"]["latency"]
            .as_f64()
            .unwrap_or_default(),
        v["ccgw_vs_generated"]["cpu"].as_f64().unwrap_or_default()
    ));
    md.push_str("\n### Pooled ccgw vs a new connection per call (ratios to pooled ccgw)\n\n");
    md.push_str("| client | latency median µs (round medians) | p99 µs | ratio | 64 in flight req/s (rounds) | ratio | client CPU µs/req | ratio |\n|---|---|---|---|---|---|---|---|\n");
    fmt_rows(&mut md, &v["connection_per_call"]);
    let c = &v["simulator_capacity"];
    md.push_str(&format!(
        "\n### Simulator capacity (64 in flight, raw hyper load generator)\n\nccgw-sim {:.0} req/s, minimal hyper server {:.0} req/s: **{:.2}×**.\n",
        c["sim_rps"].as_f64().unwrap_or_default(),
        c["minimal_hyper_rps"].as_f64().unwrap_or_default(),
        c["ratio"].as_f64().unwrap_or_default()
    ));
    md.push_str("\n### Agents with open event streams (ccgw-sim in a separate process)\n\n| agents | set-up s | client RSS KiB per agent | peak RSS MiB | idle CPU s per minute |\n|---|---|---|---|---|\n");
    for s in v["scale"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {} | {:.2} |\n",
            s["agents"],
            s["setup_seconds"].as_f64().unwrap_or_default(),
            s["rss_kib_per_agent"].as_f64().unwrap_or_default(),
            s["peak_rss_mib"],
            s["idle_cpu_seconds_per_minute"]
                .as_f64()
                .unwrap_or_default()
        ));
    }
    md
}
