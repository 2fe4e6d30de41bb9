//! Rich text on a text document: formatting marks over ranges, the change history, and the text as it was
//! at earlier heads.
//!
//! Inline formats (bold, italic, links) are Automerge marks that grow with text typed at their end, as an
//! editor expects. Headings and list items are marks over a whole line, so one model serves both.

use automerge::marks::{ExpandMark, Mark};
use automerge::transaction::Transactable;
use automerge::{ChangeHash, ROOT, ReadDoc, ScalarValue};
use samod::DocHandle;

use crate::{SyncError, TEXT_FIELD};

/// A formatting a range can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Bold,
    Italic,
    Link(String),
    /// A heading of level 1 to 6, over a line.
    Heading(u8),
    /// A list item over a line; `ordered` for numbered lists.
    ListItem {
        ordered: bool,
    },
}

impl Format {
    fn name(&self) -> &'static str {
        match self {
            Format::Bold => "bold",
            Format::Italic => "italic",
            Format::Link(_) => "link",
            Format::Heading(_) => "heading",
            Format::ListItem { .. } => "list",
        }
    }

    fn value(&self) -> ScalarValue {
        match self {
            Format::Bold | Format::Italic => ScalarValue::Boolean(true),
            Format::Link(url) => ScalarValue::Str(url.as_str().into()),
            Format::Heading(level) => ScalarValue::Uint(u64::from((*level).clamp(1, 6))),
            Format::ListItem { ordered } => ScalarValue::Str(if *ordered { "ordered" } else { "bullet" }.into()),
        }
    }

    /// Inline formats extend to text typed at their end; line formats and links do not.
    fn expand(&self) -> ExpandMark {
        match self {
            Format::Bold | Format::Italic => ExpandMark::After,
            _ => ExpandMark::None,
        }
    }

    fn from_mark(name: &str, value: &ScalarValue) -> Option<Format> {
        Some(match (name, value) {
            ("bold", ScalarValue::Boolean(true)) => Format::Bold,
            ("italic", ScalarValue::Boolean(true)) => Format::Italic,
            ("link", ScalarValue::Str(url)) => Format::Link(url.to_string()),
            ("heading", ScalarValue::Uint(level)) => Format::Heading(u8::try_from(*level).ok()?),
            ("list", ScalarValue::Str(kind)) => Format::ListItem { ordered: kind.as_str() == "ordered" },
            _ => return None,
        })
    }
}

/// A formatted range of the text, in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub format: Format,
}

/// Applies `format` to `start..end`.
pub fn format(handle: &DocHandle, start: usize, end: usize, format: &Format) -> Result<(), SyncError> {
    handle.with_document(|doc| {
        let text = doc.get(ROOT, TEXT_FIELD)?.map(|(_, id)| id).ok_or(SyncError::NoText)?;
        let mut tx = doc.transaction();
        tx.mark(&text, Mark::new(format.name().to_owned(), format.value(), start, end), format.expand())?;
        crate::text::commit_now(tx);
        Ok(())
    })
}

/// Removes `format`'s kind of formatting from `start..end`.
pub fn unformat(handle: &DocHandle, start: usize, end: usize, format: &Format) -> Result<(), SyncError> {
    handle.with_document(|doc| {
        let text = doc.get(ROOT, TEXT_FIELD)?.map(|(_, id)| id).ok_or(SyncError::NoText)?;
        let mut tx = doc.transaction();
        tx.unmark(&text, format.name(), start, end, format.expand())?;
        crate::text::commit_now(tx);
        Ok(())
    })
}

/// Every formatted range, in document order.
pub fn spans(handle: &DocHandle) -> Result<Vec<Span>, SyncError> {
    handle.with_document(|doc| {
        let Some((_, text)) = doc.get(ROOT, TEXT_FIELD)? else { return Ok(Vec::new()) };
        Ok(doc
            .marks(&text)?
            .into_iter()
            .filter_map(|m| {
                Format::from_mark(m.name(), m.value()).map(|format| Span { start: m.start, end: m.end, format })
            })
            .collect())
    })
}

/// The text as lines a person reads: the editor's block markers (U+FFFC, one where each paragraph, heading
/// or list item starts) become line breaks, none before the first block. Formatting is left out.
pub fn plain_text(handle: &DocHandle) -> String {
    blocks_as_lines(&crate::read_text(handle))
}

fn blocks_as_lines(text: &str) -> String {
    text.strip_prefix(BLOCK_MARKER).unwrap_or(text).replace(BLOCK_MARKER, "\n")
}

/// Where the rich editor (automerge's block spans) starts a block in the text.
const BLOCK_MARKER: char = '\u{fffc}';

/// One change in the document's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HistoryEntry {
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub hash: ChangeHash,
    /// The Automerge actor (one per device session) that made it.
    pub actor: String,
    /// Unix milliseconds, as the author's clock had it.
    pub timestamp: i64,
    pub message: Option<String>,
}

/// The document's changes, oldest first.
pub fn history(handle: &DocHandle) -> Vec<HistoryEntry> {
    handle.with_document(|doc| {
        doc.get_changes_meta(&[])
            .into_iter()
            .map(|c| HistoryEntry {
                hash: c.hash,
                actor: c.actor.to_hex_string(),
                timestamp: c.timestamp,
                message: c.message.map(|m| m.into_owned()),
            })
            .collect()
    })
}

/// The text as it was when the document's heads were `heads` (from [`HistoryEntry::hash`] or
/// [`crate::heads`]).
pub fn text_at(handle: &DocHandle, heads: &[ChangeHash]) -> Result<String, SyncError> {
    handle.with_document(|doc| {
        let Some((_, text)) = doc.get(ROOT, TEXT_FIELD)? else { return Ok(String::new()) };
        Ok(doc.text_at(&text, heads)?)
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn block_markers_read_as_line_breaks() {
        assert_eq!(super::blocks_as_lines("\u{fffc}Runbook\u{fffc}Restart it\u{fffc}"), "Runbook\nRestart it\n");
        assert_eq!(super::blocks_as_lines("plain text"), "plain text");
    }

    use super::*;
    use crate::text::test_document as document;
    use crate::{heads, read_text, splice_text};

    #[tokio::test]
    async fn formats_round_trip_and_bold_grows_with_typing_at_its_end() {
        let (_repo, doc) = document("Title\nhello world").await;
        format(&doc, 0, 5, &Format::Heading(1)).expect("heading");
        format(&doc, 6, 11, &Format::Bold).expect("bold");
        format(&doc, 12, 17, &Format::Link("https://example.com".into())).expect("link");
        splice_text(&doc, 11, 0, "!").expect("type at the end of the bold word");
        let found = spans(&doc).expect("spans");
        assert!(found.contains(&Span { start: 0, end: 5, format: Format::Heading(1) }), "{found:?}");
        assert!(found.contains(&Span { start: 6, end: 12, format: Format::Bold }), "bold expanded: {found:?}");
        assert!(found.contains(&Span { start: 13, end: 18, format: Format::Link("https://example.com".into()) }));
        unformat(&doc, 6, 12, &Format::Bold).expect("unbold");
        assert!(!spans(&doc).expect("spans").iter().any(|s| s.format == Format::Bold));
        assert_eq!(read_text(&doc), "Title\nhello! world");
    }

    #[tokio::test]
    async fn earlier_versions_can_be_read_back() {
        let (_repo, doc) = document("v1").await;
        let first = heads(&doc);
        splice_text(&doc, 2, 0, " then v2").expect("edit");
        let history = history(&doc);
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].hash, heads(&doc)[0]);
        assert_eq!(text_at(&doc, &first).expect("at first"), "v1");
        assert_eq!(text_at(&doc, &[history[1].hash]).expect("at second"), "v1 then v2");
    }
}
