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

mod reply;
mod shared;

mod admit;
mod close;
mod draw;
mod evict;
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
mod seat_map;
mod status;

pub use admit::{AdmitArgs, AdmitDefaults, AdmitOutcome, AdmitReply, DateSeats, admit};
pub use close::close;
pub use draw::{DrawReply, draw};
pub use evict::{EvictReply, Place, evict};
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
pub use seat_map::{SeatMapReply, seat_map};
pub use shared::{
    AdmissionKeys, LineDefaults, LineFacts, NotAdmitted, ReservationRefusal, ReservationSeats,
};
pub use status::{StatusArgs, StatusReply, status};

use crate::error::Result;
use redis::aio::ConnectionLike;
use redis::{Script, ScriptInvocation, ToRedisArgs, Value};
use reply::Reply;
use std::sync::LazyLock;

const LIB: &str = include_str!("../../../lua/_lib.lua");

macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        /// One [`Script`] per atomic operation.
        pub struct Scripts {
            $(pub $name: Script,)*
        }

        impl Scripts {
            pub fn new() -> Self {
                Self {
                    $($name: Script::new(&format!(
                        "{LIB}\n{}",
                        include_str!(concat!("../../../lua/", stringify!($name), ".lua"))
                    )),)*
                }
            }

            /// Every script, with its name, for loading and benchmarks.
            pub fn all(&self) -> Vec<(&'static str, &Script)> {
                vec![$((stringify!($name), &self.$name),)*]
            }
        }
    };
}

scripts!(
    join, status, admit, hold, release, pay_begin, pay_finish, pay_abort, leave, seat_map,
    load_sold, rate_limit, close, evict, prequeue, draw,
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
}

impl Call {
    fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.invocation.key(key);
        self
    }

    fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.invocation.arg(arg);
        self
    }

    /// EVALSHA, and on NOSCRIPT a load and a second try (`redis::Script`'s way).
    async fn run(&self, conn: &mut impl ConnectionLike) -> Result<Reply> {
        let value: Value = self.invocation.invoke_async(conn).await?;
        Ok(Reply::new(self.script, value))
    }
}

/// A [`Call`] of the registry's script `$name`, named after it in errors.
macro_rules! call {
    ($name:ident) => {
        $crate::store::scripts::Call {
            script: stringify!($name),
            invocation: $crate::store::scripts::registry().$name.prepare_invoke(),
        }
    };
}
use call;
