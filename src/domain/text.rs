//! Short texts an operator types and people read: a concert's title and venue.

/// One line of text for people to read: trimmed, 1 to `max_chars` characters,
/// no control character. PostgreSQL's `text` cannot hold a NUL at all (storing
/// one failed as a 500), and a tab, a line break or an escape has no place in a
/// title shown on a page, in a terminal and in logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    /// `field` names the text in the refusal (`title must ...`).
    pub fn parse(field: &str, text: &str, max_chars: usize) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > max_chars {
            return Err(format!("{field} must be 1 to {max_chars} characters"));
        }
        if let Some(control) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "{field} must not hold control characters (found U+{:04X})",
                u32::from(control)
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_trimmed_text_of_bounded_length() {
        let label = Label::parse("title", "  Night  at the hall ", 200).unwrap();
        assert_eq!(label.as_str(), "Night  at the hall");
        assert!(Label::parse("title", "가나다", 3).is_ok());
        assert!(Label::parse("title", "가나다라", 3).is_err());
        for empty in ["", "   ", "\n"] {
            assert!(Label::parse("title", empty, 200).is_err(), "{empty:?}");
        }
    }

    #[test]
    fn nul_and_other_control_characters_are_refused_by_name() {
        for bad in [
            "Night\0",
            "a\0b",
            "tab\there",
            "line\nbreak",
            "esc\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}x",
        ] {
            let refused = Label::parse("venue", bad, 200).unwrap_err();
            assert!(
                refused.starts_with("venue must not hold control"),
                "{bad:?}: {refused}"
            );
        }
        assert!(
            Label::parse("venue", "a\0b", 200)
                .unwrap_err()
                .contains("U+0000")
        );
    }
}
