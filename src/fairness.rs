//! The pre-queue's verifiable draw: a seed made when a concert is created, its
//! SHA-256 published before the opening and the seed itself after, and the
//! deterministic shuffle anyone can rerun from the seed and the list of the
//! pre-queue's joiners (docs/FAIRNESS.md describes it byte by byte).

/// 32 random bytes from the thread's CSPRNG (ChaCha seeded by the OS).
pub fn new_seed() -> [u8; 32] {
    rand::random()
}
