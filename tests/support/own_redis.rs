//! redis-servers of one test's own, for what a test may not do to the shared
//! Redis: kill it, restart it empty, make a cluster of it. Owns the
//! processes and their directories; both go when dropped.

use super::{eventually, free_port};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

/// A redis-server of one test's own on its own loopback port, which the test
/// may kill and start again with nothing in it; killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start() -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("lineup-redis-{port}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.launch().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/services.sh)");
        self.child = Some(child);
        let url = self.url();
        eventually(Duration::from_secs(10), "own redis-server answers", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// Kills the server (SIGKILL: nothing is saved) and starts an empty one on
    /// the same port.
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.launch().await;
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of three primaries of one test's own, on free loopback
/// ports (each with its cluster bus port, +10000), made with
/// `redis-cli --cluster create`; its nodes are killed when dropped.
pub struct OwnCluster {
    pub ports: Vec<u16>,
    dir: PathBuf,
    children: Vec<Child>,
}

impl OwnCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("lineup-cluster-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let port = free_port();
            let bus_free = port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
            if bus_free && !ports.contains(&port) {
                ports.push(port);
            }
        }
        let mut children = Vec::new();
        for port in &ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"])
                .arg("--cluster-config-file")
                .arg(dir.join(format!("nodes-{port}.conf")))
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (scripts/services.sh)");
            children.push(child);
        }
        let cluster = OwnCluster {
            ports,
            dir,
            children,
        };
        for port in &cluster.ports {
            eventually(
                Duration::from_secs(10),
                "a cluster node answers",
                || async {
                    let mut conn = cluster.node(*port).await.ok()?;
                    redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .ok()
                },
            )
            .await;
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli is installed");
        assert!(created.success(), "redis-cli --cluster create");
        for port in &cluster.ports {
            eventually(Duration::from_secs(20), "cluster_state:ok", || async {
                let mut conn = cluster.node(*port).await.ok()?;
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                info.contains("cluster_state:ok").then_some(())
            })
            .await;
        }
        cluster
    }

    /// The comma-separated node URLs of `--redis-cluster-nodes`.
    pub fn nodes(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A plain connection to one node (no redirections: it sees only its slots).
    pub async fn node(&self, port: u16) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))?
            .get_multiplexed_async_connection()
            .await
    }

    /// The port of the primary that owns `key`'s slot.
    pub async fn owner_of(&self, key: &str) -> u16 {
        let mut conn = self.node(self.ports[0]).await.unwrap();
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        // Each entry: [first slot, last slot, [ip, port, id], replicas...].
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await
            .unwrap();
        for range in ranges {
            let (first, last, primary): (u16, u16, Vec<redis::Value>) = match range {
                redis::Value::Array(items) if items.len() >= 3 => (
                    redis::from_redis_value_ref(&items[0]).unwrap(),
                    redis::from_redis_value_ref(&items[1]).unwrap(),
                    redis::from_redis_value_ref(&items[2]).unwrap(),
                ),
                other => panic!("unexpected CLUSTER SLOTS entry {other:?}"),
            };
            if (first..=last).contains(&slot) {
                // [ip, port, node id, metadata]
                return redis::from_redis_value_ref(&primary[1]).unwrap();
            }
        }
        panic!("no primary owns slot {slot}");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
