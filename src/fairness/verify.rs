//! `lineup verify-shuffle`: the drawn order recomputed from a published
//! fairness report (or a seed and a list of joiners) and checked.

use super::{FairnessReport, commitment, shuffle};
use anyhow::{Context, bail, ensure};
use std::io::Read;
use std::path::{Path, PathBuf};
use uuid::Uuid;

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
    use super::super::{ALGORITHM, new_seed};
    use super::*;
    use chrono::Utc;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
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
}
