//! One connection's bookkeeping: the cap's permit it holds, and what it is
//! doing (a request in flight, a client sending a request, or nothing), which
//! the connection's task in [`super::serve`] reads to close it when idle.
//!
//! The cap holds a permit per open connection and closes new ones while it is
//! reached, so a flood of idle connections cannot take every file descriptor.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

#[derive(Clone)]
pub struct ConnectionCap {
    permits: Option<Arc<Semaphore>>,
}

impl ConnectionCap {
    /// `max` connections at once; 0 for no cap.
    pub fn new(max: usize) -> Self {
        Self {
            permits: (max > 0).then(|| Arc::new(Semaphore::new(max))),
        }
    }

    /// A permit for one more connection, or `None` when the cap is reached.
    pub fn admit(&self) -> Option<Option<OwnedSemaphorePermit>> {
        match &self.permits {
            None => Some(None),
            Some(permits) => permits.clone().try_acquire_owned().ok().map(Some),
        }
    }
}

/// Milliseconds since this process first asked: the clock of [`Activity`].
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// `reading_since` when the client is not sending a request.
const NOT_READING: u64 = u64::MAX;

/// What one connection is doing, shared by its socket, its service and its task.
#[derive(Debug)]
pub struct Activity {
    /// Requests whose response has not been handed to hyper yet.
    in_flight: AtomicU32,
    /// When the connection last became quiet (opened, or its last request ended).
    quiet_since: AtomicU64,
    /// When the first byte arrived while no request was in flight.
    reading_since: AtomicU64,
    /// HTTP/2 (by ALPN, or by the first request's version on plain HTTP).
    http2: AtomicBool,
    /// Wakes the connection's task when its deadline may have moved earlier.
    changed: Notify,
}

/// What a connection's task should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A request is in flight: nothing until it ends.
    Wait,
    /// Quiet: at this instant it has been idle too long (close it gracefully).
    IdleAt(Instant),
    /// A request is arriving: at this instant its headers are late (drop it).
    HeadersDueAt(Instant),
}

/// The timeouts a connection's task applies.
#[derive(Debug, Clone, Copy)]
pub struct IdlePolicy {
    pub header_read: Duration,
    pub http1_idle: Duration,
    pub http2_idle: Duration,
}

impl Activity {
    pub fn new(http2: bool) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicU32::new(0),
            quiet_since: AtomicU64::new(now_ms()),
            reading_since: AtomicU64::new(NOT_READING),
            http2: AtomicBool::new(http2),
            changed: Notify::new(),
        })
    }

    /// The connection speaks HTTP/2 (its TLS handshake chose `h2`).
    pub fn set_http2(&self) {
        self.http2.store(true, Ordering::Relaxed);
    }

    pub fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// A request was handed to the service.
    pub fn request_started(&self, http2: bool) {
        if http2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.reading_since.store(NOT_READING, Ordering::Release);
    }

    /// A request's response was handed to hyper (or the request was dropped).
    pub fn request_ended(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.quiet_since.store(now_ms(), Ordering::Release);
            self.reading_since.store(NOT_READING, Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived from the client: on a quiet HTTP/1.1 connection a request
    /// has begun, and its headers must follow within the header read timeout.
    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.reading_since.load(Ordering::Acquire) == NOT_READING
            && !self.is_http2()
        {
            self.reading_since.store(now_ms(), Ordering::Release);
            self.changed.notify_one();
        }
    }

    /// Completes when something happened that may move the deadline earlier.
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// The next thing to do, by the policy, seen from `now`.
    pub fn next(&self, policy: &IdlePolicy) -> Next {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Next::Wait;
        }
        let (now, now_ms) = (Instant::now(), now_ms());
        let at = |since_ms: u64, limit: Duration| {
            now + limit.saturating_sub(Duration::from_millis(now_ms.saturating_sub(since_ms)))
        };
        let reading = self.reading_since.load(Ordering::Acquire);
        if self.is_http2() {
            let quiet = self.quiet_since.load(Ordering::Acquire);
            Next::IdleAt(at(quiet, policy.http2_idle))
        } else if reading != NOT_READING {
            Next::HeadersDueAt(at(reading, policy.header_read))
        } else {
            let quiet = self.quiet_since.load(Ordering::Acquire);
            Next::IdleAt(at(quiet, policy.http1_idle))
        }
    }
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

/// A connection's socket: gives its permit back when it closes, and tells its
/// [`Activity`] when bytes arrive.
pub struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// No byte has arrived yet (the first ones may be HTTP/2's preface).
    first_read: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Tracked {
    pub fn new(
        stream: TcpStream,
        activity: Arc<Activity>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        // Small responses go out at once rather than waiting for Nagle.
        let _ = stream.set_nodelay(true);
        Self {
            stream,
            activity,
            first_read: true,
            _permit: permit,
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            if std::mem::take(&mut self.first_read)
                && buf.filled()[before..].starts_with(HTTP2_PREFACE)
            {
                // Plain HTTP/2 (h2c) is known by its preface, before any request.
                self.activity.set_http2();
            }
            self.activity.bytes_read();
        }
        read
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
