//! The API listener's own connection loop: accept under the connection cap,
//! TLS (HTTP/2 or HTTP/1.1 by ALPN), hyper, and one task per connection that
//! applies the idle policy, which hyper alone cannot:
//!
//! - a connection with a request in flight is never cut (the request timeout
//!   bounds the request);
//! - an HTTP/1.1 connection quiet for `LINEUP_HTTP1_IDLE_TIMEOUT` is closed;
//!   its responses carry `Keep-Alive: timeout=<that>` so clients that read the
//!   hint stop reusing it first;
//! - an HTTP/2 session with nothing in flight for `LINEUP_HTTP2_IDLE_TIMEOUT`
//!   gets a GOAWAY (hyper sends it twice, around a PING, so a request already
//!   on the wire is still served; a client retries later ones on a new session);
//! - once a client starts sending on a quiet HTTP/1.1 connection (or opens
//!   one, with its TLS handshake), its headers must arrive within
//!   `LINEUP_HEADER_READ_TIMEOUT`, or the connection is dropped.
//!
//! The header read timeout is no longer an idle timeout: hyper's own (which
//! also runs while a kept-alive connection waits) is off. The buffer sizes
//! keep an idle connection small (docs/BENCHMARKS.md, "Memory per
//! connection").

use super::connections::{Activity, ConnectionCap, IdlePolicy, Next, Tracked};
use crate::config::HttpLimits;
use crate::telemetry::metrics as m;
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, Version, header};
use axum_server::tls_rustls::RustlsConfig;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::HandshakeKind;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service;

/// How long a connection told to close (GOAWAY, or closing after its last
/// response) may take to finish what it has in flight.
const CLOSING_GRACE: Duration = Duration::from_secs(30);

/// Buffer and stream bounds of one connection (what an idle one holds is
/// measured in docs/BENCHMARKS.md).
mod sizes {
    /// HTTP/1.1 read buffer bound (hyper's least).
    pub const HTTP1_MAX_BUF: usize = 8 * 1024;
    /// Streams one HTTP/2 client may have open: a waiting-room page needs a few.
    pub const HTTP2_MAX_STREAMS: u32 = 32;
    /// Per-stream receive window: the default body limit.
    pub const HTTP2_STREAM_WINDOW: u32 = 64 * 1024;
    pub const HTTP2_CONNECTION_WINDOW: u32 = 256 * 1024;
    /// The HPACK table a client may fill in our decoder (4 KiB by default).
    pub const HTTP2_HEADER_TABLE: u32 = 1024;
    pub const HTTP2_MAX_HEADER_LIST: u32 = 16 * 1024;
    pub const HTTP2_MAX_SEND_BUF: usize = 64 * 1024;
}

/// The per-connection service: the router with the client's address.
type AppService = axum::middleware::AddExtension<Router, ConnectInfo<SocketAddr>>;
type Svc = TowerToHyperService<Counted<AppService>>;
type TlsIo = TokioIo<tokio_rustls::server::TlsStream<Tracked>>;
type PlainIo = TokioIo<Tracked>;

/// Everything every connection shares.
struct Shared {
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
    auto: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    policy: IdlePolicy,
    keep_alive: HeaderValue,
    tls: Option<RustlsConfig>,
    stop: CancellationToken,
    shutdown_grace: Duration,
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets each
/// connection finish what it has in flight for up to `shutdown_grace`.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Router,
    tls: Option<RustlsConfig>,
    limits: HttpLimits,
    stop: CancellationToken,
    shutdown_grace: Duration,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let cap = ConnectionCap::new(within_open_files(limits.max_connections));
    let shared = Arc::new(Shared::new(limits, tls, stop.clone(), shutdown_grace));
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    // Every connection task holds a sender; all have ended when none is left.
    let (alive, mut all_ended) = tokio::sync::mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: do not spin.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some(permit) = cap.admit() else {
            drop(stream);
            continue;
        };
        let service = match make.call(addr).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let activity = Activity::new(false);
        let io = Tracked::new(stream, activity.clone(), permit);
        let (shared, alive) = (shared.clone(), alive.clone());
        tokio::spawn(async move {
            let open = metrics::gauge!(m::CONNECTIONS_OPEN);
            open.increment(1.0);
            serve_one(io, activity, service, &shared).await;
            open.decrement(1.0);
            drop(alive);
        });
    }
    drop(listener);
    drop(alive);
    let _ = all_ended.recv().await;
    Ok(())
}

/// Files a server keeps for itself beyond its connections (Redis, PostgreSQL,
/// the other listeners, logs).
const RESERVED_FILES: u64 = 256;

/// The connection cap, lowered to what the process may open: past its open
/// files limit, `accept` fails for everyone (including Redis and PostgreSQL
/// reconnects) instead of the cap turning the newest connection away.
fn within_open_files(cap: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<u64>().ok()
        });
    match limit {
        Some(limit) if cap > 0 && cap as u64 + RESERVED_FILES > limit => {
            let lowered = limit.saturating_sub(RESERVED_FILES).max(1) as usize;
            tracing::warn!(
                max_connections = cap,
                open_files_limit = limit,
                "LINEUP_MAX_CONNECTIONS is above this process's open files limit (ulimit -n): capping connections at {lowered}"
            );
            lowered
        }
        _ => cap,
    }
}

impl Shared {
    fn new(
        limits: HttpLimits,
        tls: Option<RustlsConfig>,
        stop: CancellationToken,
        shutdown_grace: Duration,
    ) -> Self {
        use sizes::*;
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .keep_alive(true)
            .max_buf_size(HTTP1_MAX_BUF);
        let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(HTTP2_MAX_STREAMS)
            .initial_stream_window_size(HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
            .header_table_size(HTTP2_HEADER_TABLE)
            .max_header_list_size(HTTP2_MAX_HEADER_LIST)
            .max_send_buf_size(HTTP2_MAX_SEND_BUF);
        let mut auto = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .keep_alive(true)
            .max_buf_size(HTTP1_MAX_BUF)
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(HTTP2_MAX_STREAMS)
            .initial_stream_window_size(HTTP2_STREAM_WINDOW)
            .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
            .max_header_list_size(HTTP2_MAX_HEADER_LIST)
            .max_send_buf_size(HTTP2_MAX_SEND_BUF);
        let keep_alive = HeaderValue::try_from(format!(
            "timeout={}",
            limits.http1_idle_timeout.as_secs().max(1)
        ))
        .expect("digits are a header value");
        Self {
            http1,
            http2,
            auto,
            policy: IdlePolicy {
                header_read: limits.header_read_timeout,
                http1_idle: limits.http1_idle_timeout,
                http2_idle: limits.http2_idle_timeout,
            },
            keep_alive,
            tls,
            stop,
            shutdown_grace,
        }
    }
}

/// One connection from its TLS handshake to its close.
async fn serve_one(io: Tracked, activity: Arc<Activity>, app: AppService, shared: &Shared) {
    let service = TowerToHyperService::new(Counted {
        inner: app,
        activity: activity.clone(),
        keep_alive: shared.keep_alive.clone(),
    });
    let conn: Pin<Box<dyn Served>> = match &shared.tls {
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.get_inner());
            let handshake = tokio::time::timeout(shared.policy.header_read, acceptor.accept(io));
            let stream = tokio::select! {
                biased;
                () = shared.stop.cancelled() => return,
                stream = handshake => match stream {
                    Ok(Ok(stream)) => stream,
                    _ => return,
                },
            };
            let resumed = stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
            metrics::counter!(m::TLS_HANDSHAKES, "kind" => if resumed { "resumed" } else { "full" })
                .increment(1);
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                activity.set_http2();
                Box::pin(shared.http2.serve_connection(TokioIo::new(stream), service))
            } else {
                Box::pin(shared.http1.serve_connection(TokioIo::new(stream), service))
            }
        }
        None => Box::pin(
            shared
                .auto
                .serve_connection(TokioIo::new(io), service)
                .into_owned(),
        ),
    };
    drive(conn, &activity, shared).await;
}

/// Serves the connection, closing it when the idle policy says so.
async fn drive(mut conn: Pin<Box<dyn Served>>, activity: &Activity, shared: &Shared) {
    loop {
        let next = activity.next(&shared.policy);
        let deadline = match next {
            Next::Wait => None,
            Next::IdleAt(at) | Next::HeadersDueAt(at) => Some(at),
        };
        if deadline.is_some_and(|at| at <= tokio::time::Instant::now().into_std()) {
            match next {
                Next::IdleAt(_) => {
                    let reason = if activity.is_http2() {
                        "idle_http2"
                    } else {
                        "idle_http1"
                    };
                    metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => reason).increment(1);
                    conn.as_mut().shut();
                    let _ = tokio::time::timeout(CLOSING_GRACE, served(&mut conn)).await;
                }
                _ => {
                    metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => "headers_late")
                        .increment(1);
                }
            }
            return;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = served(&mut conn) => return,
            () = shared.stop.cancelled() => {
                conn.as_mut().shut();
                let _ = tokio::time::timeout(shared.shutdown_grace, served(&mut conn)).await;
                return;
            }
            () = activity.changed() => {}
            () = sleep => {}
        }
    }
}

fn served(conn: &mut Pin<Box<dyn Served>>) -> impl Future<Output = ()> + '_ {
    poll_fn(move |cx| conn.as_mut().poll_served(cx))
}

/// A hyper connection of any kind: driven to its end, or told to close.
trait Served: Send {
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()>;
    /// HTTP/1.1: close after the response in flight (at once when quiet);
    /// HTTP/2: GOAWAY, then close once the streams in flight are done.
    fn shut(self: Pin<&mut Self>);
}

impl Served for hyper::server::conn::http1::Connection<TlsIo, Svc> {
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll(cx).map(|_| ())
    }
    fn shut(self: Pin<&mut Self>) {
        self.graceful_shutdown()
    }
}

impl Served for hyper::server::conn::http2::Connection<TlsIo, Svc, TokioExecutor> {
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll(cx).map(|_| ())
    }
    fn shut(self: Pin<&mut Self>) {
        self.graceful_shutdown()
    }
}

impl Served for hyper_util::server::conn::auto::Connection<'static, PlainIo, Svc, TokioExecutor> {
    fn poll_served(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.poll(cx).map(|_| ())
    }
    fn shut(self: Pin<&mut Self>) {
        self.graceful_shutdown()
    }
}

/// Counts the connection's requests in flight, and on HTTP/1.1 tells the
/// client how long the server keeps the connection when quiet.
#[derive(Clone)]
struct Counted<S> {
    inner: S,
    activity: Arc<Activity>,
    keep_alive: HeaderValue,
}

/// Ends one request's count however its future ends (answered or dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

impl<S> Service<Request<Incoming>> for Counted<S>
where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let http2 = request.version() == Version::HTTP_2;
        self.activity.request_started(http2);
        let in_flight = InFlight(self.activity.clone());
        let keep_alive = (!http2).then(|| self.keep_alive.clone());
        let answer = self.inner.call(request);
        Box::pin(async move {
            let _in_flight = in_flight;
            let mut response = answer.await?;
            if let Some(keep_alive) = keep_alive {
                response
                    .headers_mut()
                    .entry(header::HeaderName::from_static("keep-alive"))
                    .or_insert(keep_alive);
            }
            Ok(response)
        })
    }
}
