//! `GET /api/v1/concerts/{concert_id}/fairness`: the pre-queue draw's commitment,
//! and once drawn its seed, joiners and order, for anyone to check with
//! `lineup verify-shuffle`. Unauthenticated and asked for most at the busiest
//! minute, so a made draw is served from memory (see `fairness/published.rs`),
//! by pages, with an ETag a client sends back to get a bodiless 304.

use super::error::ErrorBody;
use super::extract::{ApiPath, ApiQuery};
use super::responses::PostgresDown;
use super::state::AppState;
use crate::domain::ConcertId;
use crate::error::{Error, ErrorCode};
use crate::fairness::{FairnessReport, Page, Publication};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/concerts/{concert_id}/fairness", get(fairness))
}

/// A made draw never changes: caches may keep a page for a day.
const DRAWN: &str = "public, max-age=86400";
/// Before the draw the answer counts down the seconds to the opening.
const UNDRAWN: &str = "public, max-age=1";

/// Which page of the joiners and drawn order to answer.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Where the page starts in the whole lists (0 by default).
    #[param(minimum = 0)]
    offset: Option<u64>,
    /// How many ids of each list: 1 to 100,000, by default 10,000, so a draw
    /// of up to 10,000 people is answered whole.
    #[param(minimum = 1, maximum = 100000)]
    limit: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/concerts/{concert_id}/fairness",
    tag = "concerts",
    params(
        ("concert_id" = ConcertId, Path, description = "The concert"),
        PageQuery,
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a page already held: a drawn page that has not changed (none ever does) is answered 304 without a body"),
    ),
    responses(
        (status = 200, description = "The draw's commitment (SHA-256 of the seed) always; once the draw is made the seed, and a page of the pre-queue's joiners and of the drawn order, `next_offset` naming the next (docs/FAIRNESS.md)", body = FairnessReport,
            headers(
                ("ETag" = String, description = "Once drawn: the page's strong ETag"),
                ("Cache-Control" = String, description = "`public, max-age=86400` once drawn, `public, max-age=1` before"),
            )),
        (status = 304, description = "Drawn, and `If-None-Match` named this page's ETag: no body",
            headers(("ETag" = String, description = "The page's ETag"))),
        (status = 400, description = "`invalid_id`: the concert id is not a UUID; `invalid_query`: an offset below 0 or a limit outside 1 to 100,000", body = ErrorBody),
        (status = 404, description = "`concert_not_found`", body = ErrorBody),
        PostgresDown,
    )
)]
pub(super) async fn fairness(
    State(state): State<AppState>,
    ApiPath(concert_id): ApiPath<ConcertId>,
    ApiQuery(query): ApiQuery<PageQuery>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let page = Page::parse(query.offset, query.limit)
        .map_err(|message| Error::invalid(ErrorCode::InvalidQuery, message))?;
    let concert = state.catalog.existing_concert(concert_id).await?;
    let published = match state.fairness.publication(&state.catalog, &concert).await? {
        Publication::Undrawn(report) => {
            return Ok(([(CACHE_CONTROL, UNDRAWN)], Json(report)).into_response());
        }
        Publication::Drawn(published) => published,
    };
    let etag = published.etag(page);
    let cache = [(ETAG, etag.clone()), (CACHE_CONTROL, DRAWN.to_owned())];
    if names_etag(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cache).into_response());
    }
    Ok((cache, Json(published.page(page))).into_response())
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare by
/// their opaque part, as RFC 9110 has it for GET.
fn names_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn asking(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn if_none_match_names_a_tag_among_several_weak_or_strong() {
        let etag = "\"abc-0-10000\"";
        assert!(names_etag(&asking(&[etag]), etag));
        assert!(names_etag(&asking(&["\"x\", W/\"abc-0-10000\""]), etag));
        assert!(names_etag(&asking(&["\"x\"", etag]), etag));
        assert!(names_etag(&asking(&["*"]), etag));
        assert!(!names_etag(&asking(&["\"abc-0-3\""]), etag));
        assert!(!names_etag(&HeaderMap::new(), etag));
    }
}
