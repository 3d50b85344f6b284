//! What the API promises to answer, read from its OpenAPI document: for each
//! operation, the statuses it documents and, for each error status, the codes
//! its description names (`forbidden`, `not_admitted`, ...). A test that sends
//! anything at all (the simulation's hostile clients) checks every answer
//! against it. Reads the document the code generates; never the server.

use reqwest::Method;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One documented operation.
struct Operation {
    method: Method,
    /// The path's segments; `None` stands for a `{parameter}`.
    segments: Vec<Option<String>>,
    /// Status -> the backquoted words of its description (the error codes,
    /// and the names of the extra fields beside some of them).
    statuses: HashMap<u16, HashSet<String>>,
}

impl Operation {
    fn matches(&self, method: &Method, segments: &[&str]) -> bool {
        self.method == *method
            && self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|(documented, actual)| documented.as_deref().is_none_or(|d| d == *actual))
    }
}

/// Every operation of the API's document.
pub struct Documented {
    operations: Vec<Operation>,
}

/// The words a description puts in backquotes.
fn quoted_words(description: &str) -> HashSet<String> {
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn segments(path: &str) -> Vec<&str> {
    path.split('?')
        .next()
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

impl Documented {
    /// The document `lineup openapi` prints.
    pub fn load() -> Self {
        let spec = serde_json::to_value(lineup::http::openapi::spec()).unwrap();
        let mut operations = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let statuses = operation["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(status, response)| {
                        let description = response["description"].as_str().unwrap_or_default();
                        (status.parse().unwrap(), quoted_words(description))
                    })
                    .collect();
                operations.push(Operation {
                    method: method.to_uppercase().parse().unwrap(),
                    segments: segments(path)
                        .into_iter()
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect(),
                    statuses,
                });
            }
        }
        Self { operations }
    }

    /// Why an answer is not one the document promises for `method path`
    /// (`None` when it is): an undocumented status, or an error body that is
    /// not `{"error": {"code", "message"}}` with a code documented for its status.
    pub fn undocumented(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Option<String> {
        let asked = segments(path);
        let Some(operation) = self.operations.iter().find(|o| o.matches(method, &asked)) else {
            return Some(format!("{method} {path} is no documented operation"));
        };
        let Some(codes) = operation.statuses.get(&status) else {
            return Some(format!("{method} {path} does not document {status}"));
        };
        if status < 400 {
            return None;
        }
        let code = body["error"]["code"].as_str();
        let message = body["error"]["message"].as_str();
        match (code, message) {
            (Some(code), Some(message)) if !message.is_empty() => (!codes.contains(code))
                .then(|| format!("{method} {path} {status} `{code}` is not documented: {body}")),
            _ => Some(format!(
                "{method} {path} {status} has no error body: {body}"
            )),
        }
    }
}
