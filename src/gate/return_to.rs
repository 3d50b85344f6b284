//! Where an admitted person may be sent back to: only URLs on an origin of the
//! allow-list (`LINEUP_RETURN_TO_ORIGINS`), so the line is no open redirect.
//!
//! A URL is compared by its origin as the WHATWG URL parser (the browser's)
//! reads it: scheme, host (lower-cased, IDN as punycode) and port (a default
//! port made explicit). Before parsing, anything a browser would read
//! differently from a server is refused outright: backslashes, control
//! characters and whitespace, scheme-relative `//host` and relative URLs. User
//! info is refused too (`https://allowed.example@evil.example` is evil.example).

use anyhow::{bail, ensure};
use url::{Origin, Url};

/// The longest `return_to` accepted.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// The origins a person may be sent back to.
#[derive(Clone, Debug, Default)]
pub struct ReturnToOrigins {
    origins: Vec<Origin>,
}

impl ReturnToOrigins {
    /// Each item an origin: `scheme://host[:port]`, http or https, nothing after
    /// the host but an optional `/`.
    pub fn parse(items: &[&str]) -> anyhow::Result<Self> {
        let mut origins = Vec::with_capacity(items.len());
        for item in items {
            let url = strict_url(item).map_err(|why| anyhow::anyhow!("{item}: {why}"))?;
            ensure!(
                url.path() == "/" && url.query().is_none() && url.fragment().is_none(),
                "{item} is not an origin (scheme://host[:port] and nothing after it)"
            );
            origins.push(url.origin());
        }
        Ok(Self { origins })
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The URL to send the person back to, normalised as a browser reads it,
    /// or `None` when it is not allowed.
    pub fn check(&self, raw: &str) -> Option<String> {
        let url = strict_url(raw).ok()?;
        let origin = url.origin();
        self.origins.contains(&origin).then(|| url.into())
    }
}

/// An absolute http(s) URL with a host and no user info, from text that every
/// URL parser reads alike.
fn strict_url(raw: &str) -> anyhow::Result<Url> {
    ensure!(
        raw.len() <= MAX_RETURN_TO_LEN,
        "longer than {MAX_RETURN_TO_LEN} bytes"
    );
    ensure!(
        !raw.chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace()),
        "a backslash, control character or whitespace"
    );
    // Relative and scheme-relative URLs fail here: there is no base.
    let url = Url::parse(raw).map_err(|e| anyhow::anyhow!("not an absolute URL: {e}"))?;
    ensure!(
        matches!(url.scheme(), "http" | "https"),
        "not http or https"
    );
    ensure!(
        url.username().is_empty() && url.password().is_none(),
        "user info"
    );
    if url.host().is_none() {
        bail!("no host");
    }
    // The scheme must be followed by `//` as typed: `https:evil.example` is
    // read as https://evil.example by the parser but is not what it looks like.
    let after_scheme = &raw[url.scheme().len()..];
    ensure!(
        after_scheme.starts_with("://"),
        "the scheme is not followed by //"
    );
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> ReturnToOrigins {
        ReturnToOrigins::parse(&[
            "https://shop.example",
            "http://localhost:8080",
            "https://bücher.example/",
        ])
        .unwrap()
    }

    #[test]
    fn urls_on_an_allowed_origin_come_back_normalised() {
        let list = allowed();
        for (raw, normal) in [
            ("https://shop.example/", "https://shop.example/"),
            (
                "https://shop.example/concerts/7?seat=1#top",
                "https://shop.example/concerts/7?seat=1#top",
            ),
            ("https://shop.example:443/a", "https://shop.example/a"),
            ("HTTPS://Shop.EXAMPLE/Path", "https://shop.example/Path"),
            ("http://localhost:8080/x", "http://localhost:8080/x"),
            (
                "https://xn--bcher-kva.example/",
                "https://xn--bcher-kva.example/",
            ),
            ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ] {
            assert_eq!(list.check(raw).as_deref(), Some(normal), "{raw}");
        }
    }

    #[test]
    fn hostile_urls_are_refused() {
        let list = allowed();
        for raw in [
            "",
            "/relative/path",
            "//evil.example",
            "//shop.example/",
            "///evil.example",
            "https://evil.example/",
            "https://shop.example.evil.example/",
            "https://evilshop.example/",
            "https://shop.example@evil.example/",
            "https://user:pass@shop.example/",
            "https://user@shop.example/",
            "https://evil.example\\@shop.example/",
            "https://shop.example\\evil.example",
            "https:\\\\evil.example",
            "https:/\\evil.example",
            "https:evil.example",
            "https:shop.example",
            "javascript:alert(1)",
            "JavaScript://shop.example/%0aalert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://shop.example/",
            "http://shop.example/",
            "https://shop.example:8443/",
            "http://localhost:8081/",
            "http://localhost/",
            " https://shop.example/",
            "https://shop.example/\n",
            "https://sh\top.example/",
            "https://shop.example%2f@evil.example/",
            // A Cyrillic "а" that looks like shop's letters: another host.
            "https://shаp.example/",
            "https://bücher.example.evil/",
            "https://xn--bcher-kva.example.evil/",
            "https://[::1]/",
            "https://127.0.0.1/",
        ] {
            assert_eq!(list.check(raw), None, "{raw:?} must be refused");
        }
        let long = format!("https://shop.example/{}", "a".repeat(MAX_RETURN_TO_LEN));
        assert_eq!(list.check(&long), None);
    }

    #[test]
    fn an_empty_list_allows_nothing() {
        let none = ReturnToOrigins::parse(&[]).unwrap();
        assert!(none.is_empty());
        assert_eq!(none.check("https://shop.example/"), None);
    }

    #[test]
    fn the_allow_list_takes_origins_only() {
        for bad in [
            "shop.example",
            "https://shop.example/path",
            "https://shop.example/?q",
            "https://a@shop.example",
            "ftp://shop.example",
            "https://shop.example\\",
            "javascript:alert(1)",
        ] {
            assert!(ReturnToOrigins::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
