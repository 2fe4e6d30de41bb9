//! What logging costs a relay or a node that receives changes. Both run a tracing subscriber at the
//! `info` level, at which automerge's own spans are on: none of them may carry a field that grows with the
//! document's history (automerge 0.12.0's `load_changes` span listed every change hash, formatted on
//! every received sync message; the vendored copy skips it, docs/upstream/automerge-load-span.md).

use std::io::Write;
use std::sync::{Arc, Mutex};

use teamflow_sync::automerge::sync::{State, SyncDoc as _};
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{Automerge, ObjType, ROOT};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("captured").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Two peers in sync on a text of `history` changes; one more change is made on one and received by the
/// other under an `info` subscriber that writes every span as it opens. Answers the bytes written.
fn logged_receiving_one_change(history: usize) -> usize {
    let mut writer = Automerge::new();
    let text = {
        let mut tx = writer.transaction();
        let text = tx.put_object(ROOT, "text", ObjType::Text).expect("text");
        tx.commit();
        text
    };
    for i in 0..history {
        let mut tx = writer.transaction();
        tx.splice_text(&text, i, 0, "x").expect("typed");
        tx.commit();
    }
    let mut reader = Automerge::new();
    let (mut ours, mut theirs) = (State::new(), State::new());
    let mut exchange = |writer: &mut Automerge, reader: &mut Automerge| loop {
        let sent = writer.generate_sync_message(&mut ours);
        let answered = reader.generate_sync_message(&mut theirs);
        if sent.is_none() && answered.is_none() {
            break;
        }
        if let Some(m) = sent {
            reader.receive_sync_message(&mut theirs, m).expect("received");
        }
        if let Some(m) = answered {
            writer.receive_sync_message(&mut ours, m).expect("answered");
        }
    };
    exchange(&mut writer, &mut reader);
    assert_eq!(reader.get_heads(), writer.get_heads(), "in sync");

    let mut tx = writer.transaction();
    tx.splice_text(&text, 0, 0, "y").expect("typed");
    tx.commit();
    let message = writer.generate_sync_message(&mut ours).expect("a message with the change");
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_span_events(FmtSpan::NEW)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        reader.receive_sync_message(&mut theirs, message).expect("received");
    });
    assert_eq!(reader.get_heads(), writer.get_heads(), "the change arrived");
    captured.0.lock().expect("captured").len()
}

#[test]
fn receiving_a_change_logs_nothing_that_grows_with_the_history() {
    let short = logged_receiving_one_change(10);
    let long = logged_receiving_one_change(2_000);
    // 2,000 more change hashes would be over 130,000 bytes.
    assert!(long < short + 1_000, "logged {long} bytes on a long history against {short} on a short one");
}
