//! The HTTP client of `lineup admin`: one authenticated request to the admin
//! API, its JSON answer, or an error that names what went wrong (the refusal's
//! status, code and message; a connection or certificate failure with a hint).

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
}

impl AdminClient {
    /// A client of the server at `url`. `insecure` accepts any certificate;
    /// `ca_cert` trusts one more besides the system's roots.
    pub fn new(
        url: &str,
        token: Option<SecretString>,
        insecure: bool,
        ca_cert: Option<&Path>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let token = token.context(
            "no admin token: pass --token or set LINEUP_ADMIN_TOKEN to one of the server's admin tokens",
        )?;
        let base = url.trim_end_matches('/').to_owned();
        let parsed = url::Url::parse(&base).with_context(|| {
            format!("--url {base:?} is not a URL (e.g. https://localhost:8443)")
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("--url {base:?} must start with https:// or http://");
        }
        // The same provider the server uses; a second install attempt is harmless.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("lineup-admin/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(insecure);
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-cert {}", path.display()))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} holds no PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(Self {
            http: builder.build().context("cannot build the HTTP client")?,
            base,
            token,
        })
    }

    /// One request; the JSON answer on 2xx, an error naming the status and the
    /// server's error code and message otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(self.token.expose_secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(&self.base, e))?;
        let status = response.status();
        let raw = response
            .text()
            .await
            .with_context(|| format!("{method} {path}: the answer was cut off"))?;
        if !status.is_success() {
            bail!("{method} {path}: {}", refusal(status, &raw));
        }
        if raw.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&raw)
            .with_context(|| format!("{method} {path}: the answer is not JSON: {raw}"))
    }
}

/// Why a request got no answer, with a hint where one helps.
fn unreachable(base: &str, error: reqwest::Error) -> anyhow::Error {
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    let hint = if chain.contains("certificate") || chain.contains("UnknownIssuer") {
        " (a self-signed certificate? --insecure accepts it, --ca-cert trusts a given one)"
    } else if error.is_timeout() {
        " (no answer within --timeout)"
    } else if error.is_connect() {
        " (is the server running there? --url or LINEUP_ADMIN_URL)"
    } else {
        ""
    };
    anyhow::anyhow!("cannot reach the server at {base}: {chain}{hint}")
}

/// A refusal as people read it: status, and the error body's code and message.
fn refusal(status: StatusCode, text: &str) -> String {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match (
        body["error"]["code"].as_str(),
        body["error"]["message"].as_str(),
    ) {
        (Some(code), Some(message)) => format!("{status}: {code}: {message}"),
        _ if text.trim().is_empty() => status.to_string(),
        _ => format!("{status}: {}", text.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_status_code_and_message() {
        assert_eq!(
            refusal(
                StatusCode::NOT_FOUND,
                r#"{"error":{"code":"concert_not_found","message":"no concert has this id"}}"#
            ),
            "404 Not Found: concert_not_found: no concert has this id"
        );
        assert_eq!(
            refusal(StatusCode::BAD_GATEWAY, "upstream down"),
            "502 Bad Gateway: upstream down"
        );
    }
}
