//! Signatures already checked: the exact token -> its claims, per server.
//!
//! Checking an Ed25519 signature (30-60 us) was over half of a status poll's
//! server CPU (`loadtest/profile.sh`), and a person polls with the same queue
//! token every few seconds, so each token's signature is checked once and its
//! claims remembered. Only what the signature proves is remembered: whether the
//! token is past its `exp` is decided on every use, and whether it is still the
//! person's current place is Redis's answer, as before. Only tokens that passed
//! every check are kept, so a forged token never enters, and its key is the
//! whole token, compared byte for byte. Bounded by weight (the token's length
//! and its claims), least useful first out; a key set is fixed for a process's
//! life, so nothing here outlives the key that signed it.

use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// The fixed cost of an entry beside its token's bytes (claims, the cache's
/// own bookkeeping, allocator rounding), in bytes, for the weight bound.
const ENTRY_OVERHEAD: u64 = 160;

/// About how many bytes an entry takes, for sizing the cache from a count.
pub const ENTRY_BYTES_ESTIMATE: usize = 560;

pub struct VerifiedTokens<T: Clone> {
    cache: Option<Cache<Box<str>, T, ByLength>>,
}

#[derive(Clone)]
struct ByLength;

impl<T> Weighter<Box<str>, T> for ByLength {
    fn weight(&self, token: &Box<str>, _: &T) -> u64 {
        token.len() as u64 + ENTRY_OVERHEAD
    }
}

impl<T: Clone> VerifiedTokens<T> {
    /// Room for about `entries` tokens of ordinary length; 0 remembers none.
    pub fn new(entries: usize) -> Self {
        let cache = (entries > 0).then(|| {
            let bytes = entries.saturating_mul(ENTRY_BYTES_ESTIMATE) as u64;
            Cache::with_weighter(entries, bytes, ByLength)
        });
        Self { cache }
    }

    /// The claims of this exact token, if its signature was checked here.
    pub fn get(&self, token: &str) -> Option<T> {
        self.cache.as_ref()?.get(token)
    }

    /// Remembers the claims of a token that passed every check.
    pub fn remember(&self, token: &str, claims: &T) {
        if let Some(cache) = &self.cache {
            cache.insert(token.into(), claims.clone());
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::len)
    }
}
