use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// Unique identifier for an automerge document.
///
/// Document IDs are used throughout the sync protocol to identify which
/// document sync messages relate to. They are arbitrary byte arrays that
/// uniquely identify a document.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocumentId(Uuid);

impl DocumentId {
    /// Creates a new random document ID.
    pub fn new<R: rand::Rng>(rng: &mut R) -> Self {
        let bytes: [u8; 16] = rng.random();
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        Self(uuid)
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        names::with_name(&self.0, |name| f.write_str(name))
    }
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        names::with_name(&self.0, |name| f.write_str(name))
    }
}

/// The bs58check names of the documents a thread used last. Every sync
/// message names its document, so a relay writes and reads a document's name
/// once per message it sends or receives; bs58check takes two SHA-256 hashes
/// and a base conversion each time (2 to 5% of a relay's CPU with 16 people
/// typing into one document). A handful of documents are busy at any moment,
/// so a few names per thread cover nearly every message.
mod names {
    use std::cell::RefCell;
    use std::rc::Rc;
    use uuid::Uuid;

    /// Names kept per thread.
    pub(super) const KEPT: usize = 8;

    #[derive(Default)]
    struct Names {
        /// Shared with the caller of `with_name`, which writes it after the list is released.
        entries: Vec<(Uuid, Rc<str>)>,
        /// The entry replaced next once all are taken.
        next: usize,
    }

    impl Names {
        fn keep(&mut self, id: Uuid, name: Rc<str>) -> usize {
            if self.entries.len() < KEPT {
                self.entries.push((id, name));
                return self.entries.len() - 1;
            }
            let at = self.next;
            self.entries[at] = (id, name);
            self.next = (at + 1) % KEPT;
            at
        }
    }

    thread_local! {
        static NAMES: RefCell<Names> = RefCell::default();
    }

    /// Calls `f` with the bs58check name of `id`. The list is released before `f` runs, so `f` may name
    /// documents itself (a formatter writing into something that formats a `DocumentId`).
    pub(super) fn with_name<R>(id: &Uuid, f: impl FnOnce(&str) -> R) -> R {
        let name = NAMES.with(|names| {
            let mut names = names.borrow_mut();
            let at = match names.entries.iter().position(|(kept, _)| kept == id) {
                Some(at) => at,
                None => {
                    let name = bs58::encode(id).with_check().into_string();
                    names.keep(*id, name.into())
                }
            };
            names.entries[at].1.clone()
        });
        f(&name)
    }

    /// The document a bs58check name names, when this thread has seen it.
    pub(super) fn known(name: &str) -> Option<Uuid> {
        NAMES.with(|names| {
            names
                .borrow()
                .entries
                .iter()
                .find(|(_, kept)| &**kept == name)
                .map(|(id, _)| *id)
        })
    }

    /// Remembers a name just decoded.
    pub(super) fn learned(id: Uuid, name: &str) {
        NAMES.with(|names| {
            let mut names = names.borrow_mut();
            if !names.entries.iter().any(|(kept, _)| *kept == id) {
                names.keep(id, name.into());
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
#[error("Invalid document ID: {0}")]
pub struct BadDocumentId(String);

impl TryFrom<Vec<u8>> for DocumentId {
    type Error = BadDocumentId;

    fn try_from(v: Vec<u8>) -> Result<Self, Self::Error> {
        match uuid::Uuid::from_slice(v.as_slice()) {
            Ok(id) => Ok(Self(id)),
            Err(e) => Err(BadDocumentId(format!("invalid uuid: {e}"))),
        }
    }
}

impl FromStr for DocumentId {
    type Err = BadDocumentId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(id) = names::known(s) {
            return Ok(Self(id));
        }
        match bs58::decode(s).with_check(None).into_vec() {
            Ok(bytes) => {
                let id = Self::try_from(bytes)?;
                names::learned(id.0, s);
                Ok(id)
            }
            Err(_) => {
                // attempt to parse legacy UUID format
                let uuid = uuid::Uuid::parse_str(s).map_err(|_| {
                    BadDocumentId(
                        "expected either a bs58-encoded document ID or a UUID".to_string(),
                    )
                })?;
                Ok(Self(uuid))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_name(id: &DocumentId) -> String {
        bs58::encode(id.0).with_check().into_string()
    }

    #[test]
    fn names_kept_per_thread_are_the_names_and_read_back() {
        let mut rng = rand::rng();
        // More documents than a thread keeps, each named and read twice, in
        // an order that makes the kept names turn over.
        let ids: Vec<DocumentId> = (0..3 * names::KEPT)
            .map(|_| DocumentId::new(&mut rng))
            .collect();
        for round in 0..2 {
            for id in ids.iter().chain(ids.iter().rev()) {
                let name = id.to_string();
                assert_eq!(name, fresh_name(id), "round {round}");
                assert_eq!(format!("{id:?}"), name);
                assert_eq!(name.parse::<DocumentId>().unwrap(), *id);
            }
        }
    }

    #[test]
    fn naming_a_document_while_naming_one_does_not_panic() {
        let mut rng = rand::rng();
        let (outer, inner) = (DocumentId::new(&mut rng), DocumentId::new(&mut rng));
        let nested = names::with_name(&outer.0, |name| format!("{name}/{inner}"));
        assert_eq!(
            nested,
            format!("{}/{}", fresh_name(&outer), fresh_name(&inner))
        );
    }

    #[test]
    fn a_name_read_on_another_thread_is_decoded_there() {
        let id = DocumentId::new(&mut rand::rng());
        let name = id.to_string();
        let parsed = std::thread::spawn(move || name.parse::<DocumentId>().unwrap())
            .join()
            .unwrap();
        assert_eq!(parsed, id);
    }

    #[test]
    fn a_kept_name_does_not_vouch_for_a_near_miss() {
        let id = DocumentId::new(&mut rand::rng());
        let name = id.to_string();
        assert_eq!(name.parse::<DocumentId>().unwrap(), id);
        let last = name.chars().last().unwrap();
        let other = if last == '1' { '2' } else { '1' };
        let near = format!("{}{other}", &name[..name.len() - 1]);
        assert!(
            near.parse::<DocumentId>().is_err(),
            "{near} passed its checksum"
        );
        assert!("".parse::<DocumentId>().is_err());
        assert!("not a document".parse::<DocumentId>().is_err());
    }

    #[test]
    fn legacy_uuid_names_still_parse() {
        let uuid = Uuid::new_v4();
        let parsed: DocumentId = uuid.to_string().parse().unwrap();
        assert_eq!(parsed.0, uuid);
    }
}
