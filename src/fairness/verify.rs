//! `lineup verify-shuffle`: the drawn order recomputed from a published
//! fairness report, whole or in pages (or a seed and a list of joiners), and
//! checked.

use super::{FairnessReport, commitment, shuffle};
use anyhow::{Context, bail, ensure};
use std::io::Read;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Recompute a pre-queue's drawn order from its published seed and joiners.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyShuffleArgs {
    /// The JSON answer of `GET /api/v1/concerts/{concert_id}/fairness`, a file or
    /// `-` for stdin; for a draw served in pages (`?offset=`), once per page, in
    /// any order. Its commitment and drawn order are checked too.
    #[arg(long, required_unless_present = "seed", conflicts_with = "seed")]
    pub fairness: Vec<PathBuf>,
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

/// A draw put together from its published pages: the seed (checked against
/// the commitment), the joiners, and the drawn order if every page has it.
struct Published {
    seed: Vec<u8>,
    commitment: String,
    joiners: Vec<Uuid>,
    drawn_order: Option<Vec<Uuid>>,
}

/// The pages of one draw, in any order, put together: every page of the same
/// draw, each starting where the one before ends, none missing.
fn assemble(mut pages: Vec<FairnessReport>) -> anyhow::Result<Published> {
    pages.sort_by_key(|page| page.offset);
    let first = pages.first().context("no fairness report given")?;
    let (Some(seed), Some(_)) = (&first.seed, &first.joiners) else {
        bail!("the draw has not been made yet: no seed or joiners published");
    };
    let seed = parse_seed(seed)?;
    ensure!(
        commitment(&seed) == first.commitment,
        "the seed does not match the published commitment {}",
        first.commitment
    );
    let (concert, total) = (first.concert_id, first.joiners_total);
    let commitment = first.commitment.clone();
    let mut joiners = Vec::new();
    let mut drawn_order = Some(Vec::new());
    for page in &pages {
        ensure!(
            page.concert_id == concert
                && page.commitment == commitment
                && page.seed == first.seed
                && page.joiners_total == total,
            "the pages are not all of one draw"
        );
        let given = joiners.len() as u64;
        ensure!(
            page.offset <= given,
            "a page is missing: ids {given} to {} of the draw were not given",
            page.offset - 1
        );
        ensure!(page.offset == given, "two pages overlap at {}", page.offset);
        let page_joiners = page.joiners.as_ref().context("a page without joiners")?;
        joiners.extend_from_slice(page_joiners);
        drawn_order = match (drawn_order, &page.drawn_order) {
            (Some(mut order), Some(more)) => {
                ensure!(
                    more.len() == page_joiners.len(),
                    "the page at {} has {} joiners but {} drawn",
                    page.offset,
                    page_joiners.len(),
                    more.len()
                );
                order.extend_from_slice(more);
                Some(order)
            }
            _ => None,
        };
    }
    // A report from before pages existed has no total: it is the whole draw.
    let total = total.unwrap_or(joiners.len() as u64);
    ensure!(
        joiners.len() as u64 == total,
        "a page is missing: ids {} to {} of the draw were not given",
        joiners.len(),
        total.saturating_sub(1)
    );
    Ok(Published {
        seed,
        commitment,
        joiners,
        drawn_order,
    })
}

/// `lineup verify-shuffle`: prints the recomputed order (`position<TAB>user id`
/// per line) and fails if the commitment, the published order or the expected
/// order disagree with it.
pub fn verify_shuffle(args: &VerifyShuffleArgs) -> anyhow::Result<()> {
    let (seed, joiners, published) = match (args.fairness.as_slice(), &args.seed, &args.joiners) {
        ([], Some(seed), Some(joiners)) => {
            (parse_seed(seed)?, parse_ids(&read_input(joiners)?)?, None)
        }
        ([], _, _) => bail!("give --fairness, or --seed with --joiners"),
        (paths, _, _) => {
            let pages = paths
                .iter()
                .map(|path| {
                    serde_json::from_str::<FairnessReport>(&read_input(path)?).with_context(|| {
                        format!(
                            "{} is not the JSON of the fairness endpoint",
                            path.display()
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let pages_given = pages.len();
            let draw = assemble(pages)?;
            eprintln!(
                "commitment: SHA-256 of the seed matches {}",
                draw.commitment
            );
            if pages_given > 1 {
                eprintln!(
                    "pages: {pages_given} pages make the whole draw of {} joiners",
                    draw.joiners.len()
                );
            }
            (draw.seed, draw.joiners, draw.drawn_order)
        }
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
            fairness: Vec::new(),
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
            joiners_total: None,
            offset: 0,
            next_offset: None,
        };
        let run = |report: FairnessReport| {
            let file = TempFile::new(&serde_json::to_string(&report).unwrap());
            verify_shuffle(&VerifyShuffleArgs {
                fairness: vec![file.0.clone()],
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

    /// Pages of a draw of `joiners` with `seed`, `size` ids each.
    fn pages(seed: [u8; 32], joiners: &[Uuid], size: usize) -> Vec<FairnessReport> {
        let mut sorted = joiners.to_vec();
        sorted.sort_unstable();
        let order = shuffle(&seed, joiners);
        let concert = Uuid::new_v4();
        let drawn_at = Utc::now();
        (0..sorted.len())
            .step_by(size)
            .map(|start| {
                let end = (start + size).min(sorted.len());
                FairnessReport {
                    concert_id: concert,
                    opens_at: drawn_at,
                    opens_in_seconds: 0,
                    algorithm: ALGORITHM.into(),
                    commitment: commitment(&seed),
                    seed: Some(hex::encode(seed)),
                    drawn_at: Some(drawn_at),
                    joiners: Some(sorted[start..end].to_vec()),
                    drawn_order: Some(order[start..end].to_vec()),
                    joiners_total: Some(sorted.len() as u64),
                    offset: start as u64,
                    next_offset: (end < sorted.len()).then_some(end as u64),
                }
            })
            .collect()
    }

    #[test]
    fn pages_in_any_order_make_the_whole_draw() {
        let (seed, joiners) = (new_seed(), ids(10));
        let mut given = pages(seed, &joiners, 4);
        given.reverse();
        let draw = assemble(given).unwrap();
        assert_eq!(draw.drawn_order.unwrap(), shuffle(&seed, &joiners));
        assert_eq!(draw.joiners.len(), 10);
    }

    #[test]
    fn a_missing_overlapping_or_foreign_page_is_refused() {
        let (seed, joiners) = (new_seed(), ids(10));
        let all = pages(seed, &joiners, 4);
        let error = |given: Vec<FairnessReport>| assemble(given).err().unwrap().to_string();
        assert!(error(vec![all[0].clone(), all[2].clone()]).contains("missing"));
        assert!(error(all[..2].to_vec()).contains("missing: ids 8 to 9"));
        assert!(
            error(vec![
                all[0].clone(),
                all[0].clone(),
                all[1].clone(),
                all[2].clone()
            ])
            .contains("overlap")
        );
        let mut foreign = pages(new_seed(), &joiners, 4);
        foreign[1].commitment = all[1].commitment.clone();
        assert!(
            error(vec![all[0].clone(), foreign[1].clone(), all[2].clone()]).contains("one draw")
        );
    }
}
