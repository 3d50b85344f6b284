//! The admission cookie: its name and scope (settings) and its fixed
//! attributes, `Secure; HttpOnly; SameSite=Lax`. Lax, not Strict: the person
//! arrives at the protected site by a top-level redirect from the line, which
//! Strict would send without the cookie.

use anyhow::ensure;

#[derive(Clone, Debug)]
pub struct CookieSettings {
    name: String,
    domain: Option<String>,
    path: String,
}

impl CookieSettings {
    pub fn new(name: String, domain: Option<String>, path: String) -> anyhow::Result<Self> {
        ensure!(
            !name.is_empty() && name.bytes().all(is_token_byte),
            "the cookie name must be letters, digits and !#$%&'*+-.^_`|~"
        );
        let domain = domain.map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase());
        if let Some(domain) = &domain {
            ensure!(
                !domain.is_empty()
                    && domain
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
                "the cookie domain must be a host name (letters, digits, - and .)"
            );
        }
        ensure!(
            path.starts_with('/')
                && path
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b';' && b != b','),
            "the cookie path must start with / and hold no ; , or spaces"
        );
        Ok(Self { name, domain, path })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Set-Cookie` value that stores `token` for `max_age_secs`.
    pub fn set(&self, token: &str, max_age_secs: u64) -> String {
        let mut cookie = format!(
            "{}={token}; Path={}; Max-Age={max_age_secs}; Secure; HttpOnly; SameSite=Lax",
            self.name, self.path
        );
        if let Some(domain) = &self.domain {
            cookie.push_str("; Domain=");
            cookie.push_str(domain);
        }
        cookie
    }

    /// The admission tokens in a `Cookie` header's value, in its order: a
    /// browser may send two of the same name (set with and without a Domain,
    /// or on two paths), a stale one first.
    pub fn find<'a>(&self, header: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let name = self.name.clone();
        header.split(';').filter_map(move |pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then_some(value.trim_matches('"'))
        })
    }
}

/// RFC 6265's cookie-name characters (an RFC 7230 token).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_http_only_lax_and_scoped() {
        let plain = CookieSettings::new("adm".into(), None, "/".into()).unwrap();
        assert_eq!(
            plain.set("t.o.k", 60),
            "adm=t.o.k; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
        );
        let scoped = CookieSettings::new(
            "adm".into(),
            Some(".Tickets.Example".into()),
            "/shop".into(),
        )
        .unwrap();
        assert!(scoped.set("x", 1).ends_with("; Domain=tickets.example"));
        assert!(scoped.set("x", 1).contains("Path=/shop;"));
    }

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let c = CookieSettings::new("adm".into(), None, "/".into()).unwrap();
        let found = |header| c.find(header).collect::<Vec<_>>();
        assert_eq!(found("a=1; adm=tok; b=2"), ["tok"]);
        assert_eq!(found("adm=old; a=1; adm=new"), ["old", "new"]);
        assert!(found("xadm=tok").is_empty());
        assert!(found("adm=").is_empty());
        assert!(found("other=1").is_empty());
    }

    #[test]
    fn bad_names_domains_and_paths_are_refused() {
        assert!(CookieSettings::new("a b".into(), None, "/".into()).is_err());
        assert!(CookieSettings::new("a;b".into(), None, "/".into()).is_err());
        assert!(CookieSettings::new("a".into(), Some("x;y".into()), "/".into()).is_err());
        assert!(CookieSettings::new("a".into(), None, "shop".into()).is_err());
        assert!(CookieSettings::new("a".into(), None, "/a;b".into()).is_err());
    }
}
