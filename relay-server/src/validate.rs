//! Input validation: collects every field's problem at once, so a form can show them all.
//!
//! Strings are trimmed and bounded in characters; nothing reaches the database unchecked.

use std::collections::BTreeMap;

use crate::error::ApiError;

#[derive(Debug, Default)]
pub struct Validator {
    fields: BTreeMap<String, String>,
}

/// Whether a text field may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field` (the first one found for a field wins).
    pub fn fail(&mut self, field: &str, problem: impl Into<String>) {
        self.fields.entry(field.to_owned()).or_insert_with(|| problem.into());
    }

    pub fn check(&mut self, field: &str, ok: bool, problem: &str) {
        if !ok {
            self.fail(field, problem);
        }
    }

    /// Trims `value` and checks it holds `min..=max` characters and no control characters
    /// (newlines and tabs are allowed in multi-line text).
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize, lines: Lines) -> String {
        let trimmed = value.trim();
        let len = trimmed.chars().count();
        if len < min {
            if min == 1 {
                self.fail(field, "must not be empty");
            } else {
                self.fail(field, format!("must be at least {min} characters"));
            }
        } else if len > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if trimmed
            .chars()
            .any(|c| c.is_control() && !(lines == Lines::Multi && (c == '\n' || c == '\t' || c == '\r')))
        {
            self.fail(field, "must not contain control characters");
        }
        trimmed.to_owned()
    }

    /// A client-chosen idempotency id (messages, projects), trimmed: 1 to 64 letters, digits, `-` or `_`.
    pub fn client_id(&mut self, field: &str, value: &str) -> String {
        let trimmed = value.trim();
        self.check(
            field,
            (1..=64).contains(&trimmed.len())
                && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "must be 1 to 64 letters, digits, '-' or '_' (a UUID works)",
        );
        trimmed.to_owned()
    }

    /// Normalises an email address (`teamflow_protocol::email::normalize`) and checks its shape.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let email = teamflow_protocol::email::normalize(value);
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        self.check(field, valid, "must be an email address");
        email
    }

    /// Passwords are never trimmed; the byte cap stops a huge input from reaching the hasher.
    pub fn password(&mut self, field: &str, value: &str) {
        let chars = value.chars().count();
        if chars < 8 {
            self.fail(field, "must be at least 8 characters");
        } else if chars > 128 || value.len() > 512 {
            self.fail(field, "must be at most 128 characters");
        }
    }

    /// Ok when no field failed; otherwise a `validation_failed` error naming each field.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.fields.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation { message: "the request has invalid fields".into(), fields: self.fields })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: Validator) -> BTreeMap<String, String> {
        match v.finish() {
            Err(ApiError::Validation { fields, .. }) => fields,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        let mut v = Validator::new();
        assert_eq!(v.text("name", "  Design  ", 1, 10, Lines::Single), "Design");
        assert!(v.finish().is_ok());

        let mut v = Validator::new();
        v.text("empty", "   ", 1, 10, Lines::Single);
        v.text("long", &"é".repeat(11), 1, 10, Lines::Single);
        v.text("newline", "a\nb", 1, 10, Lines::Single);
        v.text("nul", "a\0b", 1, 10, Lines::Multi);
        let f = fields(v);
        assert_eq!(f["empty"], "must not be empty");
        assert_eq!(f["long"], "must be at most 10 characters");
        assert!(f.contains_key("newline") && f.contains_key("nul"));
    }

    #[test]
    fn multi_line_text_allows_newlines_and_counts_characters_not_bytes() {
        let mut v = Validator::new();
        v.text("content", "line one\nline two\tend", 1, 100, Lines::Multi);
        v.text("emoji", &"🙂".repeat(10), 1, 10, Lines::Single);
        assert!(v.finish().is_ok());
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        let mut v = Validator::new();
        assert_eq!(v.email("email", "  Alice@Example.COM "), "alice@example.com");
        assert!(v.finish().is_ok());
        for bad in ["", "alice", "@example.com", "alice@", "a@b@c", "al ice@example.com", "a@.example.com", "a@x..y"] {
            let mut v = Validator::new();
            v.email("email", bad);
            assert!(v.finish().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_have_length_limits_and_are_not_trimmed() {
        let mut v = Validator::new();
        v.password("password", "        ");
        assert!(v.finish().is_ok(), "eight spaces is a (weak) password, not an empty one");
        for bad in ["short".to_owned(), "x".repeat(129), "€".repeat(200)] {
            let mut v = Validator::new();
            v.password("password", &bad);
            assert!(v.finish().is_err());
        }
    }
}
