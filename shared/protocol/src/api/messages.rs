//! Team chat over REST: `/api/teams/{team_id}/messages`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{MessageId, TeamId, UserId};

/// What a message's content is to be read as. Clients post `text` or `markdown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Markdown,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Markdown => "markdown",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        [MessageKind::Text, MessageKind::Markdown].into_iter().find(|k| k.as_str() == s)
    }
}

/// `POST /api/teams/{team_id}/messages`. `client_id` makes the post idempotent: a retry with the same
/// id returns the original message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub client_id: String,
    pub content: String,
    #[serde(default = "default_kind")]
    pub kind: MessageKind,
}

fn default_kind() -> MessageKind {
    MessageKind::Text
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Message {
    pub id: MessageId,
    pub team_id: TeamId,
    /// Position in the team's chat, 1, 2, 3, ... with no gaps.
    pub seq: i64,
    pub author_id: UserId,
    pub author_name: String,
    pub client_id: String,
    pub kind: MessageKind,
    pub content: String,
    /// Who the content mentions (`teamflow_protocol::mentions`), each a member when it was posted.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
    /// When its author last changed the text; null if never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub edited_at: Option<OffsetDateTime>,
    /// Deleted by its author or an admin: `content` is empty and `mentions` too; its place (`seq`) stays.
    #[serde(default)]
    pub deleted: bool,
    /// The team's change number of its last edit, deletion or change of its reactions (null if none): of
    /// two copies of a message, the one with the higher number is the newer (`GET .../messages/changes`).
    #[serde(default)]
    pub change_seq: Option<i64>,
    /// Emoji people put on it, in the order each was first put there; none on a deleted message.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
}

/// One emoji on a message and who put it there, in the order they did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Reaction {
    pub emoji: String,
    pub user_ids: Vec<UserId>,
}

/// The most different emoji one message takes.
pub const MAX_REACTIONS: usize = 20;

/// `PUT /api/teams/{team_id}/messages/{message_id}/reactions`: the caller's `emoji` on the message
/// (`on`) or not. Idempotent: putting it on twice, or taking it off when it is not there, changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct SetReaction {
    /// One emoji: a single grapheme of at most 32 bytes, built on a pictograph or symbol (`is_reaction_emoji`).
    pub emoji: String,
    pub on: bool,
}

/// Whether `emoji` is one the relay takes for a reaction (`SetReaction::emoji`): checked on both sides, so
/// a device does not queue one the relay would refuse.
pub fn is_reaction_emoji(emoji: &str) -> bool {
    use unicode_segmentation::UnicodeSegmentation as _;
    let chars: Vec<char> = emoji.chars().collect();
    let (Some(&first), Some(&last)) = (chars.first(), chars.last()) else { return false };
    // A keycap (`1️⃣`, `#️⃣`) is the one emoji that starts with ASCII; a tag sequence (a subdivision's flag)
    // the one with tag characters, which must follow a black flag and end with the cancel tag.
    let keycap = matches!(first, '0'..='9' | '#' | '*') && last == '\u{20e3}';
    let tagged = first == '\u{1f3f4}' && chars.len() > 1 && last == '\u{e007f}';
    emoji.len() <= 32
        && emoji.graphemes(true).count() == 1
        && (is_emoji_base(first) || keycap)
        && first != '\u{200d}'
        && last != '\u{200d}'
        && chars.iter().enumerate().all(|(i, &c)| match c {
            // A presentation selector only right after what it presents, not after another or a joiner.
            '\u{fe0f}' => i > 0 && !matches!(chars[i - 1], '\u{fe0f}' | '\u{200d}'),
            '\u{200d}' | '\u{20e3}' => true,
            '\u{e0020}'..='\u{e007f}' => tagged,
            c => is_emoji_base(c) || (i == 0 && keycap),
        })
}

/// Whether `c` is in the blocks emoji are drawn from (pictographs, symbols, dingbats, arrows, regional
/// letters for flags, ©, ®, ™ and the like; not box drawing, blocks or braille, which draw nothing like an
/// emoji and hold blank characters), so that a letter, a digit alone or an invisible character is not one.
fn is_emoji_base(c: char) -> bool {
    matches!(c,
        '\u{a9}' | '\u{ae}' | '\u{203c}' | '\u{2049}' | '\u{2122}' | '\u{2139}' | '\u{2190}'..='\u{21ff}'
        | '\u{2300}'..='\u{24ff}' | '\u{25a0}'..='\u{27bf}' | '\u{2900}'..='\u{2bff}' | '\u{3030}' | '\u{303d}'
        | '\u{3297}' | '\u{3299}' | '\u{1f000}'..='\u{1faff}')
}

/// How the `client_id` of a message the relay mirrors from a service (a Slack channel) begins: its text is
/// the service's record, so it is not edited in TeamFlow (it may be deleted).
pub const MIRRORED_CLIENT_PREFIX: &str = "slack-";

#[cfg(test)]
mod reaction_tests {
    use super::is_reaction_emoji;

    #[test]
    fn one_emoji_is_a_reaction_and_text_is_not() {
        let england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
        for emoji in ["👍", "❤️", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#️⃣", "👍🏽", "🏳️‍🌈", "❤️‍🔥", "©️", england]
        {
            assert!(is_reaction_emoji(emoji), "{emoji}");
        }
        let invisible = ["\u{2800}", "\u{200b}", "\u{feff}", "\u{fe0f}", "\u{200d}", "\u{e0041}"];
        let look_alike =
            ["👍\u{e0041}", "👍\u{200d}", "\u{200d}👍", "👍\u{fe0f}\u{fe0f}", "\u{2500}", "1", "1\u{fe0f}"];
        let text = ["", "+1", ":thumbsup:", "👍👍", "👍 ", " ", "\u{7}", "a", "é", "中"];
        for text in text.into_iter().chain(invisible).chain(look_alike) {
            assert!(!is_reaction_emoji(text), "{text:?}");
        }
    }
}

/// `PATCH /api/teams/{team_id}/messages/{message_id}`: the author's new text for their message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub content: String,
}

/// A page of messages, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Pass as `before` to fetch the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// `GET /api/teams/{team_id}/messages?before=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Only messages with a `seq` below this; omit for the newest.
    pub before: Option<i64>,
    /// Page size, 1 to 100 (default 50); values outside are clamped.
    pub limit: Option<i64>,
}

/// `GET /api/teams/{team_id}/messages/changes?after=&limit=`: the messages edited or deleted after change
/// number `after` (0: every change), for a device catching up on what it missed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct MessageChangesQuery {
    #[serde(default)]
    pub after: i64,
    /// Page size, 1 to 100 (default 50); values outside are clamped.
    pub limit: Option<i64>,
}

/// Messages as they are now, each changed after the asked change number, in the order they last changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MessageChanges {
    pub messages: Vec<Message>,
    /// The last change number this page covers: pass it as `after` next time (the same `after` when empty).
    pub next_after: i64,
    /// Whether more changes follow this page.
    pub more: bool,
}

/// `PUT /api/teams/{team_id}/read`: I have read the team's chat up to and including `seq`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// A message `seq` of the team, 0 to its latest. A position behind the kept one changes nothing.
    pub seq: i64,
}

/// Where a person stands in a team's chat: how far they have read, and what is new since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReadState {
    pub team_id: TeamId,
    /// The last message read (0: none). Only ever moves forward.
    pub read_seq: i64,
    /// The team's newest message (0: no message yet).
    pub latest_seq: i64,
    /// Messages after `read_seq` written by someone else.
    pub unread: i64,
    /// Of those, the ones that mention this person.
    pub mentions: i64,
}
