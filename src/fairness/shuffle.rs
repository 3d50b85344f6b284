//! `lineup-shuffle-v1`, the procedure of the module doc: the seed, its
//! commitment and the shuffle. Pure: no I/O, so anyone can rerun it.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The name of the procedure above, published with every draw.
pub const ALGORITHM: &str = "lineup-shuffle-v1";

/// 32 random bytes from the thread's CSPRNG (ChaCha seeded by the OS).
pub fn new_seed() -> [u8; 32] {
    rand::random()
}

/// The published commitment to a seed: its SHA-256, in hex.
pub fn commitment(seed: &[u8]) -> String {
    hex::encode(Sha256::digest(seed))
}

/// The random stream of step 2.
struct Stream<'a> {
    seed: &'a [u8],
    block: [u8; 32],
    counter: u64,
    used: usize,
}

impl<'a> Stream<'a> {
    fn new(seed: &'a [u8]) -> Self {
        Self {
            seed,
            block: [0; 32],
            counter: 0,
            used: 4,
        }
    }

    fn next_u64(&mut self) -> u64 {
        if self.used == 4 {
            let mut hasher = Sha256::new();
            hasher.update(self.seed);
            hasher.update(self.counter.to_be_bytes());
            self.block = hasher.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let bytes: [u8; 8] = self.block[self.used * 8..self.used * 8 + 8]
            .try_into()
            .expect("eight bytes");
        self.used += 1;
        u64::from_be_bytes(bytes)
    }

    /// A number in `0..bound`, every one equally likely (rejection sampling).
    fn below(&mut self, bound: u64) -> u64 {
        // 2^64 mod bound: the numbers at the top of the range that would favour
        // the small results.
        let excess = (u64::MAX % bound + 1) % bound;
        loop {
            let x = self.next_u64();
            if excess == 0 || x <= u64::MAX - excess {
                return x % bound;
            }
        }
    }
}

/// The drawn order of the pre-queue's joiners (steps 1 to 4).
pub fn shuffle(seed: &[u8], joiners: &[Uuid]) -> Vec<Uuid> {
    let mut order: Vec<Uuid> = joiners.to_vec();
    // Step 1's order without writing a string per comparison: lowercase hex
    // digits sort as the bytes they spell, and the hyphens stand at the same
    // places in every id, so the texts sort as the 16 bytes do.
    order.sort_unstable();
    order.dedup();
    let mut stream = Stream::new(seed);
    for i in (1..order.len()).rev() {
        let j = stream.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn the_draw_is_a_permutation_fixed_by_the_seed_whatever_the_input_order() {
        let joiners = ids(50);
        let seed = [7u8; 32];
        let order = shuffle(&seed, &joiners);
        let mut reversed = joiners.clone();
        reversed.reverse();
        assert_eq!(shuffle(&seed, &reversed), order);
        let mut sorted_in = joiners.clone();
        sorted_in.sort();
        let mut sorted_out = order.clone();
        sorted_out.sort();
        assert_eq!(sorted_in, sorted_out);
        assert_ne!(shuffle(&[8u8; 32], &joiners), order);
        assert!(shuffle(&seed, &[]).is_empty());
    }

    #[test]
    fn ids_sorted_as_bytes_are_sorted_as_their_hyphenated_text() {
        let mut ids = ids(2_000);
        // Ids that differ only in a late byte, or in a digit against a letter.
        ids.push(Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_0009));
        ids.push(Uuid::from_u128(0x0000_0000_0000_0000_0000_0000_0000_000a));
        ids.push(Uuid::from_u128(0x9000_0000_0000_0000_0000_0000_0000_0000));
        ids.push(Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0000));
        let mut by_text = ids.clone();
        by_text.sort_by_key(|id| id.hyphenated().to_string());
        let mut by_bytes = ids;
        by_bytes.sort_unstable();
        assert_eq!(by_bytes, by_text);
    }

    #[test]
    fn the_stream_is_sha256_of_seed_and_counter() {
        let seed = [1u8; 32];
        let mut stream = Stream::new(&seed);
        let mut block0 = Sha256::new();
        block0.update(seed);
        block0.update(0u64.to_be_bytes());
        let block0: [u8; 32] = block0.finalize().into();
        for k in 0..4 {
            let want = u64::from_be_bytes(block0[k * 8..k * 8 + 8].try_into().unwrap());
            assert_eq!(stream.next_u64(), want);
        }
        let mut block1 = Sha256::new();
        block1.update(seed);
        block1.update(1u64.to_be_bytes());
        let block1: [u8; 32] = block1.finalize().into();
        assert_eq!(
            stream.next_u64(),
            u64::from_be_bytes(block1[..8].try_into().unwrap())
        );
    }

    /// Every order of three people comes out about equally often over 60,000
    /// seeds: a chi-squared statistic below 20.5 (p = 0.001 at 5 degrees of freedom).
    #[test]
    fn every_order_is_equally_likely() {
        let joiners = ids(3);
        let mut counts: HashMap<Vec<Uuid>, u32> = HashMap::new();
        let draws = 60_000u32;
        for n in 0..draws {
            let seed = Sha256::digest(n.to_be_bytes());
            *counts.entry(shuffle(&seed, &joiners)).or_default() += 1;
        }
        assert_eq!(counts.len(), 6);
        let expected = f64::from(draws) / 6.0;
        let chi2: f64 = counts
            .values()
            .map(|c| (f64::from(*c) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 20.5, "chi-squared {chi2}: {counts:?}");
    }

    #[test]
    fn numbers_below_a_bound_stay_below_it() {
        let seed = [3u8; 32];
        let mut stream = Stream::new(&seed);
        for bound in [1u64, 2, 3, 7, 1 << 40, u64::MAX / 2 + 2] {
            for _ in 0..100 {
                assert!(stream.below(bound) < bound);
            }
        }
    }

    #[test]
    fn the_commitment_is_the_seeds_sha256() {
        assert_eq!(
            commitment(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(commitment(&new_seed()).len(), 64);
        assert_ne!(new_seed(), new_seed());
    }
}
