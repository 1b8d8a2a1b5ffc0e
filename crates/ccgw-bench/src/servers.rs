//! The TLS setup and the minimal hyper server every client is measured against, and
//! the simulator's capacity against that server.

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::clients::*;
use crate::measure::*;
use crate::{Args, BODY, GUID, IN_FLIGHT};

pub(crate) struct Tls {
    pub(crate) ca_pem: String,
    pub(crate) server: Arc<rustls::ServerConfig>,
    pub(crate) client: Arc<rustls::ClientConfig>,
}

/// A CA, a server certificate for 127.0.0.1 and both ends' configurations on `provider`.
pub(crate) fn tls(provider: rustls::crypto::CryptoProvider) -> Result<Tls> {
    let ca = ccgw_testkit::TestCa::new()?;
    let server = ca
        .server_config_on(&["127.0.0.1", "localhost"], provider.clone())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = ca
        .client_config(provider)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Tls {
        ca_pem: ca.pem().to_owned(),
        server: Arc::new(server),
        client: Arc::new(client),
    })
}

/// A minimal hyper + rustls server answering every request with the rest success body,
/// on its own thread; returns its address.
pub(crate) fn minimal_server(config: Arc<rustls::ServerConfig>) -> Result<std::net::SocketAddr> {
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

/// The simulator on its own thread and runtime, like the minimal server, with agent 101
/// signed in: its address, its CA and the Guid.
fn sim_on_its_own_thread() -> Result<(std::net::SocketAddr, String, String)> {
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
    Ok((sim_addr, sim_ca.context("no CA")?, guid))
}

pub(crate) fn sim_capacity(
    args: &Args,
    tls: &Tls,
    minimal: std::net::SocketAddr,
    rt: &tokio::runtime::Runtime,
) -> Result<Value> {
    let (sim_addr, sim_ca, guid) = sim_on_its_own_thread()?;
    let sim_tls =
        ccgw_testkit::client_config_trusting(&sim_ca, rustls::crypto::ring::default_provider())
            .map_err(|e| anyhow::anyhow!("{e}"))?;

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
