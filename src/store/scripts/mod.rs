//! The Lua scripts of `lua/`, compiled into the binary, and one typed wrapper
//! per script (mini-redis's `cmd/*.rs`): each file below owns its script's wire
//! format both ways, the KEYS and ARGV in the order the script's header lists
//! them and the reply, read with a `Reply` cursor (`reply.rs`) into an enum. A call
//! reads `scripts::status(&mut conn, &keys, StatusArgs { .. })`; no other module
//! builds a script's key list or reads its reply, and a reply of an unknown
//! shape is an internal error raised in one place.
//!
//! Each script is `lua/_lib.lua` followed by the script's own text. `redis::Script`
//! runs them with EVALSHA and loads them again when Redis answers NOSCRIPT (after a
//! restart or `SCRIPT FLUSH`); [`Scripts::load_all`] loads them once at start.
//! `shared.rs` is the Rust side of `_lib.lua`: keys and answers several scripts share.
//!
//! # A lost reply
//!
//! A script's reply can be lost after Redis applied it: the connection drops,
//! or the reply comes after the timeout (the cluster client then sends the
//! script again by itself). Every state-changing script is therefore safe to
//! send twice, and [`Call::run`] sends it once more when its reply was lost.
//! A script is safe to send twice in one of two ways, which its header names:
//! - *by construction*: a second run finds its own work done and answers as the
//!   first did (`hold` finds its reservation id, `pay_begin` and `pay_abort`
//!   their attempt id, `pay_finish` finds nothing left, `admit` is a later tick
//!   of its token bucket, `settings_set` writes the same fields again,
//!   `settings_synced` finds its marker gone, `retire` finds nothing left; the
//!   read-only scripts change
//!   nothing);
//! - *sent once*: the script runs inside `once` (`_lib.lua`), and each call
//!   carries an attempt key of its own, under which Redis keeps the first reply
//!   for [`REMEMBERED`]; a re-send of that call gets it back (`join`, `leave`,
//!   `release`, `evict`: their second run would answer differently).
//!
//! A wrapper that declares neither is sent once and never again (`close`,
//! `rate_limit`).

mod reply;
mod shared;

mod admit;
mod close;
mod draw;
mod evict;
mod gate;
mod hold;
mod join;
mod leave;
mod load_sold;
mod pay_abort;
mod pay_begin;
mod pay_finish;
mod prequeue;
mod rate_limit;
mod release;
mod retire;
mod seat_map;
mod settings_set;
mod settings_synced;
mod status;

pub use admit::{AdmitArgs, AdmitDefaults, AdmitOutcome, AdmitReply, DateSeats, admit};
pub use close::{Closed, close};
pub use draw::{DrawReply, draw};
pub use evict::{EvictReply, Place, evict};
pub use gate::{GateReply, gate};
pub use hold::{HoldArgs, HoldReply, hold};
pub use join::{JoinArgs, JoinReply, join};
pub use leave::{LeaveReply, leave};
pub use load_sold::load_sold;
pub use pay_abort::pay_abort;
pub use pay_begin::{PayBeginReply, pay_begin};
pub use pay_finish::{PayFinish, pay_finish};
pub use prequeue::{PrequeueReply, prequeue};
pub use rate_limit::{RateLimitArgs, rate_limit};
pub use release::{ReleaseReply, release};
pub use retire::retire;
pub use seat_map::{SeatMapReply, seat_map};
pub use settings_set::settings_set;
pub use settings_synced::settings_synced;
pub use shared::{
    AdmissionKeys, CachedLine, LineDefaults, LineFacts, NotAdmitted, PaymentAttempt,
    ReservationRefusal, ReservationSeats, idle_bucket_width_ms,
};
pub use status::{StatusArgs, StatusReply, status};

use crate::error::{Error, Result};
use crate::store::ConcertKeys;
use redis::aio::ConnectionLike;
use redis::{RedisError, Script, ScriptInvocation, ToRedisArgs, Value};
use reply::Reply;
use std::sync::LazyLock;
use std::time::Duration;

const LIB: &str = include_str!("../../../lua/_lib.lua");

/// How long Redis keeps the first reply of a call sent once: longer than any
/// re-send takes to arrive ([`Call::run`]'s follows the timeout at once, the
/// cluster client's come within three timeouts, 2 s each by default), and
/// short, since every such call leaves a key for this long.
pub const REMEMBERED: Duration = Duration::from_secs(30);

macro_rules! scripts {
    (by_construction: [$($plain:ident),* $(,)?], sent_once: [$($once:ident),* $(,)?] $(,)?) => {
        /// One [`Script`] per atomic operation.
        pub struct Scripts {
            $(pub $plain: Script,)*
            $(pub $once: Script,)*
        }

        impl Scripts {
            pub fn new() -> Self {
                Self {
                    $($plain: Script::new(&format!(
                        "{LIB}\n{}",
                        include_str!(concat!("../../../lua/", stringify!($plain), ".lua"))
                    )),)*
                    $($once: Script::new(&format!(
                        "{LIB}\nreturn once(function()\n{}\nend)\n",
                        include_str!(concat!("../../../lua/", stringify!($once), ".lua"))
                    )),)*
                }
            }

            /// Every script, with its name, for loading and benchmarks.
            pub fn all(&self) -> Vec<(&'static str, &Script)> {
                vec![$((stringify!($plain), &self.$plain),)* $((stringify!($once), &self.$once),)*]
            }
        }

        /// The scripts that run inside `once` (see the module doc).
        const SENT_ONCE: &[&str] = &[$(stringify!($once),)*];
    };
}

scripts!(
    by_construction: [
        status, admit, hold, pay_begin, pay_finish, pay_abort, seat_map, load_sold, rate_limit,
        close, prequeue, draw, settings_set, settings_synced, retire, gate,
    ],
    sent_once: [join, release, leave, evict],
);

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}

impl Scripts {
    /// Loads every script into Redis (SCRIPT LOAD), so a broken script fails at boot.
    pub async fn load_all<C: ConnectionLike>(&self, conn: &mut C) -> redis::RedisResult<()> {
        for (_, script) in self.all() {
            script.prepare_invoke().load_async(conn).await?;
        }
        Ok(())
    }
}

/// The scripts every wrapper runs: their text is fixed at compile time, so one
/// registry (hashed once) serves every connection.
pub fn registry() -> &'static Scripts {
    static REGISTRY: LazyLock<Scripts> = LazyLock::new(Scripts::new);
    &REGISTRY
}

/// One run of a script being put together: KEYS and ARGV pushed in the order
/// of the script's header, then run and its reply handed back as a cursor.
struct Call {
    script: &'static str,
    invocation: ScriptInvocation<'static>,
    /// Sent once: the key Redis keeps this call's first reply in, pushed last.
    attempt: Option<String>,
    /// Whether a lost reply is answered by sending the call again: the script
    /// is sent once, or its wrapper declared it [`Call::idempotent`].
    resend: bool,
}

impl Call {
    fn new(script: &'static str, code: &'static Script) -> Self {
        Self {
            script,
            invocation: code.prepare_invoke(),
            attempt: None,
            resend: false,
        }
    }

    /// A call of a script sent once, with an attempt of its own in `concert`.
    fn sent_once(script: &'static str, code: &'static Script, concert: &ConcertKeys) -> Self {
        Self {
            attempt: Some(concert.attempt(uuid::Uuid::new_v4())),
            resend: true,
            ..Self::new(script, code)
        }
    }

    /// Declares the script safe to send twice by construction (its header says why).
    fn idempotent(&mut self) -> &mut Self {
        self.resend = true;
        self
    }

    fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.invocation.key(key);
        self
    }

    fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.invocation.arg(arg);
        self
    }

    /// EVALSHA, and on NOSCRIPT a load and a second try (`redis::Script`'s
    /// way); when the reply is lost (the connection dropped, or the reply came
    /// too late) and the script is safe to send twice, once more.
    async fn run(mut self, conn: &mut impl ConnectionLike) -> Result<Reply> {
        if SENT_ONCE.contains(&self.script) != self.attempt.is_some() {
            return Err(Error::internal(format!(
                "the {} script was called without the attempt its header asks for, or with one it does not",
                self.script
            )));
        }
        if let Some(attempt) = self.attempt.take() {
            self.invocation
                .key(attempt)
                .arg(REMEMBERED.as_millis() as u64);
        }
        let value: Value = match self.invocation.invoke_async(conn).await {
            Err(lost) if self.resend && reply_lost(&lost) => {
                tracing::info!(script = self.script, error = %lost, "no reply from Redis; sending the script again");
                self.invocation.invoke_async(conn).await?
            }
            answered => answered?,
        };
        Ok(Reply::new(self.script, value))
    }
}

/// Whether Redis may have applied a script whose reply never came.
fn reply_lost(error: &RedisError) -> bool {
    error.is_timeout() || error.is_connection_dropped()
}

/// A [`Call`] of the registry's script `$name`, named after it in errors;
/// `call!($name, sent_once in concert_keys)` for a script sent once.
macro_rules! call {
    ($name:ident) => {
        $crate::store::scripts::Call::new(
            stringify!($name),
            &$crate::store::scripts::registry().$name,
        )
    };
    ($name:ident, sent_once in $concert:expr) => {
        $crate::store::scripts::Call::sent_once(
            stringify!($name),
            &$crate::store::scripts::registry().$name,
            $concert,
        )
    };
}
use call;

#[cfg(test)]
mod tests {
    use super::*;

    /// The script's own text, as `lua/` has it.
    fn source(name: &str) -> String {
        let path = format!("{}/lua/{name}.lua", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_header_says_how_its_script_is_safe_to_send_twice() {
        for (name, _) in registry().all() {
            let text = source(name).to_lowercase();
            let sent_once = text.contains("sent once (see once in _lib.lua)");
            assert_eq!(
                sent_once,
                SENT_ONCE.contains(&name),
                "{name}: its header and the registry disagree on whether it is sent once"
            );
            let never_resent = name == "close";
            assert_eq!(
                sent_once || text.contains("safe to send twice"),
                !never_resent,
                "{name}: its header does not say why it is safe to send twice"
            );
        }
    }
}
