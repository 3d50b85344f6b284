//! What `GET /api/v1/concerts/{concert_id}/fairness` publishes of a draw, and
//! the cache that makes it cheap. Once drawn, a concert's draw never changes,
//! so each server computes it once (the joiners from PostgreSQL, their order
//! from the seed, off the async threads), keeps it in memory and serves it by
//! pages with an ETag. Before the draw the answer changes every second
//! (`opens_in_seconds`) and is made afresh from the seed, kept in memory:
//! before the opening it asks PostgreSQL nothing, and after it, whether the
//! draw is made, until it is.
//!
//! Never writes: the draw is made and recorded by `draw.rs` and `record.rs`.
//! Over 400 lines with its tests (about a third): the report, its pages and
//! the cache are one idea, what this endpoint serves and how it stays cheap.

use super::{ALGORITHM, commitment, record, shuffle};
use crate::catalog::{Catalog, Concert};
use crate::domain::ConcertId;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// What `GET /api/v1/concerts/{concert_id}/fairness` answers: the commitment
/// always; once the draw is made the seed, and the joiners and their drawn
/// order, a page at a time.
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
    /// The ids of everyone in the pre-queue at the draw, sorted: this page of
    /// them (from `offset`, at most `limit`); null before the draw.
    pub joiners: Option<Vec<Uuid>>,
    /// The order drawn from them, first admitted first: this page of it (the
    /// same positions as `joiners`); null before the draw.
    pub drawn_order: Option<Vec<Uuid>>,
    /// How many the draw ordered: the length of the whole lists; null before the draw.
    #[serde(default)]
    pub joiners_total: Option<u64>,
    /// Where this page starts in the whole lists (`?offset=`, 0 by default).
    #[serde(default)]
    pub offset: u64,
    /// The `offset` of the next page; null on the last page and before the draw.
    #[serde(default)]
    pub next_offset: Option<u64>,
}

/// A page's size when none is asked for: a draw of up to this many people is
/// answered whole, as before pages existed.
pub const DEFAULT_PAGE: usize = 10_000;
/// The largest page that may be asked for.
pub const MAX_PAGE: usize = 100_000;

/// Which part of the lists to answer: `?offset=&limit=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Page {
    /// A page from the query's numbers: `limit` 1 to [`MAX_PAGE`]
    /// ([`DEFAULT_PAGE`] if absent), `offset` 0 or more.
    pub fn parse(offset: Option<u64>, limit: Option<u64>) -> std::result::Result<Self, String> {
        let limit = limit.unwrap_or(DEFAULT_PAGE as u64);
        if !(1..=MAX_PAGE as u64).contains(&limit) {
            return Err(format!("limit must be 1 to {MAX_PAGE}"));
        }
        let offset =
            usize::try_from(offset.unwrap_or(0)).map_err(|_| "offset is too large".to_owned())?;
        Ok(Self {
            offset,
            limit: limit as usize,
        })
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: DEFAULT_PAGE,
        }
    }
}

/// A concert's answer: the draw's, from memory, or the commitment alone.
pub enum Publication {
    Drawn(Arc<Published>),
    Undrawn(FairnessReport),
}

/// A made draw, computed once: everything the endpoint answers of it.
pub struct Published {
    concert_id: Uuid,
    opens_at: DateTime<Utc>,
    seed: String,
    commitment: String,
    drawn_at: DateTime<Utc>,
    joiners: Vec<Uuid>,
    drawn_order: Vec<Uuid>,
    /// A digest of all of the above, the stem of every page's ETag.
    tag: String,
}

impl Published {
    /// The draw's publication: its order computed from the seed. What the
    /// cache does once per concert (public for `benches/fairness.rs`).
    pub fn new(
        concert: ConcertId,
        opens_at: DateTime<Utc>,
        seed: &[u8],
        draw: record::Draw,
    ) -> Self {
        let drawn_order = shuffle(seed, &draw.joiners);
        let mut joiners = draw.joiners;
        // Recorded sorted and without duplicates; kept as the procedure's step 1 has it.
        joiners.sort_unstable();
        joiners.dedup();
        let mut digest = Sha256::new();
        digest.update(concert.as_uuid().as_bytes());
        digest.update(opens_at.timestamp_micros().to_be_bytes());
        digest.update(seed);
        digest.update(draw.drawn_at.timestamp_micros().to_be_bytes());
        for id in &drawn_order {
            digest.update(id.as_bytes());
        }
        Self {
            concert_id: concert.as_uuid(),
            opens_at,
            seed: hex::encode(seed),
            commitment: commitment(seed),
            drawn_at: draw.drawn_at,
            joiners,
            drawn_order,
            tag: hex::encode(&digest.finalize()[..12]),
        }
    }

    /// How many the draw ordered.
    pub fn total(&self) -> usize {
        self.drawn_order.len()
    }

    /// What keeping it costs, in ids: its two lists, and as much again as a
    /// small draw's for the rest (seed, strings, the slot), so that thousands
    /// of empty draws weigh something too.
    fn weight(&self) -> usize {
        self.joiners.len() + self.drawn_order.len() + 256
    }

    /// A page of the report. Past the end: empty lists.
    pub fn page(&self, page: Page) -> FairnessReport {
        let total = self.total();
        let start = page.offset.min(total);
        let end = start.saturating_add(page.limit).min(total);
        FairnessReport {
            concert_id: self.concert_id,
            opens_at: self.opens_at,
            // Drawn means opened, whatever this server's clock says.
            opens_in_seconds: 0,
            algorithm: ALGORITHM.into(),
            commitment: self.commitment.clone(),
            seed: Some(self.seed.clone()),
            drawn_at: Some(self.drawn_at),
            joiners: Some(self.joiners[start..end].to_vec()),
            drawn_order: Some(self.drawn_order[start..end].to_vec()),
            joiners_total: Some(total as u64),
            offset: page.offset as u64,
            next_offset: (end < total).then_some(end as u64),
        }
    }

    /// The strong ETag of a page: it never changes, and no other page has it.
    pub fn etag(&self, page: Page) -> String {
        format!("\"{}-{}-{}\"", self.tag, page.offset, page.limit)
    }
}

/// The commitment-only answer of a concert not drawn yet.
fn undrawn(concert: &Concert, seed: &[u8]) -> FairnessReport {
    let opens_in_ms = (concert.opens_at - Utc::now()).num_milliseconds().max(0) as u64;
    FairnessReport {
        concert_id: concert.id.as_uuid(),
        opens_at: concert.opens_at,
        opens_in_seconds: opens_in_ms.div_ceil(1000),
        algorithm: ALGORITHM.into(),
        commitment: commitment(seed),
        seed: None,
        drawn_at: None,
        joiners: None,
        drawn_order: None,
        joiners_total: None,
        offset: 0,
        next_offset: None,
    }
}

/// How much of the draws a server keeps, in ids ([`Published::weight`]): a
/// draw of a million people takes about 32 MB (two lists of 16-byte ids), so
/// this is about 128 MB, four such draws or thousands of small ones. Counted
/// by size, not by draws: every concert that opened has a draw, most of them
/// small, and anyone may ask for them in turn; were they counted alike, asking
/// for a few small ones would push a large one out, to be read from
/// PostgreSQL and shuffled again at the next request.
const KEPT_IDS: usize = 8_000_000;

/// One concert's draw, computed by the first caller; the others wait for it.
type Cell = Arc<OnceCell<Arc<Published>>>;

/// The drawn concerts asked for, each with when it last was (a counter).
#[derive(Default)]
struct Slots {
    cells: HashMap<ConcertId, (Cell, u64)>,
    clock: u64,
}

impl Slots {
    /// What the computed draws weigh together.
    fn weight(&self) -> usize {
        self.cells
            .values()
            .filter_map(|(cell, _)| cell.get())
            .map(|published| published.weight())
            .sum()
    }

    /// Forgets the least recently asked for draws, never `keep`, until the
    /// rest weigh at most `budget`.
    fn trim(&mut self, keep: ConcertId, budget: usize) {
        while self.weight() > budget {
            let Some(oldest) = self
                .cells
                .iter()
                .filter(|(id, (cell, _))| **id != keep && cell.initialized())
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            else {
                return;
            };
            self.cells.remove(&oldest);
        }
    }
}

/// The draws this server has published, the most recently asked for kept.
#[derive(Default)]
pub struct PublishedDraws {
    slots: Mutex<Slots>,
    /// Every concert's seed asked for: 32 bytes each, made once.
    seeds: Mutex<HashMap<ConcertId, Vec<u8>>>,
}

impl PublishedDraws {
    /// The concert's publication: from memory once drawn; computed here the
    /// first time it is asked for after the draw.
    pub async fn publication(&self, catalog: &Catalog, concert: &Concert) -> Result<Publication> {
        if let Some(published) = self.cell(concert.id, false).and_then(|c| c.get().cloned()) {
            return Ok(Publication::Drawn(published));
        }
        let pool = catalog.pool();
        let seed = self.seed(catalog, concert.id).await?;
        // Before the opening (by this server's clock) there is no draw to
        // look for: the answer asks PostgreSQL nothing, however often it is
        // asked for at the busiest minute.
        if Utc::now() < concert.opens_at || !record::is_drawn(pool, concert.id).await? {
            return Ok(Publication::Undrawn(undrawn(concert, &seed)));
        }
        let cell = self.cell(concert.id, true).expect("made when missing");
        let published = cell
            .get_or_try_init(|| async {
                let draw = record::recorded(pool, concert.id)
                    .await?
                    .ok_or_else(|| Error::internal("a recorded draw vanished"))?;
                let (id, opens_at) = (concert.id, concert.opens_at);
                // Shuffling a million ids is CPU work: not on the async threads.
                tokio::task::spawn_blocking(move || {
                    Arc::new(Published::new(id, opens_at, &seed, draw))
                })
                .await
                .map_err(|e| Error::internal(format!("computing the draw failed: {e}")))
            })
            .await?
            .clone();
        self.lock().trim(concert.id, KEPT_IDS);
        Ok(Publication::Drawn(published))
    }

    /// The concert's seed: from PostgreSQL once, then from memory (it never
    /// changes once made, see `record::seed`).
    async fn seed(&self, catalog: &Catalog, concert: ConcertId) -> Result<Vec<u8>> {
        if let Some(seed) = self.known_seeds().get(&concert) {
            return Ok(seed.clone());
        }
        let seed = record::seed(catalog.pool(), concert).await?;
        self.known_seeds().insert(concert, seed.clone());
        Ok(seed)
    }

    fn known_seeds(&self) -> std::sync::MutexGuard<'_, HashMap<ConcertId, Vec<u8>>> {
        self.seeds.lock().expect("seeds lock poisoned")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().expect("published draws lock poisoned")
    }

    /// The concert's cell, marked as just used; made when `make` and missing
    /// (what it weighs is counted once computed, see [`Slots::trim`]).
    fn cell(&self, concert: ConcertId, make: bool) -> Option<Cell> {
        let mut slots = self.lock();
        slots.clock += 1;
        let now = slots.clock;
        if let Some((cell, used)) = slots.cells.get_mut(&concert) {
            *used = now;
            return Some(cell.clone());
        }
        if !make {
            return None;
        }
        let cell = Cell::default();
        slots.cells.insert(concert, (cell.clone(), now));
        Some(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(n: usize) -> Published {
        let joiners: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
        let seed = [5u8; 32];
        let drawn_order = shuffle(&seed, &joiners);
        let mut sorted = joiners;
        sorted.sort_unstable();
        Published {
            concert_id: Uuid::new_v4(),
            opens_at: Utc::now(),
            seed: hex::encode(seed),
            commitment: commitment(&seed),
            drawn_at: Utc::now(),
            joiners: sorted,
            drawn_order,
            tag: "t".into(),
        }
    }

    #[test]
    fn a_small_draw_is_answered_whole_by_default() {
        let draw = published(DEFAULT_PAGE);
        let report = draw.page(Page::default());
        assert_eq!(report.joiners.as_ref().unwrap().len(), DEFAULT_PAGE);
        assert_eq!(report.drawn_order.unwrap(), draw.drawn_order);
        assert_eq!((report.offset, report.next_offset), (0, None));
        assert_eq!(report.joiners_total, Some(DEFAULT_PAGE as u64));
    }

    #[test]
    fn pages_cover_the_lists_once_and_in_order() {
        let draw = published(DEFAULT_PAGE + 1);
        let first = draw.page(Page::default());
        assert_eq!(first.next_offset, Some(DEFAULT_PAGE as u64));
        let last = draw.page(Page {
            offset: DEFAULT_PAGE,
            limit: DEFAULT_PAGE,
        });
        assert_eq!(last.next_offset, None);
        let mut order = first.drawn_order.unwrap();
        order.extend(last.drawn_order.unwrap());
        assert_eq!(order, draw.drawn_order);
        let mut joiners = first.joiners.unwrap();
        joiners.extend(last.joiners.unwrap());
        assert_eq!(joiners, draw.joiners);
        let beyond = draw.page(Page {
            offset: 50_000,
            limit: 10,
        });
        assert_eq!(beyond.drawn_order.unwrap(), Vec::<Uuid>::new());
        assert_eq!(beyond.next_offset, None);
    }

    #[test]
    fn each_page_has_its_own_etag() {
        let draw = published(3);
        let a = draw.etag(Page::default());
        let b = draw.etag(Page {
            offset: 1,
            limit: DEFAULT_PAGE,
        });
        assert_ne!(a, b);
        assert!(a.starts_with('"') && a.ends_with('"'));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(Page::parse(None, None), Ok(Page::default()));
        assert_eq!(
            Page::parse(Some(7), Some(3)),
            Ok(Page {
                offset: 7,
                limit: 3
            })
        );
        assert!(Page::parse(None, Some(0)).is_err());
        assert!(Page::parse(None, Some(MAX_PAGE as u64 + 1)).is_err());
        assert!(Page::parse(None, Some(MAX_PAGE as u64)).is_ok());
    }

    #[test]
    fn draws_are_kept_by_what_they_weigh_the_least_recently_asked_dropped_first() {
        let draws = PublishedDraws::default();
        let computed = |concert: ConcertId, n: usize| {
            let cell = draws.cell(concert, true).unwrap();
            assert!(cell.set(Arc::new(published(n))).is_ok());
        };
        let kept = |concert: ConcertId| draws.lock().cells.contains_key(&concert);
        let (large, older) = (ConcertId::new(), ConcertId::new());
        computed(older, 1_000);
        computed(large, 1_000);
        // A hundred small draws asked for in turn weigh little: nothing goes
        // (each of the two weighs 2 x 1,000 + 256, each small one 256).
        for _ in 0..100 {
            let small = ConcertId::new();
            computed(small, 0);
            draws.lock().trim(small, 2 * 2_256 + 100 * 256);
        }
        assert!(kept(large) && kept(older));
        assert_eq!(draws.lock().cells.len(), 102);
        // Over the budget, the least recently asked for go first, never the
        // one just computed, until the rest fit.
        draws.cell(large, false);
        let huge = ConcertId::new();
        computed(huge, 10_000);
        draws.lock().trim(huge, 25_000);
        assert!(kept(huge) && kept(large), "asked for last");
        assert!(!kept(older), "asked for first");
        let weight = draws.lock().weight();
        assert!((25_000 - 256..=25_000).contains(&weight), "{weight}");
        // One draw over the whole budget is kept alone.
        draws.lock().trim(huge, 1);
        assert_eq!(draws.lock().cells.len(), 1);
        assert!(kept(huge));
    }
}
