// Over 400 lines: one self-contained load generator (poll and hold modes, a minimal HTTP/1.1 and
// HTTP/2 client, a verifier trusting the test certificate), so the example builds on its own.
//! A population of browsers: the load generator of `loadtest/browsers.sh`.
//!
//! `poll` mode: puts `line` people in one concert's line through lineup's own
//! queue service (as `examples/load_line.rs` does), then simulates `people` of
//! them, spread evenly over the line, each on a TLS connection of its own
//! (HTTP/1.1 keep-alive, its own TLS session store, one of `sources` 127.0.0.x
//! addresses). Each polls `GET /api/v1/queue/status` exactly as the answer's
//! `poll_after_ms` says; when the server has closed its idle connection it
//! reconnects (resuming its TLS session from its ticket when it can) and asks
//! again, as browsers do. Prints one JSON line per `report` interval and a
//! total at the end: polls, errors, connections, full and resumed handshakes.
//!
//! Their first polls are spread over `RAMP` seconds (5 by default), as people
//! who were already polling would be; a person whose poll failed tries again
//! after 1 s, then 2, 4, ... up to 30 s (with jitter), as a well-behaved page
//! backs off, so a failure does not turn into a reconnect storm.
//!
//! `handshakes` mode: `workers` clients connect, make one `GET /healthz` and
//! close, over and over for `seconds`: `full` with no session to resume, or
//! `resumed` with each client resuming from the ticket of its previous
//! connection. Prints connections a second and how many resumed.
//!
//! `hold` mode: opens `people` connections (HTTP/1.1, or HTTP/2 with
//! `--http2`), makes one request on each and holds them all open until killed,
//! printing `ready` once they are: what `browsers.sh memory` measures.
//!
//! ```sh
//! cargo run --release --example browsers -- poll <base> <concert_id> <line> <people> <seconds>
//! cargo run --release --example browsers -- hold <base> <people> [--http2]
//! cargo run --release --example browsers -- handshakes <base> <workers> <seconds> <full|resumed>
//! ```
//! Settings of `poll` (database, Redis, prefix, token key) come from the same
//! `LINEUP_*` variables as `lineup serve`, so its tokens are valid there.
//! `SOURCES` (8) sets how many 127.0.0.x source addresses are used.

use futures::StreamExt;
use lineup::app::Application;
use lineup::config::{Cli, Command, Config};
use lineup::domain::{ConcertId, UserId};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, Resumption};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, HandshakeKind, SignatureScheme};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

#[derive(Default)]
struct Counters {
    polls: AtomicU64,
    errors: AtomicU64,
    connects: AtomicU64,
    full: AtomicU64,
    resumed: AtomicU64,
    server_closed: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> [u64; 6] {
        [
            self.polls.load(Relaxed),
            self.errors.load(Relaxed),
            self.connects.load(Relaxed),
            self.full.load(Relaxed),
            self.resumed.load(Relaxed),
            self.server_closed.load(Relaxed),
        ]
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: browsers poll <base> <concert_id> <line> <people> <seconds>\n       browsers hold <base> <people> [--http2]\n       browsers handshakes <base> <workers> <seconds> <full|resumed>";
    let target = Target::parse(args.get(1).ok_or_else(|| anyhow::anyhow!(usage))?)?;
    match args.first().map(String::as_str) {
        Some("poll") if args.len() >= 6 => {
            let concert: ConcertId = args[2]
                .parse()
                .map_err(|_| anyhow::anyhow!("the concert id is not a UUID"))?;
            poll(
                target,
                concert,
                args[3].parse()?,
                args[4].parse()?,
                Duration::from_secs(args[5].parse()?),
            )
            .await
        }
        Some("hold") if args.len() >= 3 => {
            hold(
                target,
                args[2].parse()?,
                args.iter().any(|a| a == "--http2"),
            )
            .await
        }
        Some("handshakes") if args.len() >= 5 => {
            let resume = match args[4].as_str() {
                "full" => false,
                "resumed" => true,
                _ => anyhow::bail!(usage),
            };
            handshakes(
                target,
                args[2].parse()?,
                Duration::from_secs(args[3].parse()?),
                resume,
            )
            .await
        }
        _ => anyhow::bail!(usage),
    }
}

/// Where the server is, and how to reach it.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    sources: u8,
}

impl Target {
    fn parse(base: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(base)?;
        let port = url.port().unwrap_or(443);
        let mut tls = ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate))
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let sources = std::env::var("SOURCES").map_or(Ok(8), |s| s.parse())?;
        Ok(Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            tls: Arc::new(tls),
            sources,
        })
    }

    /// A config for one browser: its own session store, so it resumes with
    /// its own tickets only.
    fn browser_config(&self, http2: bool) -> Arc<ClientConfig> {
        let mut config = (*self.tls).clone();
        config.resumption = Resumption::store(Arc::new(ClientSessionMemoryCache::new(1)));
        if http2 {
            config.alpn_protocols = vec![b"h2".to_vec()];
        }
        Arc::new(config)
    }

    async fn connect(
        &self,
        n: usize,
        config: &Arc<ClientConfig>,
    ) -> anyhow::Result<TlsStream<tokio::net::TcpStream>> {
        let socket = TcpSocket::new_v4()?;
        let source = Ipv4Addr::new(127, 0, 0, 1 + (n % usize::from(self.sources.max(1))) as u8);
        socket.bind(SocketAddr::from((source, 0)))?;
        let tcp = socket.connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost")?;
        Ok(TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await?)
    }
}

/// Puts the line together and lets its browsers poll for `run`.
async fn poll(
    target: Target,
    concert: ConcertId,
    line: u64,
    people: u64,
    run: Duration,
) -> anyhow::Result<()> {
    let cli = <Cli as clap::Parser>::parse_from([
        "lineup",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--plain-http",
        "--no-metrics",
    ]);
    let Command::Serve(serve) = cli.command else {
        unreachable!("the arguments above name serve")
    };
    let app = Application::build(Config::from_args(*serve)?).await?;
    let queue = app.state().queue.clone();
    let every = (line / people.max(1)).max(1);
    let loading = Instant::now();
    let mut tokens = Vec::with_capacity(people as usize);
    let mut joins = futures::stream::iter(1..=line)
        .map(|_| {
            let queue = queue.clone();
            async move { queue.join(UserId::new(), concert).await }
        })
        .buffered(512);
    while let Some(joined) = joins.next().await {
        let (ticket, _) = joined?;
        if ticket.position % every == 0 && (tokens.len() as u64) < people {
            tokens.push(ticket.token);
        }
    }
    eprintln!(
        "{line} in line in {:.1} s; {} browsers poll",
        loading.elapsed().as_secs_f64(),
        tokens.len()
    );

    let counters = Arc::new(Counters::default());
    let stop = Instant::now() + run;
    let ramp = Duration::from_secs(std::env::var("RAMP").map_or(Ok(5), |s| s.parse())?);
    let mut browsers = tokio::task::JoinSet::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let (target, counters) = (target.clone(), counters.clone());
        browsers.spawn(browser(n, token, target, counters, stop, ramp));
    }
    let started = Instant::now();
    let mut last = (started, counters.snapshot());
    while Instant::now() < stop {
        tokio::time::sleep(Duration::from_secs(10).min(stop - Instant::now())).await;
        let now = (Instant::now(), counters.snapshot());
        report("interval", now.0 - last.0, now.1, last.1);
        last = now;
    }
    while browsers.join_next().await.is_some() {}
    report("total", started.elapsed(), counters.snapshot(), [0; 6]);
    Ok(())
}

fn report(what: &str, over: Duration, now: [u64; 6], before: [u64; 6]) {
    let seconds = over.as_secs_f64();
    let rate = |i: usize| (now[i] - before[i]) as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({
            "report": what, "seconds": seconds,
            "polls_per_second": rate(0), "errors": now[1] - before[1],
            "connects_per_second": rate(2), "full_handshakes_per_second": rate(3),
            "resumed_handshakes_per_second": rate(4), "server_closed": now[5] - before[5],
        })
    );
}

/// One person: polls as told until `stop`, reconnecting when the server closed
/// the connection.
async fn browser(
    n: usize,
    token: String,
    target: Target,
    counters: Arc<Counters>,
    stop: Instant,
    ramp: Duration,
) {
    let config = target.browser_config(false);
    let request = format!(
        "GET /api/v1/queue/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    drop(token);
    // People were already polling: their first poll falls anywhere in the ramp.
    let first = Duration::from_millis(rand::random_range(0..ramp.as_millis().max(1) as u64));
    tokio::time::sleep(first).await;
    let mut backoff = Duration::from_secs(1);
    let mut conn: Option<TlsStream<tokio::net::TcpStream>> = None;
    let mut buf = Vec::new();
    while Instant::now() < stop {
        let mut answer = None;
        // A kept connection the server closed fails at once; one retry on a new one.
        for _ in 0..2 {
            let reused = conn.is_some();
            if conn.is_none() {
                match target.connect(n, &config).await {
                    Ok(stream) => {
                        counters.connects.fetch_add(1, Relaxed);
                        match stream.get_ref().1.handshake_kind() {
                            Some(HandshakeKind::Resumed) => &counters.resumed,
                            _ => &counters.full,
                        }
                        .fetch_add(1, Relaxed);
                        conn = Some(stream);
                    }
                    Err(_) => break,
                }
            }
            let stream = conn.as_mut().expect("connected above");
            match exchange(stream, request.as_bytes(), &mut buf).await {
                Ok(body) => {
                    answer = Some(body);
                    break;
                }
                Err(_) => {
                    conn = None;
                    if reused {
                        counters.server_closed.fetch_add(1, Relaxed);
                    } else {
                        break;
                    }
                }
            }
        }
        let Some(poll_after_ms) = answer else {
            counters.errors.fetch_add(1, Relaxed);
            let jitter = rand::random_range(0.5..1.5);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
            continue;
        };
        backoff = Duration::from_secs(1);
        counters.polls.fetch_add(1, Relaxed);
        buf = Vec::new();
        tokio::time::sleep(Duration::from_millis(poll_after_ms)).await;
    }
}

/// One request and its response; the response's `poll_after_ms`.
async fn exchange(
    stream: &mut TlsStream<tokio::net::TcpStream>,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> anyhow::Result<u64> {
    stream.write_all(request).await?;
    buf.clear();
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = find(buf, b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end])?.to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .ok_or_else(|| anyhow::anyhow!("no content-length"))?
            .trim()
            .parse()?;
        if buf.len() < end + 4 + length {
            continue;
        }
        anyhow::ensure!(head.starts_with("http/1.1 200"), "{head}");
        let body: serde_json::Value = serde_json::from_slice(&buf[end + 4..end + 4 + length])?;
        return body["poll_after_ms"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no poll_after_ms"));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `workers` clients connecting, asking `/healthz` once and closing, for
/// `run`: each with no session to resume, or each resuming its last one.
async fn handshakes(
    target: Target,
    workers: usize,
    run: Duration,
    resume: bool,
) -> anyhow::Result<()> {
    let (connections, resumed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Instant::now() + run;
    let mut clients = tokio::task::JoinSet::new();
    for n in 0..workers {
        let (target, connections, resumed) = (target.clone(), connections.clone(), resumed.clone());
        clients.spawn(async move {
            let mut config = (*target.browser_config(false)).clone();
            if !resume {
                config.resumption = Resumption::disabled();
            }
            let config = Arc::new(config);
            let mut buf = Vec::new();
            while Instant::now() < stop {
                let mut stream = target.connect(n, &config).await?;
                buf.clear();
                // The answer carries the session tickets (sent after the
                // handshake) in with it, so the next connection can resume.
                h1_health(&mut stream, &mut buf).await?;
                if stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed) {
                    resumed.fetch_add(1, Relaxed);
                }
                connections.fetch_add(1, Relaxed);
            }
            anyhow::Ok(())
        });
    }
    let started = Instant::now();
    while let Some(done) = clients.join_next().await {
        done??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (connections, resumed) = (connections.load(Relaxed), resumed.load(Relaxed));
    println!(
        "{}",
        serde_json::json!({
            "report": if resume { "resumed" } else { "full" }, "workers": workers,
            "seconds": seconds, "connections": connections, "resumed": resumed,
            "connections_per_second": connections as f64 / seconds,
        })
    );
    Ok(())
}

/// Opens `people` connections, one request on each, and holds them.
async fn hold(target: Target, people: usize, http2: bool) -> anyhow::Result<()> {
    let opened = Arc::new(AtomicU64::new(0));
    let mut held = futures::stream::iter(0..people)
        .map(|n| {
            let (target, opened) = (target.clone(), opened.clone());
            async move {
                let config = target.browser_config(http2);
                let mut stream = target.connect(n, &config).await?;
                if http2 {
                    h2_one_request(&mut stream).await?;
                } else {
                    let mut buf = Vec::new();
                    h1_health(&mut stream, &mut buf).await?;
                }
                opened.fetch_add(1, Relaxed);
                anyhow::Ok(stream)
            }
        })
        .buffer_unordered(64);
    let mut streams = Vec::with_capacity(people);
    while let Some(stream) = held.next().await {
        streams.push(stream?);
    }
    println!("ready {}", streams.len());
    std::future::pending::<()>().await;
    Ok(())
}

async fn h1_health(
    stream: &mut TlsStream<tokio::net::TcpStream>,
    buf: &mut Vec<u8>,
) -> anyhow::Result<()> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(Ok(0), |v| v.trim().parse())?;
            if buf.len() >= end + 4 + length {
                return Ok(());
            }
        }
    }
}

/// The HTTP/2 preface, SETTINGS and `GET /healthz` on stream 1, read to its end.
async fn h2_one_request(stream: &mut TlsStream<tokio::net::TcpStream>) -> anyhow::Result<()> {
    let frame = |kind: u8, flags: u8, id: u32, payload: &[u8]| {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(id.to_be_bytes());
        out.extend(payload);
        out
    };
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend(frame(4, 0, 0, &[]));
    // :method GET, :scheme https (static), :path /healthz, :authority localhost.
    let mut block = vec![0x82, 0x87, 0x04, 8];
    block.extend(b"/healthz");
    block.extend([0x01, 9]);
    block.extend(b"localhost");
    out.extend(frame(1, 0x5, 1, &block));
    stream.write_all(&out).await?;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await?;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if kind == 4 && flags & 1 == 0 {
            stream.write_all(&frame(4, 1, 0, &[])).await?;
        }
        if (kind == 0 || kind == 1) && flags & 1 == 1 && id == 1 {
            return Ok(());
        }
    }
}

/// The load generator trusts the test server's self-signed certificate.
#[derive(Debug)]
struct AnyCertificate;

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
