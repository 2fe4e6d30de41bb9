//! Wire types shared by the relay, the desktop node and the tests: ids, REST bodies and the error shape.
//!
//! This crate performs no IO and depends on no IO crate, so every end (including a future WASM or CLI
//! client) can speak the protocol without pulling in a runtime.

pub mod api;
pub mod email;
pub mod error;
pub mod ids;
pub mod mentions;
pub mod realtime;
pub mod role;

pub use error::{ErrorBody, ErrorCode, ErrorObject};
pub use ids::{DocumentUrl, MessageId, ProjectId, TaskId, TeamId, UserId};
pub use role::Role;

/// A string that names none of an enum's variants (for example a role read back from storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown name {:?}", self.0)
    }
}

impl std::error::Error for UnknownName {}

/// `TryFrom<String>` for an enum with `parse`, so storage layers can decode it without glue.
macro_rules! try_from_name {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                <$ty>::parse(&s).ok_or(UnknownName(s))
            }
        }
    )*};
}

try_from_name!(
    Role,
    api::teams::ProjectStatus,
    api::projects::HistoryField,
    api::projects::ChangeOutcome,
    api::messages::MessageKind,
    api::integrations::Service
);
