//! Builds everything a server needs (connections, migrations, services, the
//! router, the TLS config, the listeners) and runs it until a shutdown future
//! completes.
//!
//! Shutdown is one [`CancellationToken`]: the future given to
//! [`Application::run_until_stopped`] cancels it, and every background task
//! (admission, catalog refresh, gauges, certificate reload) stops on it, while
//! the listeners stop accepting and give requests in flight
//! `GRACEFUL_SHUTDOWN` (20 s) to finish.

use crate::abuse::AbuseLimiter;
use crate::catalog::Catalog;
use crate::config::{Config, HttpLimits, Transport};
use crate::gate::GateService;
use crate::http::{AppState, Services};
use crate::payment::PaymentService;
use crate::queue::{QueueService, run_admission_loop, run_settings_sync};
use crate::reservation::ReservationService;
use crate::store::{RedisStore, postgres};
use crate::tokens::TokenKeys;
use crate::wallet::WalletService;
use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long requests in flight may take to finish after a shutdown signal.
const GRACEFUL_SHUTDOWN: Duration = Duration::from_secs(20);
/// How often each server rereads the catalog, to see concerts created elsewhere.
const CATALOG_REFRESH: Duration = Duration::from_secs(10);

/// A server that is built and bound, not yet serving.
pub struct Application {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
    /// The plain-HTTP listener that only redirects to HTTPS, when asked for.
    redirect_listener: Option<std::net::TcpListener>,
    /// The plain-HTTP listener of `/metrics`, unless switched off.
    metrics_listener: Option<std::net::TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Seals TLS session tickets; kept for certificate reloads.
    tickets: Arc<dyn rustls::server::ProducesTickets>,
    state: AppState,
    config: Config,
}

impl Application {
    /// Connects to PostgreSQL (applying migrations) and Redis, loads the catalog
    /// and the sold seats, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = postgres::connect_bounded(
            config.database.url.expose_secret(),
            config.database.max_connections,
            config.database.timeout,
            config.database.statement_timeout,
        )
        .await?;
        postgres::migrate(&db).await?;
        let redis = RedisStore::connect_to(
            &config.redis.url,
            &config.redis.cluster_nodes,
            &config.redis.prefix,
            config.redis.timeout,
        )
        .await?;
        Self::build_with(config, db, redis).await
    }

    /// Like [`Application::build`] with connections made elsewhere (tests bring a
    /// database of their own).
    pub async fn build_with(config: Config, db: PgPool, redis: RedisStore) -> anyhow::Result<Self> {
        // Before anything records a metric, so nothing is lost at start.
        crate::telemetry::metrics::recorder();
        let catalog = Arc::new(
            Catalog::load(db.clone(), config.retire_after)
                .await
                .context("cannot load the catalog")?,
        );
        let tokens = Arc::new(TokenKeys::new(&config.tokens));
        let queue = QueueService::new(
            redis.clone(),
            catalog.clone(),
            tokens.clone(),
            config.queue_defaults,
            config.database.timeout,
            config.line_facts_ttl,
        );
        let reservations =
            ReservationService::new(redis.clone(), catalog.clone(), config.payment_timeout);
        let wallet = WalletService::new(db.clone(), config.charge_policy, reservations.clone());
        let payments = PaymentService::new(
            db.clone(),
            reservations.clone(),
            config.limits.request_timeout,
        );

        if config.demo {
            crate::demo::seed(&catalog, config.queue_defaults).await?;
        }
        reservations
            .load_all_sold()
            .await
            .context("cannot load the sold seats into Redis")?;

        let tickets = crate::tls::ticketer(&config.tls)?;
        let tls = match &config.tls.transport {
            Transport::TlsFiles { cert, key } => {
                Some(crate::tls::from_pem_files(cert, key, &tickets)?)
            }
            Transport::TlsSelfSigned => {
                tracing::warn!(
                    "no --tls-cert/--tls-key given: serving HTTPS with a self-signed certificate for localhost"
                );
                Some(crate::tls::self_signed(&tickets)?)
            }
            Transport::PlainHttp => {
                tracing::warn!(
                    "serving plain HTTP (--plain-http): put a TLS-terminating proxy in front"
                );
                None
            }
        };
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let redirect_listener = match config.tls.redirect_http_listen {
            Some(addr) if tls.is_some() => {
                let redirect = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen on {addr} for HTTP redirects"))?;
                redirect.set_nonblocking(true)?;
                Some(redirect)
            }
            _ => None,
        };
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                let metrics = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?;
                metrics.set_nonblocking(true)?;
                Some(metrics)
            }
            None => None,
        };

        Ok(Self {
            listener,
            local_addr,
            metrics_listener,
            redirect_listener,
            tls,
            tickets,
            state: AppState::new(Services {
                queue,
                reservations,
                wallet,
                payments,
                catalog,
                gate: GateService::new(redis.clone(), tokens.clone(), config.gate.clone()),
                tokens,
                admins: Arc::new(config.admin.operators()),
                queue_defaults: config.queue_defaults,
                abuse: AbuseLimiter::new(redis.clone(), config.abuse),
                trusted_proxies: Arc::new(config.trusted_proxies.clone()),
                fairness: Default::default(),
                redis,
                db,
            }),
            config,
        })
    }

    /// The bound address; its port is the real one when the config asked for 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Where the redirect-to-HTTPS listener is bound, if there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let mut background = vec![
            tokio::spawn(run_admission_loop(
                self.state.redis.clone(),
                self.state.catalog.clone(),
                self.config.admit_interval,
                stop.clone(),
            )),
            tokio::spawn(run_settings_sync(
                self.state.queue.clone(),
                self.state.catalog.clone(),
                self.config.database.timeout,
                stop.clone(),
            )),
            tokio::spawn(refresh_catalog(self.state.catalog.clone(), stop.clone())),
            tokio::spawn(crate::catalog::run_retirement(
                self.state.redis.clone(),
                self.state.catalog.clone(),
                self.config.retire_after,
                stop.clone(),
            )),
            tokio::spawn(record_stats(self.state.clone(), stop.clone())),
        ];

        let handle = axum_server::Handle::new();
        let signal_handle = handle.clone();
        let stopping = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            stopping.cancel();
            signal_handle.graceful_shutdown(Some(GRACEFUL_SHUTDOWN));
        });

        if let Some(listener) = self.metrics_listener {
            let recorder = crate::telemetry::metrics::recorder();
            let metrics = axum_server::from_tcp(listener)?
                .handle(handle.clone())
                .serve(crate::http::metrics_router(recorder).into_make_service());
            background.push(tokio::spawn(async move {
                if let Err(e) = metrics.await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            }));
        }

        let limits = self.config.limits;
        let app = crate::http::router(
            self.state,
            limits,
            self.tls.is_some(),
            self.config.log_polls,
        );
        let tls = self.tls.map(RustlsConfig::from_config);
        if let Some(tls) = &tls {
            if let Transport::TlsFiles { cert, key } = &self.config.tls.transport {
                background.push(tokio::spawn(crate::tls::reload_on_change(
                    tls.clone(),
                    cert.clone(),
                    key.clone(),
                    self.config.tls.reload_interval,
                    self.tickets.clone(),
                    stop.clone(),
                )));
            }
            if let Some(redirect) = self.redirect_listener {
                // Through the API's own connection loop: its header read and idle
                // timeouts, under a small cap of its own (inside the files the
                // API's cap leaves), so a slow or idle flood here takes neither
                // file descriptors for ever nor the API's room.
                let limits = HttpLimits {
                    max_connections: crate::http::redirect::MAX_CONNECTIONS,
                    ..limits
                };
                let redirects = crate::http::serve::serve(
                    redirect,
                    crate::http::redirect::router(self.local_addr.port()),
                    None,
                    limits,
                    stop.clone(),
                    GRACEFUL_SHUTDOWN,
                );
                background.push(tokio::spawn(async move {
                    if let Err(e) = redirects.await {
                        tracing::error!(error = %e, "the HTTP redirect listener failed");
                    }
                }));
            }
        }
        let served = crate::http::serve::serve(
            self.listener,
            app,
            tls,
            limits,
            stop.clone(),
            GRACEFUL_SHUTDOWN,
        )
        .await;
        for task in background {
            let _ = task.await;
        }
        served.context("the server failed")
    }
}

/// Rereads the catalog now and then; a failure keeps the last good snapshot.
async fn refresh_catalog(catalog: Arc<Catalog>, shutdown: CancellationToken) {
    while shutdown
        .run_until_cancelled(tokio::time::sleep(CATALOG_REFRESH))
        .await
        .is_some()
    {
        // Bounded: a PostgreSQL that stops answering must not stall the refresh for good.
        match tokio::time::timeout(CATALOG_REFRESH, catalog.reload()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = ?e, "catalog refresh failed; serving the last snapshot")
            }
            Err(_) => tracing::warn!("catalog refresh timed out; serving the last snapshot"),
        }
    }
}

/// How often the seat and pool gauges are refreshed, and histograms trimmed.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// Sets the gauges that no request updates: seats per date (sold, held,
/// available) and the PostgreSQL pool, once a second; a failure keeps the last
/// values (the admission loop already reports outages).
async fn record_stats(state: AppState, shutdown: CancellationToken) {
    use crate::telemetry::metrics as m;
    let recorder = crate::telemetry::metrics::recorder();
    while shutdown
        .run_until_cancelled(tokio::time::sleep(STATS_INTERVAL))
        .await
        .is_some()
    {
        recorder.run_upkeep();
        let size = state.db.size();
        let idle = state.db.num_idle() as u32;
        metrics::gauge!(m::DB_CONNECTIONS, "state" => "in_use")
            .set(f64::from(size.saturating_sub(idle)));
        metrics::gauge!(m::DB_CONNECTIONS, "state" => "idle").set(f64::from(idle));

        let now = chrono::Utc::now();
        let snapshot = state.catalog.snapshot();
        for concert in &snapshot.concerts {
            let upcoming: Vec<_> = snapshot
                .schedules_of(concert)
                .filter(|s| !s.has_started(now))
                .cloned()
                .collect();
            if upcoming.is_empty() {
                continue;
            }
            let Ok(counts) = state.reservations.seat_counts(concert.id, &upcoming).await else {
                continue;
            };
            for (schedule, counts) in upcoming.iter().zip(counts) {
                let labels = [
                    ("concert", concert.id.to_string()),
                    ("schedule", schedule.id.to_string()),
                ];
                metrics::gauge!(m::SEATS_SOLD, &labels).set(counts.sold as f64);
                metrics::gauge!(m::SEATS_HELD, &labels).set(counts.held as f64);
                metrics::gauge!(m::SEATS_AVAILABLE, &labels).set(counts.available() as f64);
            }
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
