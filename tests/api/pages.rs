//! The waiting-room pages lineup serves at `/`: the right media types, cache
//! and security headers, revalidation by `ETag`, and the API beside them unchanged.

use crate::support::*;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::Value;
use sqlx::PgPool;

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[sqlx::test]
async fn the_page_and_its_assets_are_served_with_their_media_types(db: PgPool) {
    let app = spawn_app(db).await;

    let page = app.get("/", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&page, CACHE_CONTROL), "no-cache");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert!(header(&page, "content-security-policy").contains("default-src 'self'"));
    assert!(header(&page, "strict-transport-security").starts_with("max-age="));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
    assert!(html.contains(r#"aria-live="polite""#));

    for (name, media_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("state.js", "text/javascript; charset=utf-8"),
        ("page.js", "text/javascript; charset=utf-8"),
        ("views.js", "text/javascript; charset=utf-8"),
        ("view-start.js", "text/javascript; charset=utf-8"),
        ("view-waiting.js", "text/javascript; charset=utf-8"),
        ("view-admitted.js", "text/javascript; charset=utf-8"),
        ("view-ticket.js", "text/javascript; charset=utf-8"),
        ("line.js", "text/javascript; charset=utf-8"),
        ("admitted.js", "text/javascript; charset=utf-8"),
        ("hold.js", "text/javascript; charset=utf-8"),
        ("payment.js", "text/javascript; charset=utf-8"),
        ("wallet.js", "text/javascript; charset=utf-8"),
        ("identity.js", "text/javascript; charset=utf-8"),
        ("concerts.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("i18n.js", "text/javascript; charset=utf-8"),
        ("seats.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ] {
        let asset = app.get(&format!("/assets/{name}"), None).await;
        assert_eq!(asset.status(), StatusCode::OK, "{name}");
        assert_eq!(header(&asset, CONTENT_TYPE), media_type, "{name}");
        assert_eq!(header(&asset, CACHE_CONTROL), "no-cache", "{name}");
        assert!(header(&asset, ETAG).starts_with('"'), "{name}");
        assert!(!asset.bytes().await.unwrap().is_empty(), "{name}");
    }
}

#[sqlx::test]
async fn a_browser_that_has_the_file_gets_304_and_no_body(db: PgPool) {
    let app = spawn_app(db).await;
    let first = app.get("/assets/app.js", None).await;
    let etag = header(&first, ETAG).to_owned();

    let again = app
        .client
        .get(app.url("/assets/app.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&again, ETAG), etag);
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app
        .client
        .get(app.url("/assets/app.js"))
        .header(IF_NONE_MATCH, "\"something-older\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}

#[sqlx::test]
async fn unknown_assets_and_other_methods_get_the_api_error_body(db: PgPool) {
    let app = spawn_app(db).await;
    for path in [
        "/assets/nope.js",
        "/assets/index.html",
        "/assets/..%2FCargo.toml",
        "/index.html",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    let post = app.post("/", None, serde_json::json!({})).await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // The API beside the pages answers as before.
    let concerts = app.get("/api/v1/concerts", None).await;
    assert_eq!(concerts.status(), StatusCode::OK);
    assert_eq!(header(&concerts, CONTENT_TYPE), "application/json");
    let missing = app.get("/api/v1/nope", None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
