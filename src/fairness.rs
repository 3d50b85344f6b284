//! The pre-queue's verifiable draw: a seed made when a concert is created, its
//! SHA-256 published before the opening and the seed itself after the draw, and
//! the deterministic shuffle anyone can rerun from the seed and the list of the
//! pre-queue's joiners (docs/FAIRNESS.md describes it byte by byte), with the
//! `lineup verify-shuffle` command that does so.
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

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
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
    order.sort_by_key(|id| id.hyphenated().to_string());
    order.dedup();
    let mut stream = Stream::new(seed);
    for i in (1..order.len()).rev() {
        let j = stream.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// What `GET /api/v1/concerts/{concert_id}/fairness` answers: the commitment
/// always, the seed, the joiners and their drawn order once the draw is made.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FairnessReport {
    pub concert_id: Uuid,
    pub opens_at: DateTime<Utc>,
    /// Seconds until the opening; 0 once open.
    pub opens_in_seconds: u64,
    /// The procedure that turns seed and joiners into the order (docs/FAIRNESS.md).
    pub algorithm: String,
    /// SHA-256 of the seed, hex: published from the concert's creation on.
    pub commitment: String,
    /// The 32-byte seed, hex; null until the draw is made.
    pub seed: Option<String>,
    /// When the draw was made (the first admit tick after `opens_at`); null before.
    pub drawn_at: Option<DateTime<Utc>>,
    /// The ids of everyone in the pre-queue at the draw, sorted; null before it.
    pub joiners: Option<Vec<Uuid>>,
    /// The order drawn from them, first admitted first; null before the draw.
    pub drawn_order: Option<Vec<Uuid>>,
}

/// Recompute a pre-queue's drawn order from its published seed and joiners.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyShuffleArgs {
    /// The JSON answer of `GET /api/v1/concerts/{concert_id}/fairness`, a file or
    /// `-` for stdin. Its commitment and drawn order are checked too.
    #[arg(long, required_unless_present = "seed", conflicts_with = "seed")]
    pub fairness: Option<PathBuf>,
    /// The seed, 64 hex digits (with --joiners, instead of --fairness).
    #[arg(long, requires = "joiners")]
    pub seed: Option<String>,
    /// A file of the pre-queue joiners' ids, one per line.
    #[arg(long, requires = "seed")]
    pub joiners: Option<PathBuf>,
    /// A file of the order to check against, one id per line.
    #[arg(long)]
    pub expect: Option<PathBuf>,
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

fn parse_ids(text: &str) -> anyhow::Result<Vec<Uuid>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.parse()
                .with_context(|| format!("{line:?} is not a UUID"))
        })
        .collect()
}

fn parse_seed(hex_seed: &str) -> anyhow::Result<Vec<u8>> {
    let seed = hex::decode(hex_seed.trim()).context("the seed is not hex")?;
    ensure!(
        seed.len() == 32,
        "the seed must be 32 bytes (64 hex digits)"
    );
    Ok(seed)
}

/// `lineup verify-shuffle`: prints the recomputed order (`position<TAB>user id`
/// per line) and fails if the commitment, the published order or the expected
/// order disagree with it.
pub fn verify_shuffle(args: &VerifyShuffleArgs) -> anyhow::Result<()> {
    let (seed, joiners, published) = match (&args.fairness, &args.seed, &args.joiners) {
        (Some(path), _, _) => {
            let report: FairnessReport = serde_json::from_str(&read_input(path)?)
                .context("not the JSON of the fairness endpoint")?;
            let (Some(seed), Some(joiners)) = (report.seed, report.joiners) else {
                bail!("the draw has not been made yet: no seed or joiners published");
            };
            let seed = parse_seed(&seed)?;
            ensure!(
                commitment(&seed) == report.commitment,
                "the seed does not match the published commitment {}",
                report.commitment
            );
            eprintln!(
                "commitment: SHA-256 of the seed matches {}",
                report.commitment
            );
            (seed, joiners, report.drawn_order)
        }
        (None, Some(seed), Some(joiners)) => {
            (parse_seed(seed)?, parse_ids(&read_input(joiners)?)?, None)
        }
        _ => bail!("give --fairness, or --seed with --joiners"),
    };
    let order = shuffle(&seed, &joiners);
    for (i, id) in order.iter().enumerate() {
        println!("{}\t{id}", i + 1);
    }
    if let Some(published) = published {
        ensure!(
            published == order,
            "the published drawn_order differs from the recomputed one"
        );
        eprintln!("drawn_order: matches the recomputed order");
    }
    if let Some(path) = &args.expect {
        let expected = parse_ids(&read_input(path)?)?;
        ensure!(
            expected == order,
            "the order in {} differs from the recomputed one",
            path.display()
        );
        eprintln!("{}: matches the recomputed order", path.display());
    }
    Ok(())
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

    /// A file in the temp directory with `text`, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(text: &str) -> Self {
            let path = std::env::temp_dir().join(format!("lineup-verify-{}", Uuid::new_v4()));
            std::fs::write(&path, text).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn lines(ids: &[Uuid]) -> String {
        ids.iter().map(|id| format!("{id}\n")).collect()
    }

    #[test]
    fn verify_shuffle_checks_an_order_from_a_seed_and_a_list() {
        let seed = new_seed();
        let joiners = ids(20);
        let order = shuffle(&seed, &joiners);
        let list = TempFile::new(&lines(&joiners));
        let right = TempFile::new(&lines(&order));
        let mut swapped = order.clone();
        swapped.swap(3, 4);
        let wrong = TempFile::new(&lines(&swapped));
        let args = |expect: &TempFile| VerifyShuffleArgs {
            fairness: None,
            seed: Some(hex::encode(seed)),
            joiners: Some(list.0.clone()),
            expect: Some(expect.0.clone()),
        };
        verify_shuffle(&args(&right)).unwrap();
        let err = verify_shuffle(&args(&wrong)).unwrap_err().to_string();
        assert!(err.contains("differs"), "{err}");
    }

    #[test]
    fn verify_shuffle_refuses_a_report_before_the_draw_or_with_a_foreign_seed() {
        let seed = new_seed();
        let report = |seed_shown: Option<[u8; 32]>| FairnessReport {
            concert_id: Uuid::new_v4(),
            opens_at: Utc::now(),
            opens_in_seconds: 0,
            algorithm: ALGORITHM.into(),
            commitment: commitment(&seed),
            seed: seed_shown.map(hex::encode),
            drawn_at: seed_shown.map(|_| Utc::now()),
            joiners: seed_shown.map(|_| ids(3)),
            drawn_order: None,
        };
        let run = |report: FairnessReport| {
            let file = TempFile::new(&serde_json::to_string(&report).unwrap());
            verify_shuffle(&VerifyShuffleArgs {
                fairness: Some(file.0.clone()),
                seed: None,
                joiners: None,
                expect: None,
            })
        };
        let err = run(report(None)).unwrap_err().to_string();
        assert!(err.contains("not been made"), "{err}");
        let err = run(report(Some([9; 32]))).unwrap_err().to_string();
        assert!(err.contains("commitment"), "{err}");
        run(report(Some(seed))).unwrap();
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
