//! The whole answer path: any bytes as a gateway's answer (status line, headers, body)
//! read by ccgw's transport and mapped by `ccgw` — for a sign-in, a state read and a
//! rest — never panic, whatever comes back.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

struct Rig {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    client: ccgw::GatewayClient,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("listener");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let client = ccgw::Config {
            url: Some(url),
            allow_http: true,
            request_timeout: Duration::from_millis(500),
            // A connection per answer: nothing of one input carries into the next.
            pool_idle_timeout: Duration::from_nanos(1),
            ..ccgw::Config::default()
        }
        .build_client()
        .expect("client");
        Rig {
            runtime,
            listener,
            client,
        }
    })
}

/// Answers one request with `answer`, then closes the connection.
async fn serve_once(listener: &TcpListener, answer: &[u8]) {
    let Ok((mut stream, _)) = listener.accept().await else {
        return;
    };
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    // A sign-in carries a body: read what the head announced, roughly.
    let _ = tokio::time::timeout(Duration::from_millis(5), stream.read(&mut buf)).await;
    let _ = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
}

fuzz_target!(|data: &[u8]| {
    let rig = rig();
    rig.runtime.block_on(async {
        let id = ccgw::AgentId::new(101).expect("in range");
        let sign_in = ccgw::SignIn::new("pw101", "40101");
        let (_, signed_in) = tokio::join!(
            serve_once(&rig.listener, data),
            rig.client.sign_in(id, &sign_in)
        );
        let agent = match signed_in {
            Ok(agent) => agent,
            Err(e) => {
                let _ = format!("{e} {e:?}");
                let guid = ccgw::Guid::new("fuzz.AgentGateway0").expect("a Guid");
                rig.client.agent(id, guid, None)
            }
        };
        let (_, status) = tokio::join!(serve_once(&rig.listener, data), agent.status());
        let _ = format!("{status:?}");
        let rest = agent.rest(
            ccgw::RestDuration::from_secs(600).expect("in range"),
            ccgw::RestCause::from(3u8),
        );
        let (_, rested) = tokio::join!(serve_once(&rig.listener, data), rest.into_future());
        let _ = format!("{rested:?}");
    });
});
