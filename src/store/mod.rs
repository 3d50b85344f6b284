//! Connections to Redis and PostgreSQL, the Lua scripts and their typed
//! wrappers, and Redis key names. The only module that spells a Redis key.

pub mod keys;
pub mod postgres;
pub mod redis;
pub mod scripts;

pub use self::keys::{ConcertKeys, Keys};
pub use self::redis::RedisStore;
pub use self::scripts::Scripts;
