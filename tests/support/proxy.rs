//! A TCP proxy a test puts between a server and PostgreSQL or Redis, to take
//! the dependency away without touching the real one that other tests share.
//! It owns only its listener and the connections through it.
//!
//! A fault is one value every connection watches. Requests and replies are
//! pumped apart, so a fault that acts on one direction only is a [`Fault`]
//! and a change to [`pump_replies`], nothing more: a lost reply (the request
//! went through and was applied; the client sees its connection drop
//! instead of the answer) and a late reply are both of that kind.
//!
//! The proxy speaks no protocol: "a reply" is whatever the server sent in one
//! read. For a request/reply protocol used one request at a time that is one
//! reply; a pipelined or multiplexed connection may get several replies in one
//! read, and losing it loses them all (the connection closes anyway).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the proxy does to connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Forwards everything.
    Healthy,
    /// Drops every open connection and every new one: a dependency that is down.
    Cut,
    /// Drops every open connection and accepts new ones without ever
    /// answering: a dependency that hangs.
    Stall,
    /// Forwards requests at once and every reply this much later, in order: a
    /// slow network or an overloaded server, as the client sees it.
    DelayReplies(Duration),
    /// Forwards requests; a reply that the proxy's [`ReplyLoss`] picks is
    /// thrown away and its connection closed, after the server applied the
    /// request. Other replies are forwarded.
    LoseReplies,
}

impl Fault {
    /// Whether connections open when this fault begins are dropped.
    fn ends_connections(self) -> bool {
        matches!(self, Fault::Cut | Fault::Stall)
    }
}

/// Which replies [`Fault::LoseReplies`] throws away: the next `next` ones,
/// then each with `probability`, drawn from a generator seeded by the test.
/// The sequence of draws is a function of the seed; which reply meets which
/// draw is a function of the order replies arrive in, which only a test that
/// sends one request at a time controls.
struct ReplyLoss {
    next: u64,
    probability: f64,
    rng: StdRng,
    lost: u64,
}

impl ReplyLoss {
    fn new() -> Self {
        Self {
            next: 0,
            probability: 0.0,
            rng: StdRng::seed_from_u64(0),
            lost: 0,
        }
    }

    /// Whether the reply that just arrived is lost.
    fn lose(&mut self) -> bool {
        let lose = if self.next > 0 {
            self.next -= 1;
            true
        } else {
            self.probability > 0.0 && self.rng.random_bool(self.probability)
        };
        self.lost += u64::from(lose);
        lose
    }
}

/// A proxy on a free loopback port; it stops listening when dropped.
pub struct ChaosProxy {
    port: u16,
    fault: watch::Sender<Fault>,
    loss: Arc<Mutex<ReplyLoss>>,
}

impl ChaosProxy {
    /// Forwards every connection to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (fault, mut watch) = watch::channel(Fault::Healthy);
        let loss = Arc::new(Mutex::new(ReplyLoss::new()));
        let replies = Replies {
            fault: watch.clone(),
            loss: loss.clone(),
        };
        tokio::spawn(async move {
            loop {
                let client = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => client,
                        Err(_) => return,
                    },
                    // The proxy was dropped: the test is over.
                    changed = watch.changed() => match changed {
                        Ok(()) => continue,
                        Err(_) => return,
                    },
                };
                // Each connection watches for the next fault from here on.
                let now = *watch.borrow_and_update();
                match now {
                    Fault::Cut => drop(client),
                    Fault::Stall => {
                        tokio::spawn(hang_until_changed(client, watch.clone()));
                    }
                    Fault::Healthy | Fault::DelayReplies(_) | Fault::LoseReplies => {
                        tokio::spawn(forward(client, target.clone(), replies.clone()));
                    }
                }
            }
        });
        Self { port, fault, loss }
    }

    /// In front of the PostgreSQL server that holds `db`.
    pub async fn to_postgres(db: &PgPool) -> Self {
        let options = db.connect_options();
        Self::start(format!("{}:{}", options.get_host(), options.get_port())).await
    }

    /// In front of the single shared Redis.
    pub async fn to_redis() -> Self {
        Self::start(super::REDIS_ADDR.to_owned()).await
    }

    /// The loopback port to connect to instead of the dependency's.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `redis://` URL through this proxy.
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Drops every open connection and every new one until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.fault.send_replace(Fault::Cut);
    }

    /// Drops every open connection and leaves new ones hanging, unanswered,
    /// until [`restore`](Self::restore).
    pub fn stall(&self) {
        self.fault.send_replace(Fault::Stall);
    }

    /// Until [`restore`](Self::restore), forwards requests at once and each
    /// reply `delay` after it arrived, in order. Open connections stay open.
    pub fn delay_replies(&self, delay: Duration) {
        self.fault.send_replace(Fault::DelayReplies(delay));
    }

    /// Throws away the next `n` replies, each with its connection (the
    /// requests are applied; the clients see their connections drop), then
    /// forwards replies again.
    pub fn drop_next_replies(&self, n: u64) {
        {
            let mut loss = self.loss.lock().unwrap();
            loss.next = n;
            loss.probability = 0.0;
        }
        self.fault.send_replace(Fault::LoseReplies);
    }

    /// Until [`restore`](Self::restore), throws away each reply (and its
    /// connection) with `probability`, drawn from a generator seeded with
    /// `seed`.
    pub fn drop_replies(&self, probability: f64, seed: u64) {
        {
            let mut loss = self.loss.lock().unwrap();
            loss.next = 0;
            loss.probability = probability;
            loss.rng = StdRng::seed_from_u64(seed);
        }
        self.fault.send_replace(Fault::LoseReplies);
    }

    /// How many replies this proxy has thrown away so far.
    pub fn replies_lost(&self) -> u64 {
        self.loss.lock().unwrap().lost
    }

    /// Forwards new connections again, and replies at once.
    pub fn restore(&self) {
        {
            let mut loss = self.loss.lock().unwrap();
            loss.next = 0;
            loss.probability = 0.0;
        }
        self.fault.send_replace(Fault::Healthy);
    }
}

/// What the reply side of every connection consults: the fault now, and the
/// shared draw of lost replies.
#[derive(Clone)]
struct Replies {
    fault: watch::Receiver<Fault>,
    loss: Arc<Mutex<ReplyLoss>>,
}

/// An accepted connection nobody answers, dropped once the fault changes.
async fn hang_until_changed(client: TcpStream, mut fault: watch::Receiver<Fault>) {
    let _ = fault.changed().await;
    drop(client);
}

/// Forwards one connection until either side closes it, a reply is lost, or
/// a fault that ends connections begins.
async fn forward(client: TcpStream, target: String, replies: Replies) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut fault = replies.fault.clone();
    let ended = async {
        loop {
            if fault.changed().await.is_err() || fault.borrow().ends_connections() {
                return;
            }
        }
    };
    tokio::select! {
        () = pump(client_read, server_write) => {}
        () = pump_replies(server_read, client_write, replies) => {}
        () = ended => {}
    }
}

/// Copies requests (client to server) until the connection closes.
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
}

/// Copies replies (server to client) until the connection closes or a reply
/// is lost; each reply is written when the fault at its arrival says (at
/// once, or after a delay), in arrival order.
async fn pump_replies(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    replies: Replies,
) {
    let (queue, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    // Returns whether a reply was lost (else the server closed).
    let read = async move {
        // Owned here, so it is dropped (ending the writer's queue) when reading ends.
        let queue = queue;
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let fault = *replies.fault.borrow();
            let at = match fault {
                Fault::LoseReplies if replies.loss.lock().unwrap().lose() => return true,
                Fault::DelayReplies(delay) => Instant::now() + delay,
                _ => Instant::now(),
            };
            if queue.send((at, buf[..n].to_vec())).is_err() {
                return false;
            }
        }
    };
    let write = async move {
        while let Some((at, bytes)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::pin!(write);
    let lost = tokio::select! {
        lost = read => lost,
        () = &mut write => return,
    };
    if !lost {
        // The server closed: what it sent before still reaches the client.
        write.await;
    }
}
