//! The money invariants, read straight from PostgreSQL: what must hold after
//! anything (races, retries, outages, killed servers), whichever suite ran it.
//! Reads only; never repairs.

use sqlx::PgPool;

/// Each check: what broke, and a count of the rows that show it.
const CHECKS: &[(&str, &str)] = &[
    (
        "a balance differs from the sum of its ledger",
        "SELECT count(*) FROM wallets w
         WHERE w.balance <> COALESCE((SELECT sum(amount) FROM ledger l WHERE l.user_id = w.user_id), 0)",
    ),
    (
        "a balance is negative",
        "SELECT count(*) FROM wallets WHERE balance < 0",
    ),
    (
        "a ticket has no payment",
        "SELECT count(*) FROM tickets t LEFT JOIN payments p ON p.payment_id = t.payment_id
         WHERE p.payment_id IS NULL",
    ),
    (
        "a seat is sold twice",
        "SELECT count(*) FROM (SELECT schedule_id, seat_no FROM tickets GROUP BY 1, 2 HAVING count(*) > 1) t",
    ),
    (
        "a payment lacks its tickets or its payer's ledger debit",
        "SELECT count(*) FROM payments p
         WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.payment_id = p.payment_id)
            OR NOT EXISTS (SELECT 1 FROM ledger l
                           WHERE l.payment_id = p.payment_id AND l.user_id = p.user_id AND l.amount = -p.amount)",
    ),
    (
        "a debit has no payment",
        "SELECT count(*) FROM ledger l
         WHERE l.kind = 'payment'
           AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id)",
    ),
    (
        "a payment's amount and seats disagree (the seats' prices, its date)",
        "SELECT count(*) FROM payments p
         WHERE p.amount <> (SELECT COALESCE(sum(s.price), 0)
                            FROM tickets t JOIN seats s USING (schedule_id, seat_no)
                            WHERE t.payment_id = p.payment_id)
            OR EXISTS (SELECT 1 FROM tickets t
                       WHERE t.payment_id = p.payment_id AND t.schedule_id <> p.schedule_id)",
    ),
];

/// The money invariants that do not hold, each with the count of rows that
/// show it: what [`assert_money_invariants`] asserts, for a caller that
/// reports rather than panics (the simulation).
pub async fn money_violations(db: &PgPool) -> Vec<String> {
    let mut broken = Vec::new();
    for &(what, sql) in CHECKS {
        let count: i64 = sqlx::query_scalar(sql).fetch_one(db).await.unwrap();
        if count != 0 {
            broken.push(format!("{what} ({count} rows)"));
        }
    }
    broken
}

/// Asserts the money invariants: each balance equals the sum of its ledger and
/// none is negative; every ticket belongs to a payment and no seat is sold
/// twice; every payment has its tickets and its payer's debit of its amount,
/// and every debit its payment; a payment's amount is the price of its seats,
/// all of its own date.
pub async fn assert_money_invariants(db: &PgPool) {
    let broken = money_violations(db).await;
    assert!(broken.is_empty(), "{}", broken.join("; "));
}
