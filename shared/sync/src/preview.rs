//! A document's rich text as automerge-js's `spans` reports it, in JSON: what the window draws while the
//! document itself is still loading (a large document takes seconds to load in the webview; its spans are
//! milliseconds to read here).

use automerge::{ROOT, ReadDoc, ScalarValue, hydrate, iter::Span};
use samod::DocHandle;
use serde_json::{Map, Value, json};

use crate::{SyncError, TEXT_FIELD};

/// The spans of the document's text with the heads they were read at; an empty array when it has no text.
pub fn spans_json(handle: &DocHandle) -> Result<(Value, Vec<automerge::ChangeHash>), SyncError> {
    handle.with_document(|doc| {
        let heads = doc.get_heads();
        let Some((_, text)) = doc.get(ROOT, TEXT_FIELD)? else { return Ok((Value::Array(Vec::new()), heads)) };
        let spans = doc.spans(&text)?.map(|span| match span {
            Span::Text { text, marks } => {
                let mut out = json!({ "type": "text", "value": text });
                let marks: Map<String, Value> = marks
                    .iter()
                    .flat_map(|set| set.iter())
                    .filter(|(_, value)| !matches!(value, ScalarValue::Null))
                    .map(|(name, value)| (name.to_owned(), scalar(value)))
                    .collect();
                if !marks.is_empty() {
                    out["marks"] = Value::Object(marks);
                }
                out
            }
            Span::Block(block) => json!({ "type": "block", "value": map(&block) }),
        });
        Ok((Value::Array(spans.collect()), heads))
    })
}

fn map(map: &hydrate::Map) -> Value {
    Value::Object(map.iter().map(|(key, entry)| (key.clone(), value(&entry.value))).collect())
}

fn value(value: &hydrate::Value) -> Value {
    match value {
        hydrate::Value::Scalar(s) => scalar(s),
        hydrate::Value::Map(m) => map(m),
        hydrate::Value::List(list) => Value::Array(list.iter().map(|item| self::value(&item.value)).collect()),
        hydrate::Value::Text(text) => Value::String(String::from(text)),
    }
}

/// Scalars as automerge-js gives them, where JSON has the type; counters and timestamps as numbers, bytes
/// as an array of numbers.
fn scalar(value: &ScalarValue) -> Value {
    match value {
        ScalarValue::Str(s) => Value::String(s.to_string()),
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => json!(i),
        ScalarValue::Uint(u) => json!(u),
        ScalarValue::F64(f) => json!(f),
        ScalarValue::Counter(c) => json!(i64::from(c)),
        ScalarValue::Boolean(b) => json!(b),
        ScalarValue::Bytes(bytes) => json!(bytes),
        ScalarValue::Null | ScalarValue::Unknown { .. } => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use automerge::ObjType;
    use automerge::marks::{ExpandMark, Mark};
    use automerge::transaction::Transactable;

    use super::*;

    #[tokio::test]
    async fn blocks_and_marks_read_as_automerge_js_reports_them() {
        let (_repo, handle) = crate::text::test_document("").await;
        handle.with_document(|doc| {
            let mut tx = doc.transaction();
            let text = tx.get(ROOT, TEXT_FIELD).expect("read").expect("text").1;
            let block = tx.split_block(&text, 0).expect("edit");
            tx.put(&block, "type", "heading").expect("edit");
            let parents = tx.put_object(&block, "parents", ObjType::List).expect("edit");
            tx.insert(&parents, 0, "ordered-list-item").expect("edit");
            let attrs = tx.put_object(&block, "attrs", ObjType::Map).expect("edit");
            tx.put(&attrs, "level", 2).expect("edit");
            tx.splice_text(&text, 1, 0, "Hello world").expect("edit");
            tx.mark(&text, Mark::new("strong".into(), true, 7, 12), ExpandMark::After).expect("edit");
            tx.commit();
        });
        let (spans, heads) = spans_json(&handle).expect("edit");
        assert_eq!(heads, crate::heads(&handle));
        assert_eq!(
            spans,
            json!([
                { "type": "block", "value": { "type": "heading", "parents": ["ordered-list-item"], "attrs": { "level": 2 } } },
                { "type": "text", "value": "Hello " },
                { "type": "text", "value": "world", "marks": { "strong": true } },
            ])
        );
    }

    #[tokio::test]
    async fn a_document_without_text_has_no_spans() {
        let repo = samod::Repo::build_tokio().load().await;
        let handle = repo.create(automerge::Automerge::new()).await.expect("edit");
        assert_eq!(spans_json(&handle).expect("spans").0, json!([]));
    }
}
