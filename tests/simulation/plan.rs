//! The plan of a run: which concerts the operator creates when, what each
//! virtual client means to do (its persona and its steps, with every choice
//! already drawn), and which fault strikes when. A pure function of the seed
//! and the run's [`Shape`]: nothing here does I/O or reads a clock, and the
//! test at the bottom checks that one seed always gives one plan.
//!
//! A step is an intention, not a request: "hold two seats of the first date,
//! choice 7" becomes requests only against the seat map the client reads when
//! it gets there, and "await admission" polls as often as the answers say.
//!
//! One file: the plan is one pure function of the seed, drawn in one order
//! (concerts, clients, faults) from one generator; split up, the order of
//! the draws, which is what makes a seed replay, would be spread out too.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// The size of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// How long clients act and faults strike; the checks after it take about
    /// ten seconds more.
    pub duration: Duration,
    /// How many `lineup serve` processes share the sale.
    pub servers: usize,
    /// Whether Redis can be faulted: a Redis of the run's own behind a proxy
    /// per server. Not on a Redis Cluster (its client follows the nodes' own
    /// addresses, where no proxy sits).
    pub redis_faults: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    pub shape: Shape,
    pub concerts: Vec<ConcertPlan>,
    pub clients: Vec<ClientPlan>,
    pub faults: Vec<FaultPlan>,
}

/// A concert the operator creates during the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcertPlan {
    /// From the start of the run; zero: before the first client arrives.
    pub created_at: Duration,
    /// How long after its creation its sale opens: zero is open at once;
    /// otherwise the clients who come first stand in its pre-queue.
    pub opens_after: Duration,
    pub dates: usize,
    pub seats: u32,
    /// Settings the operator gives it instead of the servers' defaults.
    pub tempo: Option<Tempo>,
}

/// A concert's own queue settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tempo {
    pub max_active: u32,
    pub active_ttl_seconds: u32,
    pub hold_ttl_seconds: u32,
}

/// Admissions that outlast holds, and more of them than seats: a hold can run
/// out while its holder stays admitted, and the seat-aware cap, not
/// `max_active`, decides who is admitted. (The servers' defaults are the
/// other way round: holds outlast admissions, so spinning seats and stuck
/// payments show.)
const SHORT_HOLDS: Tempo = Tempo {
    max_active: 12,
    active_ttl_seconds: 10,
    hold_ttl_seconds: 3,
};

/// The price of seat `n` of every date: three price bands.
pub fn price(seat: u32) -> i64 {
    10_000 * (1 + i64::from(seat % 3))
}

/// What kind of person a client is; its steps follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persona {
    /// Charges, waits as asked, holds, perhaps changes their mind, pays.
    Buyer,
    /// A buyer who polls far faster than asked and double-clicks "pay".
    Hammerer,
    /// Gives up somewhere: leaves the line, lets a hold run out, vanishes.
    Quitter,
    /// Releases and holds the same seats again just before each hold ends.
    Spinner,
    /// Mixes in requests that must be refused: others' reservations and
    /// balances, wrong amounts, bad seats, forged tokens, reused keys.
    Hostile,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientPlan {
    pub id: usize,
    pub starts_at: Duration,
    pub persona: Persona,
    /// The index of the concert it wants, one created before it starts.
    pub concert: usize,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Adds `amount` won under an idempotency key, trying up to `attempts`
    /// times while the answer is 503 or lost.
    Charge {
        amount: i64,
        attempts: u8,
    },
    /// Joins the concert's line, or joins again.
    Join,
    /// Polls until admitted or `patience` is spent: when asked
    /// (`poll_after_ms`, loosely), or every few tens of ms when `hammer`.
    AwaitAdmission {
        hammer: bool,
        patience: Duration,
    },
    /// Reads a date's seat map and holds `seats` of the seats shown
    /// available (`pick` chooses which), or some taken ones if too few are.
    Hold {
        date: usize,
        seats: usize,
        pick: u64,
    },
    /// Releases the reservation it holds.
    Release,
    /// Pays its reservation `amount_off` won short (0: the right amount),
    /// under a key when `keyed`, up to `attempts` tries; the first try is
    /// sent twice at once to two servers when `twice`.
    Pay {
        amount_off: i64,
        keyed: bool,
        attempts: u8,
        twice: bool,
    },
    /// Releases and holds the same seats again just before the hold ends,
    /// `rounds` times.
    Spin {
        rounds: u8,
    },
    /// Lets its hold run out: waits, without a request, past its end.
    OutwaitHold,
    /// Leaves the line or gives up the admission.
    Leave,
    Think(Duration),
    /// Stops for good, mid-way, without a word: the line drops it as idle,
    /// its hold runs out.
    Vanish,
    Attack(Attack),
}

/// A request that must be refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Pays another client's reservation with its own queue token.
    PayOthers { victim: u64 },
    /// Releases another client's reservation.
    ReleaseOthers { victim: u64 },
    /// Reads another client's reservation.
    ReadOthers { victim: u64 },
    /// Charges another client's balance with its own access token.
    ChargeOthers { victim: u64 },
    /// Holds a seat of another concert with its queue token.
    WrongConcert,
    /// A queue token whose signature is not the servers'.
    ForgedToken,
    /// Its access token where a queue token goes.
    AccessTokenAsQueueToken,
    /// Seat numbers that are no seats (0, past the last, repeated, too many, none).
    BadSeats { kind: u8 },
    /// An amount that is no won amount (negative, fractional, a string, huge).
    BadAmount { kind: u8 },
    /// Its last idempotency key again with another amount.
    ReuseKey,
    /// An `Idempotency-Key` that is not one.
    BadKey,
}

/// One fault: it strikes `at`, lasts `lasts`, then heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultPlan {
    pub at: Duration,
    pub lasts: Duration,
    pub kind: FaultKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The next `n` Redis replies to one server are lost (applied, unanswered).
    DropNextReplies { server: usize, n: u64 },
    /// Each Redis reply to one server is lost with `per_mille` / 1000, drawn
    /// from a generator seeded with `draws`.
    DropReplies {
        server: usize,
        per_mille: u16,
        draws: u64,
    },
    /// Redis replies to one server arrive `delay` late.
    DelayReplies { server: usize, delay: Duration },
    /// Redis is killed and started again empty.
    RestartRedisEmpty,
    /// PostgreSQL is cut from every server.
    CutPostgres,
    /// One server is killed with SIGKILL; it is started again when the fault heals.
    KillServer { server: usize },
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A duration between `low` and `high` milliseconds.
fn between(rng: &mut StdRng, low: u64, high: u64) -> Duration {
    ms(rng.random_range(low..=high))
}

impl Plan {
    pub fn generate(seed: u64, shape: Shape) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let concerts = concerts(&mut rng, shape);
        let clients = clients(&mut rng, shape, &concerts);
        let faults = faults(&mut rng, shape);
        Plan {
            seed,
            shape,
            concerts,
            clients,
            faults,
        }
    }
}

/// An open concert at the start, on the servers' settings; a pre-queue one
/// with [`SHORT_HOLDS`] soon after (its sale opens while clients stand in it,
/// on servers that have not all loaded it yet); then, on long runs, a new one
/// every minute or so, of either kind, so seats never run out.
fn concerts(rng: &mut StdRng, shape: Shape) -> Vec<ConcertPlan> {
    let mut concerts = vec![
        ConcertPlan {
            created_at: Duration::ZERO,
            opens_after: Duration::ZERO,
            dates: 2,
            seats: 16,
            tempo: None,
        },
        ConcertPlan {
            created_at: between(rng, 800, 1500),
            opens_after: between(rng, 3000, 5000),
            dates: 1,
            seats: 8,
            tempo: Some(SHORT_HOLDS),
        },
    ];
    let mut at = ms(50_000);
    while at + ms(20_000) < shape.duration {
        concerts.push(ConcertPlan {
            created_at: at,
            opens_after: if rng.random_bool(0.5) {
                Duration::ZERO
            } else {
                between(rng, 3000, 8000)
            },
            dates: rng.random_range(1..=2),
            seats: rng.random_range(8..=20),
            tempo: rng.random_bool(0.5).then_some(SHORT_HOLDS),
        });
        at += between(rng, 45_000, 75_000);
    }
    concerts
}

fn clients(rng: &mut StdRng, shape: Shape, concerts: &[ConcertPlan]) -> Vec<ClientPlan> {
    let seconds = shape.duration.as_secs_f64();
    let count = (seconds * 2.5) as usize + 8;
    let last_start = (shape.duration.as_millis() as u64 * 3 / 4).max(1000);
    (0..count)
        .map(|id| {
            // The first client spins from the start, so even a short run sees
            // whether one person's admission is bounded.
            let (persona, starts_at) = if id == 0 {
                (Persona::Spinner, between(rng, 200, 800))
            } else {
                let persona = match rng.random_range(0..100) {
                    0..40 => Persona::Buyer,
                    40..50 => Persona::Hammerer,
                    50..75 => Persona::Quitter,
                    75..80 => Persona::Spinner,
                    _ => Persona::Hostile,
                };
                (persona, between(rng, 100, last_start))
            };
            let concert = choose_concert(rng, concerts, starts_at);
            let dates = concerts[concert].dates;
            ClientPlan {
                id,
                starts_at,
                persona,
                concert,
                steps: steps(rng, persona, dates),
            }
        })
        .collect()
}

/// A concert created at least a second before `starts_at`: the newest one
/// half of the time (its seats are the ones left), else any.
fn choose_concert(rng: &mut StdRng, concerts: &[ConcertPlan], starts_at: Duration) -> usize {
    let known: Vec<usize> = (0..concerts.len())
        .filter(|&i| {
            concerts[i].created_at.is_zero() || concerts[i].created_at + ms(1000) <= starts_at
        })
        .collect();
    if rng.random_bool(0.5) {
        *known.last().unwrap()
    } else {
        known[rng.random_range(0..known.len())]
    }
}

fn hold(rng: &mut StdRng, dates: usize) -> Step {
    Step::Hold {
        date: rng.random_range(0..dates),
        seats: *[1, 1, 1, 2, 2, 3, 4].choose(rng).unwrap(),
        pick: rng.random(),
    }
}

fn pay(rng: &mut StdRng, twice: f64) -> Step {
    Step::Pay {
        amount_off: 0,
        keyed: rng.random_bool(0.85),
        attempts: rng.random_range(1..=4),
        twice: rng.random_bool(twice),
    }
}

fn await_admission(rng: &mut StdRng, hammer: bool) -> Step {
    Step::AwaitAdmission {
        hammer,
        patience: between(rng, 6000, 20_000),
    }
}

fn think(rng: &mut StdRng, low: u64, high: u64) -> Step {
    Step::Think(between(rng, low, high))
}

fn charge(rng: &mut StdRng) -> Step {
    Step::Charge {
        amount: rng.random_range(2..=20) * 10_000,
        attempts: rng.random_range(2..=5),
    }
}

fn attack(rng: &mut StdRng) -> Step {
    let victim = rng.random();
    Step::Attack(match rng.random_range(0..11) {
        0 => Attack::PayOthers { victim },
        1 => Attack::ReleaseOthers { victim },
        2 => Attack::ReadOthers { victim },
        3 => Attack::ChargeOthers { victim },
        4 => Attack::WrongConcert,
        5 => Attack::ForgedToken,
        6 => Attack::AccessTokenAsQueueToken,
        7 => Attack::BadSeats {
            kind: rng.random_range(0..5),
        },
        8 => Attack::BadAmount {
            kind: rng.random_range(0..5),
        },
        9 => Attack::ReuseKey,
        _ => Attack::BadKey,
    })
}

fn steps(rng: &mut StdRng, persona: Persona, dates: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    if persona != Persona::Quitter || rng.random_bool(0.5) {
        steps.push(charge(rng));
    }
    steps.push(Step::Join);
    match persona {
        Persona::Buyer | Persona::Hammerer => {
            let hammer = persona == Persona::Hammerer;
            let twice = if hammer { 0.6 } else { 0.1 };
            steps.push(await_admission(rng, hammer));
            steps.push(think(rng, 100, 1500));
            steps.push(hold(rng, dates));
            if rng.random_bool(0.3) {
                steps.extend([think(rng, 100, 1500), Step::Release, hold(rng, dates)]);
            }
            steps.extend([think(rng, 100, 2000), pay(rng, twice)]);
            if rng.random_bool(0.3) {
                steps.extend([
                    Step::Join,
                    await_admission(rng, hammer),
                    hold(rng, dates),
                    pay(rng, twice),
                ]);
            }
        }
        Persona::Quitter => {
            match rng.random_range(0..5) {
                // Leaves while waiting.
                0 => steps.extend([think(rng, 0, 2500), Step::Leave]),
                // Lets the hold run out, then leaves: the bookkeeping of
                // seat-aware admission must forget the hold.
                1 => steps.extend([
                    await_admission(rng, false),
                    hold(rng, dates),
                    Step::OutwaitHold,
                    Step::Leave,
                ]),
                // Leaves holding seats: leaving releases them.
                2 => steps.extend([
                    await_admission(rng, false),
                    hold(rng, dates),
                    think(rng, 100, 2000),
                    Step::Leave,
                ]),
                // Lets the hold run out and joins again.
                3 => steps.extend([
                    await_admission(rng, false),
                    hold(rng, dates),
                    Step::OutwaitHold,
                    Step::Join,
                    await_admission(rng, false),
                ]),
                _ => steps.push(Step::AwaitAdmission {
                    hammer: false,
                    patience: between(rng, 500, 4000),
                }),
            }
            if rng.random_bool(0.3) {
                steps.extend([Step::Join, await_admission(rng, false)]);
            }
            steps.push(Step::Vanish);
        }
        Persona::Spinner => {
            steps.extend([
                Step::AwaitAdmission {
                    hammer: false,
                    patience: between(rng, 15_000, 30_000),
                },
                hold(rng, dates),
                Step::Spin {
                    rounds: rng.random_range(3..=8),
                },
            ]);
            steps.push(if rng.random_bool(0.5) {
                pay(rng, 0.0)
            } else {
                Step::Leave
            });
        }
        Persona::Hostile => {
            let hammer = rng.random_bool(0.3);
            steps.push(await_admission(rng, hammer));
            for _ in 0..rng.random_range(2..=6) {
                steps.push(attack(rng));
                if rng.random_bool(0.3) {
                    steps.push(think(rng, 50, 800));
                }
            }
            steps.push(hold(rng, dates));
            steps.push(Step::Pay {
                amount_off: *[1, -1, 10_000, -10_000].choose(rng).unwrap(),
                keyed: true,
                attempts: 1,
                twice: false,
            });
            for _ in 0..rng.random_range(1..=4) {
                steps.push(attack(rng));
            }
            steps.push(pay(rng, 0.2));
        }
    }
    steps
}

/// The faults of a run, one at a time: every kind once in a shuffled order,
/// then again reshuffled, with a breath between, until the run's end; each
/// heals at least a second before it.
fn faults(rng: &mut StdRng, shape: Shape) -> Vec<FaultPlan> {
    let mut faults = Vec::new();
    let mut at = between(rng, 1500, 3000);
    let end = shape.duration.saturating_sub(ms(1000));
    loop {
        let mut round = vec![0, 1, 2, 3, 4, 5];
        if !shape.redis_faults {
            round.retain(|&kind| kind >= 4);
        }
        round.shuffle(rng);
        for kind in round {
            let server = rng.random_range(0..shape.servers);
            let (kind, lasts) = match kind {
                0 => (
                    FaultKind::DropNextReplies {
                        server,
                        n: rng.random_range(1..=3),
                    },
                    ms(1000),
                ),
                1 => (
                    FaultKind::DropReplies {
                        server,
                        per_mille: rng.random_range(30..=300),
                        draws: rng.random(),
                    },
                    between(rng, 1500, 2500),
                ),
                2 => (
                    FaultKind::DelayReplies {
                        server,
                        delay: between(rng, 100, 1200),
                    },
                    between(rng, 1500, 2500),
                ),
                3 => (FaultKind::RestartRedisEmpty, ms(500)),
                4 => (FaultKind::CutPostgres, between(rng, 1500, 3000)),
                _ => (FaultKind::KillServer { server }, between(rng, 1000, 2000)),
            };
            if at + lasts > end {
                return faults;
            }
            faults.push(FaultPlan { at, lasts, kind });
            at += lasts + between(rng, 500, 2000);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(seconds: u64) -> Shape {
        Shape {
            duration: Duration::from_secs(seconds),
            servers: 3,
            redis_faults: true,
        }
    }

    #[test]
    fn one_seed_is_one_plan() {
        for seed in [1, 2, 3, 0xdead_beef] {
            assert_eq!(
                Plan::generate(seed, shape(20)),
                Plan::generate(seed, shape(20))
            );
        }
        assert_ne!(Plan::generate(1, shape(20)), Plan::generate(2, shape(20)));
    }

    #[test]
    fn every_fault_heals_before_the_run_ends_and_one_at_a_time() {
        for seed in 0..50 {
            let plan = Plan::generate(seed, shape(20));
            assert!(!plan.faults.is_empty());
            for pair in plan.faults.windows(2) {
                assert!(pair[0].at + pair[0].lasts < pair[1].at, "{pair:?}");
            }
            let last = plan.faults.last().unwrap();
            assert!(last.at + last.lasts + ms(1000) <= plan.shape.duration);
        }
    }

    #[test]
    fn clients_want_concerts_that_exist_when_they_come() {
        let plan = Plan::generate(9, shape(600));
        assert!(plan.concerts.len() > 5, "a long run gets new concerts");
        for client in &plan.clients {
            let concert = &plan.concerts[client.concert];
            assert!(concert.created_at.is_zero() || concert.created_at < client.starts_at);
        }
    }
}
