//! `GET /api/v1/concerts/{concert_id}/fairness`: the pre-queue draw's commitment,
//! and once drawn its seed, joiners and order, for anyone to check with
//! `lineup verify-shuffle`.

use super::error::ErrorBody;
use super::extract::ApiPath;
use super::responses::PostgresDown;
use super::state::AppState;
use crate::domain::ConcertId;
use crate::error::Error;
use crate::fairness::FairnessReport;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/concerts/{concert_id}/fairness", get(fairness))
}

#[utoipa::path(
    get,
    path = "/api/v1/concerts/{concert_id}/fairness",
    tag = "concerts",
    params(("concert_id" = ConcertId, Path, description = "The concert")),
    responses(
        (status = 200, description = "The draw's commitment (SHA-256 of the seed) always; the seed, the pre-queue's joiners and the drawn order once the draw is made (docs/FAIRNESS.md)", body = FairnessReport),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID", body = ErrorBody),
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        PostgresDown,
    )
)]
pub(super) async fn fairness(
    State(state): State<AppState>,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<FairnessReport>, Error> {
    let concert = state.catalog.existing_concert(concert_id).await?;
    Ok(Json(
        crate::fairness::report(&state.catalog, &concert).await?,
    ))
}
