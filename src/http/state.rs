//! What every handler, extractor and middleware reaches: the services behind
//! one `Arc`. It lives in `http/` beside the router that carries it, so the
//! handlers import nothing outside `http/` but the services; `app` builds it.

use crate::abuse::AbuseLimiter;
use crate::catalog::Catalog;
use crate::config::NamedToken;
use crate::fairness::PublishedDraws;
use crate::gate::GateService;
use crate::payment::PaymentService;
use crate::queue::{QueueService, QueueSettings};
use crate::reservation::ReservationService;
use crate::store::RedisStore;
use crate::tokens::TokenKeys;
use crate::wallet::WalletService;
use sqlx::PgPool;
use std::sync::Arc;

/// The handlers' state. One `Arc`: axum clones the state for every request and
/// middleware, and a clone of every service (their connections, key prefixes,
/// pools) showed as a fifth of a status poll's CPU.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    pub queue: QueueService,
    pub reservations: ReservationService,
    pub wallet: WalletService,
    pub payments: PaymentService,
    pub catalog: Arc<Catalog>,
    pub tokens: Arc<TokenKeys>,
    /// Admission tokens and the gate of reverse proxies.
    pub gate: GateService,
    /// Operators: (name, token), the `LINEUP_ADMIN_TOKEN` one named `admin`.
    pub admins: Arc<Vec<NamedToken>>,
    pub queue_defaults: QueueSettings,
    pub redis: RedisStore,
    pub db: PgPool,
    pub abuse: AbuseLimiter,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The pre-queue draws this server has published, kept in memory.
    pub fairness: PublishedDraws,
}
