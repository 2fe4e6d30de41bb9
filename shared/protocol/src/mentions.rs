//! The one wire form of an @mention inside a message's content: `@[Display Name](user:<uuid>)`.
//!
//! The name is what readers without the roster see; the id is what counts. The relay parses it to check
//! that everyone mentioned is a member and to record who was mentioned; clients parse it to draw and
//! highlight mentions (`ui/src/features/chat/mentions.ts` reads the same form).

use std::str::FromStr;

use crate::UserId;

/// The most distinct people one message may mention.
pub const MAX_MENTIONS: usize = 50;

/// The longest display name a mention may carry, in characters.
pub const MAX_MENTION_NAME_CHARS: usize = 100;

/// A mention as written in content, with where it sits (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention<'a> {
    pub user: UserId,
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

/// Every well-formed mention in `content`, in order. Text that only looks like one (no closing bracket, an
/// id that is not a UUID, a name with a newline) is plain text, never an error.
pub fn mentions(content: &str) -> Vec<Mention<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = content[from..].find("@[") {
        let start = from + at;
        from = start + 2;
        let rest = &content[start + 2..];
        let Some(close) = rest.find("](user:") else { continue };
        let name = &rest[..close];
        if name.is_empty() || name.contains(['[', ']', '\n', '\r']) || name.chars().count() > MAX_MENTION_NAME_CHARS {
            continue;
        }
        let after = &rest[close + "](user:".len()..];
        let Some(end) = after.find(')') else { continue };
        // Only the canonical form (lower-case, hyphenated), so every reader agrees on what is a mention.
        let raw = &after[..end];
        let Ok(user) = UserId::from_str(raw) else { continue };
        if user.to_string() != raw {
            continue;
        }
        let stop = start + 2 + close + "](user:".len() + end + 1;
        found.push(Mention { user, name, start, end: stop });
        from = stop;
    }
    found
}

/// The distinct people `content` mentions, in order of first mention.
pub fn mentioned(content: &str) -> Vec<UserId> {
    let mut users: Vec<UserId> = Vec::new();
    for m in mentions(content) {
        if !users.contains(&m.user) {
            users.push(m.user);
        }
    }
    users
}

/// `content` as a person reads it: each mention as `@Name`, without its wire form (for search, the
/// command line, anything shown as plain text).
pub fn plain_text(content: &str) -> String {
    let mut text = String::with_capacity(content.len());
    let mut from = 0;
    for m in mentions(content) {
        text.push_str(&content[from..m.start]);
        text.push('@');
        text.push_str(m.name);
        from = m.end;
    }
    text.push_str(&content[from..]);
    text
}

/// The wire form of a mention of `user` shown as `name` (brackets and line breaks in the name are dropped,
/// so any display name makes a well-formed mention).
pub fn mention(user: UserId, name: &str) -> String {
    let name: String =
        name.chars().filter(|c| !matches!(c, '[' | ']' | '\n' | '\r')).take(MAX_MENTION_NAME_CHARS).collect();
    format!("@[{name}](user:{user})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_with_their_places() {
        let (ada, bob) = (UserId::new(), UserId::new());
        let content = format!("hi {} and {}, also {}", mention(ada, "Ada L"), mention(bob, "Bob"), mention(ada, "Ada"));
        let found = mentions(&content);
        assert_eq!(found.len(), 3);
        assert_eq!(found[0].name, "Ada L");
        assert_eq!(&content[found[1].start..found[1].end], mention(bob, "Bob"));
        assert_eq!(mentioned(&content), vec![ada, bob]);
    }

    #[test]
    fn lookalikes_are_plain_text() {
        let id = UserId::new();
        for text in [
            "@[Ada](user:not-a-uuid)".to_owned(),
            format!("@[Ada](user:{})", id.to_string().to_uppercase()),
            format!("@[Ada](user:{})", id.to_string().replace('-', "")),
            format!("@[](user:{id})"),
            format!("@[A\nB](user:{id})"),
            format!("@[Ada](user:{id}"),
            format!("@[Ada] (user:{id})"),
            "@[".to_owned(),
            "@[@[@[".to_owned(),
            format!("@[{}](user:{id})", "x".repeat(MAX_MENTION_NAME_CHARS + 1)),
        ] {
            assert!(mentions(&text).is_empty(), "{text}");
        }
        // A broken one does not hide a good one after it.
        assert_eq!(mentioned(&format!("@[x](user:bad) {}", mention(id, "Ada"))), vec![id]);
    }

    #[test]
    fn plain_text_names_each_mention_and_keeps_the_rest() {
        let (ada, bob) = (UserId::new(), UserId::new());
        let content = format!("{}, ask {} about @[x](user:bad)!", mention(ada, "Ada L"), mention(bob, "Bob"));
        assert_eq!(plain_text(&content), "@Ada L, ask @Bob about @[x](user:bad)!");
        assert_eq!(plain_text("no mentions here"), "no mentions here");
    }

    #[test]
    fn names_are_made_safe() {
        let id = UserId::new();
        assert_eq!(mentions(&mention(id, "[weird]\nname")).first().map(|m| m.name), Some("weirdname"));
    }
}
