use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test]
async fn a_person_books_and_pays_from_sign_up_to_history(db: PgPool) {
    let app = spawn_app(db).await;
    let concert = app.create_concert(2, 10).await;
    let (user, token) = app.admitted_user(concert.id, 200_000).await;

    let response = app.hold(&token, concert.schedules[0], &[3, 4]).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reservation: Value = response.json().await.unwrap();
    assert_eq!(reservation["amount"], 100_000);
    assert_eq!(reservation["status"], "held");

    let response = app
        .pay(&token, uuid(&reservation["reservation_id"]), 100_000)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_eq!(payment["balance"], 100_000);
    assert_eq!(payment["seat_nos"], serde_json::json!([3, 4]));
    assert_eq!(payment["status"], "paid");

    assert_eq!(app.status(&token).await["status"], "expired");
    assert_eq!(app.balance(&user).await, 100_000);
    let history: Value = app
        .get(
            &format!("/api/v1/users/{}/payments", user.id),
            Some(&user.access_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["payments"][0]["payment_id"], payment["payment_id"]);
    assert_money_invariants(&app.db).await;
}
