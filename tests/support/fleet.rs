//! Several `lineup serve` processes as one deployment behind a load balancer:
//! they share a database and a Redis prefix; each reaches a single Redis
//! through a [`ChaosProxy`] of its own (so one server's replies can be lost
//! while the others' arrive), and all reach PostgreSQL through one shared
//! proxy (a database outage is everyone's). A server can be killed and
//! started again in its slot. Owns the servers and the proxies, never the
//! Redis or the database behind them.

use super::{ChaosProxy, Server, ServerBuilder, database_url_via};
use sqlx::PgPool;
use std::sync::{Arc, RwLock};

/// Where the fleet's Redis is.
#[derive(Clone, Debug)]
pub enum FleetRedis {
    /// One Redis at `host:port`, each server through a proxy of its own.
    Single(String),
    /// A Redis Cluster (comma-separated node URLs), reached directly: the
    /// cluster client follows the nodes' own addresses, which no proxy sits on.
    Cluster(String),
}

/// One server's place in the fleet.
struct Slot {
    builder: ServerBuilder,
    redis: Option<ChaosProxy>,
    server: RwLock<Option<Arc<Server>>>,
    /// What the slot's killed processes logged.
    killed_logs: std::sync::Mutex<Vec<String>>,
}

pub struct Fleet {
    slots: Vec<Slot>,
    database: ChaosProxy,
    prefix: String,
}

impl Fleet {
    /// Starts `servers` servers on `db` and `redis` with `args` besides the
    /// [`ServerBuilder`] defaults.
    pub async fn start(db: &PgPool, redis: FleetRedis, servers: usize, args: &[&str]) -> Fleet {
        let database = ChaosProxy::to_postgres(db).await;
        let fleet = Server::builder(db)
            .database_url(&database_url_via(db, database.port()))
            .args(args);
        let prefix = fleet.prefix().to_owned();
        let mut slots = Vec::new();
        for _ in 0..servers {
            let (builder, proxy) = match &redis {
                FleetRedis::Single(addr) => {
                    let proxy = ChaosProxy::start(addr.clone()).await;
                    (fleet.clone().redis_url(&proxy.redis_url()), Some(proxy))
                }
                FleetRedis::Cluster(nodes) => (fleet.clone().redis_cluster(nodes), None),
            };
            slots.push(Slot {
                builder,
                redis: proxy,
                server: RwLock::new(None),
                killed_logs: std::sync::Mutex::new(Vec::new()),
            });
        }
        let fleet = Fleet {
            slots,
            database,
            prefix,
        };
        for started in futures::future::join_all((0..servers).map(|i| fleet.start_server(i))).await
        {
            started.unwrap_or_else(|log| panic!("a server of the fleet did not start: {log:#?}"));
        }
        fleet
    }

    /// How many slots the fleet has, up or down.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The Redis prefix every server of the fleet uses.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The server in slot `index`, unless it is down.
    pub fn server(&self, index: usize) -> Option<Arc<Server>> {
        self.slots[index].server.read().unwrap().clone()
    }

    /// A server that is up, as a load balancer picks one: slot `pick` modulo
    /// the fleet's size, or the next one up after it. `None` when all are down.
    pub fn pick(&self, pick: usize) -> Option<(usize, Arc<Server>)> {
        let n = self.slots.len();
        (0..n)
            .map(|offset| (pick + offset) % n)
            .find_map(|index| self.server(index).map(|server| (index, server)))
    }

    /// The proxy between slot `index`'s server and Redis (`None` on a cluster).
    pub fn redis_proxy(&self, index: usize) -> Option<&ChaosProxy> {
        self.slots[index].redis.as_ref()
    }

    /// The proxy between every server and PostgreSQL.
    pub fn database_proxy(&self) -> &ChaosProxy {
        &self.database
    }

    /// Kills slot `index`'s server with SIGKILL: nothing it was doing finishes.
    /// Requests in flight to it fail; it is reaped once the last of them lets
    /// go of it.
    pub fn kill(&self, index: usize) {
        let slot = &self.slots[index];
        if let Some(server) = slot.server.write().unwrap().take() {
            server.signal("-KILL");
            let mut logs = slot.killed_logs.lock().unwrap();
            logs.extend(server.log_lines());
            logs.push("---- killed ----".into());
        }
    }

    /// Everything slot `index`'s processes have logged, the killed ones first.
    pub fn log_lines(&self, index: usize) -> Vec<String> {
        let mut lines = self.slots[index].killed_logs.lock().unwrap().clone();
        lines.extend(
            self.server(index)
                .map(|s| s.log_lines())
                .unwrap_or_default(),
        );
        lines
    }

    /// Starts a server in slot `index` (a new process on a new port), killing
    /// the one there first if it is up. Hands back what the process logged
    /// when it did not come up.
    pub async fn start_server(&self, index: usize) -> Result<(), Vec<String>> {
        self.kill(index);
        let server = self.slots[index].builder.try_start().await?;
        *self.slots[index].server.write().unwrap() = Some(Arc::new(server));
        Ok(())
    }

    /// Every server up now, with its slot.
    pub fn up(&self) -> Vec<(usize, Arc<Server>)> {
        (0..self.slots.len())
            .filter_map(|index| self.server(index).map(|server| (index, server)))
            .collect()
    }
}
