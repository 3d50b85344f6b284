//! A cursor over a script's reply (mini-redis's `Parse`): the wrappers read
//! their reply element by element, `next_string`, `next_u64`, `next_list`...,
//! never by index, and [`Reply::finish`] refuses elements left over. Every way
//! a reply can be malformed ends here, as one internal error naming the script.

use crate::domain::SeatNo;
use crate::error::{Error, Result};
use redis::{FromRedisValue, Value};
use std::str::FromStr;

/// The unread elements of one script's reply. A scalar reply (a script that
/// returns one string or one number) reads as a list of one.
#[derive(Debug)]
pub(super) struct Reply {
    script: &'static str,
    elements: std::vec::IntoIter<Value>,
    read: usize,
}

impl Reply {
    pub(super) fn new(script: &'static str, value: Value) -> Self {
        let elements = match value {
            Value::Array(elements) => elements,
            scalar => vec![scalar],
        };
        Self {
            script,
            elements: elements.into_iter(),
            read: 0,
        }
    }

    /// The next element converted, or why it could not be.
    fn next<T: FromRedisValue>(&mut self) -> Result<T> {
        let value = self
            .elements
            .next()
            .ok_or_else(|| self.malformed(format!("it ends after {} elements", self.read)))?;
        self.read += 1;
        redis::from_redis_value(value)
            .map_err(|e| self.malformed(format!("element {}: {e}", self.read)))
    }

    pub(super) fn next_string(&mut self) -> Result<String> {
        self.next()
    }

    pub(super) fn next_u64(&mut self) -> Result<u64> {
        self.next_unsigned()
    }

    pub(super) fn next_u32(&mut self) -> Result<u32> {
        self.next_unsigned()
    }

    /// Read as an `i64` first: redis-rs would wrap a negative integer around.
    fn next_unsigned<T: TryFrom<i64>>(&mut self) -> Result<T> {
        let number = self.next_i64()?;
        T::try_from(number)
            .map_err(|_| self.malformed(format!("element {}: {number} is out of range", self.read)))
    }

    pub(super) fn next_i64(&mut self) -> Result<i64> {
        self.next()
    }

    pub(super) fn next_f64(&mut self) -> Result<f64> {
        self.next()
    }

    /// A Lua flag: 0 or 1.
    pub(super) fn next_flag(&mut self) -> Result<bool> {
        match self.next_i64()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.malformed(format!("element {}: {other} is not 0 or 1", self.read))),
        }
    }

    /// A string that parses as `T` (an id).
    pub(super) fn next_parsed<T: FromStr>(&mut self) -> Result<T> {
        let text = self.next_string()?;
        self.parse_text(&text)
    }

    /// Like [`Reply::next_parsed`], with `''` for none (Lua has no nil in a list).
    pub(super) fn next_parsed_or_empty<T: FromStr>(&mut self) -> Result<Option<T>> {
        let text = self.next_string()?;
        if text.is_empty() {
            return Ok(None);
        }
        self.parse_text(&text).map(Some)
    }

    fn parse_text<T: FromStr>(&self, text: &str) -> Result<T> {
        text.parse().map_err(|_| {
            self.malformed(format!(
                "element {}: {text:?} is not a {}",
                self.read,
                std::any::type_name::<T>()
            ))
        })
    }

    pub(super) fn next_seat(&mut self) -> Result<SeatNo> {
        let number = self.next_i64()?;
        SeatNo::parse(number).map_err(|e| self.malformed(format!("element {}: {e}", self.read)))
    }

    /// A nested list, read with a cursor of its own.
    pub(super) fn next_list(&mut self) -> Result<Reply> {
        let value = self
            .elements
            .next()
            .ok_or_else(|| self.malformed(format!("it ends after {} elements", self.read)))?;
        self.read += 1;
        match value {
            Value::Array(_) => Ok(Reply::new(self.script, value)),
            other => Err(self.malformed(format!("element {}: {other:?} is not a list", self.read))),
        }
    }

    /// Every element left, each read by `read`.
    pub(super) fn rest<T>(mut self, read: impl Fn(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let mut all = Vec::with_capacity(self.elements.len());
        while self.elements.len() > 0 {
            all.push(read(&mut self)?);
        }
        Ok(all)
    }

    /// Ends the reading: an element left over means the script and its wrapper
    /// disagree on the reply's shape.
    pub(super) fn finish(self) -> Result<()> {
        match self.elements.len() {
            0 => Ok(()),
            left => Err(self.malformed(format!(
                "{left} elements are left after the {} expected",
                self.read
            ))),
        }
    }

    /// A first element that names no answer the script has.
    pub(super) fn unknown(&self, state: &str) -> Error {
        self.malformed(format!("the unknown answer {state:?}"))
    }

    /// A reply of the right shape that says something impossible.
    pub(super) fn malformed(&self, what: String) -> Error {
        Error::Internal(anyhow::anyhow!(
            "the {} script's reply does not parse: {what}",
            self.script
        ))
    }
}

/// Builders of replies as Redis sends them, for the wrappers' parser tests.
#[cfg(test)]
pub(super) mod wire {
    use redis::Value;

    pub fn s(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    pub fn i(n: i64) -> Value {
        Value::Int(n)
    }

    pub fn list(values: impl IntoIterator<Item = Value>) -> Value {
        Value::Array(values.into_iter().collect())
    }

    /// The message of a parse error, to check it names the script.
    pub fn error_text<T: std::fmt::Debug>(result: crate::error::Result<T>) -> String {
        match result {
            Err(crate::error::Error::Internal(e)) => format!("{e:#}"),
            other => panic!("expected an internal error, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wire::*;
    use super::*;

    #[test]
    fn elements_read_in_order_and_convert_from_strings_or_integers() {
        let mut reply = Reply::new("t", list([s("waiting"), s("12"), i(7), s("2.5"), i(1)]));
        assert_eq!(reply.next_string().unwrap(), "waiting");
        assert_eq!(reply.next_u64().unwrap(), 12);
        assert_eq!(reply.next_i64().unwrap(), 7);
        assert_eq!(reply.next_f64().unwrap(), 2.5);
        assert!(reply.next_flag().unwrap());
        reply.finish().unwrap();
    }

    #[test]
    fn a_scalar_reply_reads_as_a_list_of_one() {
        let mut reply = Reply::new("t", s("left"));
        assert_eq!(reply.next_string().unwrap(), "left");
        reply.finish().unwrap();
    }

    #[test]
    fn nested_lists_have_a_cursor_of_their_own() {
        let mut reply = Reply::new("t", list([s("ok"), list([i(3), i(4)]), list([])]));
        reply.next_string().unwrap();
        assert_eq!(
            reply.next_list().unwrap().rest(Reply::next_u64).unwrap(),
            [3, 4]
        );
        assert!(
            reply
                .next_list()
                .unwrap()
                .rest(Reply::next_u64)
                .unwrap()
                .is_empty()
        );
        reply.finish().unwrap();
    }

    #[test]
    fn a_short_a_long_or_a_mistyped_reply_is_an_internal_error_naming_the_script() {
        let mut short = Reply::new("status", list([s("waiting")]));
        short.next_string().unwrap();
        let text = error_text(short.next_u64());
        assert!(
            text.contains("status script") && text.contains("ends after 1"),
            "{text}"
        );

        let mut long = Reply::new("leave", list([s("left"), s("extra")]));
        long.next_string().unwrap();
        assert!(error_text(long.finish()).contains("1 elements are left"));

        let mut negative = Reply::new("t", list([i(-1)]));
        assert!(error_text(negative.next_u64()).contains("-1 is out of range"));

        let mut mistyped = Reply::new("t", list([s("soon"), s("2"), list([])]));
        assert!(error_text(mistyped.next_u64()).contains("element 1"));
        assert!(error_text(mistyped.next_flag()).contains("not 0 or 1"));
        assert!(error_text(mistyped.next_i64()).contains("element 3"));

        let mut not_a_list = Reply::new("t", list([s("x")]));
        assert!(error_text(not_a_list.next_list()).contains("not a list"));
        let mut not_a_seat = Reply::new("t", list([i(0)]));
        assert!(error_text(not_a_seat.next_seat()).contains("out of range"));
        let mut not_an_id = Reply::new("t", list([s("nope")]));
        assert!(error_text(not_an_id.next_parsed::<crate::domain::UserId>()).contains("\"nope\""));
    }
}
