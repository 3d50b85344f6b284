//! The waiting-room pages people open in a browser, served at `/` from files
//! embedded in the binary (`web/`), so running lineup never needs Node.js or a
//! folder beside the binary. The pages talk to the public API only.
//!
//! Every file is sent with `Cache-Control: no-cache` and a strong `ETag`: a
//! browser revalidates on each visit (a `304` costs a few bytes) and never runs
//! last release's script against this release's page.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// What the page may load and where it may connect: only lineup itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// One embedded file: its name under `/assets/` (or `/` for the page), its
/// media type and its bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $name)),
        }
    };
}

/// Every file of the pages. `index.html` is served at `/`, the others at
/// `/assets/<name>`.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("state.js", "text/javascript; charset=utf-8"),
    asset!("page.js", "text/javascript; charset=utf-8"),
    asset!("views.js", "text/javascript; charset=utf-8"),
    asset!("view-start.js", "text/javascript; charset=utf-8"),
    asset!("view-waiting.js", "text/javascript; charset=utf-8"),
    asset!("view-admitted.js", "text/javascript; charset=utf-8"),
    asset!("view-ticket.js", "text/javascript; charset=utf-8"),
    asset!("line.js", "text/javascript; charset=utf-8"),
    asset!("admitted.js", "text/javascript; charset=utf-8"),
    asset!("hold.js", "text/javascript; charset=utf-8"),
    asset!("payment.js", "text/javascript; charset=utf-8"),
    asset!("wallet.js", "text/javascript; charset=utf-8"),
    asset!("identity.js", "text/javascript; charset=utf-8"),
    asset!("concerts.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("return.js", "text/javascript; charset=utf-8"),
    asset!("i18n.js", "text/javascript; charset=utf-8"),
    asset!("seats.js", "text/javascript; charset=utf-8"),
];

/// Each asset's `ETag`, computed once from its bytes.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.body);
            HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
                .expect("a hex ETag is a valid header value")
        })
        .collect()
});

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS
        .iter()
        .position(|a| a.name == name && a.name != "index.html")
    {
        Some(index) => serve(index, &headers),
        None => super::error::not_found().await,
    }
}

fn serve(index: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = ETAGS[index].clone();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == "*" || tag.trim().as_bytes() == etag.as_bytes())
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.name == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most the pages may weigh together, uncompressed: a phone on a slow
    /// network in a crowded venue still loads them at once.
    const PAGE_WEIGHT_BUDGET: usize = 100 * 1024;

    #[test]
    fn the_pages_weigh_less_than_their_budget() {
        let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
        assert!(
            total < PAGE_WEIGHT_BUDGET,
            "the pages weigh {total} bytes, over the budget of {PAGE_WEIGHT_BUDGET}"
        );
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("scripts are UTF-8");
            for import in text
                .lines()
                .filter(|l| l.starts_with("import "))
                .filter_map(|l| l.split("'./").nth(1))
                .filter_map(|rest| rest.split('\'').next())
            {
                assert!(
                    names.contains(&import),
                    "{} imports {import}, which is not embedded",
                    asset.name
                );
            }
        }
        let index = std::str::from_utf8(ASSETS[0].body).expect("the page is UTF-8");
        for reference in index
            .split("/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
        {
            assert!(
                names.contains(&reference),
                "index.html links {reference}, which is not embedded"
            );
        }
    }

    #[test]
    fn etags_differ_between_files_and_are_quoted() {
        let tags: Vec<&HeaderValue> = ETAGS.iter().collect();
        for (i, tag) in tags.iter().enumerate() {
            let text = tag.to_str().unwrap();
            assert!(text.starts_with('"') && text.ends_with('"'), "{text}");
            assert!(!tags[i + 1..].contains(tag), "two files share {text}");
        }
    }
}
