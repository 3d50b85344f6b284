//! The run's history, as Jepsen keeps one: every operation twice, when a
//! client invokes it and when it completes (`ok`, `fail` with the error code,
//! or `info` when the answer was lost and the outcome is unknown), with the
//! nemesis's faults and the checkers' findings between them. A failing
//! invariant prints the lines that mention what it is about.
//!
//! Ids are shortened to their last eight hex digits in the text (lineup's
//! ids are UUIDv7: the first digits are a timestamp, the last random); a line's
//! tags are those short ids and the client's name, so "the lines about this
//! reservation" is a search for a word.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The last eight hex digits of an id: what history lines show.
pub fn short(id: Uuid) -> String {
    id.simple().to_string()[24..].to_owned()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    /// Indeterminate: the request may or may not have been applied.
    Info,
    /// A fault, a finding, a client's decision.
    Note,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Invoke => "invoke",
            Kind::Ok => "ok",
            Kind::Fail => "fail",
            Kind::Info => "info",
            Kind::Note => "note",
        }
    }
}

struct Event {
    at: Duration,
    who: String,
    kind: Kind,
    text: String,
}

impl Event {
    fn line(&self) -> String {
        format!(
            "{:>9.3}s {:<8} {:<6} {}",
            self.at.as_secs_f64(),
            self.who,
            self.kind.label(),
            self.text
        )
    }

    /// Whether the line is by or names one of `tags` (as a whole word: `c12`
    /// is not `c123`).
    fn mentions(&self, tags: &[String]) -> bool {
        let mut words = self
            .text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .chain([self.who.as_str()]);
        words.any(|word| tags.iter().any(|tag| tag == word))
    }
}

pub struct History {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

/// Who writes the nemesis's lines.
pub const NEMESIS: &str = "nemesis";

impl History {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            events: Mutex::new(Vec::new()),
        }
    }

    /// Time since the run started.
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn record(&self, who: &str, kind: Kind, text: String) {
        // The time is read under the lock, so the history is in time order.
        let mut events = self.events.lock().unwrap();
        events.push(Event {
            at: self.now(),
            who: who.to_owned(),
            kind,
            text,
        });
    }

    /// Every line, in order.
    pub fn lines(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(Event::line)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// The last `n` lines up to `until` that mention any of `tags`, with the
    /// nemesis's lines of the same stretch of time between them, in order.
    pub fn relevant(&self, tags: &[String], until: Duration, n: usize) -> Vec<String> {
        let events = self.events.lock().unwrap();
        let end = events.partition_point(|e| e.at <= until);
        let matching: Vec<usize> = (0..end).filter(|&i| events[i].mentions(tags)).collect();
        let chosen = &matching[matching.len().saturating_sub(n)..];
        let Some((&first, &last)) = chosen.first().zip(chosen.last()) else {
            return Vec::new();
        };
        (first..=last)
            .filter(|&i| chosen.binary_search(&i).is_ok() || events[i].who == NEMESIS)
            .map(|i| events[i].line())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relevant_lines_are_those_up_to_the_moment_that_name_a_tag_with_the_nemesis_between() {
        let history = History::new(Instant::now());
        history.record("c001", Kind::Invoke, "hold seats=[1]".into());
        history.record("c002", Kind::Invoke, "hold seats=[2]".into());
        history.record(NEMESIS, Kind::Note, "begin cut PostgreSQL".into());
        history.record("c001", Kind::Ok, "hold 201 reservation_id=0000beef".into());
        let until = history.now();
        history.record("c003", Kind::Fail, "release-others res=0000beef".into());

        let lines = history.relevant(&["c001".into()], until, 10);

        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("c001") && lines[0].contains("seats=[1]"));
        assert!(lines[1].contains("begin cut PostgreSQL"));
        assert!(lines[2].contains("0000beef"));
        let later = history.relevant(&["0000beef".into()], history.now(), 1);
        assert_eq!(later.len(), 1);
        assert!(later[0].contains("c003"), "{later:?}");
    }
}
