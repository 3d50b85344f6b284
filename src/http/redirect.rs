//! The optional plain-HTTP listener: it serves nothing but a redirect to HTTPS.

use crate::error::{Error, ErrorCode};
use axum::Router;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

/// Connections the redirect listener serves at once: a redirect is one short
/// request, and these stay within the files the API's cap keeps aside.
pub const MAX_CONNECTIONS: usize = 128;

/// Redirects every request to the same host and path on `https_port`.
pub fn router(https_port: u16) -> Router {
    Router::new().fallback(move |headers: HeaderMap, uri: Uri| async move {
        redirect(&headers, &uri, https_port)
    })
}

fn redirect(headers: &HeaderMap, uri: &Uri, https_port: u16) -> Response {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_name)
    else {
        return Error::invalid(
            ErrorCode::InvalidHost,
            "a Host header naming this server is required",
        )
        .into_response();
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // 308 keeps the method and body, unlike 301.
    Redirect::permanent(&format!("https://{host}{port}{path}")).into_response()
}

/// The host of a Host header without its port, if it is a plain name or address
/// (nothing that could smuggle a path or credentials into the Location).
fn host_name(value: &str) -> Option<&str> {
    let host = if value.starts_with('[') {
        &value[..=value.find(']')?]
    } else {
        value.split(':').next()?
    };
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    (!host.is_empty() && host.chars().all(plain)).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_kept_and_the_port_replaced() {
        assert_eq!(
            host_name("tickets.example.com:80"),
            Some("tickets.example.com")
        );
        assert_eq!(host_name("[::1]:8080"), Some("[::1]"));
        assert_eq!(host_name("evil.com/path@x"), None);
        assert_eq!(host_name(""), None);
    }
}
