//! Waiting for something the servers do in their own time (an admission, a
//! draw, a reconnect): poll until it shows, with a bound. The only place a
//! test waits for a condition; a test that sleeps instead waits for time to pass.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 25 ms until it returns `Some`; panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
