//! A TCP proxy a test puts between a server and PostgreSQL or Redis, to take
//! the dependency away without touching the real one that other tests share.
//! It owns only its listener and the connections through it.
//!
//! A fault is one value every connection watches. Requests and replies are
//! pumped apart, so a fault that acts on one direction only (losing or
//! delaying replies while requests still arrive) is a new [`Fault`] and a
//! change to [`pump`]'s reply side, nothing more.

use sqlx::PgPool;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

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
}

impl Fault {
    /// Whether connections open when this fault begins are dropped.
    fn ends_connections(self) -> bool {
        matches!(self, Fault::Cut | Fault::Stall)
    }
}

/// A proxy on a free loopback port; it stops listening when dropped.
pub struct ChaosProxy {
    port: u16,
    fault: watch::Sender<Fault>,
}

impl ChaosProxy {
    /// Forwards every connection to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (fault, mut watch) = watch::channel(Fault::Healthy);
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
                    Fault::Healthy => {
                        tokio::spawn(forward(client, target.clone(), watch.clone()));
                    }
                }
            }
        });
        Self { port, fault }
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

    /// Drops every open connection and every new one until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.fault.send_replace(Fault::Cut);
    }

    /// Drops every open connection and leaves new ones hanging, unanswered,
    /// until [`restore`](Self::restore).
    pub fn stall(&self) {
        self.fault.send_replace(Fault::Stall);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.fault.send_replace(Fault::Healthy);
    }
}

/// An accepted connection nobody answers, dropped once the fault changes.
async fn hang_until_changed(client: TcpStream, mut fault: watch::Receiver<Fault>) {
    let _ = fault.changed().await;
    drop(client);
}

/// Forwards one connection until either side closes it or a fault that ends
/// connections begins.
async fn forward(client: TcpStream, target: String, mut fault: watch::Receiver<Fault>) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let ended = async {
        loop {
            if fault.changed().await.is_err() || fault.borrow().ends_connections() {
                return;
            }
        }
    };
    tokio::select! {
        () = pump(client_read, server_write) => {}
        () = pump(server_read, client_write) => {}
        () = ended => {}
    }
}

/// Copies one direction of a connection until it closes.
async fn pump(mut from: impl AsyncRead + Unpin, mut to: impl AsyncWrite + Unpin) {
    let _ = tokio::io::copy(&mut from, &mut to).await;
}
