//! `GET /api/v1/concerts/{concert_id}/fairness`: the pre-queue draw's commitment,
//! and once drawn its seed, joiners and order, for anyone to check with
//! `lineup verify-shuffle`.

use super::extract::ApiPath;
use crate::app::AppState;
use crate::domain::ConcertId;
use crate::error::Error;
use crate::fairness::FairnessReport;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/concerts/{concert_id}/fairness", get(fairness))
}

async fn fairness(
    State(state): State<AppState>,
    ApiPath(concert_id): ApiPath<ConcertId>,
) -> Result<Json<FairnessReport>, Error> {
    let concert = state
        .catalog
        .concert(concert_id)
        .await?
        .ok_or_else(|| Error::not_found("concert_not_found", "no concert has this id"))?;
    Ok(Json(
        crate::queue::fairness_report(&state.catalog, &concert).await?,
    ))
}
