//! Typed identifiers: a `TeamId` can never be passed where a `UserId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7), so ids sort roughly by creation.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl TryFrom<String> for $name {
            type Error = uuid::Error;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

uuid_id!(
    /// A person with an account on the relay.
    UserId
);
uuid_id!(
    /// A team: the unit of membership and access.
    TeamId
);
uuid_id!(
    /// A project inside a team.
    ProjectId
);
uuid_id!(
    /// A chat message, assigned by the relay.
    MessageId
);
uuid_id!(
    /// A task in a project's task list; chosen by the client that creates it, so it can be edited offline
    /// before the relay has seen it.
    TaskId
);

/// An Automerge document's URL as automerge-repo writes it: `automerge:` followed by the
/// bs58check encoding of the document's 16-byte id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "automerge:2j9knpCseyhnK8izDmLpGP5WMdZQ"))]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
#[serde(try_from = "String", into = "String")]
pub struct DocumentUrl(String);

/// Why a string is not a document URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDocumentUrl;

impl fmt::Display for InvalidDocumentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be an automerge: URL holding a bs58check-encoded 16-byte document id")
    }
}

impl std::error::Error for InvalidDocumentUrl {}

impl DocumentUrl {
    pub const PREFIX: &'static str = "automerge:";

    /// The URL for a raw 16-byte document id.
    pub fn from_bytes(id: [u8; 16]) -> Self {
        Self(format!("{}{}", Self::PREFIX, bs58::encode(id).with_check().into_string()))
    }

    /// The document id without the `automerge:` prefix, as automerge-repo's sync messages carry it.
    pub fn document_id(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DocumentUrl {
    type Err = InvalidDocumentUrl;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let encoded = s.strip_prefix(Self::PREFIX).ok_or(InvalidDocumentUrl)?;
        let bytes = bs58::decode(encoded).with_check(None).into_vec().map_err(|_| InvalidDocumentUrl)?;
        if bytes.len() != 16 {
            return Err(InvalidDocumentUrl);
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for DocumentUrl {
    type Error = InvalidDocumentUrl;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DocumentUrl> for String {
    fn from(url: DocumentUrl) -> Self {
        url.0
    }
}

impl fmt::Display for DocumentUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_url_round_trips_through_bytes() {
        let url = DocumentUrl::from_bytes([7; 16]);
        let parsed: DocumentUrl = url.as_str().parse().expect("valid url");
        assert_eq!(parsed, url);
        assert!(!url.document_id().starts_with("automerge:"));
    }

    #[test]
    fn document_url_rejects_bad_input() {
        for bad in ["", "automerge:", "2j9knpCseyhnK8izDmLpGP5WMdZQ", "automerge:not-base58!", "http://example.com"] {
            assert_eq!(bad.parse::<DocumentUrl>(), Err(InvalidDocumentUrl), "{bad}");
        }
        // A valid checksum over the wrong length is still refused.
        let short = format!("automerge:{}", bs58::encode([1u8; 8]).with_check().into_string());
        assert!(short.parse::<DocumentUrl>().is_err());
        // A flipped character breaks the checksum.
        let good = DocumentUrl::from_bytes([9; 16]).to_string();
        let mut flipped = good.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'2' { b'3' } else { b'2' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        assert!(flipped.parse::<DocumentUrl>().is_err());
    }

    #[test]
    fn ids_serialize_as_plain_strings() {
        let id = TeamId::new();
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{id}\""));
        let back: TeamId = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, id);
    }
}
