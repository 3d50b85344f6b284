//! The Lua scripts of `lua/`, compiled into the binary.
//!
//! Each script is `lua/_lib.lua` followed by the script's own text. `redis::Script`
//! runs them with EVALSHA and loads them again when Redis answers NOSCRIPT (after a
//! restart or `SCRIPT FLUSH`); [`Scripts::load_all`] loads them once at start.

use redis::Script;

const LIB: &str = include_str!("../../lua/_lib.lua");

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
                        include_str!(concat!("../../lua/", stringify!($name), ".lua"))
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
    pub async fn load_all<C: redis::aio::ConnectionLike>(
        &self,
        conn: &mut C,
    ) -> redis::RedisResult<()> {
        for (_, script) in self.all() {
            script.prepare_invoke().load_async(conn).await?;
        }
        Ok(())
    }
}
