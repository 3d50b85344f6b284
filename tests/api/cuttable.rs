//! A TCP proxy a test can cut, stall and restore, to take Redis or PostgreSQL
//! away from a server without touching the real ones that other tests share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct CuttableProxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    cuts: watch::Sender<u64>,
}

const OPEN: u8 = 0;
const CUT: u8 = 1;
const STALLED: u8 = 2;

impl CuttableProxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(OPEN));
        let (cuts, _) = watch::channel(0u64);
        let (accept_mode, accept_cuts) = (mode.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut cut = accept_cuts.subscribe();
                match accept_mode.load(Ordering::SeqCst) {
                    CUT => drop(client),
                    // Accepted, never answered: a dependency that hangs.
                    STALLED => {
                        tokio::spawn(async move {
                            let _ = cut.changed().await;
                            drop(client);
                        });
                    }
                    _ => {
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = cut.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        Self { addr, mode, cuts }
    }

    /// Drops every open connection and every new one until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Drops every open connection and leaves new ones hanging, unanswered.
    pub fn stall(&self) {
        self.set(STALLED);
    }

    pub fn restore(&self) {
        self.set(OPEN);
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }
}
