//! The reply faults of [`ChaosProxy`], each against the shared Redis: the
//! request still reaches Redis and is applied, only the reply is lost or
//! late. Requests are sent one at a time, each on a connection of its own
//! and in RESP by hand, so every read of the proxy is exactly one reply and
//! no client library adds handshakes or retries of its own.

use crate::support::{ChaosProxy, unique_prefix};
use redis::AsyncCommands;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A command in RESP.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{arg}\r\n", arg.len()).bytes());
    }
    out
}

/// Sends commands on a new connection through the proxy and reads until
/// `replies` lines have come back; `None` when the connection closed first
/// (the reply was lost).
async fn send(proxy: &ChaosProxy, commands: &[&[&str]], replies: usize) -> Option<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", proxy.port()))
        .await
        .unwrap();
    let mut request = Vec::new();
    for command in commands {
        request.extend(resp(command));
    }
    conn.write_all(&request).await.unwrap();
    let mut answer = String::new();
    let mut buf = [0u8; 1024];
    while answer.matches("\r\n").count() < replies {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => answer.push_str(std::str::from_utf8(&buf[..n]).unwrap()),
        }
    }
    Some(answer)
}

/// A connection to the shared Redis that goes around the proxy.
async fn direct() -> redis::aio::MultiplexedConnection {
    redis::Client::open(crate::support::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_set_whose_reply_is_lost_is_still_applied() {
    let proxy = ChaosProxy::to_redis().await;
    let key = format!("{}:lost", unique_prefix());
    proxy.drop_next_replies(1);

    assert_eq!(send(&proxy, &[&["SET", &key, "applied"]], 1).await, None);

    let value: Option<String> = direct().await.get(&key).await.unwrap();
    assert_eq!(value.as_deref(), Some("applied"));
    assert_eq!(proxy.replies_lost(), 1);
    // Only the next reply was lost: the one after arrives.
    assert_eq!(
        send(&proxy, &[&["GET", &key]], 2).await.as_deref(),
        Some("$7\r\napplied\r\n")
    );
    let _: () = direct().await.del(&key).await.unwrap();
}

#[tokio::test]
async fn the_next_n_replies_are_lost_and_then_none() {
    let proxy = ChaosProxy::to_redis().await;
    let key = format!("{}:counter", unique_prefix());
    proxy.drop_next_replies(2);

    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(send(&proxy, &[&["INCR", &key]], 1).await);
    }

    assert_eq!(
        answers,
        [None, None, Some(":3\r\n".into()), Some(":4\r\n".into())]
    );
    let count: i64 = direct().await.get(&key).await.unwrap();
    assert_eq!(count, 4, "every INCR was applied, lost reply or not");
    let _: () = direct().await.del(&key).await.unwrap();
}

#[tokio::test]
async fn replies_lost_with_a_probability_follow_the_seed() {
    let key = format!("{}:counter", unique_prefix());
    let mut patterns = Vec::new();
    for seed in [7, 7, 8] {
        let proxy = ChaosProxy::to_redis().await;
        proxy.drop_replies(0.5, seed);
        let mut pattern = Vec::new();
        for _ in 0..24 {
            pattern.push(send(&proxy, &[&["INCR", &key]], 1).await.is_some());
        }
        proxy.restore();
        assert!(send(&proxy, &[&["PING"]], 1).await.is_some(), "restored");
        patterns.push(pattern);
    }

    assert_eq!(
        patterns[0], patterns[1],
        "the same seed loses the same replies"
    );
    assert_ne!(patterns[0], patterns[2], "another seed, other replies");
    let lost = patterns[0].iter().filter(|arrived| !**arrived).count();
    assert!((4..=20).contains(&lost), "{lost} of 24 lost at p = 0.5");
    let count: i64 = direct().await.get(&key).await.unwrap();
    assert_eq!(count, 3 * 24, "every INCR was applied");
    let _: () = direct().await.del(&key).await.unwrap();
}

#[tokio::test]
async fn delayed_replies_arrive_late_in_order_after_the_request_was_applied() {
    let proxy = ChaosProxy::to_redis().await;
    let key = format!("{}:late", unique_prefix());
    let delay = Duration::from_millis(400);
    proxy.delay_replies(delay);

    let started = Instant::now();
    let (set, get) = (["SET", &key, "early"], ["GET", &key]);
    let commands: [&[&str]; 2] = [&set, &get];
    let sending = send(&proxy, &commands, 3);
    let looking = async {
        // Redis has the value long before the client hears back.
        crate::support::eventually(Duration::from_millis(300), "SET applied", || async {
            let value: Option<String> = direct().await.get(&key).await.ok()?;
            value.map(|_| started.elapsed())
        })
        .await
    };
    let (answer, applied_after) = tokio::join!(sending, looking);

    assert_eq!(answer.as_deref(), Some("+OK\r\n$5\r\nearly\r\n"));
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert!(applied_after < delay, "applied after {applied_after:?}");
    proxy.restore();
    let started = Instant::now();
    assert!(send(&proxy, &[&["PING"]], 1).await.is_some());
    assert!(started.elapsed() < delay, "restored: replies at once");
    let _: () = direct().await.del(&key).await.unwrap();
}
