//! What `lineup admin` prints when `--json` is not given: a few lines per
//! answer for people. Reads the server's JSON by field name, so a field the
//! server adds later changes nothing here.

use serde_json::{Value, json};

/// POST /admin/v1/concerts.
pub fn created(answer: &Value) -> String {
    let mut out = format!("created concert {}\n", text(&answer["concert_id"]));
    for schedule in answer["schedules"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  schedule {} starts {}\n",
            text(&schedule["schedule_id"]),
            text(&schedule["starts_at"])
        ));
    }
    out
}

/// POST /admin/v1/concerts/{id}/close.
pub fn closed(answer: &Value) -> String {
    let mut out = format!(
        "closed concert {} at {}; {} dismissed from the line\n",
        text(&answer["concert_id"]),
        text(&answer["closed_at"]),
        text(&answer["dismissed"])
    );
    if answer["durable"] == json!(false) {
        out.push_str("PostgreSQL is behind: the closing is in force, and is recorded once PostgreSQL answers\n");
    }
    out
}

/// DELETE /admin/v1/concerts/{id}/queue/users/{user_id}.
pub fn evicted(answer: &Value) -> String {
    let released = match &answer["released_reservation_id"] {
        Value::Null => "no reservation to release".to_owned(),
        id => format!("released reservation {}", text(id)),
    };
    format!(
        "evicted user {} (was {}); {released}\n",
        text(&answer["user_id"]),
        text(&answer["was"])
    )
}

/// GET /admin/v1/concerts: per concert its state, line and settings, and per
/// date its seats.
pub fn concerts(answer: &Value) -> String {
    let concerts = answer["concerts"].as_array().cloned().unwrap_or_default();
    if concerts.is_empty() {
        return "no concerts\n".to_owned();
    }
    let mut out = String::new();
    for concert in &concerts {
        let settings = &concert["settings"];
        let state = if !concert["closed_at"].is_null() {
            format!("closed {}", text(&concert["closed_at"]))
        } else if settings["paused"] == json!(true) {
            "paused".to_owned()
        } else {
            "admitting".to_owned()
        };
        out.push_str(&format!(
            "{}  {} @ {}  opens {}  {state}\n",
            text(&concert["concert_id"]),
            text(&concert["title"]),
            text(&concert["venue"]),
            text(&concert["opens_at"]),
        ));
        out.push_str(&format!(
            "  line: {} waiting, {} active of {}; admits {}/s; admission {} s; holds {} s; max waiting {}\n",
            text(&concert["waiting"]),
            text(&concert["active"]),
            text(&settings["max_active"]),
            text(&settings["admit_per_second"]),
            text(&settings["active_ttl_seconds"]),
            text(&settings["hold_ttl_seconds"]),
            match settings["max_waiting"].as_u64() {
                Some(0) => "no cap".to_owned(),
                _ => text(&settings["max_waiting"]),
            },
        ));
        for schedule in concert["schedules"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {}  {}: {} seats, {} sold, {} held, {} available\n",
                text(&schedule["starts_at"]),
                text(&schedule["schedule_id"]),
                text(&schedule["total_seats"]),
                text(&schedule["sold_seats"]),
                text(&schedule["held_seats"]),
                text(&schedule["available_seats"]),
            ));
        }
    }
    out
}

/// Any other answer: an object's fields, one `name value` line each, in the
/// server's order.
pub fn fields(answer: &Value) -> String {
    let Some(object) = answer.as_object() else {
        return format!("{answer}\n");
    };
    let width = object.keys().map(String::len).max().unwrap_or(0);
    object
        .iter()
        .map(|(name, value)| format!("{name:width$}  {}\n", text(value)))
        .collect()
}

/// A JSON value as plain text: strings without quotes.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}
