//! REST request and response bodies, grouped by the feature that owns them.
//!
//! Requests reject unknown fields, so a typo in a client is an error, not a silently ignored value.

pub mod auth;
pub mod devices;
pub mod integrations;
pub mod invitations;
pub mod messages;
pub mod projects;
pub mod teams;
