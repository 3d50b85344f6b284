//! A client's hostile requests: each must be refused, whatever the state of
//! the sale; one that succeeds breaks [`Invariant::HostileRefused`]. Other
//! clients' ids come from what they let slip ([`World::victim`]).

use super::{Client, Keyed};
use crate::history::short;
use crate::invariant::Invariant;
use crate::plan::Attack;
use crate::support::RequestHelper;
use crate::world::{Answer, Leak};
use reqwest::Method;
use serde_json::json;

impl Client {
    /// Records a hostile request that succeeded.
    fn must_refuse(&self, what: &str, answer: &Answer) {
        if answer.succeeded() {
            self.world.violate(
                Invariant::HostileRefused,
                format!("{} {what}: {:?} {}", self.who, answer.status, answer.body),
                vec![self.who.clone()],
            );
        }
    }

    pub(super) async fn attack(&mut self, attack: Attack) {
        let token = self.token();
        let access = self.user.access_token.clone();
        let (answer, what) = match attack {
            Attack::PayOthers { victim } => {
                let (
                    Some(token),
                    Some(Leak {
                        reservation: Some((_, res)),
                        ..
                    }),
                ) = (token, self.world.victim(self.id, victim, true))
                else {
                    return;
                };
                let answer = self
                    .call(
                        Method::POST,
                        "pay-others",
                        format!("res={}", short(res)),
                        |s| async move { s.try_pay(&token, res, json!(10_000), None).await },
                    )
                    .await;
                (answer, "paid another's reservation")
            }
            Attack::ReleaseOthers { victim } => {
                let (
                    Some(token),
                    Some(Leak {
                        reservation: Some((_, res)),
                        ..
                    }),
                ) = (token, self.world.victim(self.id, victim, true))
                else {
                    return;
                };
                let answer = self
                    .call(
                        Method::DELETE,
                        "release-others",
                        format!("res={}", short(res)),
                        |s| async move { s.try_release(&token, res).await },
                    )
                    .await;
                (answer, "released another's reservation")
            }
            Attack::ReadOthers { victim } => {
                let (
                    Some(token),
                    Some(Leak {
                        reservation: Some((_, res)),
                        ..
                    }),
                ) = (token, self.world.victim(self.id, victim, true))
                else {
                    return;
                };
                let answer = self
                    .call(
                        Method::GET,
                        "read-others",
                        format!("res={}", short(res)),
                        |s| async move { s.try_reservation(&token, res).await },
                    )
                    .await;
                (answer, "read another's reservation")
            }
            Attack::ChargeOthers { victim } => {
                let Some(leak) = self.world.victim(self.id, victim, false) else {
                    return;
                };
                let answer = self
                    .call(Method::POST, "charge-others", format!("user={}", short(leak.user)), |s| async move {
                        s.try_charge(leak.user, &access, json!(10_000), None).await
                    })
                    .await;
                (answer, "charged another's balance")
            }
            Attack::WrongConcert => {
                let Some(token) = token else {
                    return;
                };
                let Some(other) = self
                    .world
                    .live_concerts()
                    .into_iter()
                    .find(|c| c.id != self.concert.id)
                else {
                    return;
                };
                let schedule = other.schedules[0];
                let answer = self
                    .call(
                        Method::POST,
                        "hold-elsewhere",
                        format!("date={}", short(schedule)),
                        |s| async move { s.try_hold(&token, schedule, &[1]).await },
                    )
                    .await;
                (answer, "held a seat of another concert")
            }
            Attack::ForgedToken => {
                let Some(token) = token else {
                    return;
                };
                let forged = forge(&token);
                let answer = self
                    .call(
                        Method::GET,
                        "status-forged",
                        String::new(),
                        |s| async move { s.try_status(&forged).await },
                    )
                    .await;
                (answer, "used a forged queue token")
            }
            Attack::AccessTokenAsQueueToken => {
                let schedule = self.concert.schedules[0];
                let answer = self
                    .call(
                        Method::POST,
                        "hold-access-token",
                        String::new(),
                        |s| async move { s.try_hold(&access, schedule, &[1]).await },
                    )
                    .await;
                (answer, "held with an access token")
            }
            Attack::BadSeats { kind } => {
                let Some(token) = token else {
                    return;
                };
                let seats: Vec<i64> = match kind {
                    0 => vec![0],
                    1 => vec![i64::from(self.concert.seats) + 1],
                    2 => vec![1, 1],
                    3 => vec![1, 2, 3, 4, 5],
                    _ => vec![],
                };
                let schedule = self.concert.schedules[0];
                let answer = self
                    .call(
                        Method::POST,
                        "hold-bad-seats",
                        format!("seats={seats:?}"),
                        |s| async move { s.try_hold(&token, schedule, &seats).await },
                    )
                    .await;
                (answer, "held seats that are no seats")
            }
            Attack::BadAmount { kind } => {
                let amount = match kind {
                    0 => json!(-1),
                    1 => json!(0.5),
                    2 => json!("10000"),
                    3 => json!(i64::MAX),
                    _ => json!(null),
                };
                let answer = match (token, self.held.clone()) {
                    (Some(token), Some(held)) => {
                        let detail = format!("res={} amount={amount}", short(held.id));
                        self.call(Method::POST, "pay-bad-amount", detail, |s| async move {
                            s.try_pay(&token, held.id, amount, None).await
                        })
                        .await
                    }
                    _ => {
                        let user = self.user.id;
                        self.call(
                            Method::POST,
                            "charge-bad-amount",
                            format!("amount={amount}"),
                            |s| async move { s.try_charge(user, &access, amount, None).await },
                        )
                        .await
                    }
                };
                (answer, "paid or charged an amount that is no amount")
            }
            Attack::ReuseKey => {
                let answer = match self.last_keyed.clone() {
                    Some(Keyed::Charge { key, amount }) => {
                        let user = self.user.id;
                        let detail = format!("amount={} key={key}", amount + 1000);
                        self.call(Method::POST, "charge-reused-key", detail, |s| async move {
                            s.try_charge(user, &access, json!(amount + 1000), Some(&key))
                                .await
                        })
                        .await
                    }
                    Some(Keyed::Pay {
                        key,
                        reservation,
                        amount,
                    }) => {
                        let Some(token) = token.or_else(|| self.world.paid_token(&key)) else {
                            return;
                        };
                        let detail =
                            format!("res={} amount={} key={key}", short(reservation), amount + 1);
                        self.call(Method::POST, "pay-reused-key", detail, |s| async move {
                            s.try_pay(&token, reservation, json!(amount + 1), Some(&key))
                                .await
                        })
                        .await
                    }
                    None => return,
                };
                (answer, "reused an idempotency key for another request")
            }
            Attack::BadKey => {
                let user = self.user.id;
                let answer = self
                    .call(
                        Method::POST,
                        "charge-bad-key",
                        String::new(),
                        |s| async move {
                            s.try_charge(user, &access, json!(10_000), Some("not a key"))
                                .await
                        },
                    )
                    .await;
                (answer, "charged under an Idempotency-Key that is not one")
            }
        };
        self.must_refuse(what, &answer);
    }
}

/// The token with another signature: what a client forging one would send.
fn forge(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(signature) = parts.last_mut() {
        *signature = signature
            .chars()
            .map(|c| if c == 'A' { 'B' } else { 'A' })
            .collect();
    }
    parts.join(".")
}
