//! The concert file of `lineup admin create-concert`: TOML or JSON shaped like
//! the body of POST /admin/v1/concerts, read as that JSON body.

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::Path;

/// A concert file as the JSON body of POST /admin/v1/concerts.
pub fn read_concert_file(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let body = if is_toml {
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        toml_to_json(toml::Value::Table(table))
    } else {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", path.display()))?
    };
    if !body.is_object() {
        bail!(
            "{} must hold one object: title, venue, opens_at, schedules",
            path.display()
        );
    }
    Ok(body)
}

/// TOML as JSON; a TOML date-time becomes its RFC 3339 text, which the API reads.
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_toml_concert_becomes_the_api_body_with_rfc3339_times() {
        let dir =
            std::env::temp_dir().join(format!("lineup-admin-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("concert.toml");
        std::fs::write(
            &file,
            r#"
title = "Winter night"
venue = "Hall"
opens_at = 2026-12-01T10:00:00Z

[[schedules]]
starts_at = "2026-12-24T19:00:00Z"
seats = [{ seat_no = 1, price = 50000 }, { seat_no = 2, price = 70000 }]
"#,
        )
        .unwrap();
        let body = read_concert_file(&file).unwrap();
        assert_eq!(
            body,
            json!({
                "title": "Winter night",
                "venue": "Hall",
                "opens_at": "2026-12-01T10:00:00Z",
                "schedules": [{
                    "starts_at": "2026-12-24T19:00:00Z",
                    "seats": [{"seat_no": 1, "price": 50000}, {"seat_no": 2, "price": 70000}],
                }],
            })
        );
        std::fs::write(&file, "title = ").unwrap();
        let error = read_concert_file(&file).unwrap_err();
        assert!(format!("{error:#}").contains("not valid TOML"), "{error:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
