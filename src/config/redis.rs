//! Redis: one server or a Redis Cluster, the key prefix, the longest wait.
//!
//! Reads `LINEUP_REDIS_URL`, `LINEUP_REDIS_CLUSTER_NODES`, `LINEUP_REDIS_PREFIX`,
//! `LINEUP_REDIS_TIMEOUT`.

use anyhow::ensure;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct RedisArgs {
    /// Redis connection URL.
    #[arg(
        long,
        env = "LINEUP_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// A Redis Cluster to use instead of LINEUP_REDIS_URL: comma-separated URLs
    /// of some of its nodes (redis://host:port), from which lineup learns the rest.
    #[arg(long, env = "LINEUP_REDIS_CLUSTER_NODES", value_delimiter = ',')]
    pub redis_cluster_nodes: Vec<String>,

    /// Prefix of every Redis key, so several deployments can share one Redis.
    #[arg(long, env = "LINEUP_REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,

    /// Longest wait for a Redis connection or reply before answering 503.
    #[arg(long, env = "LINEUP_REDIS_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub redis_timeout: Duration,
}

/// The checked Redis settings.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    /// When not empty, a Redis Cluster through these nodes instead of `url`.
    pub cluster_nodes: Vec<String>,
    pub prefix: String,
    pub timeout: Duration,
}

impl RedisArgs {
    pub fn into_config(self) -> anyhow::Result<RedisConfig> {
        ensure!(
            !self.redis_prefix.is_empty() && !self.redis_prefix.contains(['{', '}', ' ']),
            "LINEUP_REDIS_PREFIX (--redis-prefix) must be non-empty, without braces or spaces"
        );
        // An empty entry (`LINEUP_REDIS_CLUSTER_NODES=` or a trailing comma) names no node.
        let cluster_nodes: Vec<String> = self
            .redis_cluster_nodes
            .into_iter()
            .map(|node| node.trim().to_owned())
            .filter(|node| !node.is_empty())
            .collect();
        for node in &cluster_nodes {
            ensure!(
                redis::parse_redis_url(node).is_some(),
                "LINEUP_REDIS_CLUSTER_NODES (--redis-cluster-nodes): {node:?} is not a redis:// URL"
            );
        }
        Ok(RedisConfig {
            url: self.redis_url,
            cluster_nodes,
            prefix: self.redis_prefix,
            timeout: super::nonzero("LINEUP_REDIS_TIMEOUT", self.redis_timeout)?,
        })
    }
}
