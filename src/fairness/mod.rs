//! The pre-queue's verifiable draw, all of it: a seed made when a concert is
//! created, its SHA-256 published before the opening and the seed itself after
//! the draw, and the deterministic shuffle anyone can rerun from the seed and
//! the list of the pre-queue's joiners (docs/FAIRNESS.md describes it byte by
//! byte).
//!
//! - `shuffle.rs`: the procedure below, pure: seed, commitment, shuffle.
//! - `record.rs`: the draw's durable half in PostgreSQL, the seed and the list
//!   of joiners (the first server to record a draw fixes it for all).
//! - `draw.rs`: the draw made at the opening (the admit tick asks,
//!   `lua/prequeue.lua` and `lua/draw.lua` read and apply it in Redis).
//! - `published.rs`: the report `GET /api/v1/concerts/{concert_id}/fairness`
//!   publishes, computed once per server after the draw and served from
//!   memory by pages.
//! - `verify.rs`: `lineup verify-shuffle`, which reruns the procedure from a
//!   published report, whole or in pages (its arguments are parsed by clap).
//!
//! The procedure, `lineup-shuffle-v1`:
//!
//! 1. The joiners' ids, as lowercase hyphenated UUIDs, without duplicates,
//!    sorted in ascending byte order.
//! 2. A stream of 64-bit numbers: block `c` (c = 0, 1, 2, ...) is
//!    `SHA-256(seed || c as 8 bytes big-endian)`; each block gives four numbers,
//!    its bytes 0-7, 8-15, 16-23 and 24-31 read big-endian, used in that order.
//! 3. Fisher–Yates from the back: for `i` from `n - 1` down to 1, draw `x` from
//!    the stream until `x < 2^64 - (2^64 mod (i + 1))` (rejection, so that every
//!    `j` is equally likely), let `j = x mod (i + 1)` and swap items `i` and `j`.
//! 4. The list is now the drawn order: its first item is position 1.

mod draw;
mod published;
mod record;
mod shuffle;
mod verify;

pub use draw::draw_prequeue;
pub use published::{
    DEFAULT_PAGE, FairnessReport, MAX_PAGE, Page, Publication, Published, PublishedDraws,
};
pub use record::Draw;
pub use shuffle::{ALGORITHM, commitment, new_seed, shuffle};
pub use verify::{VerifyShuffleArgs, verify_shuffle};
